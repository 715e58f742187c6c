"""Every hostile archive of the corpus is refused for the right reason; every
legitimate one is accepted."""

from __future__ import annotations

from pathlib import Path

import pytest

from extension_uploader import reasons
from extension_uploader.inspection import inspect_archive

from .corpus import HOSTILE, LEGITIMATE, Case

ALL_CODES = {value for name, value in vars(reasons).items() if name.isupper()}


def _inspect(case: Case, tmp_path: Path):  # type: ignore[no-untyped-def]
    path = tmp_path / f"{case.id}.zip"
    path.write_bytes(case.build())
    return inspect_archive(path, case.limits, case.extension)


def test_corpus_is_big_enough() -> None:
    assert len(HOSTILE) >= 40
    assert len(LEGITIMATE) >= 10
    assert len({case.id for case in HOSTILE + LEGITIMATE}) == len(HOSTILE) + len(LEGITIMATE)


@pytest.mark.parametrize("case", HOSTILE, ids=lambda case: case.id)
def test_hostile_archive_is_refused_with_its_reason(case: Case, tmp_path: Path) -> None:
    # Given a hostile or malformed archive, When it is inspected
    report = _inspect(case, tmp_path)

    # Then it is refused, and the verdict names the expected reason
    assert not report.ok
    assert report.reason == case.code, report.problems
    assert all(problem.code in ALL_CODES for problem in report.problems)
    assert all(problem.message for problem in report.problems)
    # an explicit check found it, not the fallback for stray struct or zlib errors
    assert not any("could not be parsed" in problem.message for problem in report.problems)


@pytest.mark.parametrize("case", LEGITIMATE, ids=lambda case: case.id)
def test_legitimate_archive_is_accepted(case: Case, tmp_path: Path) -> None:
    report = _inspect(case, tmp_path)

    assert report.ok, report.problems
    assert report.reason is None
    assert report.files >= 1


def test_problem_entry_names_are_escaped(tmp_path: Path) -> None:
    hostile = next(case for case in HOSTILE if case.id == "control-char")
    report = _inspect(hostile, tmp_path)

    assert report.problems[0].entry == "esc\\x1b[31m.txt"


def test_every_bad_entry_is_listed(tmp_path: Path) -> None:
    from .zipcraft import Member, craft

    path = tmp_path / "many.zip"
    path.write_bytes(craft([Member("../a"), Member("ok.txt"), Member("b\x00"), Member("/c")]))

    report = inspect_archive(path)

    listed = {(problem.code, problem.entry) for problem in report.problems}
    assert listed == {
        (reasons.ZIP_UNSAFE_PATH, "../a"),
        (reasons.ZIP_BAD_NAME, "b\\x00"),
        (reasons.ZIP_UNSAFE_PATH, "/c"),
    }
    assert report.reason == reasons.ZIP_UNSAFE_PATH


def test_problems_are_capped_per_code(tmp_path: Path) -> None:
    from .zipcraft import Member, craft

    path = tmp_path / "flood.zip"
    path.write_bytes(craft([Member(f"../f{i}") for i in range(300)] + [Member("x\x01")]))

    report = inspect_archive(path)

    unsafe = [problem for problem in report.problems if problem.code == reasons.ZIP_UNSAFE_PATH]
    assert len(unsafe) == 20
    assert report.omitted_problems == 280
    assert any(problem.code == reasons.ZIP_BAD_NAME for problem in report.problems)


def test_counts_are_reported(tmp_path: Path) -> None:
    legit = next(case for case in LEGITIMATE if case.id == "deflate64-plugin-fixture")

    report = _inspect(legit, tmp_path)

    assert (report.entries, report.files, report.deflate64_entries) == (5, 4, 3)
    assert report.uncompressed_bytes == 199725
