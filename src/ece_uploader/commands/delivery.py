"""Delivering events to the function, for ``replay`` and ``redrive``: in-process or through Lambda.

``local`` runs the handler in this process (like ``invoke``), one runtime per
worker thread, so that several events are handled at once the way several warm
containers would. ``function:NAME`` calls the deployed function through the
Lambda ``Invoke`` API: asynchronously (``Event``) by default, or waiting for its
answer (``RequestResponse``) with ``--wait``.

Every delivery becomes :class:`Result` rows, one per object: the function's own
outcome where it was seen, ``sent`` where the event was only handed over.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import sys
import tempfile
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol, TypeVar

from ece_uploader.commands.common import Context, UsageError, print_table

if TYPE_CHECKING:
    from extension_uploader.pipeline import Runtime

FAILED = "failed"
SENT = "sent"
# Reasons the commands give when the function's own outcome is not known.
REASON_RETRY = "event.retry"  # the handler raised: the platform would try again
REASON_SENT = "lambda.invoked_async"
REASON_NOTHING = "event.nothing_to_do"
LAMBDA_MAX_SECONDS = 900  # the longest a Lambda function may run
SUMMARY_COLUMNS = ("status", "reason", "count")

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Result:
    """What became of one object of a delivered event."""

    bucket: str | None
    key: str | None
    version_id: str | None
    status: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Target(Protocol):
    """Where events go: :meth:`deliver` never raises for the function's own failures."""

    label: str

    def deliver(self, event: dict[str, Any]) -> list[Result]: ...


def add_target_arguments(parser: Any, *, batch: bool = False) -> None:
    """``--to``, ``--wait``, ``--concurrency`` and the template the local handler comes from."""
    choices = "local|function:NAME" + ("|batch:FUNCTION_ARN" if batch else "")
    parser.add_argument(
        "--to",
        default="local",
        metavar=choices,
        help="where events go (default: local, the handler in this process)",
    )
    parser.add_argument(
        "--wait",
        action="store_true",
        help="function:NAME: invoke synchronously and read the function's answer",
    )
    parser.add_argument(
        "--concurrency",
        type=_positive_int,
        default=4,
        metavar="N",
        help="events handled at once (default: 4)",
    )
    parser.add_argument("--template", "-t", type=Path, default=None, help="local: the SAM template")
    parser.add_argument("--function", help="local: the function's logical id in the template")


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise ValueError(text)
    return value


# --- results ---------------------------------------------------------------------------------


def objects_of(event: object) -> list[tuple[str, str, str | None]]:
    """(bucket, key, version id) of every object the event names, as the function reads it."""
    from extension_uploader.events import parse_event

    return [
        (ref.bucket, ref.key, ref.version_id)
        for delivery in parse_event(event).deliveries
        for ref in delivery.objects
    ]


def results_for(event: object, status: str, reason: str) -> list[Result]:
    """One row per object of the event (or one without an object when it names none)."""
    named = objects_of(event)
    if not named:
        return [Result(None, None, None, status, reason)]
    return [Result(bucket, key, version, status, reason) for bucket, key, version in named]


def results_from_reply(event: object, reply: object) -> list[Result]:
    """The function's answer read back: S3-style results, batch item failures, batch results."""
    if not isinstance(reply, dict):
        return results_for(event, FAILED, "lambda.unexpected_reply")
    if isinstance(reply.get("batchItemFailures"), list):
        failed = bool(reply["batchItemFailures"])
        return results_for(event, FAILED if failed else "done", REASON_RETRY if failed else "ok")
    rows = reply.get("results")
    if not isinstance(rows, list):
        return results_for(event, FAILED, "lambda.unexpected_reply")
    if not rows:
        return results_for(event, "skipped", REASON_NOTHING)
    results = []
    for row in rows:
        if not isinstance(row, dict):
            continue
        if "resultCode" in row:  # Batch Operations: "status: reason" in the result string
            status, _, reason = str(row.get("resultString", "")).partition(": ")
            if row["resultCode"] == "TemporaryFailure":
                status = FAILED
            results.append(Result(None, None, None, status or FAILED, reason or "-"))
            continue
        results.append(
            Result(
                row.get("bucket"),
                row.get("key"),
                row.get("version_id"),
                str(row.get("status") or FAILED),
                str(row.get("reason") or "-"),
            )
        )
    return results


def summarise(results: Sequence[Result]) -> dict[str, dict[str, int]]:
    """Counts per status, then per reason: ``{"uploaded": {"ok": 3}, ...}``."""
    counts = Counter((result.status, result.reason) for result in results)
    summary: dict[str, dict[str, int]] = {}
    for (status, reason), count in sorted(counts.items()):
        summary.setdefault(status, {})[reason] = count
    return summary


