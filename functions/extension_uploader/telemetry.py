"""Logger and metrics, created once; one log line and one set of metrics per object.

Metric dimensions stay low in cardinality: the service, and the reason on a
per-reason count. Keys and extension ids go to the log line, never to metrics.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics, single_metric
from aws_lambda_powertools.metrics import MetricUnit

from extension_uploader import reasons
from extension_uploader.events import ObjectRef
from extension_uploader.outcome import Outcome, Status

SERVICE_NAME = "ece-extension-uploader"
METRICS_NAMESPACE = "ECEExtensionUploader"
METRIC_UPLOADED_BYTES = "UploadedBytes"
METRIC_UPLOADED_IN_USE = "UploadedInUse"  # uploads that replaced a file deployments use
METRIC_PROCESSING_TIME = "ProcessingTime"
METRIC_BY_REASON_SUFFIX = "ByReason"

# The contract's defaults, unless the environment names others.
service = os.getenv("POWERTOOLS_SERVICE_NAME") or SERVICE_NAME
namespace = os.getenv("POWERTOOLS_METRICS_NAMESPACE") or METRICS_NAMESPACE
logger = Logger(service=service)
metrics = Metrics(namespace=namespace, service=service)
# Lambda calls the handler one event at a time, but the command line runs it in
# threads (replay, redrive, the soak), and Powertools' metric set is a plain dict
# that flushes itself at 100 values: without the lock values are lost or doubled.
_metrics_lock = threading.Lock()


Handler = Callable[[Any, Any], Any]
_traced_handlers: dict[Handler, Handler] = {}


def tracing_enabled() -> bool:
    """X-Ray tracing through Powertools' Tracer: on only when POWERTOOLS_TRACE_DISABLED=false
    (what the template sets when its ``Tracing`` parameter is ``Active``)."""
    return os.getenv("POWERTOOLS_TRACE_DISABLED", "").strip().lower() == "false"


def traced(handler: Handler) -> Handler:
    """``handler`` in an X-Ray subsegment when tracing is on; decided at each call, so a
    warm container follows its environment, and the X-Ray SDK is imported only when on."""

    @functools.wraps(handler)
    def call(event: Any, context: Any) -> Any:
        if not tracing_enabled():
            return handler(event, context)
        if handler not in _traced_handlers:
            from aws_lambda_powertools import Tracer

            tracer = Tracer(service=service)  # patches botocore and requests: their calls too
            _traced_handlers[handler] = tracer.capture_lambda_handler(handler)
        return _traced_handlers[handler](event, context)

    return call


def record_outcome(
    ref: ObjectRef,
    outcome: Outcome,
    *,
    extension_id: str | None,
    version_id: str | None,
    milliseconds: float,
    extra: dict[str, Any] | None = None,
    deployments_in_use: int = 0,
) -> None:
    """Emit the object's metrics and its one structured log line."""
    with _metrics_lock:
        _count(outcome.status, outcome.reason)
        metrics.add_metric(
            name=METRIC_PROCESSING_TIME, unit=MetricUnit.Milliseconds, value=milliseconds
        )
        if outcome.status is Status.UPLOADED:
            metrics.add_metric(
                name=METRIC_UPLOADED_BYTES, unit=MetricUnit.Bytes, value=outcome.uploaded_bytes
            )
            if deployments_in_use:
                metrics.add_metric(name=METRIC_UPLOADED_IN_USE, unit=MetricUnit.Count, value=1)
    fields: dict[str, Any] = {
        "bucket": ref.bucket,
        "key": ref.key,
        "version_id": version_id,
        "extension_id": extension_id,
        "status": outcome.status.value,
        "reason": outcome.reason,
        "bytes": outcome.uploaded_bytes,
        "milliseconds": round(milliseconds, 1),
        "principal": ref.principal,
        "source_ip": ref.source_ip,
    }
    if outcome.sha256:
        fields["sha256"] = outcome.sha256
    if outcome.detail:
        fields["detail"] = outcome.detail
    fields.update(extra or {})
    level = "error" if outcome.status is Status.FAILED else "info"
    getattr(logger, level)(f"{outcome.status.value}: {outcome.reason}", extra=fields)


def record_malformed_event(problem: str) -> None:
    """A delivery the function could not read: counted as failed, logged with why."""
    with _metrics_lock:
        _count(Status.FAILED, reasons.EVENT_MALFORMED)
    logger.error("malformed event", extra={"reason": reasons.EVENT_MALFORMED, "problem": problem})


def _count(status: Status, reason: str) -> None:
    metrics.add_metric(name=status.metric_name, unit=MetricUnit.Count, value=1)
    if status is Status.UPLOADED:
        return
    # The same count split by reason, in its own EMF blob so that the main set
    # keeps a single low-cardinality dimension.
    with single_metric(
        name=status.metric_name + METRIC_BY_REASON_SUFFIX,
        unit=MetricUnit.Count,
        value=1,
        namespace=namespace,
        default_dimensions=metrics.default_dimensions,
    ) as metric:
        metric.add_dimension(name="service", value=service)
        metric.add_dimension(name="reason", value=reason)
