"""Local stand-ins on loopback: moto server (S3, Secrets Manager, SQS, CloudWatch)
and the ECE emulator, with a versioned bucket, a secret and sample extensions.

The bucket sends its ``.zip`` ObjectCreated notifications to an SQS queue, so the
events the function sees are the ones S3 (as moto emulates it) really wrote.
"""

from __future__ import annotations

import functools
import json
import logging
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3

from ece_uploader.emulator import EceEmulator
from ece_uploader.samples import UNKNOWN_EXTENSION_ID

if TYPE_CHECKING:
    from moto.server import ThreadedMotoServer
    from mypy_boto3_s3.client import S3Client

REGION = "us-east-1"
BUCKET = "ece-extensions"
QUEUE = "ece-extensions-events"
LEDGER_TABLE = "ece-extension-uploader-ledger"
SECRET_ID = "ece-extension-uploader/api-key"  # noqa: S105 - a name, not a value
LOOPBACK = "127.0.0.1"
# Dummy credentials: moto accepts anything, and real ones must never leak here.
AWS_TEST_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}
SAMPLE_EXTENSIONS = (
    {
        "name": "synonyms",
        "extension_type": "bundle",
        "version": "*",
        "description": "Synonym dictionaries",
    },
    {
        "name": "analysis-demo",
        "extension_type": "plugin",
        "version": "8.15.0",
        "description": "A sample analysis plugin",
    },
)


# moto's DynamoDB item operations that read or write items.
_DYNAMODB_ITEM_OPERATIONS = (
    "put_item",
    "get_item",
    "query",
    "scan",
    "update_item",
    "delete_item",
    "transact_write_items",
)
_dynamodb_lock = threading.RLock()


def make_dynamodb_item_operations_atomic() -> None:
    """One item operation at a time in moto's DynamoDB, as DynamoDB itself guarantees.

    DynamoDB applies a conditional write atomically. moto reads the item, checks
    the condition and writes in separate steps, and its server answers each request
    on a thread of its own, so two concurrent writes can both pass one condition
    (measured: 10 of 200 items won by two of 8 racing conditional updates). The
    ledger's lease is such a write: without this, a concurrency test could see two
    holders of one lease, which real DynamoDB never allows.
    """
    from moto.dynamodb.models import DynamoDBBackend

    for name in _DYNAMODB_ITEM_OPERATIONS:
        operation = getattr(DynamoDBBackend, name)
        if not getattr(operation, "_atomic", False):
            setattr(DynamoDBBackend, name, _one_at_a_time(operation))


