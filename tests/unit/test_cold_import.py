"""What the handler's import leaves for later: only what some objects, or the first one, need."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# Imported when first needed: with the runtime (once per container), for Deflate64
# archives, in multipart mode, or for a secret that carries CAs.
DEFERRED = (
    "requests",
    "aws_lambda_powertools.utilities.parameters",
    "zipfile_deflate64",
    "extension_uploader.multipart",
)


@pytest.fixture(scope="module")
def imported() -> set[str]:
    code = "import json, sys; import extension_uploader.app; print(json.dumps(list(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout))


@pytest.mark.parametrize("module", DEFERRED)
def test_the_handlers_import_leaves_it_for_later(module: str, imported: set[str]) -> None:
    assert "extension_uploader.app" in imported
    assert module not in imported
