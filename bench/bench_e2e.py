"""End to end: the handler against simply moving the bytes, same sandbox, same run.

Usage:
    .venv/bin/python bench/bench_e2e.py [--sizes 10 200 1000] [--reps 3] [--no-write]

Starts the sandbox (moto server and the ECE emulator, on loopback, in this
process) and, for each size (MB), a bundle zip of text-like and incompressible
entries (deflated, the mix ``bench_inspection`` uses). Then, interleaved, several
times each:

- ``raw transfer``: one streamed ``get_object`` to a file, then one plain
  ``requests.put`` of that file as ``application/zip`` to the same extension;
- ``handler``: ``handle_event`` on an S3 event for a fresh version of the object,
  with a warm runtime (one container, its secret already read), default upload mode.

Prints the best and median of each, their ratio, and where the handler's time
goes (every AWS call timed by botocore's event hooks, ECE calls, download,
inspection, repack, upload), then what a second pass over the file costs (the
inspection's own, and SHA-256 or CRC-32 alone) and what parallel ranged GETs
would gain over the one stream. Writes its tables into ``bench/results.md``.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import hashlib
import io
import logging
import os
import shutil
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import requests

from results import best, machine, median, write_section

MIB = 1024 * 1024
GIB = 1024 * MIB
KEY_PREFIX = "bench/e2e"
TAG = "ece-extension-id"
WITHIN = "S3 GetObject"  # the reply's headers only: its body is read within the download


# -- the archive ------------------------------------------------------------------------


def write_bundle(path: Path, size_mb: int) -> str:
    """About ``size_mb`` MB: 8 MiB entries, two of three text-like (about 3:1), deflated."""
    import random

    from bench_inspection import zc

    rng = random.Random(7)
    words = [rng.randbytes(rng.randint(2, 8)).hex().encode() for _ in range(3000)]
    text = b" ".join(rng.choice(words) for _ in range(800_000))[: 8 * MIB]
    noise = rng.randbytes(8 * MIB)
    kinds = [(zc.raw_deflate(data, 6), data, zlib.crc32(data)) for data in (text, noise)]
    with path.open("wb") as out:
        directory = bytearray()
        index = 0
        while out.tell() < size_mb * 1_000_000:
            payload, data, crc = kinds[index % 3 == 2]
            member = zc.Member(
                f"dictionaries/{index:05d}.txt", data, method=zc.DEFLATED, payload=payload, crc=crc
            )
            offset = out.tell()
            out.write(zc.local_header(member, payload))
            out.write(payload)
            directory += zc.central_header(member, payload, offset)
            index += 1
        cd_offset = out.tell()
        out.write(directory)
        if index > 0xFFFF or cd_offset > 0xFFFFFFFF:
            raise SystemExit("bench archive too big for a plain end record")
        out.write(zc.end_record(index, len(directory), cd_offset))
    return f"{index} entries"


# -- timing the handler's parts ----------------------------------------------------------


class Phases:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = collections.defaultdict(float)
        self.calls: dict[str, int] = collections.defaultdict(int)

    def add(self, label: str, seconds: float) -> None:
        self.seconds[label] += seconds
        self.calls[label] += 1

    def wrap(self, label: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.add(label, time.perf_counter() - started)

        return timed

    def hook(self, client: Any, service: str) -> None:
        """Time every API call of a boto3 client (request sent to reply parsed)."""
        starts: dict[int, float] = {}

        def before(model: Any, **_: Any) -> None:
            starts[id(model)] = time.perf_counter()

        def after(model: Any, **_: Any) -> None:
            started = starts.pop(id(model), None)
            if started is not None:
                self.add(f"{service} {model.name}", time.perf_counter() - started)

        client.meta.events.register("before-call", before)
        client.meta.events.register("after-call", after)


class Proxy:
    """Delegates to ``target``; the methods named in ``labels`` are timed."""

    def __init__(self, target: Any, phases: Phases, labels: dict[str, str]) -> None:
        self._target = target
        self._phases = phases
        self._labels = labels

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        label = self._labels.get(name)
        return self._phases.wrap(label, value) if label else value


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """The function's log lines and metrics go nowhere while it runs."""
    from extension_uploader.telemetry import logger

    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    previous = handler.setStream(io.StringIO())
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        handler.setStream(previous)


# -- the cases ---------------------------------------------------------------------------


