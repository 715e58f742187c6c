"""Inspect a big zip while it downloads, instead of after.

The end record and the central directory sit at the end of a zip, and the
inspection reads them first; the entries then follow in the order they lie,
which is the order a download brings them. So the tail is fetched first (one
ranged GET pinned to the same version and ETag), the whole object streams to
the file in a thread, and the inspection reads the file as it arrives: a read
waits only for bytes not there yet. The verdicts are those of the same
inspection on the finished file; a hostile archive refused early stops the
download.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, cast

from extension_uploader import reasons
from extension_uploader.deadline import Deadline
from extension_uploader.events import ObjectRef
from extension_uploader.inspection import Report
from extension_uploader.objects import Download, ObjectInfo, ObjectStore, StorageError

# Below this, a second request costs more than the overlap saves.
OVERLAP_MIN_BYTES = 8 * 1024 * 1024
# Fetched ahead: the end record and, for all but the largest directories, the directory.
TAIL_BYTES = 1024 * 1024

Inspect = Callable[[BinaryIO, int], Report]


class DownloadStopped(OSError):
    """When the download failed or was cancelled while the inspection waited for its bytes."""


class ArrivingFile:
    """The download's file as the inspection reads it, while the download still writes it.

    Bytes are there once the download has written that far, or when they lie in the
    tail fetched ahead. A read of bytes not there yet waits; it raises
    :class:`DownloadStopped` if the download ends without them.
    """

    def __init__(self, path: Path, size: int, tail_start: int) -> None:
        self._fh = path.open("rb", buffering=0)
        self._size = size
        self._tail_start = tail_start
        self._position = 0
        self._arrived = 0
        self._ended = False
        self._cancelled = False
        self._changed = threading.Condition()

    # -- the download's side ---------------------------------------------------

    def arrived(self, total: int) -> None:
        """``total`` bytes from the start are written and flushed."""
        with self._changed:
            if self._cancelled:
                raise DownloadStopped("the inspection needs no more bytes")
            self._arrived = total
            self._changed.notify_all()

    def ended(self) -> None:
        with self._changed:
            self._ended = True
            self._changed.notify_all()

    # -- the inspection's side -------------------------------------------------

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._position, os.SEEK_END: self._size}[whence]
        self._position = base + offset
        return self._position

    def tell(self) -> int:
        return self._position

    def read(self, size: int = -1) -> bytes:
        start = self._position
        end = self._size if size < 0 else min(self._size, start + size)
        if end <= start:
            return b""
        with self._changed:
            while not self._there(start, end):
                if self._ended:
                    raise DownloadStopped(f"the download ended before byte {end}")
                self._changed.wait()
        data = os.pread(self._fh.fileno(), end - start, start)
        self._position = start + len(data)
        return data

    def cancel(self) -> None:
        """The inspection is done: the download may stop."""
        with self._changed:
            self._cancelled = True

    def close(self) -> None:
        self._fh.close()

    def _there(self, start: int, end: int) -> bool:
        if start >= self._tail_start:
            return True  # fetched ahead
        written = self._size if self._arrived >= self._tail_start else self._arrived
        return end <= written


class _Writer:
    """The download's destination: each chunk written while the invocation has time left,
    then (when the inspection reads along) flushed and announced."""

    def __init__(self, out: BinaryIO, deadline: Deadline, arriving: ArrivingFile | None) -> None:
        self._out = out
        self._deadline = deadline
        self._arriving = arriving
        self._total = 0

    def write(self, chunk: bytes) -> int:
        if self._deadline.remaining() <= 0:
            raise StorageError(
                reasons.LAMBDA_OUT_OF_TIME,
                f"the download stopped at byte {self._total}: the invocation is ending",
                transient=True,
            )
        written = self._out.write(chunk)
        self._total += len(chunk)
        if self._arriving is not None:
            self._out.flush()
            self._arriving.arrived(self._total)
        return written

    def flush(self) -> None:
        self._out.flush()


def download_and_inspect(
    objects: ObjectStore,
    ref: ObjectRef,
    info: ObjectInfo,
    path: Path,
    *,
    inspect: Inspect,
    deadline: Deadline,
) -> tuple[Download | None, Report]:
    """Download ``ref`` to ``path`` and inspect it; overlapped when the object is big.

    The download is None when the inspection refused the archive before it
    ended (it was stopped). Storage errors of the download are raised as they
    are; a download that would outlive the invocation stops as ``lambda.out_of_time``.
    """
    if info.size < OVERLAP_MIN_BYTES:
        with path.open("wb") as out:
            download = objects.download(ref, info, _Writer(out, deadline, None))
        with path.open("rb", buffering=0) as fh:
            return download, inspect(fh, info.size)

    tail = objects.read_tail(ref, info, TAIL_BYTES)
    tail_start = info.size - len(tail)
    downloaded: list[Download] = []
    failed: list[BaseException] = []
    with path.open("wb") as out:
        os.pwrite(out.fileno(), tail, tail_start)
        arriving = ArrivingFile(path, info.size, tail_start)

        def fetch() -> None:
            try:
                downloaded.append(objects.download(ref, info, _Writer(out, deadline, arriving)))
            except BaseException as exc:  # handed to the caller's thread below
                failed.append(exc)
            finally:
                arriving.ended()

        thread = threading.Thread(target=fetch, name="download", daemon=True)
        thread.start()
        report: Report | None = None
        try:
            report = inspect(cast("BinaryIO", arriving), info.size)
        except DownloadStopped:
            pass  # the download's own error says why, below
        finally:
            if report is None or not report.ok:
                arriving.cancel()
            thread.join()
            arriving.close()
    if report is not None and not report.ok:
        return None, report  # refused: whatever stopped the download does not matter
    for error in failed:
        raise error
    if report is None or not downloaded:
        raise DownloadStopped("the download ended before the inspection")
    return downloaded[0], report
