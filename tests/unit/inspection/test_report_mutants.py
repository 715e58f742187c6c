"""What Findings collects and what a Report exposes: the ranking of problems into a
verdict, the per-code cap and the count of omitted problems, the cap on warnings and
their order, the defaults of an empty report, and what a Refusal carries."""

from __future__ import annotations

import pytest

from extension_uploader import reasons
from extension_uploader.inspection.report import (
    MAX_PROBLEMS_PER_CODE,
    WARNING_BUNDLE_LAYOUT,
    WARNING_PLUGIN_JARS_NOT_AT_ROOT,
    Findings,
    Problem,
    Refusal,
    Report,
)


def test_an_empty_findings_reports_an_accepted_empty_archive() -> None:
    report = Findings().report()

    assert report == Report()
    assert report.to_dict() == {
        "ok": True,
        "reason": None,
        "problems": [],
        "warnings": [],
        "omitted_problems": 0,
        "entries": 0,
        "files": 0,
        "uncompressed_bytes": 0,
        "deflate64_entries": 0,
    }


def test_the_counts_given_are_reported() -> None:
    report = Findings().report(entries=3, files=2, uncompressed_bytes=10, deflate64_entries=1)

    assert (report.entries, report.files, report.uncompressed_bytes, report.deflate64_entries) == (
        3,
        2,
        10,
        1,
    )


def test_problems_are_ranked_and_a_code_without_a_rank_comes_last() -> None:
    findings = Findings()
    findings.add("custom.unranked", "x", "not a reason code")
    findings.add(reasons.PLUGIN_NO_JARS, None, "the plugin contains no .jar file")
    findings.add(reasons.ZIP_CORRUPT, "a.txt", "damaged")
    findings.add("other.unranked", None, "second unranked")

    report = findings.report()

    assert [problem.code for problem in report.problems] == [
        reasons.ZIP_CORRUPT,
        reasons.PLUGIN_NO_JARS,
        "custom.unranked",
        "other.unranked",
    ]
    assert report.reason == reasons.ZIP_CORRUPT
    assert not report.ok


def test_only_unranked_problems_keep_their_order() -> None:
    findings = Findings()
    findings.add("b.unranked", None, "first")
    findings.add("a.unranked", None, "second")

    report = findings.report()

    assert [problem.message for problem in report.problems] == ["first", "second"]
    assert report.reason == "b.unranked"


def test_each_code_keeps_at_most_the_cap_and_counts_the_rest() -> None:
    findings = Findings()
    for index in range(MAX_PROBLEMS_PER_CODE + 3):
        findings.add(reasons.ZIP_BAD_NAME, f"n{index}", "bad")
    findings.add_problem(Problem(reasons.ZIP_CORRUPT, None, "damaged"))

    report = findings.report()

    assert MAX_PROBLEMS_PER_CODE == 20
    assert report.problems[0] == Problem(reasons.ZIP_CORRUPT, None, "damaged")
    assert [problem.entry for problem in report.problems[1:]] == [f"n{i}" for i in range(20)]
    assert report.omitted_problems == 3
    assert report.to_dict()["omitted_problems"] == 3
    assert findings.has(reasons.ZIP_BAD_NAME, reasons.ZIP_BOMB)
    assert not findings.has(reasons.ZIP_BOMB)


@pytest.mark.parametrize(("added", "kept"), [(19, 19), (20, 20), (21, 20), (25, 20)])
def test_warnings_are_capped_and_keep_their_order(added: int, kept: int) -> None:
    findings = Findings()
    for index in range(added):
        code = WARNING_BUNDLE_LAYOUT if index % 2 else WARNING_PLUGIN_JARS_NOT_AT_ROOT
        findings.warn(code, f"e{index}", f"warning {index}")

    report = findings.report()

    assert report.warnings == tuple(
        Problem(
            WARNING_BUNDLE_LAYOUT if index % 2 else WARNING_PLUGIN_JARS_NOT_AT_ROOT,
            f"e{index}",
            f"warning {index}",
        )
        for index in range(kept)
    )
    assert report.ok
    assert report.omitted_problems == 0


def test_warnings_appear_in_to_dict() -> None:
    findings = Findings()
    findings.warn(WARNING_BUNDLE_LAYOUT, None, "unconventional layout")

    assert findings.report().to_dict()["warnings"] == [
        {"code": WARNING_BUNDLE_LAYOUT, "entry": None, "message": "unconventional layout"}
    ]


def test_a_refusal_carries_its_problem_and_its_message() -> None:
    refusal = Refusal(reasons.ZIP_CORRUPT, "the archive is damaged", entry="a.txt")

    assert refusal.problem == Problem(reasons.ZIP_CORRUPT, "a.txt", "the archive is damaged")
    assert str(refusal) == "the archive is damaged"
    assert Refusal(reasons.ZIP_BOMB, "too big").problem == Problem(
        reasons.ZIP_BOMB, None, "too big"
    )
