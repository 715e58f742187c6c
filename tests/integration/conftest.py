"""Real parts over real sockets: moto in server mode and the ECE emulator on loopback.

Nothing here patches boto3 or requests: the function's own clients talk HTTP to
the stand-ins, found through ``AWS_ENDPOINT_URL`` and ``ECE_API_URL``.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, quote_plus

import boto3
import pytest
from moto.server import ThreadedMotoServer

from ece_uploader.emulator import EceEmulator
from ece_uploader.sandbox import create_ledger_table, make_dynamodb_item_operations_atomic
from extension_uploader.app import build_runtime, handle_event
from extension_uploader.config import Settings
from extension_uploader.deadline import Deadline
from extension_uploader.outcome import TAG_REASON, TAG_STATUS
from extension_uploader.pipeline import Runtime

API_KEY = "it-" + secrets.token_hex(16)
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}
TAG = "ece-extension-id"
# Retries in tests wait milliseconds, not seconds; the logic is the same.
FAST_RETRIES = {"backoff_base_seconds": 0.01}


@pytest.fixture(scope="session")
def aws_endpoint() -> Iterator[str]:
    make_dynamodb_item_operations_atomic()  # as DynamoDB is: the ledger's lease relies on it
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    saved = dict(os.environ)
    os.environ.update(AWS_ENV | {"AWS_ENDPOINT_URL": endpoint})
    try:
        yield endpoint
    finally:
        os.environ.clear()
        os.environ.update(saved)
        server.stop()


@pytest.fixture
def s3(aws_endpoint: str) -> Any:
    return boto3.client("s3")


@pytest.fixture
def secrets_client(aws_endpoint: str) -> Any:
    return boto3.client("secretsmanager")


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"ext-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


@pytest.fixture
def secret_id(secrets_client: Any) -> str:
    name = f"ece/{uuid.uuid4().hex[:12]}"
    secrets_client.create_secret(Name=name, SecretString=json.dumps({"api_key": API_KEY}))
    return name


@pytest.fixture
def ece() -> Iterator[EceEmulator]:
    """A fresh emulator per test; every request the function sent must conform to the spec."""
    emulator = EceEmulator(api_keys={API_KEY})
    emulator.start()
    try:
        yield emulator
        assert emulator.spec_violations == []
    finally:
        emulator.stop()


@pytest.fixture
def bundle(ece: EceEmulator) -> str:
    return str(ece.create_extension(name="synonyms", extension_type="bundle", version="*")["id"])


@pytest.fixture
def plugin(ece: EceEmulator) -> str:
    extension = ece.create_extension(
        name="analysis-demo", extension_type="plugin", version="8.15.0"
    )
    return str(extension["id"])


@pytest.fixture
def ledger_table(aws_endpoint: str) -> str:
    """A fresh ledger table per test, as the template declares it."""
    name = f"ledger-{uuid.uuid4().hex[:12]}"
    create_ledger_table(boto3.client("dynamodb"), name)
    return name


@pytest.fixture
def function_env(ece: EceEmulator, secret_id: str, ledger_table: str) -> dict[str, str]:
    """The settings every test runtime starts from (the emulator serves plain HTTP)."""
    return {
        "ECE_API_URL": ece.url,
        "ECE_SECRET_ID": secret_id,
        "LEDGER_TABLE": ledger_table,
        "ALLOWED_EXTENSION_IDS": "*",
        "ECE_ALLOW_HTTP": "true",
    }


@pytest.fixture
def make_runtime(function_env: dict[str, str]) -> Callable[..., Runtime]:
    def make(env: dict[str, str] | None = None, **client_options: Any) -> Runtime:
        settings = Settings.from_env(function_env | (env or {}))
        return build_runtime(settings, **(FAST_RETRIES | client_options))

    return make


@pytest.fixture
def runtime(make_runtime: Callable[..., Runtime]) -> Runtime:
    return make_runtime()


@dataclass(frozen=True)
class Put:
    bucket: str
    key: str
    version_id: str | None
    etag: str
    size: int
    sha256: str


@pytest.fixture
def put(s3: Any, bucket: str) -> Callable[..., Put]:
    def put_zip(
        key: str, data: bytes, tags: dict[str, str] | None = None, into: str = bucket
    ) -> Put:
        extra: dict[str, Any] = {}
        if tags:
            extra["Tagging"] = "&".join(f"{quote(k)}={quote(v)}" for k, v in tags.items())
        reply = s3.put_object(Bucket=into, Key=key, Body=data, **extra)
        return Put(
            into,
            key,
            reply.get("VersionId"),
            reply["ETag"].strip('"'),
            len(data),
            hashlib.sha256(data).hexdigest(),
        )

    return put_zip


def s3_record(obj: Put, encode: Callable[[str], str] = quote_plus) -> dict[str, Any]:
    """A notification record as S3 writes it (keys URL-encoded, '+' for spaces)."""
    object_fields: dict[str, Any] = {"key": encode(obj.key), "size": obj.size, "eTag": obj.etag}
    if obj.version_id:
        object_fields["versionId"] = obj.version_id
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventName": "ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": obj.bucket}, "object": object_fields},
    }


def s3_event(*objects: Put, encode: Callable[[str], str] = quote_plus) -> dict[str, Any]:
    return {"Records": [s3_record(obj, encode) for obj in objects]}


def run(event: object, runtime: Runtime, seconds: float = 120.0) -> dict[str, Any]:
    return handle_event(event, runtime, Deadline.after(seconds))


Tags = Callable[[Put], dict[str, str]]


def outcome(tags: dict[str, str]) -> tuple[str | None, str | None]:
    """(status, reason) from an object's tags."""
    return tags.get(TAG_STATUS), tags.get(TAG_REASON)


@pytest.fixture
def tags_of(s3: Any) -> Tags:
    def read(obj: Put) -> dict[str, str]:
        address: dict[str, Any] = {"Bucket": obj.bucket, "Key": obj.key}
        if obj.version_id:
            address["VersionId"] = obj.version_id
        return {tag["Key"]: tag["Value"] for tag in s3.get_object_tagging(**address)["TagSet"]}

    return read


Logs = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def function_logs() -> Iterator[Logs]:
    """The function's JSON log lines, read from its own log handler's stream."""
    import io
    import logging

    from extension_uploader.telemetry import logger

    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    try:
        yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines() if line]
    finally:
        handler.setStream(previous)


def log_line(function_logs: Logs, key: str) -> dict[str, Any]:
    """The one outcome line the function logged for ``key``."""
    [line] = [line for line in function_logs() if line.get("key") == key and "status" in line]
    return line


def details(function_logs: Logs, reason: str) -> list[str]:
    """The detail of every outcome line the function logged with ``reason``, in order."""
    return [line["detail"] for line in function_logs() if line.get("reason") == reason]
