"""Lambda entry point: adapt whatever event arrived into objects for the pipeline.

Each object is processed on its own: one bad record never stops the others. What
must be retried is reported the way the event source understands: a raised error
for asynchronous invocations (S3, SNS, EventBridge; the platform retries, then
the on-failure destination), ``batchItemFailures`` for SQS, and result codes for
S3 Batch Operations.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from extension_uploader import reasons
from extension_uploader.announce import OutcomeEvents
from extension_uploader.config import Settings
from extension_uploader.credentials import CredentialStore
from extension_uploader.deadline import Deadline
from extension_uploader.ece import EceClient
from extension_uploader.events import Delivery, Source, parse_event
from extension_uploader.ledger import Ledger
from extension_uploader.objects import ObjectStore
from extension_uploader.outcome import Outcome, Status
from extension_uploader.pipeline import ObjectResult, Runtime, process_object
from extension_uploader.telemetry import (
    logger,
    metrics,
    record_malformed_event,
    record_outcome,
    traced,
)

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

# Explicit timeouts: in a VPC without endpoints, calls fail fast instead of
# hanging until the function's hard timeout.
AWS_CLIENT_CONFIG = Config(
    connect_timeout=5,
    read_timeout=30,
    retries={"mode": "standard", "max_attempts": 4},
)

# A zip is downloaded to /tmp, and a Deflate64 one is repacked beside it.
TMP_ROOM_PER_ZIP_BYTE = 2

_runtime: Runtime | None = None


class RetryableEventError(Exception):
    """When some objects of the event must be tried again: the platform retries the event.

    Objects already done are recognised on the retry (``upload.duplicate``).
    """


def _aws_client(service: str) -> Any:
    return boto3.client(service, config=AWS_CLIENT_CONFIG)  # type: ignore[call-overload]


def build_runtime(
    settings: Settings, aws_client: Callable[[str], Any] = _aws_client, **client_options: Any
) -> Runtime:
    """Clients for one warm container.

    ``aws_client`` builds the AWS clients (the command line passes its own, for
    ``--profile`` and ``--region``); ``client_options`` tune the ECE client.
    """
    # Imported with the runtime, once per container: Powertools' parameters package
    # imports every provider it has.
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    credentials = CredentialStore(
        settings.ece_secret_id, SecretsProvider(boto3_client=aws_client("secretsmanager"))
    )
    if not settings.tls_verify:
        logger.warning("ECE_TLS_VERIFY is false: the ECE certificate is not checked")
    if settings.ece_api_url.startswith("http://"):
        logger.warning("ECE_ALLOW_HTTP is true: the ECE API key travels in clear over http://")
    room = shutil.disk_usage(tempfile.gettempdir()).free
    if room < TMP_ROOM_PER_ZIP_BYTE * settings.max_zip_bytes:  # a download and a repacked copy
        logger.warning(
            "the temporary folder is too small for the largest zip MAX_ZIP_BYTES allows:"
            " raise EphemeralStorageMB to at least twice MAX_ZIP_BYTES",
            extra={"tmp_free_bytes": room, "max_zip_bytes": settings.max_zip_bytes},
        )
    ece = EceClient(
        settings.ece_api_url,
        credentials,
        timeout_seconds=settings.timeout_seconds,
        tls_verify=settings.tls_verify,
        ca_bundle=settings.ca_bundle,
        upload_mode=settings.upload_mode,
        **client_options,
    )
    bus = settings.outcome_event_bus
    return Runtime(
        settings,
        ObjectStore(aws_client("s3")),
        ece,
        Ledger(aws_client("dynamodb"), settings.ledger_table),
        events=OutcomeEvents(aws_client("events"), bus) if bus else None,
    )


def _get_runtime() -> Runtime:
    """One runtime per warm container (connections and the secret cache live in it).

    Rebuilt only if the settings differ, which happens when tools run the
    handler in-process with another environment.
    """
    global _runtime  # noqa: PLW0603 - a module-level cache is the Lambda idiom
    settings = Settings.from_env()
    if _runtime is None or _runtime.settings != settings:
        _runtime = build_runtime(settings)
    return _runtime


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
@traced
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    deadline = Deadline(context.get_remaining_time_in_millis)
    return handle_event(event, _get_runtime(), deadline, context.aws_request_id)


def handle_event(
    event: object, runtime: Runtime, deadline: Deadline, request_id: str = "local"
) -> dict[str, Any]:
    parsed = parse_event(event)
    done = [
        (delivery, _process_delivery(delivery, runtime, deadline, request_id))
        for delivery in parsed.deliveries
    ]
    if parsed.source is Source.SQS:
        return {
            "batchItemFailures": [
                {"itemIdentifier": delivery.message_id}
                for delivery, results in done
                if _must_retry(delivery, results) and delivery.message_id
            ]
        }
    if parsed.source is Source.BATCH:
        return {
            **(parsed.batch_meta or {}),
            "treatMissingKeysAs": "PermanentFailure",
            "results": [_batch_result(delivery, results) for delivery, results in done],
        }
    retry = [delivery for delivery, results in done if _must_retry(delivery, results)]
    if retry:
        raise RetryableEventError(f"{len(retry)} part(s) of the event must be retried")
    return {"results": [result.to_dict() for _, results in done for result in results]}


def _process_delivery(
    delivery: Delivery, runtime: Runtime, deadline: Deadline, request_id: str
) -> list[ObjectResult]:
    if delivery.problem:
        record_malformed_event(delivery.problem)
    results = []
    for ref in delivery.objects:
        try:
            results.append(process_object(ref, runtime, deadline, request_id))
        except Exception:  # a bug must not cost the other records: log it, retry the event
            logger.exception("unexpected error", extra={"bucket": ref.bucket, "key": ref.key})
            outcome = Outcome.failed(reasons.INTERNAL_ERROR, transient=True)
            record_outcome(
                ref, outcome, extension_id=None, version_id=ref.version_id, milliseconds=0
            )
            results.append(ObjectResult(ref, outcome, None, ref.version_id))
    return results


def _must_retry(delivery: Delivery, results: list[ObjectResult]) -> bool:
    return delivery.problem is not None or any(result.retry for result in results)


def _batch_result(delivery: Delivery, results: list[ObjectResult]) -> dict[str, str]:
    if delivery.problem:
        code, text = "PermanentFailure", f"{reasons.EVENT_MALFORMED}: {delivery.problem}"
    elif not results:
        code, text = "Succeeded", "nothing to do"
    else:
        outcome = results[0].outcome
        text = f"{outcome.status.value}: {outcome.reason}"
        if outcome.transient:
            code = "TemporaryFailure"
        elif outcome.status in (Status.REJECTED, Status.FAILED):
            code = "PermanentFailure"
        elif outcome.reason == reasons.OBJECT_DELETED:
            # The task named an object that is not there (or no longer is): the job's
            # report must show it, or a wrong key would pass for a success.
            code = "PermanentFailure"
        else:
            code = "Succeeded"
    return {"taskId": delivery.message_id or "", "resultCode": code, "resultString": text}
