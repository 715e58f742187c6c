"""Cost of inspecting the worst archives, and verification throughput against unzip.

Usage:
    .venv/bin/python bench/bench_inspection.py [--size-mb 500] [--keep] [--only CASE...]

Each case is written to a temporary directory and inspected in a child process of
its own, which reports its peak RSS (``VmHWM`` from /proc, else ``ru_maxrss``) and
the time ``inspect_archive`` took. The large legitimate archive (``--size-mb``,
default 500; ``--only big`` runs it alone) is also tested with ``unzip -tq`` in the
same run, and the time ratio printed. Nothing is asserted: the targets (under 100 MB
of RSS, a few seconds per hostile case) are read off the table.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from measure import peak_rss_kb

ROOT = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024


def _load_zipcraft() -> ModuleType:
    """The test suite's archive crafter (plain stdlib code), loaded by path."""
    path = ROOT / "tests" / "unit" / "inspection" / "zipcraft.py"
    spec = importlib.util.spec_from_file_location("zipcraft", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["zipcraft"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


zc = _load_zipcraft()


# -- the cases ---------------------------------------------------------------------


def quoted_overlap(path: Path) -> str:
    kernel = zc.raw_deflate(b"\0" * (20 * MIB))
    path.write_bytes(zc.quoted_overlap(2000, kernel))
    return "Fifield quoted overlap: 2,000 files sharing a 20 MiB kernel (~40 GB if unpacked)"


def many_entries(path: Path, count: int = 200_000) -> str:
    """A real archive of ``count`` empty files (zip64 end record)."""
    with path.open("wb") as out:
        directory = bytearray()
        for index in range(count):
            member = zc.Member(f"d{index // 1000:03d}/f{index:07d}", b"", method=zc.STORED)
            offset = out.tell()
            out.write(zc.local_header(member, b""))
            directory += zc.central_header(member, b"", offset)
        cd_offset = out.tell()
        out.write(directory)
        out.write(zc.zip64_end(count, len(directory), cd_offset, out.tell()))
        out.write(zc.end_record(0xFFFF, zc.U32, zc.U32))
    return f"a real archive of {count:,} entries (zip64), directory {len(directory) // MIB} MiB"


def deflate64_bomb_declared(path: Path) -> str:
    payload = zc.deflate64_bomb(18_000)
    size = zc.deflate64_bomb_size(18_000)
    path.write_bytes(_single(payload, size, zc.DEFLATED64))
    return f"Deflate64 bomb, {len(payload) // 1024} KB -> {size / 1e9:.2f} GB, declared honestly"


def deflate64_bomb_lying(path: Path) -> str:
    payload = zc.deflate64_bomb(18_000)
    path.write_bytes(_single(payload, MIB, zc.DEFLATED64))
    return f"Deflate64 bomb, {len(payload) // 1024} KB -> 1.18 GB, declaring 1 MiB"


def ratio_bomb_declared(path: Path) -> str:
    payload, size = _zeros_stream(1024)
    path.write_bytes(_single(payload, size, zc.DEFLATED))
    return f"Deflate ratio bomb, {len(payload) // 1024} KB -> 1 GiB, declared honestly"


def ratio_bomb_lying(path: Path) -> str:
    payload, _ = _zeros_stream(1024)
    declared = len(payload) * 200  # exactly at the ratio limit: passes the declared check
    path.write_bytes(_single(payload, declared, zc.DEFLATED))
    return f"Deflate ratio bomb, 1 GiB of zeros declaring {declared // MIB} MiB (200:1)"


def nested_bomb(path: Path) -> str:
    zeros = b"\0" * (100 * MIB)
    layer = zc.craft([zc.Member("zeros.bin", method=zc.DEFLATED, payload=zc.raw_deflate(zeros),
                                usize=len(zeros), crc=zlib.crc32(zeros))])  # fmt: skip
    for depth in range(4):
        # Each layer deflates 16 copies of the one below: a deflated run of zeros is
        # periodic, so it compresses again (that is how 42.zip stays at 42 KB).
        layer = zc.craft([zc.Member(f"l{depth}-{i:02d}.zip", layer) for i in range(16)])
    path.write_bytes(layer)
    return "42.zip-style nesting, 16^4 x 100 MiB = 6.9 TB if unpacked recursively (accepted)"


def long_names(path: Path) -> str:
    """The most name bytes a passing archive can hold: 10,000 names of 4,000 bytes."""
    with path.open("wb") as out:
        directory = bytearray()
        for index in range(10_000):
            name = "/".join(f"{index:05d}{part:03d}" + "n" * 240 for part in range(16))[:4000]
            member = zc.Member(name, b"x", method=zc.STORED)
            offset = out.tell()
            out.write(zc.local_header(member, b"x") + b"x")
            directory += zc.central_header(member, b"x", offset)
        cd_offset = out.tell()
        out.write(directory)
        out.write(zc.end_record(10_000, len(directory), cd_offset))
    return "legitimate: 10,000 entries with 4,000-byte names (80 MB of names)"


def legit_entries(path: Path) -> str:
    rng = random.Random(3)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for index in range(10_000):
            archive.writestr(f"scripts/s{index // 100:03d}/f{index:05d}.txt", rng.randbytes(200))
    return "legitimate: 10,000 small files (the entry limit)"


def _single(payload: bytes, declared: int, method: int, name: str = "data.bin") -> bytes:
    member = zc.Member(name, method=method, payload=payload, usize=declared, crc=0)
    return bytes(zc.craft([member]))


def _zeros_stream(mib: int) -> tuple[bytes, int]:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = b"\0" * MIB
    parts = [compressor.compress(block) for _ in range(mib)]
    parts.append(compressor.flush())
    return b"".join(parts), mib * MIB


def write_big_archive(path: Path, size_mb: int) -> str:
    """About ``size_mb`` MB of compressed data: text-like entries (about 3:1) and
    incompressible ones, deflated, 8 MiB each; payloads are compressed once and reused."""
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
            name = f"data/{index:05d}.bin"
            member = zc.Member(name, data, method=zc.DEFLATED, payload=payload, crc=crc)
            offset = out.tell()
            out.write(zc.local_header(member, payload))
            out.write(payload)
            directory += zc.central_header(member, payload, offset)
            index += 1
        cd_offset = out.tell()
        out.write(directory)
        out.write(zc.end_record(index, len(directory), cd_offset))
    size = path.stat().st_size
    return f"legitimate: {size / 1e6:.0f} MB archive, {index} entries of 8 MiB"


CASES: dict[str, Callable[[Path], str]] = {
    "quoted-overlap": quoted_overlap,
    "200k-entries": many_entries,
    "deflate64-bomb-declared": deflate64_bomb_declared,
    "deflate64-bomb-lying": deflate64_bomb_lying,
    "ratio-bomb-declared": ratio_bomb_declared,
    "ratio-bomb-lying": ratio_bomb_lying,
    "nested-42": nested_bomb,
    "legit-10k-entries": legit_entries,
    "long-names": long_names,
}


# -- measuring -----------------------------------------------------------------------


def child(path: str) -> None:
    """Run in the child process: inspect once, print one JSON line."""
    sys.path[:0] = [str(ROOT / "functions")]
    from extension_uploader.inspection import inspect_archive

    baseline = peak_rss_kb()
    started = time.perf_counter()
    report = inspect_archive(path)
    elapsed = time.perf_counter() - started
    peak = peak_rss_kb()
    print(json.dumps({"seconds": elapsed, "peak_kb": peak, "baseline_kb": baseline,
                      "reason": report.reason}))  # fmt: skip


def measure(path: Path) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, __file__, "--child", str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    measured: dict[str, object] = json.loads(result.stdout.splitlines()[-1])
    return measured


def time_unzip(path: Path) -> float | None:
    if shutil.which("unzip") is None:
        return None
    started = time.perf_counter()
    subprocess.run(["unzip", "-tq", str(path)], capture_output=True, check=False)
    return time.perf_counter() - started


def _row(name: str, size: int, measured: dict[str, object], note: str) -> str:
    seconds = float(str(measured["seconds"]))
    peak = int(str(measured["peak_kb"])) / 1024
    base = int(str(measured["baseline_kb"])) / 1024
    reason = measured["reason"] or "accepted"
    return (
        f"{name:<24} {size / 1e6:>9.2f} {seconds:>9.3f} {peak:>9.1f} {base:>8.1f}  "
        f"{reason!s:<24} {note}"
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=500, help="big archive size (MB)")
    parser.add_argument("--keep", action="store_true", help="keep the generated archives")
    parser.add_argument("--only", nargs="*", help="run only these cases (and 'big')")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child)
        return 0
    workdir = Path(tempfile.mkdtemp(prefix="bench-inspection-"))
    try:
        run_cases(workdir, args.size_mb, args.only)
    finally:
        if args.keep:
            print(f"archives kept in {workdir}")
        else:
            shutil.rmtree(workdir)
    return 0


def run_cases(workdir: Path, size_mb: int, only: list[str] | None) -> None:
    print(
        f"Python {sys.version.split()[0]}; peak RSS of the child process (baseline = after imports)"
    )
    header = ("case", "size MB", "seconds", "peak MiB", "base MiB", "verdict", "what")
    print("{:<24} {:>9} {:>9} {:>9} {:>8}  {:<24} {}".format(*header))
    for name, build in CASES.items():
        if only and name not in only:
            continue
        path = workdir / f"{name}.zip"
        note = build(path)
        print(_row(name, path.stat().st_size, measure(path), note), flush=True)
    if only and "big" not in only:
        return
    big = workdir / "big.zip"
    note = write_big_archive(big, size_mb)
    measured = measure(big)
    print(_row("legit-big", big.stat().st_size, measured, note))
    _compare_with_unzip(big, float(str(measured["seconds"])))


def _compare_with_unzip(big: Path, ours: float) -> None:
    with zipfile.ZipFile(big) as archive:
        uncompressed = sum(info.file_size for info in archive.infolist())
    unzip = time_unzip(big)
    print()
    size = big.stat().st_size
    print(f"verification of {size / 1e6:.0f} MB ({uncompressed / 1e6:.0f} MB uncompressed):")
    print(f"  inspect_archive  {ours:7.2f} s  {uncompressed / 1e6 / ours:7.0f} MB/s uncompressed")
    if unzip is None:
        print("  unzip -tq        not installed")
        return
    print(f"  unzip -tq        {unzip:7.2f} s  {uncompressed / 1e6 / unzip:7.0f} MB/s uncompressed")
    print(f"  ratio inspect_archive / unzip -tq = {ours / unzip:.2f}")


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