class Bench:
    def __init__(self, workdir: Path) -> None:
        from ece_uploader.sandbox import Sandbox

        self.workdir = workdir
        self.sandbox = Sandbox().start()
        self.extension_id = str(self.sandbox.extensions["synonyms"]["id"])
        os.environ.update(self.sandbox.env)
        self.s3 = self.sandbox.s3()
        self.phases = Phases()
        self.copies = 0
        with quiet():
            self.runtime = self._runtime()

    def _runtime(self) -> Any:
        from extension_uploader import pipeline
        from extension_uploader.app import build_runtime
        from extension_uploader.config import Settings

        env = dict(self.sandbox.env) | {"MAX_ZIP_BYTES": str(2 * GIB)}
        runtime = build_runtime(Settings.from_env(env))
        phases = self.phases
        phases.hook(runtime.objects._client, "S3")
        phases.hook(runtime.ledger._client, "DynamoDB")
        runtime.objects = Proxy(runtime.objects, phases, {"read_tail": "S3 tail GET"})
        runtime.ece = Proxy(
            runtime.ece, phases, {"get_extension": "ECE pre-flight GET", "upload": "ECE PUT"}
        )
        # The pipeline's own names for the steps, timed where it calls them. Big objects
        # are inspected while they download: the two are one phase.
        pipeline.download_and_inspect = phases.wrap(  # type: ignore[attr-defined]
            "download + SHA-256 + inspection", pipeline.download_and_inspect
        )
        pipeline.repack_deflate64 = phases.wrap("repack", pipeline.repack_deflate64)  # type: ignore[attr-defined]
        return runtime

    def stop(self) -> None:
        self.sandbox.stop()

    def put(self, key: str, path: Path) -> dict[str, Any]:
        from boto3.s3.transfer import TransferConfig

        from ece_uploader.sandbox import BUCKET

        self.s3.upload_file(
            str(path),
            BUCKET,
            key,
            ExtraArgs={"Tagging": f"{TAG}={self.extension_id}"},
            Config=TransferConfig(multipart_threshold=8 * GIB),
        )
        return self.new_version(key)

    def new_version(self, key: str) -> dict[str, Any]:
        """A fresh version of the key (server-side copy, tags copied): the handler uploads it."""
        from ece_uploader.sandbox import BUCKET

        self.copies += 1
        reply = self.s3.copy_object(
            Bucket=BUCKET,
            Key=key,
            CopySource={"Bucket": BUCKET, "Key": key},
            MetadataDirective="REPLACE",
            Metadata={"bench-copy": str(self.copies)},
        )
        head = self.s3.head_object(Bucket=BUCKET, Key=key)
        return {"key": key, "version": reply["VersionId"], "etag": head["ETag"].strip('"')}

    def event(self, version: dict[str, Any], size: int) -> dict[str, Any]:
        from ece_uploader.sandbox import BUCKET

        record = {
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": "us-east-1",
            "eventName": "ObjectCreated:Copy",
            "s3": {
                "s3SchemaVersion": "1.0",
                "bucket": {"name": BUCKET},
                "object": {
                    "key": version["key"],
                    "size": size,
                    "eTag": version["etag"],
                    "versionId": version["version"],
                },
            },
        }
        return {"Records": [record]}

    def handler(self, version: dict[str, Any], size: int) -> dict[str, float]:
        from extension_uploader.app import handle_event
        from extension_uploader.deadline import Deadline

        self.phases.seconds.clear()
        self.phases.calls.clear()
        started = time.perf_counter()
        with quiet():
            reply = handle_event(self.event(version, size), self.runtime, Deadline.after(900))
        total = time.perf_counter() - started
        [result] = reply["results"]
        if result["status"] != "uploaded":
            raise SystemExit(f"the handler did not upload: {result}")
        return {"total": total, **self.phases.seconds}

    def raw_transfer(self, version: dict[str, Any]) -> dict[str, float]:
        from ece_uploader.sandbox import BUCKET

        dest = self.workdir / "raw-transfer.zip"
        started = time.perf_counter()
        reply = self.s3.get_object(Bucket=BUCKET, Key=version["key"], VersionId=version["version"])
        with dest.open("wb") as out:
            for chunk in reply["Body"].iter_chunks(MIB):
                out.write(chunk)
        downloaded = time.perf_counter()
        with dest.open("rb") as stream:
            put = requests.put(
                f"{self.sandbox.ece_api_url}/api/v1/deployments/extensions/{self.extension_id}",
                data=stream,
                headers={
                    "Authorization": f"ApiKey {self.sandbox.api_key}",
                    "Content-Type": "application/zip",
                },
                timeout=600,
            )
        put.raise_for_status()
        done = time.perf_counter()
        dest.unlink()
        return {"total": done - started, "GET": downloaded - started, "PUT": done - downloaded}


# -- second passes and parallel downloads ------------------------------------------------


