"""The command line as people and scripts use it: real processes, real sockets."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from ece_uploader.local import read_env_file, read_function
from ece_uploader.samples import bundle_zip

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "ece_uploader.cli"]


def test_template_function_is_read_like_sam_does() -> None:
    spec = read_function(ROOT / "template.yaml")
    assert spec.logical_id == "UploaderFunction"
    assert spec.handler == "extension_uploader.app.lambda_handler"
    assert spec.code_uri == ROOT / "functions"
    assert spec.timeout_seconds == 900
    assert spec.environment["EXTENSION_ID_TAG"] == "ece-extension-id"
    assert spec.environment["MAX_ZIP_BYTES"] == "209715200"
    assert spec.environment["ECE_API_URL"] == ""  # a required parameter has no default


def test_env_file_in_sam_format(tmp_path: Path) -> None:
    path = tmp_path / "env.json"
    path.write_text(json.dumps({"Parameters": {"A": "1", "B": "1"}, "UploaderFunction": {"B": 2}}))
    assert read_env_file(path, "UploaderFunction") == {"A": "1", "B": "2"}
    assert read_env_file(ROOT / "events" / "env.json", "UploaderFunction")["ECE_API_URL"]


@pytest.fixture(scope="module")
def sandbox_info(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """``ece-uploader sandbox`` in its own process, as a user starts it."""
    info = tmp_path_factory.mktemp("sandbox") / "sandbox.json"
    process = subprocess.Popen(
        [*CLI, "sandbox", "--info", str(info)], stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 60
    while not info.exists() or not info.read_text().strip().endswith("}"):
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        assert time.monotonic() < deadline, "sandbox did not start"
        time.sleep(0.1)
    described = json.loads(info.read_text())
    try:
        yield described | {"_path": info, "_process": process}
        # Like every emulator a test starts: what the function sent conformed to the spec.
        reply = requests.get(f"{described['ece_api_url']}/_emulator/spec-violations", timeout=10)
        assert reply.status_code == 200
        assert reply.json() == {"spec_violations": []}
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0


def test_sandbox_describes_what_invoke_needs(sandbox_info: Any) -> None:
    for key in ("aws_endpoint_url", "ece_api_url", "bucket", "secret_id", "extensions", "env"):
        assert sandbox_info[key]
    assert sandbox_info["env"]["ECE_API_URL"] == sandbox_info["ece_api_url"]
    assert {e["extension_type"] for e in sandbox_info["extensions"].values()} == {
        "bundle",
        "plugin",
    }


def test_invoke_runs_the_handler_like_sam_local_invoke(sandbox_info: Any, tmp_path: Path) -> None:
    env = sandbox_info["env"]
    s3 = boto3.client(
        "s3",
        endpoint_url=sandbox_info["aws_endpoint_url"],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    bundle_id = sandbox_info["extensions"]["synonyms"]["id"]
    key = "cli/a b.zip"
    s3.put_object(
        Bucket=sandbox_info["bucket"],
        Key=key,
        Body=bundle_zip(),
        Tagging=f"ece-extension-id={bundle_id}",
    )
    event = {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "bucket": {"name": sandbox_info["bucket"]},
                    "object": {"key": "cli/a+b.zip"},
                },
            }
        ]
    }
    event_path = tmp_path / "event.json"
    event_path.write_text(json.dumps(event))

    done = subprocess.run(
        [*CLI, "invoke", "-e", str(event_path), "--env-vars", str(sandbox_info["_path"])],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        env={k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
    )

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)  # stdout is only the result
    assert result["results"][0]["status"] == "uploaded"
    assert '"_aws"' in done.stderr  # EMF metrics went to stderr, as SAM does
    assert env["ECE_API_URL"] == sandbox_info["ece_api_url"]  # the function used the sandbox's ECE
    puts = requests.get(f"{env['ECE_API_URL']}/_emulator/uploads", timeout=10).json()["uploads"]
    assert [upload["extension_id"] for upload in puts] == [bundle_id]


def test_invoke_exits_non_zero_when_the_handler_raises(sandbox_info: Any, tmp_path: Path) -> None:
    event_path = tmp_path / "event.json"
    event_path.write_text(
        json.dumps({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put"}]})
    )
    done = subprocess.run(
        [*CLI, "invoke", "-e", str(event_path), "--env-vars", str(sandbox_info["_path"])],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 1
    assert json.loads(done.stdout)["errorType"] == "RetryableEventError"


def test_invoke_usage_errors_exit_2(tmp_path: Path) -> None:
    done = subprocess.run(
        [*CLI, "invoke", "-e", str(tmp_path / "missing.json")],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 2 and "missing.json" in done.stderr


# ``ece-uploader demo``, reporting on stderr what its emulator saw against the spec
# before the sandbox stops (the emulator lives and dies inside the demo's process).
DEMO_CHECKING_THE_SPEC = """
import json, sys
from ece_uploader import cli, sandbox
stop = sandbox.Sandbox.stop
def stop_and_report(self):
    if self.emulator is not None:
        violations = self.emulator.spec_violations
        print("SPEC-VIOLATIONS " + json.dumps(violations), file=sys.stderr)
    stop(self)
