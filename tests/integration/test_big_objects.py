"""Big objects: inspected while they download (the tail first, then the stream)."""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from ece_uploader.emulator import EceEmulator
from extension_uploader.app import RetryableEventError
from extension_uploader.deadline import Deadline
from extension_uploader.events import ObjectRef
from extension_uploader.inspection import inspect_stream
from extension_uploader.objects import StorageError
from extension_uploader.outcome import TAG_SHA256
from extension_uploader.overlap import OVERLAP_MIN_BYTES, download_and_inspect
from extension_uploader.pipeline import Runtime
from tests.faultproxy import FaultProxy

from .conftest import TAG, Put, Tags, outcome, run, s3_event
from .test_boundaries import stored_zip
from .test_s3_faults import DOWNLOAD, proxy, rule

__all__ = ["proxy"]  # the fault proxy fixture, shared with test_s3_faults

BIG = OVERLAP_MIN_BYTES + 4 * 1024 * 1024


def big_bundle() -> bytes:
    """Random (incompressible) dictionaries, big enough to be inspected while arriving."""
    return stored_zip({f"dictionaries/part-{n}.txt": os.urandom(BIG // 4) for n in range(4)})


def test_a_big_zip_is_inspected_while_it_arrives_and_uploaded_byte_for_byte(
    put: Callable[..., Put], runtime: Runtime, ece: EceEmulator, bundle: str, tags_of: Tags
) -> None:
    data = big_bundle()
    obj = put("big/ok.zip", data, {TAG: bundle})

    run(s3_event(obj), runtime)

    assert outcome(tags_of(obj)) == ("uploaded", "ok")
    assert tags_of(obj)[TAG_SHA256] == obj.sha256
    assert ece.stored_bytes(bundle) == data


def test_a_big_zip_damaged_near_its_end_is_refused_and_never_sent(
    put: Callable[..., Put], runtime: Runtime, ece: EceEmulator, bundle: str, tags_of: Tags
) -> None:
    data = bytearray(big_bundle())
    last = zipfile.ZipFile(io.BytesIO(bytes(data))).infolist()[-1]
    data[last.header_offset + 30 + len(last.filename) + last.file_size - 1] ^= 0xFF
    obj = put("big/damaged.zip", bytes(data), {TAG: bundle})

    run(s3_event(obj), runtime)

    assert outcome(tags_of(obj)) == ("rejected", "zip.corrupt")
    assert ece.find_requests("PUT") == []


def test_a_big_download_cut_short_is_transient_and_nothing_is_sent(
    proxy: FaultProxy,
    put: Callable[..., Put],
    make_runtime: Callable[..., Runtime],
    ece: EceEmulator,
    bundle: str,
    tags_of: Tags,
) -> None:
    obj = put("big/cut.zip", big_bundle(), {TAG: bundle})
    proxy.script(rule(DOWNLOAD, "cut.zip", cut_after=3_000_000, times=None))

    with pytest.raises(RetryableEventError):
        run(s3_event(obj), make_runtime())

    assert outcome(tags_of(obj)) == ("failed", "s3.error")
    assert ece.find_requests("PUT") == []
    assert len(proxy.hits(**DOWNLOAD)) == 2  # the tail (1 MiB: whole), then the cut stream


@pytest.mark.parametrize("size", ["small", "big"])
def test_a_download_that_would_outlive_the_invocation_stops_as_out_of_time(
    size: str, put: Callable[..., Put], runtime: Runtime, bundle: str, tmp_path: Path
) -> None:
    data = big_bundle() if size == "big" else stored_zip({"dictionaries/a.txt": b"a" * 1000})
    obj = put(f"late/{size}.zip", data, {TAG: bundle})
    ref = ObjectRef(obj.bucket, obj.key, obj.version_id)
    info = runtime.objects.head(ref)

    with pytest.raises(StorageError) as raised:
        download_and_inspect(
            runtime.objects,
            ref,
            info,
            tmp_path / "x.zip",
            inspect=inspect_stream,
            deadline=Deadline.after(0, reserve_seconds=0),
        )

    assert raised.value.reason == "lambda.out_of_time" and raised.value.transient
