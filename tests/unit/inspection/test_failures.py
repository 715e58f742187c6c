"""A failure of the inspection itself is a bug, never a verdict on the archive.

Only exceptions that mean "these bytes are malformed" become ``zip.corrupt``; any
other one leaves :func:`inspect_archive` as :class:`InspectionBug`, so that a defect
is retried and investigated instead of tagging a good file as rejected for good.
"""

from __future__ import annotations

import argparse
import struct
from pathlib import Path

import pytest

from ece_uploader import validate
from extension_uploader import reasons
from extension_uploader.inspection import InspectionBug, inspect_archive
from extension_uploader.inspection import archive as archive_module

from .corpus import plugin


def _raise(error: BaseException):  # type: ignore[no-untyped-def]
    def fail(*_: object, **__: object) -> None:
        raise error

    return fail


@pytest.fixture
def good_zip(tmp_path: Path) -> Path:
    path = tmp_path / "plugin.zip"
    path.write_bytes(plugin())
    return path


@pytest.mark.parametrize(
    "helper", ["_file_type_problem", "check_name", "verify_entry", "find_duplicates"]
)
def test_an_unexpected_exception_is_a_bug_not_a_corrupt_zip(
    helper: str, good_zip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an inspector whose internal helper fails with an unexpected exception
    monkeypatch.setattr(archive_module, helper, _raise(KeyError("oops")))

    # When a good archive is inspected, Then no verdict comes back: the bug is raised
    with pytest.raises(InspectionBug) as caught:
        inspect_archive(good_zip)
    assert isinstance(caught.value.__cause__, KeyError)
    assert "KeyError" in str(caught.value)


def test_a_struct_error_on_malformed_bytes_is_corrupt(
    good_zip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(archive_module, "check_layout", _raise(struct.error("unpack")))

    report = inspect_archive(good_zip)

    assert report.reason == reasons.ZIP_CORRUPT


def test_an_os_error_propagates_as_it_is(good_zip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(archive_module, "verify_entry", _raise(OSError(5, "I/O error")))

    with pytest.raises(OSError, match="I/O error"):
        inspect_archive(good_zip)


def test_validate_exits_2_on_a_bug(
    good_zip: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(archive_module, "_file_type_problem", _raise(KeyError("oops")))
    parser = argparse.ArgumentParser(prog="ece-uploader")
    validate.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["validate", str(good_zip)])

    status = args.func(args)

    captured = capsys.readouterr()
    assert status == validate.EXIT_ERROR
    assert captured.out == ""
    assert "internal error" in captured.err
    assert "KeyError('oops')" in captured.err
