"""Real tools the inspection tests cross-check against (Info-ZIP, 7-Zip, the JDK).

Where a tool is missing a test skips, except in CI (``CI=true``): there a missing
tool is a broken setup, and the cross-check must fail rather than quietly vanish.
"""

from __future__ import annotations

import os
import shutil

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def require(*tools: str) -> None:
    """Skip the calling test (fail it in CI) unless every tool is on PATH."""
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if not missing:
        return
    message = f"{', '.join(missing)} not installed"
    if in_ci():
        pytest.fail(f"{message}: CI must install it (.ci/run)", pytrace=False)
    pytest.skip(message)
