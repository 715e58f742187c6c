"""``ece-uploader status``: the ledger's live objects, and drift when ECE holds another file."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from ece_uploader.cli import main
from ece_uploader.emulator import EceEmulator
from ece_uploader.samples import bundle_zip, corrupt_zip, plugin_zip
from extension_uploader.pipeline import Runtime

from .conftest import API_KEY, TAG, Put, run, s3_event


@pytest.fixture
def env_file(tmp_path: Path, function_env: dict[str, str]) -> Path:
    path = tmp_path / "env.json"
    path.write_text(json.dumps({"UploaderFunction": function_env}))
    return path


def status(env_file: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    capsys.readouterr()  # the function's own log lines so far
    code = main(["status", "--env-vars", str(env_file), *extra])
    return code, capsys.readouterr().out


def test_status_shows_the_live_object_and_its_last_outcome(
    put: Callable[..., Put],
    runtime: Runtime,
    bundle: str,
    env_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    good = put("status/good.zip", bundle_zip(), {TAG: bundle})
    run(s3_event(good), runtime)
    bad = put("status/later-bad.zip", corrupt_zip(), {TAG: bundle})
    run(s3_event(bad), runtime)

    code, out = status(env_file, capsys, "--json")

    assert code == 0
    [entry] = json.loads(out)
    assert entry["extension_id"] == bundle
    assert entry["live"]["key"] == "status/good.zip"
    assert entry["live"]["version_id"] == good.version_id
    assert entry["live"]["sha256"] == good.sha256 and entry["live"]["size"] == good.size
    assert entry["last_outcome"]["key"] == "status/later-bad.zip"
    assert (entry["last_outcome"]["status"], entry["last_outcome"]["reason"]) == (
        "rejected",
        "zip.corrupt",
    )
    assert entry["drift"] is None and entry["ece"]["size"] == good.size

    code, table = status(env_file, capsys)
    assert code == 0
    assert table.splitlines()[0].split()[:3] == ["EXTENSION", "OBJECT", "VERSION"]
    assert f"s3://{good.bucket}/status/good.zip" in table and "rejected: zip.corrupt" in table


def test_a_hand_made_upload_is_flagged_as_drift(
    put: Callable[..., Put],
    runtime: Runtime,
    ece: EceEmulator,
    bundle: str,
    env_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run(s3_event(put("status/x.zip", bundle_zip(), {TAG: bundle})), runtime)
    reply = requests.put(  # someone uploads another file by hand
        f"{ece.url}/api/v1/deployments/extensions/{bundle}",
        files={"file": ("by-hand.zip", plugin_zip(), "application/zip")},
        headers={"Authorization": f"ApiKey {API_KEY}"},
        timeout=10,
    )
    assert reply.status_code == 200

    code, out = status(env_file, capsys, "--extension", bundle, "--json")

    assert code == 1, out
    [entry] = json.loads(out)
    assert entry["drift"] == (
        f"ECE's file has {len(plugin_zip())} bytes, the live object {len(bundle_zip())}"
    )
    code, table = status(env_file, capsys, "--extension", bundle)
    assert code == 1 and "DRIFT" in table


def test_status_without_a_ledger_setting_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "env.json"
    empty.write_text("{}")
    assert main(["status", "--env-vars", str(empty)]) == 2
    assert "LEDGER_TABLE is not set" in capsys.readouterr().err
