"""The properties reader against the real thing: Java's Properties.load.

Skipped where no JDK is installed (CI need not have one); where there is one, random
inputs built from the characters that matter (separators, blanks, backslashes, line
ends, comment marks, escapes) must parse exactly as the JDK parses them.
"""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import pytest

from extension_uploader.inspection.properties import PropertiesError, parse_properties

from .tools import require


@pytest.fixture(autouse=True, scope="module")
def _jdk() -> None:
    require("javac", "java")  # skips without a JDK, fails in CI


DUMP_PROPERTIES = r"""
import java.io.*; import java.util.*;
public class DumpProperties {
  static String esc(String s) {
    StringBuilder b = new StringBuilder();
    for (char c : s.toCharArray()) b.append(String.format("%04x", (int) c));
    return b.toString();
  }
  public static void main(String[] args) throws Exception {
    for (String name : args) {
      Properties p = new Properties();
      try (InputStream in = new FileInputStream(name)) {
        p.load(in);
        TreeMap<String, String> m = new TreeMap<>();
        for (String k : p.stringPropertyNames()) m.put(k, p.getProperty(k));
        StringBuilder out = new StringBuilder("OK");
        for (var e : m.entrySet())
          out.append(" ").append(esc(e.getKey())).append("=").append(esc(e.getValue()));
        System.out.println(out);
      } catch (IllegalArgumentException e) { System.out.println("ERR"); }
    }
  }
}
"""

PIECES = [b"a", b"b", b"=", b":", b" ", b"\t", b"\f", b"\\", b"\n", b"\r", b"\r\n", b"#", b"!",
          b"u", b"0", b"4", b"\xe9", b"\\u00e9", b"\\\n", b"\\\\"]  # fmt: skip


def _python_view(data: bytes) -> str:
    try:
        properties = parse_properties(data)
    except PropertiesError:
        return "ERR"

    def encode(text: str) -> str:
        return "".join(f"{ord(char):04x}" for char in text)

    # Java's TreeMap sorts by UTF-16 code units; these inputs are all BMP.
    pairs = sorted(properties.items())
    return "OK" + "".join(f" {encode(key)}={encode(value)}" for key, value in pairs)


def test_random_properties_parse_like_java(tmp_path: Path) -> None:
    (tmp_path / "DumpProperties.java").write_text(DUMP_PROPERTIES)
    subprocess.run(["javac", "DumpProperties.java"], cwd=tmp_path, check=True)
    rng = random.Random(17)
    inputs = [b"".join(rng.choice(PIECES) for _ in range(rng.randint(0, 40))) for _ in range(600)]
    files = []
    for index, data in enumerate(inputs):
        path = tmp_path / f"{index}.properties"
        path.write_bytes(data)
        files.append(str(path))

    result = subprocess.run(
        ["java", "-cp", str(tmp_path), "DumpProperties", *files],
        capture_output=True, text=True, check=True,
    )  # fmt: skip

    java = result.stdout.splitlines()
    assert len(java) == len(inputs)
    mismatches = [
        (data, j) for data, j in zip(inputs, java, strict=True) if _python_view(data) != j
    ]
    assert mismatches == []
