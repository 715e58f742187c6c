"""Scale: 50 zips dropped at once, handled by 5 containers in parallel, against 1.

Usage:
    .venv/bin/python bench/bench_scale.py [--objects 50] [--containers 5] [--size-mb 2]

The sandbox runs in this process (moto server and the ECE emulator on loopback).
Each object is a bundle of about ``--size-mb`` MB aimed at an extension of its own.
A round puts a fresh version of every object, then hands one S3 event per object
to a pool of containers (threads, each with a runtime of its own, as Lambda
would: one object per invocation) until all are done. The same drop is handled by
one container in the same run, as the reference. Prints objects per second and
the rate of requests ECE received.
"""

from __future__ import annotations

import argparse
import queue
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench_e2e import TAG, quiet, write_bundle
from results import machine, write_section


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=50)
    parser.add_argument("--containers", type=int, default=5)
    parser.add_argument("--size-mb", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2, help="rounds of each, interleaved")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)

    import logging
    import os

    from ece_uploader.sandbox import BUCKET, Sandbox

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    sandbox = Sandbox().start()
    assert sandbox.emulator is not None
    os.environ.update(sandbox.env)
    s3 = sandbox.s3()
    ids = [
        str(
            sandbox.emulator.create_extension(
                name=f"bench-{index:03d}", extension_type="bundle", version="*"
            )["id"]
        )
        for index in range(args.objects)
    ]
    results: dict[int, list[dict[str, float]]] = {args.containers: [], 1: []}
    try:
        with tempfile.TemporaryDirectory(prefix="bench-scale-") as workdir:
            archive = Path(workdir) / "bundle.zip"
            write_bundle(archive, args.size_mb)
            data = archive.read_bytes()
            for round_index in range(args.rounds):
                order = [args.containers, 1] if round_index % 2 == 0 else [1, args.containers]
                for containers in order:
                    events = [
                        _put(s3, BUCKET, f"bench/scale/{index:03d}.zip", data, extension_id)
                        for index, extension_id in enumerate(ids)
                    ]
                    results[containers].append(_round(sandbox, events, containers))
    finally:
        sandbox.stop()

    lines = [
        "| containers | objects | best s | objects/s | ECE requests/s | uploaded |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for containers, rounds in results.items():
        fastest = min(rounds, key=lambda r: r["seconds"])
        lines.append(
            f"| {containers} | {args.objects} | {fastest['seconds']:.2f} | "
            f"{args.objects / fastest['seconds']:.1f} | "
            f"{fastest['ece_requests'] / fastest['seconds']:.1f} | {fastest['uploaded']:.0f} |"
        )
    speedup = min(r["seconds"] for r in results[1]) / min(
        r["seconds"] for r in results[args.containers]
    )
    summary = f"{args.containers} containers against 1: {speedup:.2f}x the objects per second"
    print(f"{machine()}; {args.objects} objects of {len(data) / 1e6:.1f} MB")
    print("\n".join(lines))
    print(summary)
    if not args.no_write:
        write_section(
            "scale",
            "## Scale: a drop of many zips, containers in parallel\n\n"
            f"{machine()}; {args.objects} bundles of {len(data) / 1e6:.1f} MB dropped at "
            "once, each aimed at its own extension, one object per invocation; best of "
            f"{args.rounds} rounds, interleaved.\n\n" + "\n".join(lines) + f"\n\n{summary}.",
        )
    return 0


def _put(s3: Any, bucket: str, key: str, data: bytes, extension_id: str) -> dict[str, Any]:
    reply = s3.put_object(Bucket=bucket, Key=key, Body=data, Tagging=f"{TAG}={extension_id}")
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventName": "ObjectCreated:Put",
        "s3": {
            "s3SchemaVersion": "1.0",
            "bucket": {"name": bucket},
            "object": {
                "key": key,
                "size": len(data),
                "eTag": reply["ETag"].strip('"'),
                "versionId": reply["VersionId"],
            },
        },
    }
    return {"Records": [record]}


def _round(sandbox: Any, events: list[dict[str, Any]], containers: int) -> dict[str, float]:
    from extension_uploader.app import build_runtime, handle_event
    from extension_uploader.config import Settings
    from extension_uploader.deadline import Deadline

    settings = Settings.from_env(dict(sandbox.env) | {"ALLOWED_EXTENSION_IDS": "*"})
    with quiet():
        runtimes = [build_runtime(settings) for _ in range(containers)]
        for runtime in runtimes:  # a warm container has read its secret already
            runtime.ece._credentials.get()
    work: queue.Queue[dict[str, Any]] = queue.Queue()
    for event in events:
        work.put(event)
    statuses: list[str] = []
    lock = threading.Lock()

    def container(runtime: Any) -> None:
        while True:
            try:
                event = work.get_nowait()
            except queue.Empty:
                return
            reply = handle_event(event, runtime, Deadline.after(900))
            with lock:
                statuses.extend(result["status"] for result in reply["results"])

    before = len(sandbox.emulator.requests)
    threads = [threading.Thread(target=container, args=(runtime,)) for runtime in runtimes]
    with quiet():
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - started
    requests = len(sandbox.emulator.requests) - before
    uploaded = statuses.count("uploaded")
    print(
        f"{containers} container(s): {len(events)} objects in {seconds:.2f} s, "
        f"{len(events) / seconds:.1f} objects/s, {requests / seconds:.1f} ECE requests/s, "
        f"{uploaded} uploaded",
        flush=True,
    )
    return {"seconds": seconds, "ece_requests": requests, "uploaded": uploaded}


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