def _one_at_a_time(operation: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(operation)
    def atomic(*args: Any, **kwargs: Any) -> Any:
        with _dynamodb_lock:
            return operation(*args, **kwargs)

    atomic._atomic = True  # type: ignore[attr-defined]
    return atomic


@dataclass
class Sandbox:
    """Start with :meth:`start`, stop with :meth:`stop` (or use it as a context manager)."""

    tls: bool = False
    # Added to every AWS resource name: moto servers in one process share their state,
    # so two sandboxes there need names of their own.
    suffix: str = ""
    moto: ThreadedMotoServer | None = None
    emulator: EceEmulator | None = None
    api_key: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    extensions: dict[str, dict[str, Any]] = field(default_factory=dict)
    aws_endpoint_url: str = ""
    queue_url: str = ""

    def start(self) -> Sandbox:
        from moto.server import ThreadedMotoServer  # heavy: imported only when a sandbox starts

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log per request
        make_dynamodb_item_operations_atomic()
        self.moto = ThreadedMotoServer(ip_address=LOOPBACK, port=0, verbose=False)
        self.moto.start()
        host, port = self.moto.get_host_and_port()
        self.aws_endpoint_url = f"http://{host}:{port}"
        self.emulator = EceEmulator(api_keys={self.api_key}, tls=self.tls)
        self.emulator.start()
        self._create_aws_resources()
        for spec in SAMPLE_EXTENSIONS:
            extension = self.emulator.create_extension(**spec)
            self.extensions[spec["name"]] = extension
        return self

    def stop(self) -> None:
        if self.emulator is not None:
            self.emulator.stop()
            self.emulator = None
        if self.moto is not None:
            self.moto.stop()
            self.moto = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def client(self, service: str) -> Any:
        return boto3.client(
            service,  # type: ignore[call-overload]
            endpoint_url=self.aws_endpoint_url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 - moto's dummy value
        )

    def s3(self) -> S3Client:
        client: S3Client = self.client("s3")
        return client

    @property
    def bucket(self) -> str:
        return BUCKET + self.suffix

    @property
    def secret_id(self) -> str:
        return SECRET_ID + self.suffix

    @property
    def ledger_table(self) -> str:
        return LEDGER_TABLE + self.suffix

    @property
    def allowed_extension_ids(self) -> list[str]:
        """The sample extensions, and one id ECE does not know (so ECE's answer shows)."""
        return [*sorted(str(ext["id"]) for ext in self.extensions.values()), UNKNOWN_EXTENSION_ID]

    @property
    def ece_api_url(self) -> str:
        assert self.emulator is not None, "start() the sandbox first"
        return str(self.emulator.url)

    @property
    def env(self) -> dict[str, str]:
        """What the function needs to run against the sandbox."""
        env = {
            **AWS_TEST_CREDENTIALS,
            "AWS_ENDPOINT_URL": self.aws_endpoint_url,
            "ECE_API_URL": self.ece_api_url,
            "ECE_SECRET_ID": self.secret_id,
            "LEDGER_TABLE": self.ledger_table,
            "ALLOWED_EXTENSION_IDS": ",".join(self.allowed_extension_ids),
            "POWERTOOLS_SERVICE_NAME": "ece-extension-uploader",
            "POWERTOOLS_METRICS_NAMESPACE": "ECEExtensionUploader",
        }
        if self.tls and self.emulator is not None:
            env["ECE_CA_BUNDLE"] = str(self.emulator.ca_bundle_path)
        else:
            env["ECE_ALLOW_HTTP"] = "true"  # loopback only: the key never leaves the machine
        return env

    def info(self) -> dict[str, Any]:
        return {
            "aws_endpoint_url": self.aws_endpoint_url,
            "ece_api_url": self.ece_api_url,
            "bucket": self.bucket,
            "queue_url": self.queue_url,
            "secret_id": self.secret_id,
            "ledger_table": self.ledger_table,
            "extensions": self.extensions,
            "env": self.env,
        }

    def receive_events(self, wait_seconds: int = 1) -> list[dict[str, Any]]:
        """The S3 notifications the bucket sent since the last call, oldest first."""
        sqs = self.client("sqs")
        events: list[dict[str, Any]] = []
        while True:
            reply = sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds
            )
            messages = reply.get("Messages", [])
            if not messages:
                return events
            for message in messages:
                events.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def _create_aws_resources(self) -> None:
        s3 = self.s3()
        s3.create_bucket(Bucket=self.bucket)
        s3.put_bucket_versioning(Bucket=self.bucket, VersioningConfiguration={"Status": "Enabled"})
        sqs = self.client("sqs")
        self.queue_url = sqs.create_queue(QueueName=QUEUE + self.suffix)["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        s3.put_bucket_notification_configuration(
            Bucket=self.bucket,
            NotificationConfiguration={
                "QueueConfigurations": [
                    {
                        "QueueArn": queue_arn,
                        "Events": ["s3:ObjectCreated:*"],
                        "Filter": {"Key": {"FilterRules": [{"Name": "suffix", "Value": ".zip"}]}},
                    }
                ]
            },
        )
        self.receive_events(wait_seconds=0)  # drop the s3:TestEvent S3 sends first
        self.client("secretsmanager").create_secret(
            Name=self.secret_id, SecretString=json.dumps({"api_key": self.api_key})
        )
        create_ledger_table(self.client("dynamodb"), self.ledger_table)


def create_ledger_table(dynamodb: Any, name: str) -> None:
    """The ledger table as the template declares it: one item per extension id."""
    dynamodb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "extension_id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "extension_id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
