"""``ece-uploader redrive``: deliver the failed-events queue to the function again.

Reads the queue (long polls of 1 s), unwraps each message to the event the
function failed on (a Lambda on-failure destination record's
``requestPayload``; or the body itself: an S3 notification, an EventBridge
event, an SNS envelope), delivers it again, and deletes the message only once
it was delivered: the handler did not raise (``local``), or the function
accepted it (``function:NAME``) or, with ``--wait``, answered without a
``FunctionError``.

A message that could not be re-delivered stays in the queue and is left
invisible for ``--visibility-timeout`` seconds (default 900, the longest a
function runs): one run never reads it twice, a run started later retries it,
and the queue's own redrive policy (if any) counts the receive. A message whose
body the function cannot read at all is never delivered: it is left, and
counted as failed with the reason ``event.malformed``.

Exit 0 when every message was re-delivered, 1 when any was left, 2 on usage or
I/O errors.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from typing import Any

from ece_uploader.commands.common import (
    EXIT_NEGATIVE,
    EXIT_OK,
    Context,
    UsageError,
    add_common_arguments,
    fail,
    print_json,
)
from ece_uploader.commands.delivery import (
    FAILED,
    LAMBDA_MAX_SECONDS,
    Result,
    Target,
    add_target_arguments,
    deliver_all,
    print_summary,
    summarise,
)

REASON_MALFORMED = "event.malformed"
MAX_UNWRAP = 3  # a destination record of a destination record of ...: never real, still bounded
SQS_BATCH = 10


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "redrive",
        help="deliver the failed-events queue to the function again",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--queue", required=True, metavar="URL", help="the queue's URL")
    parser.add_argument(
        "--max", type=int, default=None, metavar="N", help="at most N messages (default: all)"
    )
    parser.add_argument(
        "--visibility-timeout",
        type=int,
        default=LAMBDA_MAX_SECONDS,
        metavar="SECONDS",
        help="how long a received message stays hidden (default: 900)",
    )
    add_target_arguments(parser)
    add_common_arguments(parser)
    parser.set_defaults(func=run)


@dataclass(frozen=True)
class Message:
    message_id: str
    receipt_handle: str
    event: dict[str, Any] | None  # None: the body is not an event the function can read
    problem: str | None = None


@dataclass(frozen=True)
class Outcome:
    message: Message
    results: list[Result]
    redelivered: bool
    deleted: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "message_id": self.message.message_id,
            "redelivered": self.redelivered,
            "deleted": self.deleted,
            "problem": self.message.problem,
            "results": [result.to_json() for result in self.results],
        }


def unwrap(body: str) -> tuple[dict[str, Any] | None, str | None]:
    """The event a message carries, or why there is none the function could read."""
    from extension_uploader.events import is_destination_record, parse_event

    try:
        document: object = json.loads(body)
    except ValueError:
        return None, "the message body is not JSON"
    for _ in range(MAX_UNWRAP):
        if not is_destination_record(document):
            break
        document = document["requestPayload"]
    if not isinstance(document, dict):
        return None, "the message holds no event"
    deliveries = parse_event(document).deliveries
    if all(d.problem and not d.objects for d in deliveries):
        return None, "; ".join(d.problem or "" for d in deliveries)
    return document, None


def receive(sqs: Any, queue_url: str, limit: int | None, visibility: int) -> list[Message]:
    """Messages until the queue looks empty or ``limit`` is reached, each read once."""
    messages: dict[str, Message] = {}
    while limit is None or len(messages) < limit:
        wanted = SQS_BATCH if limit is None else min(SQS_BATCH, limit - len(messages))
        reply = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=wanted,
            WaitTimeSeconds=1,
            VisibilityTimeout=visibility,
        )
        batch = reply.get("Messages", [])
        fresh = [m for m in batch if m["MessageId"] not in messages]
        if not fresh:
            break
        for raw in fresh:
            event, problem = unwrap(raw.get("Body", ""))
            messages[raw["MessageId"]] = Message(
                raw["MessageId"], raw["ReceiptHandle"], event, problem
            )
    return list(messages.values())


def redeliver(message: Message, target: Target) -> Outcome:
    if message.event is None:
        return Outcome(message, [Result(None, None, None, FAILED, REASON_MALFORMED)], False)
    results = target.deliver(message.event)
    return Outcome(message, results, not any(r.status == FAILED for r in results))


def run(args: argparse.Namespace) -> int:
    try:
        context = Context.from_args(args)
        outcomes = redrive(context, args)
    except UsageError as exc:
        return fail("redrive", str(exc))
    return show(outcomes, as_json=args.json)


def redrive(context: Context, args: argparse.Namespace) -> list[Outcome]:
    from botocore.exceptions import BotoCoreError, ClientError

    if args.to.startswith("batch:"):
        raise UsageError("--to batch: is for replay; redrive goes to local or function:NAME")
    if args.max is not None and args.max <= 0:
        raise UsageError("--max must be positive")
    sqs = context.client("sqs")
    try:
        messages = receive(sqs, args.queue, args.max, args.visibility_timeout)
    except (BotoCoreError, ClientError) as exc:
        raise UsageError(f"cannot read {args.queue}: {exc}") from None
    if not messages:
        return []
    outcomes = deliver_all(
        messages,
        lambda target, message: redeliver(message, target),
        context,
        args,
        to=args.to,
        verb="redrive",
    )
    return [_delete_if_delivered(sqs, args.queue, outcome) for outcome in outcomes]


def _delete_if_delivered(sqs: Any, queue_url: str, outcome: Outcome) -> Outcome:
    from botocore.exceptions import BotoCoreError, ClientError

    if not outcome.redelivered:
        return outcome
    try:
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=outcome.message.receipt_handle)
    except (BotoCoreError, ClientError):
        # Delivered, but the message will come back: a second delivery is a duplicate.
        return outcome
    return Outcome(outcome.message, outcome.results, True, deleted=True)


def show(outcomes: list[Outcome], *, as_json: bool = False) -> int:
    results = [result for outcome in outcomes for result in outcome.results]
    left = [outcome for outcome in outcomes if not outcome.redelivered]
    if as_json:
        print_json(
            {
                "received": len(outcomes),
                "redelivered": len(outcomes) - len(left),
                "deleted": sum(outcome.deleted for outcome in outcomes),
                "left": len(left),
                "messages": [outcome.to_json() for outcome in outcomes],
                "summary": summarise(results),
            }
        )
    elif not outcomes:
        print("the queue is empty: nothing to re-drive")
    else:
        print_summary(summarise(results))
        print(
            f"{len(outcomes)} message(s): {len(outcomes) - len(left)} re-delivered,"
            f" {len(left)} left in the queue"
        )
    return EXIT_NEGATIVE if left else EXIT_OK
