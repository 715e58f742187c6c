"""Structure: the end record first, bounded work, and never an exception."""

from __future__ import annotations

import random
import struct
from pathlib import Path

import pytest

from extension_uploader import reasons
from extension_uploader.inspection import ExtensionInfo, Limits, inspect_archive
from extension_uploader.inspection import archive as archive_module
from extension_uploader.inspection.report import ExtensionType

from .corpus import HOSTILE, LEGITIMATE
from .zipcraft import Member, craft, end_record


def _write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "archive.zip"
    path.write_bytes(data)
    return path


def test_entry_count_is_judged_before_the_directory_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def forbidden(*_: object) -> None:
        raise AssertionError("the central directory must not be parsed")

    monkeypatch.setattr(archive_module, "iter_central_records", forbidden)
    path = _write(tmp_path, craft([Member(f"f{i}") for i in range(30)]))

    report = inspect_archive(path, Limits(max_entries=29))

    assert report.reason == reasons.ZIP_TOO_MANY_ENTRIES


def test_a_real_archive_over_the_entry_limit(tmp_path: Path) -> None:
    path = _write(tmp_path, craft([Member(f"f{i}", b"") for i in range(10_001)]))

    assert inspect_archive(path).reason == reasons.ZIP_TOO_MANY_ENTRIES


def test_the_longest_comment_is_accepted(tmp_path: Path) -> None:
    path = _write(tmp_path, craft([Member("a.txt", b"a")], comment=b"c" * 0xFFFF))

    assert inspect_archive(path).ok


def test_a_comment_one_byte_short_is_corrupt(tmp_path: Path) -> None:
    data = craft([Member("a.txt", b"a")], comment=b"comment")

    assert inspect_archive(_write(tmp_path, data[:-1])).reason == reasons.ZIP_CORRUPT


def test_zip64_record_contradicting_the_end_record_is_corrupt(tmp_path: Path) -> None:
    data = bytearray(craft([Member("a.txt", b"a")], zip64=True))
    eocd_at = data.rfind(b"PK\x05\x06")
    struct.pack_into("<2H", data, eocd_at + 8, 2, 2)  # the end record now says 2 entries

    assert inspect_archive(_write(tmp_path, bytes(data))).reason == reasons.ZIP_CORRUPT


def test_zip64_record_with_data_before_the_locator_is_corrupt(tmp_path: Path) -> None:
    data = craft([Member("a.txt", b"a")], zip64=True)
    locator_at = data.rfind(b"PK\x06\x07")
    padded = data[:locator_at] + b"\0" * 8 + data[locator_at:]

    report = inspect_archive(_write(tmp_path, padded))

    assert report.reason == reasons.ZIP_CORRUPT
    assert "zip64 end record" in report.problems[0].message


def test_an_empty_zip_is_a_zip_without_files(tmp_path: Path) -> None:
    report = inspect_archive(_write(tmp_path, end_record(0, 0, 0)))

    assert report.reason == reasons.ZIP_NO_FILES
    assert report.entries == 0


def test_data_before_an_empty_zip_is_corrupt(tmp_path: Path) -> None:
    report = inspect_archive(_write(tmp_path, b"junk" + end_record(0, 0, 4)))

    assert report.reason == reasons.ZIP_CORRUPT


def test_missing_path_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        inspect_archive(tmp_path / "missing.zip")


def test_directory_path_raises(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError):
        inspect_archive(tmp_path)


def test_limits_are_validated() -> None:
    with pytest.raises(ValueError, match="policy"):
        Limits(deflate64_policy="maybe")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ratio"):
        Limits(max_compression_ratio=0)


def test_report_to_dict_is_json_ready(tmp_path: Path) -> None:
    report = inspect_archive(_write(tmp_path, craft([Member("../x")])))

    assert report.to_dict() == {
        "ok": False,
        "reason": reasons.ZIP_UNSAFE_PATH,
        "problems": [
            {
                "code": reasons.ZIP_UNSAFE_PATH,
                "entry": "../x",
                "message": "the name has a '..' segment",
            }
        ],
        "warnings": [],
        "omitted_problems": 0,
        "entries": 1,
        "files": 1,
        "uncompressed_bytes": 0,
        "deflate64_entries": 0,
    }


KINDS: list[ExtensionType | None] = [None, "plugin", "bundle"]


def _mutate(data: bytearray, rng: random.Random) -> None:
    for _ in range(rng.randint(1, 4)):
        if not data:
            return
        position = rng.randrange(len(data))
        choice = rng.random()
        if choice < 0.5:
            data[position] = rng.randrange(256)
        elif choice < 0.7:
            data[position : position + 4] = rng.choice(
                [b"\xff\xff\xff\xff", b"\0\0\0\0", b"PK\x05\x06", b"PK\x01\x02", b"PK\x03\x04"]
            )
        elif choice < 0.85:
            del data[position:]
        else:
            data[position:position] = rng.randbytes(rng.randint(1, 10))


def test_mutated_archives_never_raise(tmp_path: Path) -> None:
    """Random damage to every corpus archive: always a Report, never an internal error."""
    rng = random.Random(20251128)
    seeds = [case.build() for case in LEGITIMATE + HOSTILE if case.id != "ratio-bomb"]
    seeds = [seed for seed in seeds if len(seed) < 300_000]
    path = tmp_path / "mutant.zip"
    for _ in range(1500):
        data = bytearray(rng.choice(seeds))
        _mutate(data, rng)
        path.write_bytes(bytes(data))
        kind = rng.choice(KINDS)
        report = inspect_archive(path, extension=ExtensionInfo(kind, "8.15.0"))
        assert not any("could not be parsed" in problem.message for problem in report.problems)


@pytest.mark.parametrize("side", ["central", "local"])
def test_an_overrunning_extra_field_names_the_entry_and_the_field(
    side: str, tmp_path: Path
) -> None:
    from .corpus import OVERRUNNING_EXTRA

    extra, local_extra = (OVERRUNNING_EXTRA, b"") if side == "central" else (b"", OVERRUNNING_EXTRA)
    member = Member("plugin.jar", b"x", extra=extra, local_extra=local_extra)
    report = inspect_archive(_write(tmp_path, craft([member])))

    assert report.reason == reasons.ZIP_CORRUPT
    problem = report.problems[0]
    assert problem.entry == "plugin.jar"
    assert "extra field is malformed" in problem.message
    assert "0x3341 claims 13121 bytes" in problem.message
    assert ("central directory" if side == "central" else "local header") in problem.message
