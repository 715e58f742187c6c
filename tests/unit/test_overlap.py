"""Inspecting a zip while it downloads gives the verdict of inspecting the finished file."""

from __future__ import annotations

import io
import threading
import time
import zipfile
from pathlib import Path

import pytest

from extension_uploader.inspection import Limits, Report, inspect_archive, inspect_stream
from extension_uploader.overlap import ArrivingFile, DownloadStopped

from .inspection.corpus import HOSTILE, LEGITIMATE, Case


def stored_zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, payload in entries.items():
            archive.writestr(zipfile.ZipInfo(name, (2026, 11, 30, 9, 0, 0)), payload)
    return buffer.getvalue()


def arriving_inspection(
    data: bytes,
    path: Path,
    case: Case,
    tail: int,
    chunk: int,
    stop_after: int | None = None,
    pause: float = 0.0,
) -> tuple[Report | None, BaseException | None, int]:
    """Write the tail, then the rest in chunks from a thread, inspecting meanwhile.

    Returns the report (None if the inspection raised), the writer's error, and how
    many bytes it wrote.
    """
    tail_start = max(0, len(data) - tail)
    with path.open("wb") as out:
        out.write(b"\0" * tail_start + data[tail_start:])  # the tail, fetched ahead
        out.flush()
        arriving = ArrivingFile(path, len(data), tail_start)
        written: list[int] = [0]
        errors: list[BaseException] = []

        def write() -> None:
            try:
                out.seek(0)
                limit = len(data) if stop_after is None else stop_after
                while written[0] < limit:
                    piece = data[written[0] : min(limit, written[0] + chunk)]
                    out.write(piece)
                    out.flush()
                    written[0] += len(piece)
                    arriving.arrived(written[0])
                    time.sleep(pause)  # let the inspection run between chunks
            except BaseException as exc:
                errors.append(exc)
            finally:
                arriving.ended()

        thread = threading.Thread(target=write)
        thread.start()
        report: Report | None = None
        try:
            report = inspect_stream(arriving, len(data), case.limits, case.extension)  # type: ignore[arg-type]
        except DownloadStopped:
            pass
        finally:
            if report is None or not report.ok:
                arriving.cancel()
            thread.join()
            arriving.close()
    return report, (errors[0] if errors else None), written[0]


@pytest.mark.parametrize("tail", [22, 300, 1 << 20], ids=["end record only", "300 B", "1 MiB"])
@pytest.mark.parametrize("case", HOSTILE + LEGITIMATE, ids=lambda case: case.id)
def test_every_corpus_verdict_is_the_same_while_the_file_arrives(
    case: Case, tail: int, tmp_path: Path
) -> None:
    data = case.build()
    whole = tmp_path / "whole.zip"
    whole.write_bytes(data)
    expected = inspect_archive(whole, case.limits, case.extension)

    report, _, _ = arriving_inspection(data, tmp_path / "arriving.zip", case, tail, chunk=97)

    assert report is not None
    assert (report.ok, report.reason) == (expected.ok, expected.reason)
    assert [(p.code, p.entry) for p in report.problems] == [
        (p.code, p.entry) for p in expected.problems
    ]
    assert (report.entries, report.uncompressed_bytes) == (
        expected.entries,
        expected.uncompressed_bytes,
    )


def test_an_early_refusal_stops_the_download(tmp_path: Path) -> None:
    # Given 8 MiB of data before a central directory holding more entries than allowed
    few = Case("few", bytes, "zip.too_many_entries", limits=Limits(max_entries=2))
    data = stored_zip({"big.bin": bytes(8 << 20), "a.txt": b"a", "b.txt": b"b"})

    # When it is inspected while it arrives, 4 KiB at a time
    report, error, written = arriving_inspection(
        data, tmp_path / "a.zip", few, tail=1 << 20, chunk=4096, pause=0.001
    )

    # Then it is refused from the directory alone, and the download is stopped
    assert report is not None and report.reason == "zip.too_many_entries"
    assert isinstance(error, DownloadStopped)
    assert written < len(data) // 2


def test_a_download_that_ends_early_fails_the_waiting_read(tmp_path: Path) -> None:
    case = next(c for c in LEGITIMATE)
    data = case.build()
    report, error, written = arriving_inspection(
        data, tmp_path / "a.zip", case, tail=22, chunk=5, stop_after=len(data) // 3
    )
    assert report is None  # the inspection could not finish: no verdict at all
    assert error is None and written == len(data) // 3
