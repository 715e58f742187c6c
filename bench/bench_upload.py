"""Upload memory and speed: our streaming client against the references, same run.

Starts two servers in processes of their own: the ECE emulator (which parses the
multipart body as ECE's spec says it is made) and a sink (which reads
Content-Length bytes and throws them away, so only the client's cost shows).
Writes a zip of --size-mb MB, and uploads it to each, in a fresh child process
per case, each reporting its own peak RSS, --reps times interleaved:

- ``ours multipart`` / ``ours raw``: ``EceClient.upload`` (streamed, real Content-Length)
- ``requests data=file``: a plain ``requests.put`` of the open file as ``application/zip``
- ``requests files=``: what most clients do; builds the whole body in memory
- ``curl -T``: Elastic's documented raw upload

Prints peak RSS and best time, as a ratio to curl, and the multipart body's speed
as a fraction of the raw body's (target: at least 0.9). The one bound it checks
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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

from measure import peak_rss_kb
from results import machine, write_section

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
    target = f"{url}/api/v1/deployments/extensions/{extension_id}"
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
            if mode == "plain":
                reply = requests.put(
                    target,
                    data=stream,
                    headers={
                        "Authorization": f"ApiKey {API_KEY}",
                        "Content-Type": "application/zip",
                    },
                    timeout=600,
                )
            else:
                reply = requests.put(
                    target,
                    files={"file": ("extension.zip", stream, "application/zip")},
                    headers={"Authorization": f"ApiKey {API_KEY}"},
                    timeout=600,
                )
        reply.raise_for_status()
    seconds = time.perf_counter() - started
    peak_mb = peak_rss_kb() / 1024
    print(json.dumps({"seconds": seconds, "peak_rss_mb": peak_mb}))


class _Sink(BaseHTTPRequestHandler):
    """Reads the body (Content-Length, 1 MiB at a time), answers an Extension."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_PUT(self) -> None:
        if "chunked" in self.headers.get("Transfer-Encoding", ""):
            self.send_error(411)
            return
        remaining = int(self.headers.get("Content-Length") or 0)
        while remaining > 0:
            got = len(self.rfile.read(min(remaining, MiB)))
            if not got:
                return
            remaining -= got
        name = self.path.rsplit("/", 1)[-1]
        body = json.dumps(
            {"id": name, "name": "sink", "extension_type": "bundle", "version": "*"}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def serve_sink() -> None:
    """Runs in a process of its own: print the URL, serve until killed."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    server.daemon_threads = True
    print(json.dumps({"url": f"http://127.0.0.1:{server.server_address[1]}"}), flush=True)
    server.serve_forever()


def compare_bodies(url: str, path: Path, reps: int) -> tuple[float, float]:
    """Raw against multipart body to the sink, in this process: (best, median) speed ratio."""
    import statistics

    from extension_uploader.credentials import parse_secret
    from extension_uploader.deadline import Deadline
    from extension_uploader.ece import EceClient

    class Key:
        def get(self, *, refresh: bool = False) -> object:
            return parse_secret(API_KEY)

    clients = {mode: EceClient(url, Key(), upload_mode=mode) for mode in ("raw", "multipart")}  # type: ignore[arg-type]
    seconds: dict[str, list[float]] = {mode: [] for mode in clients}
    for rep in range(reps):
        order = list(clients.items())
        for mode, client in order if rep % 2 == 0 else order[::-1]:
            started = time.perf_counter()
            client.upload("sink", path, Deadline.after(600))
            seconds[mode].append(time.perf_counter() - started)
    best_ratio = min(seconds["raw"]) / min(seconds["multipart"])
    median_ratio = statistics.median(seconds["raw"]) / statistics.median(seconds["multipart"])
    return best_ratio, median_ratio


def start_sink() -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, __file__, "--sink"], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    return process, json.loads(process.stdout.readline())["url"]


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
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--max-rss-mb", type=float, default=150.0)
    parser.add_argument("--skip-naive", action="store_true", help="skip requests files=")
    parser.add_argument("--no-write", action="store_true", help="do not write bench/results.md")
    parser.add_argument("--child", nargs=4, metavar=("MODE", "URL", "ID", "PATH"))
    parser.add_argument("--sink", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return 0
    if args.sink:
        serve_sink()
        return 0

    emulator, url = start_emulator()
    sink, sink_url = start_sink()
    modes = {
        "curl -T (raw)": "curl",
        "requests data=file (raw)": "plain",
        "ours raw": "raw",
        "ours multipart": "multipart",
    }
    if not args.skip_naive:
        modes["requests files= (naive)"] = "naive"
    cases: dict[tuple[str, str], list[dict[str, float]]] = {}
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
            body_speed = compare_bodies(sink_url, path, reps=4 * args.reps)
            for rep in range(args.reps):
                order = list(modes.items())
                for name, mode in order if rep % 2 == 0 else order[::-1]:
                    for server, base in (("emulator", url), ("sink", sink_url)):
                        if mode == "naive" and server == "sink":
                            continue
                        figures = (
                            run_curl(base, extension_id, path)
                            if mode == "curl"
                            else run_child(mode, base, extension_id, path)
                        )
                        cases.setdefault((name, server), []).append(figures)
    finally:
        for process in (emulator, sink):
            process.terminate()
            process.wait(timeout=30)

    def fastest(name: str, server: str) -> float:
        return min(run["seconds"] for run in cases[(name, server)])

    lines = [
        f"| case ({size_mb:.0f} MB zip) | emulator s | sink s | time / curl (emulator) "
        "| peak RSS MB |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in modes:
        emulated = fastest(name, "emulator")
        sunk = f"{fastest(name, 'sink'):.2f}" if (name, "sink") in cases else "-"
        peak = max(run["peak_rss_mb"] for run in cases[(name, "emulator")])
        lines.append(
            f"| {name} | {emulated:.2f} | {sunk} | "
            f"{emulated / fastest('curl -T (raw)', 'emulator'):.2f} | {peak:.0f} |"
        )
    speed = {
        server: fastest("ours raw", server) / fastest("ours multipart", server)
        for server in ("emulator", "sink")
    }
    summary = (
        f"multipart body's speed / raw body's, client alone (to the sink, one process, "
        f"{4 * args.reps} runs each interleaved): **{body_speed[0]:.2f}** best, "
        f"{body_speed[1]:.2f} median (target 0.9). In fresh processes as in the table: "
        f"{speed['sink']:.2f} to the sink, {speed['emulator']:.2f} to the emulator, whose "
        "multipart parser (werkzeug's, in Python, 64 KiB reads) is then the limit"
    )
    print(f"upload of a {size_mb:.0f} MB zip on loopback, best of {args.reps}")
    print("\n".join(lines))
    print(summary)
    worst = max(
        run["peak_rss_mb"]
        for name in ("ours multipart", "ours raw")
        for server in ("emulator", "sink")
        for run in cases[(name, server)]
    )
    verdict = "OK" if worst < args.max_rss_mb else "OVER"
    bound = args.max_rss_mb
    rss = f"our peak RSS {worst:.1f} MB for {size_mb:.0f} MB sent: {verdict} (bound {bound} MB)"
    print(rss)
    if not args.no_write:
        write_section(
            "upload",
            "## Upload: the request body\n\n"
            f"{machine()}; a {size_mb:.0f} MB zip, each case in a fresh process, best of "
            f"{args.reps}, interleaved. The sink reads Content-Length bytes and drops them.\n\n"
            + "\n".join(lines)
            + f"\n\n{summary}.\n\n{rss}.",
        )
    return 0 if verdict == "OK" else 1


if __name__ == "__main__":
    sys.exit(main())
