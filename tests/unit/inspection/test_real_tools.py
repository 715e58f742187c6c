"""Archives written by real tools, where they are installed (each test skips if not).

The corpus crafts its archives in code; these check that what Info-ZIP, the JDK's
jar and 7-Zip actually write is judged as it should be.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from extension_uploader import reasons
from extension_uploader.inspection import ExtensionInfo, inspect_archive

from .corpus import DESCRIPTOR, jar_bytes
from .tools import require

PLUGIN = ExtensionInfo("plugin", "8.15.0")


def _needs(tool: str) -> None:
    require(tool)  # skips where the tool is missing, fails in CI


@pytest.fixture
def plugin_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "plugin"
    (folder / "lib").mkdir(parents=True)
    (folder / "plugin-descriptor.properties").write_bytes(DESCRIPTOR)
    (folder / "example.jar").write_bytes(jar_bytes())
    (folder / "lib" / "notes café.txt").write_text("notes\n" * 1000)
    return folder


def _run(args: list[str], cwd: Path) -> None:
    subprocess.run(args, cwd=cwd, check=True, capture_output=True)


def test_info_zip_plugin_is_accepted(plugin_dir: Path, tmp_path: Path) -> None:
    _needs("zip")
    _run(["zip", "-qr", str(tmp_path / "p.zip"), "."], plugin_dir)

    report = inspect_archive(tmp_path / "p.zip", extension=PLUGIN)

    assert report.ok, report.problems


def test_info_zip_streamed_to_a_pipe_is_accepted(plugin_dir: Path, tmp_path: Path) -> None:
    _needs("zip")
    with (tmp_path / "p.zip").open("wb") as out:
        subprocess.run(["zip", "-qr", "-", "."], cwd=plugin_dir, stdout=out, check=True)

    report = inspect_archive(tmp_path / "p.zip", extension=PLUGIN)

    assert report.ok, report.problems


def test_info_zip_symlink_is_refused(plugin_dir: Path, tmp_path: Path) -> None:
    _needs("zip")
    os.symlink("/etc/passwd", plugin_dir / "passwd")
    _run(["zip", "-qry", str(tmp_path / "p.zip"), "."], plugin_dir)

    assert inspect_archive(tmp_path / "p.zip").reason == reasons.ZIP_LINK_OR_SPECIAL


def test_info_zip_of_a_setgid_tree_is_accepted(plugin_dir: Path, tmp_path: Path) -> None:
    # Given a plugin folder inside a shared "chmod g+s" tree: its folders are setgid
    _needs("zip")
    (plugin_dir / "lib").chmod(0o2775)
    if not (plugin_dir / "lib").stat().st_mode & 0o2000:
        pytest.skip("this file system does not keep the setgid bit")
    _run(["zip", "-qr", str(tmp_path / "p.zip"), "."], plugin_dir)

    report = inspect_archive(tmp_path / "p.zip", extension=PLUGIN)

    assert report.ok, report.problems


def test_info_zip_encryption_is_refused(plugin_dir: Path, tmp_path: Path) -> None:
    _needs("zip")
    _run(["zip", "-qr", "-P", "secret", str(tmp_path / "p.zip"), "."], plugin_dir)

    assert inspect_archive(tmp_path / "p.zip").reason == reasons.ZIP_ENCRYPTED


@pytest.mark.parametrize("store", [True, False], ids=["stored", "deflated"])
def test_info_zip_encryption_of_small_files_is_encrypted_not_corrupt(
    tmp_path: Path, store: bool
) -> None:
    # Given small files (3 bytes stores smaller than it deflates), encrypted by zip -P
    _needs("zip")
    (tmp_path / "s.txt").write_bytes(b"hi\n")
    (tmp_path / "d.txt").write_bytes(b"\0" * 3000)
    level = ["-0"] if store else []
    _run(["zip", "-q", *level, "-P", "secret", "p.zip", "s.txt", "d.txt"], tmp_path)

    # When inspected, Then every problem is the encryption, never "corrupt"
    report = inspect_archive(tmp_path / "p.zip")

    assert {problem.code for problem in report.problems} == {reasons.ZIP_ENCRYPTED}
    assert {problem.entry for problem in report.problems} == {"s.txt", "d.txt"}


def test_jar_tool_plugin_is_accepted(plugin_dir: Path, tmp_path: Path) -> None:
    _needs("jar")
    _run(
        ["jar", "--create", "--file", str(tmp_path / "p.zip"), "-C", str(plugin_dir), "."], tmp_path
    )

    report = inspect_archive(tmp_path / "p.zip", extension=PLUGIN)

    assert report.ok, report.problems


@pytest.mark.parametrize(
    ("options", "code"),
    [
        (["-mm=Deflate"], None),
        (["-mm=Copy"], None),
        (["-mm=Deflate64"], None),
        (["-mm=BZip2"], reasons.ZIP_UNSUPPORTED_METHOD),
        (["-mm=LZMA"], reasons.ZIP_UNSUPPORTED_METHOD),
        (["-psecret", "-mem=AES256"], reasons.ZIP_ENCRYPTED),
        (["-psecret", "-mem=ZipCrypto"], reasons.ZIP_ENCRYPTED),
    ],
)
def test_seven_zip_archives(
    plugin_dir: Path, tmp_path: Path, options: list[str], code: str | None
) -> None:
    _needs("7zz")
    _run(["7zz", "a", "-tzip", "-bso0", *options, str(tmp_path / "p.zip"), "."], plugin_dir)

    report = inspect_archive(tmp_path / "p.zip", extension=PLUGIN)

    assert report.reason == code, report.problems
