"""The whole inspection corpus through the deployed path: S3, the handler, ECE.

Every hostile archive ends rejected with its reason and never reaches ECE;
every legitimate one is uploaded byte for byte (or repacked, for Deflate64).
One multi-record event per group of settings, as S3 would batch them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from ece_uploader.emulator import EceEmulator
from extension_uploader.inspection import Limits
from extension_uploader.pipeline import Runtime

from ..unit.inspection.corpus import HOSTILE, LEGITIMATE, Case
from .conftest import TAG, Put, Tags, outcome, run, s3_event

# ECE's pre-flight always reports a version: cases about an unknown version are
# for `validate --type plugin` without --es-version, and stay in the unit corpus.
CASES = [
    case
    for case in HOSTILE + LEGITIMATE
    if case.extension is None or case.extension.version is not None
]


def _expected(case: Case, data: bytes) -> tuple[str, str]:
    if not data:
        return ("rejected", "object.empty")  # the handler refuses it before downloading
    return ("rejected", case.code) if case.code else ("uploaded", "ok")


def _env(limits: Limits) -> dict[str, str]:
    return {
        "MAX_ENTRIES": str(limits.max_entries),
        "MAX_UNCOMPRESSED_BYTES": str(limits.max_uncompressed_bytes),
        "MAX_COMPRESSION_RATIO": str(limits.max_compression_ratio),
        "DEFLATE64_POLICY": limits.deflate64_policy,
    }


def test_every_corpus_archive_gets_its_verdict_through_the_handler(
    put: Callable[..., Put], make_runtime: Callable[..., Runtime], ece: EceEmulator, tags_of: Tags
) -> None:
    def extension_for(case: Case) -> str:
        """An extension per case (as ECE's pre-flight would describe it): objects aimed
        at one extension in the same second would otherwise supersede each other."""
        info = case.extension
        kind = info.extension_type if info and info.extension_type else "bundle"
        version = info.version if info and info.version else "*"
        return str(
            ece.create_extension(name=f"corpus-{case.id}", extension_type=kind, version=version)[
                "id"
            ]
        )

    groups: dict[Limits, list[tuple[Case, Put, tuple[str, str]]]] = defaultdict(list)
    for case in CASES:
        data = case.build()
        obj = put(f"corpus/{case.id}.zip", data, {TAG: extension_for(case)})
        groups[case.limits].append((case, obj, _expected(case, data)))

    for limits, members in groups.items():
        run(s3_event(*(obj for _, obj, _ in members)), make_runtime(_env(limits)))

    verdicts = [(case.id, outcome(tags_of(obj))) for m in groups.values() for case, obj, _ in m]
    expected = [(case.id, want) for m in groups.values() for case, _, want in m]
    assert verdicts == expected
    assert len(CASES) > 120
    uploads = sum(1 for _, want in expected if want[0] == "uploaded")
    assert len(ece.uploads()) == uploads  # no hostile archive reached ECE