def print_summary(summary: Mapping[str, Mapping[str, int]]) -> None:
    rows = [
        {"status": status, "reason": reason, "count": count}
        for status, reasons in summary.items()
        for reason, count in reasons.items()
    ]
    print_table(rows, SUMMARY_COLUMNS)


def any_failed(results: Sequence[Result]) -> bool:
    return any(result.status == FAILED for result in results)


# --- progress and the function's own output --------------------------------------------------


def wants_progress(as_json: bool) -> bool:
    """A progress bar only for a person at a terminal."""
    return not as_json and sys.stdout.isatty() and sys.stderr.isatty()


@contextlib.contextmanager
def function_output(show_progress: bool) -> Iterator[Path | None]:
    """Where the in-process function's log lines and metrics go while it runs.

    To standard error, as ``invoke`` and SAM do; but under a progress bar, to a
    file (named afterwards), so that the bar stays readable. Standard output is
    kept for the command's own result either way (the descriptor and ``sys.stdout`` both:
    Powertools prints its metrics with ``print``).
    """
    from ece_uploader.local import stdout_redirected

    if not show_progress:
        try:
            stderr_fd = sys.stderr.fileno()
        except (AttributeError, OSError, ValueError):  # replaced by a stream without one
            stderr_fd = 2
        with stdout_redirected(stderr_fd), contextlib.redirect_stdout(sys.stderr):
            yield None
        return
    handle, name = tempfile.mkstemp(prefix="ece-uploader-", suffix=".log")
    try:
        with (
            open(handle, "w", encoding="utf-8", closefd=False) as log,
            stdout_redirected(handle),
            contextlib.redirect_stdout(log),
        ):
            yield Path(name)
    finally:
        os.close(handle)


def run_all(
    items: Sequence[T],
    work: Callable[[T], R],
    *,
    concurrency: int,
    show_progress: bool,
    description: str,
) -> list[R]:
    """``work`` on every item, ``concurrency`` at a time, in the items' order, with a bar."""
    from tqdm import tqdm

    results: list[R | None] = [None] * len(items)
    with (
        tqdm(
            total=len(items),
            desc=description,
            unit="event",
            disable=not show_progress,
            file=sys.stderr,
            dynamic_ncols=True,
        ) as bar,
        ThreadPoolExecutor(max(1, min(concurrency, len(items) or 1))) as pool,
    ):
        futures = {pool.submit(work, item): index for index, item in enumerate(items)}
        for future in as_completed(futures):
            results[futures[future]] = future.result()
            bar.update(1)
    return [result for result in results if result is not None]


# --- targets ---------------------------------------------------------------------------------


def open_target(
    spec: str,
    context: Context,
    *,
    wait: bool,
    concurrency: int,
    template: Path | None = None,
    function: str | None = None,
) -> contextlib.AbstractContextManager[Target]:
    """The target ``--to`` names (``local`` or ``function:NAME``)."""
    if spec == "local":
        return LocalTarget.open(context, concurrency, template, function)
    if spec.startswith("function:") and spec.removeprefix("function:"):
        target = FunctionTarget(context, spec.removeprefix("function:"), wait=wait)
        return contextlib.nullcontext(target)
    raise UsageError(f"--to {spec!r}: expected local or function:NAME")


