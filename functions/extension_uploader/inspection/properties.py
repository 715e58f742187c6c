"""A faithful reader of Java ``.properties`` files, as ``Properties.load`` reads them.

Elasticsearch loads ``plugin-descriptor.properties`` with
``java.util.Properties.load(InputStream)``; the descriptor must be judged the way it
will be read, so this follows the JDK's ``LineReader`` and ``loadConvert``:

- bytes are ISO-8859-1; non-Latin-1 text comes as ``\\uXXXX`` escapes;
- natural lines end at ``\\n``, ``\\r`` or ``\\r\\n``; leading blanks (space, tab,
  form feed) are skipped; blank lines and lines whose first non-blank character is
  ``#`` or ``!`` are comments;
- a line ending in an odd number of backslashes continues on the next line, whose
  leading blanks are skipped (a comment line never continues);
- the key ends at the first unescaped ``=``, ``:`` or blank; blanks and at most one
  ``=``/``:`` after it are skipped; the rest of the line is the value, trailing
  blanks included;
- ``\\t \\n \\r \\f`` and ``\\uXXXX`` are escapes, any other escaped character stands
  for itself; a malformed ``\\uXXXX`` makes Java throw, so it is an error here too;
- a repeated key keeps its last value.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

BLANKS = " \t\f"
_SEPARATORS = "=:"
_LINE_ENDS = "\r\n"
_COMMENT_STARTS = "#!"
_LINE_END = re.compile(r"[\r\n]")
_SIMPLE_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}
_HEX_DIGITS = "0123456789abcdefABCDEF"


class PropertiesError(ValueError):
    """When a properties file holds something Java's ``Properties.load`` rejects."""


def parse_properties(data: bytes) -> dict[str, str]:
    """Keys and values of a properties file, decoded the way the JDK decodes them."""
    properties: dict[str, str] = {}
    for line in logical_lines(data.decode("iso-8859-1")):
        key, value = split_line(line)
        properties[unescape(key)] = unescape(value)
    return properties


def logical_lines(text: str) -> Iterator[str]:
    """The logical lines of ``text``: comments and blank lines dropped, continuations
    joined. A transcription of the JDK 17 ``Properties.LineReader.readLine``."""
    position = 0
    while True:
        line, position = _read_line(text, position)
        if line is None:
            return
        yield line


def _read_line(text: str, position: int) -> tuple[str | None, int]:
    """One logical line from ``position``; None at the end of the input.

    The JDK quirks kept on purpose: a comment may start after a continuation that
    left the line empty; a continuation that meets the end of input yields the line
    without its backslash, even an empty one (so "\\" alone gives the key "").
    """
    line: list[str] = []
    skip_blanks, appended, backslash = True, False, False
    end = len(text)
    while position < end:
        char = text[position]
        position += 1
        if skip_blanks:
            if char in BLANKS or (not appended and char in _LINE_ENDS):
                continue
            skip_blanks, appended = False, False
        if not line and char in _COMMENT_STARTS:
            newline = _next_line_end(text, position)
            if newline < 0:
                return None, end
            position, skip_blanks = newline + 1, True
            continue
        if char not in _LINE_ENDS:
            line.append(char)
            backslash = not backslash if char == "\\" else False
            continue
        if not line:
            skip_blanks = True
            continue
        if position >= end or not backslash:
            break
        line.pop()  # the continuation backslash
        skip_blanks, appended, backslash = True, True, False
        if char == "\r" and text[position] == "\n":
            position += 1
    else:
        if not line:
            return None, end
    if backslash:
        line.pop()
    return "".join(line), position


def _next_line_end(text: str, position: int) -> int:
    found = _LINE_END.search(text, position)
    return found.start() if found else -1


def split_line(line: str) -> tuple[str, str]:
    """(raw key, raw value) of a logical line, escapes still in place (JDK ``load0``)."""
    key_end = len(line)
    value_start = len(line)
    has_separator = False
    backslash = False
    for position, char in enumerate(line):
        if not backslash and char in _SEPARATORS:
            key_end, value_start, has_separator = position, position + 1, True
            break
        if not backslash and char in BLANKS:
            key_end, value_start = position, position + 1
            break
        backslash = not backslash if char == "\\" else False
    while value_start < len(line):
        char = line[value_start]
        if char not in BLANKS:
            if has_separator or char not in _SEPARATORS:
                break
            has_separator = True
        value_start += 1
    return line[:key_end], line[value_start:]


def unescape(raw: str) -> str:
    """Resolve backslash escapes as the JDK's ``loadConvert`` does."""
    if "\\" not in raw:
        return raw
    out: list[str] = []
    position = 0
    while position < len(raw):
        char = raw[position]
        position += 1
        if char != "\\" or position >= len(raw):
            out.append(char)
            continue
        char = raw[position]
        position += 1
        if char == "u":
            digits = raw[position : position + 4]
            if len(digits) < 4 or any(digit not in _HEX_DIGITS for digit in digits):
                raise PropertiesError("malformed \\uxxxx escape")
            out.append(chr(int(digits, 16)))
            position += 4
        else:
            out.append(_SIMPLE_ESCAPES.get(char, char))
    # \\u escapes are UTF-16 code units: join surrogate pairs into characters.
    return "".join(out).encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
