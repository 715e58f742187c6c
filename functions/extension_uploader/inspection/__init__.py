"""Zip inspection: is an archive safe to unpack, and acceptable to ECE?

Pure: no AWS, no HTTP, only the file at a path. The pipeline calls
:func:`inspect_archive` and, when it accepts an archive holding Deflate64 entries,
:func:`repack_deflate64` to re-encode them as Deflate before uploading. The
``ece-uploader validate`` command runs the same checks offline.

This package is the only importer of ``zipfile_deflate64`` in the project.
"""

from __future__ import annotations

from .archive import inspect_archive, inspect_stream
from .repack import RepackError, repack_deflate64
from .report import ExtensionInfo, InspectionBug, Limits, Problem, Report

__all__ = [
    "ExtensionInfo",
    "InspectionBug",
    "Limits",
    "Problem",
    "RepackError",
    "Report",
    "inspect_archive",
    "inspect_stream",
    "repack_deflate64",
]