class LocalTarget:
    """The handler in this process, one runtime (one "warm container") per worker thread.

    The function's environment (the template's values, then the exported ones
    and ``--env-vars``) is set once for the whole run, never per call: threads
    share ``os.environ``.
    """

    label = "local"

    def __init__(self, runtimes: Sequence[Runtime], timeout_seconds: float) -> None:
        self._idle: queue.SimpleQueue[Runtime] = queue.SimpleQueue()
        for runtime in runtimes:
            self._idle.put(runtime)
        self._timeout = timeout_seconds

    @classmethod
    @contextlib.contextmanager
    def open(
        cls,
        context: Context,
        workers: int,
        template: Path | None = None,
        function: str | None = None,
    ) -> Iterator[LocalTarget]:
        from ece_uploader.demo import default_template
        from ece_uploader.local import TemplateError, read_function
        from extension_uploader.app import build_runtime
        from extension_uploader.config import ConfigError, Settings

        try:
            spec = read_function(template or default_template(), function)
        except (OSError, TemplateError) as exc:
            raise UsageError(f"cannot read the template: {exc}") from None
        env = {name: value for name, value in spec.environment.items() if value}
        env |= dict(context.env)
        if context.profile:
            env["AWS_PROFILE"] = context.profile
        if context.region:
            env["AWS_REGION"] = env["AWS_DEFAULT_REGION"] = context.region
        with _environment(env):
            try:
                settings = Settings.from_env()
            except ConfigError as exc:
                raise UsageError(f"the function's settings: {exc}") from None
            # Built here, one after the other: boto3's default session is not thread-safe.
            runtimes = [build_runtime(settings) for _ in range(workers)]
            yield cls(runtimes, spec.timeout_seconds)

    def deliver(self, event: dict[str, Any]) -> list[Result]:
        from extension_uploader.app import RetryableEventError, handle_event
        from extension_uploader.deadline import Deadline

        runtime = self._idle.get()
        started = datetime.now(UTC).replace(microsecond=0)
        request_id = f"replay-{uuid.uuid4()}"
        try:
            reply = handle_event(event, runtime, Deadline.after(self._timeout), request_id)
        except RetryableEventError:
            retry = results_for(event, FAILED, REASON_RETRY)
            return [self._failure_of(runtime, result, started) for result in retry]
        except Exception as exc:  # a bug in the handler: reported, not fatal to the others
            return results_for(event, FAILED, f"handler.{type(exc).__name__}")
        finally:
            self._idle.put(runtime)
        return results_from_reply(event, reply)

    @staticmethod
    def _failure_of(runtime: Runtime, result: Result, since: datetime) -> Result:
        """Why the object must be retried, when the function tagged it during this call."""
        from extension_uploader.events import ObjectRef
        from extension_uploader.outcome import TAG_AT, TAG_REASON, TAG_STATUS

        if result.bucket is None or result.key is None:
            return result
        try:
            ref = ObjectRef(result.bucket, result.key, result.version_id)
            tags = runtime.objects.head(ref).tags
        except Exception:  # the object's tags are a hint only
            return result
        at = _parse_time(tags.get(TAG_AT, ""))
        if tags.get(TAG_STATUS) == FAILED and tags.get(TAG_REASON) and at and at >= since:
            return Result(result.bucket, result.key, result.version_id, FAILED, tags[TAG_REASON])
        return result


class FunctionTarget:
    """The deployed function, through the Lambda ``Invoke`` API."""

    def __init__(self, context: Context, name: str, *, wait: bool) -> None:
        self.label = f"function:{name}"
        self.name = name
        self.wait = wait
        # A synchronous call lasts as long as the function may run.
        self._client = context.client(
            "lambda", read_timeout=LAMBDA_MAX_SECONDS + 30 if wait else None
        )

    def deliver(self, event: dict[str, Any]) -> list[Result]:
        from botocore.exceptions import BotoCoreError, ClientError

        payload = json.dumps(event).encode()
        try:
            reply = self._client.invoke(
                FunctionName=self.name,
                InvocationType="RequestResponse" if self.wait else "Event",
                Payload=payload,
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "error")
            return results_for(event, FAILED, f"lambda.{code}")
        except BotoCoreError as exc:
            return results_for(event, FAILED, f"lambda.{type(exc).__name__}")
        if not self.wait:
            ok = reply.get("StatusCode") == 202
            return results_for(event, SENT if ok else FAILED, REASON_SENT if ok else "lambda.error")
        body = reply["Payload"].read() if "Payload" in reply else b""
        try:
            answer = json.loads(body) if body else None
        except ValueError:
            answer = None
        if reply.get("FunctionError"):
            error_type = answer.get("errorType") if isinstance(answer, dict) else None
            reason = REASON_RETRY if error_type == "RetryableEventError" else "lambda.error"
            return results_for(event, FAILED, reason)
        return results_from_reply(event, answer)


@contextlib.contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _parse_time(text: str) -> datetime | None:
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def deliver_all(
    items: Sequence[T],
    deliver: Callable[[Target, T], R],
    context: Context,
    args: Any,
    *,
    to: str,
    verb: str,
) -> list[R]:
    """``deliver`` every item to the target ``to`` names, as the command's flags say
    (``--wait``, ``--concurrency``, ``--template``, ``--function``, ``--json``): with a
    progress bar on a terminal, the function's log lines kept aside, and a note of
    where they went."""
    show_progress = wants_progress(args.json)
    with (
        function_output(show_progress) as log_file,
        open_target(
            to,
            context,
            wait=args.wait,
            concurrency=args.concurrency,
            template=args.template,
            function=args.function,
        ) as target,
    ):
        results = run_all(
            items,
            lambda item: deliver(target, item),
            concurrency=args.concurrency,
            show_progress=show_progress,
            description=f"{verb} to {target.label}",
        )
    write_log_note(log_file)
    return results


def write_log_note(path: Path | None, stream: IO[str] | None = None) -> None:
    if path is not None:
        print(f"the function's log lines: {path}", file=stream or sys.stderr)