def pass_seconds(path: Path, update: Callable[[bytes], object]) -> float:
    started = time.perf_counter()
    with path.open("rb", buffering=0) as stream:
        while chunk := stream.read(MIB):
            update(chunk)
    return time.perf_counter() - started


def crc_pass(path: Path) -> float:
    state = [0]

    def update(chunk: bytes) -> None:
        state[0] = zlib.crc32(chunk, state[0])

    return pass_seconds(path, update)


def download_one_stream(bench: Bench, version: dict[str, Any], size: int) -> float:
    from ece_uploader.sandbox import BUCKET
    from extension_uploader.events import ObjectRef
    from extension_uploader.objects import ObjectInfo, ObjectStore

    store = ObjectStore(bench.runtime.objects._target._client)
    ref = ObjectRef(BUCKET, version["key"], version["version"], version["etag"])
    info = ObjectInfo(size, version["etag"], version["version"], {}, None)  # type: ignore[arg-type]
    dest = bench.workdir / "one-stream.zip"
    started = time.perf_counter()
    with dest.open("wb") as out:
        store.download(ref, info, out)
    seconds = time.perf_counter() - started
    dest.unlink()
    return seconds


def download_ranged(
    bench: Bench, version: dict[str, Any], size: int, workers: int, part_bytes: int
) -> float:
    """Parallel ranged GETs pinned to the version and ETag, hashed in order, bounded."""
    from concurrent.futures import ThreadPoolExecutor

    from ece_uploader.sandbox import BUCKET

    client = bench.runtime.objects._target._client
    dest = bench.workdir / "ranged.zip"
    digest = hashlib.sha256()

    def fetch(start: int) -> bytes:
        end = min(size, start + part_bytes) - 1
        reply = client.get_object(
            Bucket=BUCKET,
            Key=version["key"],
            VersionId=version["version"],
            IfMatch=f'"{version["etag"]}"',
            Range=f"bytes={start}-{end}",
        )
        return bytes(reply["Body"].read())

    started = time.perf_counter()
    with dest.open("wb") as out, ThreadPoolExecutor(workers) as pool:
        starts = list(range(0, size, part_bytes))
        pending = collections.deque(pool.submit(fetch, s) for s in starts[: 2 * workers])
        following = iter(starts[2 * workers :])
        while pending:
            data = pending.popleft().result()
            out.write(data)
            digest.update(data)
            if (nxt := next(following, None)) is not None:
                pending.append(pool.submit(fetch, nxt))
    seconds = time.perf_counter() - started
    dest.unlink()
    return seconds


# -- the run -------------------------------------------------------------------------------