sandbox.Sandbox.stop = stop_and_report
sys.exit(cli.main(["demo"]))
"""


def test_demo_prints_every_expected_outcome() -> None:
    done = subprocess.run(
        [sys.executable, "-c", DEMO_CHECKING_THE_SPEC],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    reports = [line for line in done.stderr.splitlines() if line.startswith("SPEC-VIOLATIONS ")]
    assert reports == ["SPEC-VIOLATIONS []"], done.stderr
    lines = done.stdout.splitlines()
    for key, status, reason in [
        ("bundles/synonyms v1.zip", "uploaded", "ok"),
        ("plugins/analysis-demo+8.15.0.zip", "uploaded", "ok"),
        ("incoming/untagged.zip", "rejected", "tag.missing_extension_id"),
        ("incoming/traversal 100%.zip", "rejected", "zip.unsafe_path"),
        ("incoming/corrupt-données.zip", "rejected", "zip.corrupt"),
        ("incoming/unknown-extension.zip", "failed", "ece.extensions.not_found"),
    ]:
        [row] = [line for line in lines if line.startswith(key + " ")]
        assert row.split()[-2:] == [status, reason]
    assert "byte for byte" in done.stdout and "demo OK" in done.stdout


def test_one_event_invoked_by_two_processes_at_once_is_uploaded_once(
    sandbox_info: Any, tmp_path: Path
) -> None:
    """Two containers, as two OS processes, handed the same event while ECE is slow."""
    s3 = boto3.client(
        "s3",
        endpoint_url=sandbox_info["aws_endpoint_url"],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    bundle_id = sandbox_info["extensions"]["synonyms"]["id"]
    data = bundle_zip()
    put = s3.put_object(
        Bucket=sandbox_info["bucket"],
        Key="cli/twice.zip",
        Body=data,
        Tagging=f"ece-extension-id={bundle_id}",
    )
    record = {
        "eventSource": "aws:s3",
        "eventName": "ObjectCreated:Put",
        "s3": {
            "bucket": {"name": sandbox_info["bucket"]},
            "object": {"key": "cli/twice.zip", "versionId": put["VersionId"]},
        },
    }
    event_path = tmp_path / "event.json"
    event_path.write_text(json.dumps({"Records": [record]}))
    ece = sandbox_info["ece_api_url"]
    fault = {"delay": 2.0, "method": "PUT", "extension_id": bundle_id, "times": 1}
    assert requests.post(f"{ece}/_emulator/faults", json=fault, timeout=10).status_code < 300
    before = len(requests.get(f"{ece}/_emulator/uploads", timeout=10).json()["uploads"])

    command = [*CLI, "invoke", "-e", str(event_path), "--env-vars", str(sandbox_info["_path"])]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    processes = [
        subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=120)[0] for process in processes]

    assert [process.returncode for process in processes] == [0, 0]
    reasons = sorted(json.loads(out)["results"][0]["reason"] for out in outputs)
    assert reasons == ["ok", "upload.duplicate"]
    uploads = requests.get(f"{ece}/_emulator/uploads", timeout=10).json()["uploads"]
    assert len(uploads) == before + 1
