"""`ece-uploader validate`: exit codes, --json shape, human output."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from ece_uploader import validate
from extension_uploader import reasons

from .corpus import DESCRIPTOR, jar_bytes, zipped
from .zipcraft import Member, craft

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "zips"


def _main(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="ece-uploader")
    subparsers = parser.add_subparsers(dest="command", required=True)
    validate.register(subparsers)
    args = parser.parse_args(list(argv))
    status: int = args.func(args)
    return status


@pytest.fixture
def plugin_zip(tmp_path: Path) -> Path:
    path = tmp_path / "plugin.zip"
    path.write_bytes(zipped({"plugin-descriptor.properties": DESCRIPTOR, "p.jar": jar_bytes()}))
    return path


@pytest.fixture
def hostile_zip(tmp_path: Path) -> Path:
    path = tmp_path / "hostile.zip"
    path.write_bytes(craft([Member("../evil.sh"), Member("ok.txt"), Member("bad\x1bname")]))
    return path


def test_accepted_archive_exits_0(plugin_zip: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _main("validate", str(plugin_zip), "--type", "plugin", "--es-version", "8.15.0") == 0

    out = capsys.readouterr().out
    assert out.startswith("ACCEPTED ")
    assert "2 files" in out


def test_rejected_archive_exits_1_and_lists_every_problem(
    hostile_zip: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _main("validate", str(hostile_zip)) == 1

    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "problem  zip.unsafe_path [../evil.sh]: the name has a '..' segment"
    assert lines[1] == "problem  zip.bad_name [bad\\x1bname]: the name contains control characters"
    assert lines[-1].startswith(f"REJECTED {hostile_zip}: zip.unsafe_path (")


def test_version_mismatch_is_rejected(plugin_zip: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _main("validate", str(plugin_zip), "--type", "plugin", "--es-version", "8.15.1") == 1
    assert reasons.PLUGIN_VERSION_MISMATCH in capsys.readouterr().out


def test_json_output(hostile_zip: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _main("validate", str(hostile_zip), "--json") == 1

    document = json.loads(capsys.readouterr().out)
    assert document["ok"] is False
    assert document["reason"] == reasons.ZIP_UNSAFE_PATH
    assert document["problems"] == [
        {
            "code": "zip.unsafe_path",
            "entry": "../evil.sh",
            "message": "the name has a '..' segment",
        },
        {
            "code": "zip.bad_name",
            "entry": "bad\\x1bname",
            "message": "the name contains control characters",
        },
    ]
    assert document["warnings"] == []
    assert (document["entries"], document["files"]) == (3, 3)
    assert document["path"] == str(hostile_zip)


def test_json_output_when_accepted_with_warnings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "flat-bundle.zip"
    path.write_bytes(zipped({"synonyms.txt": b"a, b\n"}))

    assert _main("validate", str(path), "--type", "bundle", "--json") == 0

    document = json.loads(capsys.readouterr().out)
    assert document["ok"] is True
    assert document["problems"] == []
    assert document["warnings"][0]["code"] == "bundle.unconventional_layout"
    assert document["warnings"][0]["entry"] == "synonyms.txt"


def test_human_output_shows_warnings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "flat-bundle.zip"
    path.write_bytes(zipped({"synonyms.txt": b"a, b\n"}))

    assert _main("validate", str(path), "--type", "bundle") == 0

    out = capsys.readouterr().out
    assert out.startswith("warning  bundle.unconventional_layout [synonyms.txt]: ")


def test_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _main("validate", str(tmp_path / "nope.zip")) == 2

    captured = capsys.readouterr()
    assert captured.out == ""
    assert "no such file" in captured.err


def test_directory_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _main("validate", str(tmp_path)) == 2
    assert "not a regular file" in capsys.readouterr().err


def test_unreadable_file_exits_2(
    plugin_zip: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def unreadable(*_: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(validate, "inspect_archive", unreadable)

    assert _main("validate", str(plugin_zip)) == 2
    assert "Permission denied" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ("validate",),
        ("validate", "x.zip", "--type", "theme"),
        ("validate", "x.zip", "--max-entries", "-1"),
        ("validate", "x.zip", "--max-entries", "ten"),
        ("validate", "x.zip", "--max-compression-ratio", "0"),
        ("validate", "x.zip", "--deflate64-policy", "maybe"),
    ],
)
def test_usage_errors_exit_2(argv: tuple[str, ...]) -> None:
    with pytest.raises(SystemExit) as caught:
        _main(*argv)
    assert caught.value.code == 2


def test_limit_flags_apply(plugin_zip: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _main("validate", str(plugin_zip), "--max-entries", "1") == 1
    assert reasons.ZIP_TOO_MANY_ENTRIES in capsys.readouterr().out

    assert _main("validate", str(plugin_zip), "--max-uncompressed-bytes", "100") == 1
    assert reasons.ZIP_BOMB in capsys.readouterr().out


def test_deflate64_policy_flag(capsys: pytest.CaptureFixture[str]) -> None:
    fixture = str(FIXTURES / "deflate64-plugin.zip")

    assert _main("validate", fixture) == 0
    assert "3 Deflate64 (re-encoded as Deflate before upload)" in capsys.readouterr().out

    assert _main("validate", fixture, "--deflate64-policy", "reject", "--json") == 1
    assert json.loads(capsys.readouterr().out)["reason"] == reasons.ZIP_UNSUPPORTED_METHOD


def test_defaults_are_the_contract_defaults() -> None:
    parser = argparse.ArgumentParser()
    validate.register(parser.add_subparsers())
    args = parser.parse_args(["validate", "x.zip"])

    assert args.max_entries == 10_000
    assert args.max_uncompressed_bytes == 4 * 1024**3
    assert args.max_compression_ratio == 200
    assert args.deflate64_policy == "repack"
    assert args.func is validate.run
