"""Every sample in ``events/`` does what the README says when invoked, like ``sam local invoke -e``.

A sandbox runs in this process; the objects each sample names are put into its
bucket, each tagged with an extension of its own (so the samples never race each
other in the ledger). Each sample then goes through ``ece-uploader invoke
--event events/X.json --env-vars <sandbox description>`` in its own process.
The samples stay realistic (S3-style version ids and ETags): the run-time copy gets
the real version id and ETag of the object put here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from ece_uploader.samples import bundle_zip
from ece_uploader.sandbox import BUCKET, Sandbox

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
CLI = [sys.executable, "-m", "ece_uploader.cli"]
TAG = "ece-extension-id"
VERSION_FIELDS = ("versionId", "s3VersionId", "version-id")
ETAG_FIELDS = ("eTag", "etag")
NESTED_JSON_FIELDS = ("body", "Message")  # SQS message bodies, SNS messages


@dataclass(frozen=True)
class Sample:
    file: str
    key: str | None  # the object it names (decoded), None for no object
    result: dict[str, Any] | None  # what invoke prints beside the objects' results


SAMPLES = [
    Sample("s3-put.json", "bundles/synonyms v2.zip", None),
    Sample("s3-put-version.json", "bundles/stopwords.zip", None),
    Sample("sqs-s3.json", "bundles/from-sqs.zip", {"batchItemFailures": []}),
    Sample("sqs-sns-s3.json", "bundles/from-sns.zip", {"batchItemFailures": []}),
    Sample("eventbridge-object-created.json", "bundles/from eventbridge+1.zip", None),
    Sample("batch-operations-1.0.json", "bundles/batch 1.0.zip", None),
    Sample("batch-operations-2.0.json", "bundles/batch-2.0.zip", None),
    Sample("on-failure-destination.json", "bundles/retried.zip", None),
    Sample("s3-test-event.json", None, {"results": []}),
]


def test_every_sample_is_covered() -> None:
    on_disk = {path.name for path in EVENTS.glob("*.json")} - {"env.json"}
    assert on_disk == {sample.file for sample in SAMPLES}


def test_samples_name_the_sandbox_bucket() -> None:
    for sample in SAMPLES:
        text = (EVENTS / sample.file).read_text()
        assert BUCKET in text, sample.file
        assert "example-bucket" not in text and "powertools" not in text


def test_env_json_is_in_sams_format_with_the_required_settings() -> None:
    document = json.loads((EVENTS / "env.json").read_text())
    settings = document["UploaderFunction"]
    for name in ("ECE_API_URL", "ECE_SECRET_ID", "LEDGER_TABLE", "ALLOWED_EXTENSION_IDS"):
        assert settings[name], name
    assert all(isinstance(value, str) for value in settings.values())


@dataclass
class Running:
    sandbox: Sandbox
    description: Path
    extension_ids: dict[str, str]  # sample file -> the extension its object targets
    put: dict[str, dict[str, Any]]  # sample file -> S3's reply to the put
    data: bytes


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    workdir = tmp_path_factory.mktemp("samples")
    data = bundle_zip()
    with Sandbox() as sandbox:
        assert sandbox.emulator is not None
        s3 = sandbox.s3()
        extension_ids, put = {}, {}
        for sample in SAMPLES:
            if sample.key is None:
                continue
            name = f"sample-{sample.file.removesuffix('.json')}"
            extension = sandbox.emulator.create_extension(name, "bundle", "*")
            extension_ids[sample.file] = str(extension["id"])
            put[sample.file] = s3.put_object(
                Bucket=BUCKET, Key=sample.key, Body=data, Tagging=f"{TAG}={extension['id']}"
            )
        info = sandbox.info()
        info["env"]["ALLOWED_EXTENSION_IDS"] = ",".join(extension_ids.values())
        description = workdir / "sandbox.json"
        description.write_text(json.dumps(info, indent=2))
        yield Running(sandbox, description, extension_ids, put, data)
        assert sandbox.emulator.spec_violations == []


def for_the_object(document: Any, version_id: str, etag: str) -> Any:
    """The sample with the version id and ETag of the object put here, wherever they are."""
    if isinstance(document, list):
        return [for_the_object(item, version_id, etag) for item in document]
    if not isinstance(document, dict):
        return document
    return {name: _rewritten(name, value, version_id, etag) for name, value in document.items()}


def _rewritten(name: str, value: Any, version_id: str, etag: str) -> Any:
    if name in VERSION_FIELDS and isinstance(value, str):
        return version_id
    if name in ETAG_FIELDS and isinstance(value, str):
        return etag
    if name in NESTED_JSON_FIELDS and isinstance(value, str) and value.startswith("{"):
        return json.dumps(for_the_object(json.loads(value), version_id, etag))
    return for_the_object(value, version_id, etag)


def test_the_rewrite_reaches_nested_messages() -> None:
    sample = json.loads((EVENTS / "sqs-sns-s3.json").read_text())
    rewritten = for_the_object(sample, "v-real", "e-real")
    envelope = json.loads(rewritten["Records"][0]["body"])
    inner = json.loads(envelope["Message"])["Records"][0]["s3"]["object"]
    assert (inner["versionId"], inner["eTag"]) == ("v-real", "e-real")


def invoke(event_path: Path, description: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "invoke", "--event", str(event_path), "--env-vars", str(description)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        env={k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
    )


@pytest.mark.parametrize(
    "sample",
    [pytest.param(sample, id=sample.file) for sample in SAMPLES],
)
def test_sample_event_has_its_outcome(running: Running, sample: Sample, tmp_path: Path) -> None:
    # Given the sample, naming the object put for it
    event = json.loads((EVENTS / sample.file).read_text())
    if sample.file in running.put:
        reply = running.put[sample.file]
        event = for_the_object(event, reply["VersionId"], reply["ETag"].strip('"'))
    event_path = tmp_path / sample.file
    event_path.write_text(json.dumps(event))

    # When it is invoked like `sam local invoke -e`
    done = invoke(event_path, running.description)

    # Then the handler returned normally, printing only its result
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    result = json.loads(done.stdout)
    if sample.key is None:
        assert result == sample.result
        return
    extension_id = running.extension_ids[sample.file]
    if sample.result is not None:
        assert result == sample.result
    elif "tasks" in event:  # S3 Batch Operations: one result per task, echoing the job
        [task] = event["tasks"]
        assert result["invocationSchemaVersion"] == event["invocationSchemaVersion"]
        assert result["results"] == [
            {"taskId": task["taskId"], "resultCode": "Succeeded", "resultString": "uploaded: ok"}
        ]
    else:
        [one] = result["results"]
        assert (one["key"], one["status"], one["extension_id"]) == (
            sample.key,
            "uploaded",
            extension_id,
        )
    # And the object carries the outcome, and ECE holds its bytes
    s3 = running.sandbox.s3()
    tags = s3.get_object_tagging(Bucket=BUCKET, Key=sample.key)["TagSet"]
    outcome = {tag["Key"]: tag["Value"] for tag in tags}
    assert (outcome["ece-upload-status"], outcome["ece-upload-reason"]) == ("uploaded", "ok")
    assert stored_in_ece(running, extension_id) == running.data


def stored_in_ece(running: Running, extension_id: str) -> bytes:
    sandbox = running.sandbox
    headers = {"Authorization": f"ApiKey {sandbox.api_key}"}
    api = f"{sandbox.ece_api_url}/api/v1/deployments/extensions/{extension_id}"
    url = requests.get(api, headers=headers, timeout=10).json()["file_metadata"]["url"]
    return requests.get(url, headers=headers, timeout=30).content