def run_size(bench: Bench, size_mb: int, reps: int, rows: list[str], parts: list[str]) -> None:
    from extension_uploader.config import Settings
    from extension_uploader.inspection import ExtensionInfo, inspect_archive

    path = bench.workdir / f"bundle-{size_mb}.zip"
    note = write_bundle(path, size_mb)
    size = path.stat().st_size
    key = f"{KEY_PREFIX}/{size_mb}mb.zip"
    bench.put(key, path)
    raw: list[dict[str, float]] = []
    ours: list[dict[str, float]] = []
    reps = reps if size_mb < 1000 else min(reps, 2)  # keeps `make bench` under 10 minutes
    for rep in range(reps):
        cases = [("raw", raw), ("ours", ours)]
        for name, results in cases if rep % 2 == 0 else cases[::-1]:
            version = bench.new_version(key)
            results.append(
                bench.raw_transfer(version) if name == "raw" else bench.handler(version, size)
            )
    raw_total = [r["total"] for r in raw]
    our_total = [r["total"] for r in ours]
    ratio = best(our_total) / best(raw_total)
    target = 1.5 if size_mb <= 10 else 1.3
    verdict = "met" if ratio <= target else "NOT met"
    rows.append(
        f"| {size / 1e6:,.0f} MB ({note}) | {best(raw_total):.2f} / {median(raw_total):.2f} | "
        f"{best(our_total):.2f} / {median(our_total):.2f} | **{ratio:.2f}x** | "
        f"{target}x {verdict} |"
    )
    print(
        f"{size / 1e6:8.0f} MB  raw transfer best {best(raw_total):6.2f} s "
        f"(GET {best([r['GET'] for r in raw]):.2f} + PUT {best([r['PUT'] for r in raw]):.2f})  "
        f"handler best {best(our_total):6.2f} s  ratio {ratio:.2f} (target {target}: {verdict})",
        flush=True,
    )
    # Where the handler's time goes: the median over the runs of each part.
    labels = sorted({label for run in ours for label in run if label != "total"})
    accounted = [sum(v for k, v in run.items() if k not in ("total", WITHIN)) for run in ours]
    parts.append(f"\n**{size / 1e6:,.0f} MB**, handler median {median(our_total):.2f} s:\n")
    parts.append("| part | median s | share |")
    parts.append("|---|---:|---:|")
    for label in sorted(labels, key=lambda lab: -median([run.get(lab, 0.0) for run in ours])):
        seconds = median([run.get(label, 0.0) for run in ours])
        shown = f"{label} (reply headers, within the download)" if label == WITHIN else label
        parts.append(f"| {shown} | {seconds:.3f} | {seconds / median(our_total):.0%} |")
    other = median([run["total"] - acc for run, acc in zip(ours, accounted, strict=True)])
    share = other / median(our_total)
    parts.append(f"| other (logging, metrics, Python) | {other:.3f} | {share:.0%} |")
    for label in labels:
        print(f"      {label:<32} {median([run.get(label, 0.0) for run in ours]):7.3f} s")
    print(f"      {'other':<32} {other:7.3f} s")

    if size_mb >= 200:
        # A second pass over the file, alone: what overlapping it with the download saves.
        limits = Settings.from_env(dict(os.environ) | {"MAX_ZIP_BYTES": str(2 * GIB)}).limits
        inspection = best(
            [
                _timed(lambda: inspect_archive(path, limits, ExtensionInfo("bundle", "*")))
                for _ in range(2)
            ]
        )
        sha = best([pass_seconds(path, hashlib.sha256().update) for _ in range(2)])
        crc = best([crc_pass(path) for _ in range(2)])
        parts.append(
            f"\nSecond passes over the {size / 1e6:,.0f} MB file alone (best of 2): "
            f"inspection {inspection:.2f} s, SHA-256 {sha:.2f} s, CRC-32 {crc:.2f} s "
            f"(of a raw transfer of {best(raw_total):.2f} s)."
        )
        print(f"      second passes: inspection {inspection:.2f} SHA-256 {sha:.2f} CRC {crc:.2f}")
    if size_mb < 1000 and size_mb >= 200:
        # Moto reads the whole object for every ranged GET: only tried below 1 GB.
        version = bench.new_version(key)
        one: list[float] = []
        ranged: dict[int, list[float]] = collections.defaultdict(list)
        for _ in range(2):
            one.append(download_one_stream(bench, version, size))
            for workers in (4, 8):
                ranged[workers].append(download_ranged(bench, version, size, workers, 8 * MIB))
        text = ", ".join(
            f"{w} workers x 8 MiB {best(v):.2f} s ({best(one) / best(v):.2f}x)"
            for w, v in ranged.items()
        )
        parts.append(
            f"Download of {size / 1e6:,.0f} MB (best of 2): one stream {best(one):.2f} s; "
            f"parallel ranged GETs {text}."
        )
        print(f"      download: one stream {best(one):.2f} s; ranged {text}", flush=True)
    path.unlink()


def _timed(function: Callable[[], object]) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[10, 200, 1000])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="do not write bench/results.md")
    args = parser.parse_args(argv)
    free = shutil.disk_usage(tempfile.gettempdir()).free
    sizes = [s for s in args.sizes if s * 1_000_000 * 6 < free]
    if sizes != args.sizes:
        skipped = sorted(set(args.sizes) - set(sizes))
        print(f"skipped sizes that do not fit in {free / 1e9:.1f} GB free: {skipped}")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    print(f"{machine()}; in-process sandbox (moto server + ECE emulator on loopback)")
    rows = [
        "| object | raw transfer s (best / median) | handler s (best / median) | ratio | target |",
        "|---|---:|---:|---:|---|",
    ]
    parts: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-e2e-") as workdir:
        bench = Bench(Path(workdir))
        try:
            warm = Path(workdir) / "warm.zip"
            write_bundle(warm, 1)
            bench.handler(bench.put(f"{KEY_PREFIX}/warm.zip", warm), warm.stat().st_size)
            for size_mb in sizes:
                run_size(bench, size_mb, args.reps, rows, parts)
        finally:
            bench.stop()
    if not args.no_write:
        write_section(
            "e2e",
            "## End to end: the handler against the raw transfer\n\n"
            f"{machine()}; {args.reps} runs each, interleaved, in-process sandbox. "
            "Raw transfer: one streamed `get_object` to a file, then one plain `requests.put` "
            "of it as `application/zip`. Handler: `handle_event` on a fresh object version, "
            "warm runtime, multipart upload.\n\n" + "\n".join(rows) + "\n\n"
            "### Where the handler's time goes\n" + "\n".join(parts),
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
