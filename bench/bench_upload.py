"""Upload memory and speed: our streaming client against the references, same run.

Starts the ECE emulator in its own process, writes a zip of --size-mb MB, and
uploads it in a fresh child process per case, each reporting its own peak RSS:

- ``ours multipart`` / ``ours raw``: ``EceClient.upload`` (streamed, real Content-Length)
- ``requests files=``: what most clients do; builds the whole body in memory
- ``curl -T``: Elastic's documented raw upload, the speed reference

Prints peak RSS and time, and time as a ratio to curl. The one bound it checks
is memory (peak RSS of our client under --max-rss-mb), never time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import requests

from measure import peak_rss_kb

API_KEY = "bench-key"
MiB = 1024 * 1024


def write_zip(path: Path, size_mb: int) -> None:
    """A stored (uncompressed) zip of incompressible bytes, written in chunks."""
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True) as archive,
        archive.open("truststore/big.bin", "w", force_zip64=True) as entry,
    ):
        for _ in range(size_mb):
            entry.write(os.urandom(MiB))


def start_emulator() -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "ece_uploader.emulator", "--port", "0", "--api-key", API_KEY],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    return process, json.loads(line)["url"]


def child(mode: str, url: str, extension_id: str, path: str) -> None:
    """Runs in a fresh process: one upload, then its own peak RSS."""
    started = time.perf_counter()
    if mode in ("multipart", "raw"):
        from extension_uploader.credentials import parse_secret
        from extension_uploader.deadline import Deadline
        from extension_uploader.ece import EceClient

        class Key:
            def get(self, *, refresh: bool = False) -> object:
                return parse_secret(API_KEY)

        client = EceClient(url, Key(), upload_mode=mode)  # type: ignore[arg-type]
        started = time.perf_counter()
        client.upload(extension_id, Path(path), Deadline.after(3600))
    else:
        started = time.perf_counter()
        with Path(path).open("rb") as stream:
            reply = requests.put(
                f"{url}/api/v1/deployments/extensions/{extension_id}",
                files={"file": ("extension.zip", stream, "application/zip")},
                headers={"Authorization": f"ApiKey {API_KEY}"},
                timeout=600,
            )
        reply.raise_for_status()
    seconds = time.perf_counter() - started
    peak_mb = peak_rss_kb() / 1024
    print(json.dumps({"seconds": seconds, "peak_rss_mb": peak_mb}))


def run_child(mode: str, url: str, extension_id: str, path: Path) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", mode, url, extension_id, str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run_curl(url: str, extension_id: str, path: Path) -> dict[str, float]:
    started = time.perf_counter()
    subprocess.run(
        [
            "curl",
            "-sS",
            "--fail",
            "-T",
            str(path),
            "-o",
            os.devnull,
            "-H",
            f"Authorization: ApiKey {API_KEY}",
            "-H",
            "Content-Type: application/zip",
            "-H",
            "Expect:",
            f"{url}/api/v1/deployments/extensions/{extension_id}",
        ],
        check=True,
    )
    return {"seconds": time.perf_counter() - started, "peak_rss_mb": float("nan")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=300)
    parser.add_argument("--max-rss-mb", type=float, default=150.0)
    parser.add_argument("--skip-naive", action="store_true", help="skip requests files=")
    parser.add_argument("--child", nargs=4, metavar=("MODE", "URL", "ID", "PATH"))
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return 0

    emulator, url = start_emulator()
    try:
        reply = requests.post(
            f"{url}/api/v1/deployments/extensions",
            json={"name": "bench", "extension_type": "bundle", "version": "*"},
            headers={"Authorization": f"ApiKey {API_KEY}"},
            timeout=10,
        )
        extension_id = reply.json()["id"]
        with tempfile.TemporaryDirectory(prefix="bench-upload-") as workdir:
            path = Path(workdir) / "big.zip"
            write_zip(path, args.size_mb)
            size_mb = path.stat().st_size / MiB
            cases = {"curl -T (reference)": run_curl(url, extension_id, path)}
            cases["ours multipart"] = run_child("multipart", url, extension_id, path)
            cases["ours raw"] = run_child("raw", url, extension_id, path)
            if not args.skip_naive:
                cases["requests files= (naive)"] = run_child("naive", url, extension_id, path)
    finally:
        emulator.terminate()
        emulator.wait(timeout=30)

    reference = cases["curl -T (reference)"]["seconds"]
    print(f"upload of a {size_mb:.0f} MB zip to the ECE emulator on loopback")
    print(f"{'case':<26}{'peak RSS MB':>12}{'seconds':>10}{'time / curl':>13}")
    for name, figures in cases.items():
        print(
            f"{name:<26}{figures['peak_rss_mb']:>12.1f}{figures['seconds']:>10.2f}"
            f"{figures['seconds'] / reference:>13.2f}"
        )
    worst = max(cases["ours multipart"]["peak_rss_mb"], cases["ours raw"]["peak_rss_mb"])
    verdict = "OK" if worst < args.max_rss_mb else "OVER"
    bound = args.max_rss_mb
    print(f"our peak RSS {worst:.1f} MB for {size_mb:.0f} MB sent: {verdict} (bound {bound} MB)")
    return 0 if verdict == "OK" else 1


if __name__ == "__main__":
    sys.exit(main())
