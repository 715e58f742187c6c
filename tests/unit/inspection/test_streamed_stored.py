"""Stored entries with a data descriptor: what a zip written to a stream holds.

java.util.zip.ZipInputStream, which Elasticsearch's plugin installer reads plugins
with, refuses such an entry ("only DEFLATED entries can have EXT descriptor"), so a
plugin holding one is refused at upload rather than failing at deployment. Bundles
are accepted with a warning. CPython's zipfile writes these when its output cannot
seek, as does any writer streaming to a pipe or to S3 without knowing sizes first.
"""

from __future__ import annotations

import dataclasses
import subprocess
import zipfile
from pathlib import Path

import pytest

from extension_uploader import reasons
from extension_uploader.inspection import ExtensionInfo, inspect_archive
from extension_uploader.inspection.content import check_bundle, check_plugin
from extension_uploader.inspection.report import WARNING_STREAMED_STORED, Findings
from extension_uploader.inspection.structure import Entry

from .corpus import DESCRIPTOR, Pipe, jar_bytes
from .test_content_mutants import _entry as content_entry
from .tools import require

STREAMED_MESSAGE = (
    "stored with its sizes after the data (a data descriptor, as a zip written to a stream"
    " has): Elasticsearch's plugin installer cannot read that entry; write the zip to a"
    " file, or deflate the entry"
)
WARNING_MESSAGE = "stored with a data descriptor: java.util.zip.ZipInputStream cannot read it"
PLUGIN = ExtensionInfo("plugin", "8.15.0")
BUNDLE = ExtensionInfo("bundle", "*")


def streamed(files: dict[str, bytes], compression: int) -> bytes:
    pipe = Pipe()
    with zipfile.ZipFile(pipe, "w", compression) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return pipe.data


def plugin_files() -> dict[str, bytes]:
    return {"plugin-descriptor.properties": DESCRIPTOR, "example.jar": jar_bytes()}


def _entry(name: str, index: int, method: int, flags: int) -> Entry:
    return dataclasses.replace(content_entry(name, index), method=method, flags=flags)


def _plugin_findings(*entries: Entry) -> Findings:
    findings = Findings()
    descriptor = _entry("plugin-descriptor.properties", len(entries), 8, 0)
    check_plugin([*entries, descriptor], {len(entries): DESCRIPTOR}, "8.15.0", findings)
    return findings


@pytest.mark.parametrize(
    ("method", "flags", "refused"),
    [
        (0, 0x0008, True),  # stored, sizes in a descriptor
        (0, 0x0808, True),  # the same with the UTF-8 flag
        (0, 0x0800, False),  # stored, sizes in the header
        (0, 0x0000, False),
        (8, 0x0008, False),  # deflated with a descriptor: ZipInputStream reads it
    ],
)
def test_a_plugin_with_a_stored_entry_whose_sizes_follow_it_is_refused(
    method: int, flags: int, refused: bool
) -> None:
    findings = _plugin_findings(_entry("a.jar", 0, method, flags), _entry("b.jar", 1, 0, 0))
    problems = [(p.code, p.entry, p.message) for p in findings.problems]
    expected = [(reasons.ZIP_UNSUPPORTED_METHOD, "a.jar", STREAMED_MESSAGE)] if refused else []
    assert problems == expected


def test_the_refusal_names_the_first_such_entry_once() -> None:
    findings = _plugin_findings(
        _entry("a.jar", 0, 8, 0x0008), _entry("b.jar", 1, 0, 0x0008), _entry("c.jar", 2, 0, 8)
    )
    assert [(p.code, p.entry) for p in findings.problems] == [
        (reasons.ZIP_UNSUPPORTED_METHOD, "b.jar")
    ]


def test_a_bundle_with_such_an_entry_is_accepted_with_a_warning() -> None:
    findings = Findings()
    entries = [
        _entry("dictionaries/a.txt", 0, 8, 0x0008),
        _entry("dictionaries/b.txt", 1, 0, 0x0008),
        _entry("dictionaries/c.txt", 2, 0, 0x0008),
    ]
    check_bundle(entries, findings)
    assert findings.problems == []
    warnings = [(w.code, w.entry, w.message) for w in findings.warnings]
    assert warnings == [(WARNING_STREAMED_STORED, "dictionaries/b.txt", WARNING_MESSAGE)]


def test_a_bundle_without_one_has_no_such_warning() -> None:
    findings = Findings()
    entry = _entry("dictionaries/a.txt", 0, 0, 0)
    check_bundle([entry, dataclasses.replace(entry, index=1, flags=0x0800)], findings)
    assert findings.warnings == []


def test_a_plugin_zipfile_streamed_stored_is_refused_and_deflated_is_accepted(
    tmp_path: Path,
) -> None:
    stored = tmp_path / "stored.zip"
    stored.write_bytes(streamed(plugin_files(), zipfile.ZIP_STORED))
    deflated = tmp_path / "deflated.zip"
    deflated.write_bytes(streamed(plugin_files(), zipfile.ZIP_DEFLATED))

    refused = inspect_archive(stored, extension=PLUGIN)
    accepted = inspect_archive(deflated, extension=PLUGIN)
    as_bundle = inspect_archive(stored, extension=BUNDLE)

    assert refused.reason == reasons.ZIP_UNSUPPORTED_METHOD
    assert refused.problems[0].entry == "plugin-descriptor.properties"
    assert accepted.ok and accepted.problems == ()
    assert as_bundle.ok
    assert WARNING_STREAMED_STORED in [warning.code for warning in as_bundle.warnings]


JAVA_STREAM_READER = """
import java.io.*; import java.util.zip.*;
public class StreamRead { public static void main(String[] args) throws Exception {
  try (ZipInputStream in = new ZipInputStream(new FileInputStream(args[0]))) {
    for (ZipEntry e; (e = in.getNextEntry()) != null; )
      System.out.println(e.getName() + " " + in.readAllBytes().length);
  }
}}
"""


def test_the_java_reader_of_the_plugin_installer_agrees(tmp_path: Path) -> None:
    require("java")
    (tmp_path / "StreamRead.java").write_text(JAVA_STREAM_READER)
    verdicts = {}
    for name, compression in (("stored", zipfile.ZIP_STORED), ("deflated", zipfile.ZIP_DEFLATED)):
        path = tmp_path / f"{name}.zip"
        path.write_bytes(streamed(plugin_files(), compression))
        java = subprocess.run(
            ["java", str(tmp_path / "StreamRead.java"), str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
        verdicts[name] = (java.returncode == 0, inspect_archive(path, extension=PLUGIN).ok)
        if name == "stored":
            assert "only DEFLATED entries can have EXT descriptor" in java.stderr
    assert verdicts == {"stored": (False, False), "deflated": (True, True)}
