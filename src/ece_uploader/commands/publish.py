"""``ece-uploader publish``: check a zip, put it into the bucket tagged, and wait for its outcome.

What an extension's own CI pipeline calls. The zip is checked first the way the
function will check it (size, the extension id and whether the function may
target it, then the archive: the same limits, read from ``--env-vars`` or the
environment when set); a zip the function would reject never reaches S3. Then it
is put with the extension id tag in the same request, so the ObjectCreated event
already sees the tag. With ``--wait``, the version's tags are polled until the
function's outcome appears.

Standard output: ``bucket``, ``key``, ``version_id``, ``status``, ``reason``,
``sha256`` (one ``name: value`` line each, ``-`` for none), or with ``--json``
one JSON document with those fields (``null`` for none). Messages go to standard
error, prefixed ``ece-uploader publish:``.

Exit status: 0 put (without ``--wait``) or uploaded (``skipped: upload.duplicate``
counts: the version is live), 1 refused before the put, rejected, failed, or
skipped for another reason, 2 usage or I/O error, 3 no outcome within
``--timeout`` seconds.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import random
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, urlencode

from ece_uploader.commands.common import (
    EXIT_NEGATIVE,
    EXIT_OK,
    EXIT_USAGE,
    Context,
    UsageError,
    add_common_arguments,
    fail,
    print_json,
)

EXIT_TIMED_OUT = 3
DEFAULT_WAIT_SECONDS = 300.0
FIRST_POLL_SECONDS = 0.5
MAX_POLL_SECONDS = 5.0
JITTER = 0.2  # each pause is its nominal length, give or take 20 %
KEY_TEMPLATE = "extensions/{extension_id}/{file_name}"
ZIP_SUFFIX = ".zip"
_HASH_CHUNK_BYTES = 1024 * 1024

# The outcome tags and reason codes, as the function writes them (the contract's names).
TAG_STATUS = "ece-upload-status"
TAG_REASON = "ece-upload-reason"
TAG_SHA256 = "ece-upload-sha256"
UPLOADED = "uploaded"
REJECTED = "rejected"
SKIPPED = "skipped"
REASON_OK = "ok"
REASON_DUPLICATE = "upload.duplicate"
REASON_DELETED = "object.deleted"

FIELDS = ("bucket", "key", "version_id", "status", "reason", "sha256")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "publish",
        help="check a zip, put it into the bucket tagged, and wait for its outcome",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("path", type=Path, metavar="FILE", help="the zip to publish")
    parser.add_argument("--bucket", required=True, metavar="B", help="the uploader's bucket")
    parser.add_argument(
        "--extension-id", required=True, metavar="ID", help="the ECE extension to update"
    )
    parser.add_argument(
        "--key", metavar="K", help="object key (default: extensions/<ID>/<file name>)"
    )
    parser.add_argument(
        "--type",
        dest="extension_type",
        choices=("plugin", "bundle"),
        help="also check the content rules of this extension type",
    )
    parser.add_argument(
        "--es-version",
        metavar="V",
        help="the extension's version: a plugin's elasticsearch.version must equal it",
    )
    parser.add_argument(
        "--wait", action="store_true", help="wait for the uploader's outcome on this version"
    )
    parser.add_argument(
        "--timeout",
        type=_seconds,
        default=DEFAULT_WAIT_SECONDS,
        metavar="S",
        help=f"with --wait: give up after S seconds, exit 3 (default {DEFAULT_WAIT_SECONDS:g})",
    )
    add_common_arguments(parser)
    parser.set_defaults(func=run)


@dataclass(frozen=True)
class Publication:
    """What was put where, and the outcome the function gave it (None while unknown)."""

    bucket: str
    key: str
    version_id: str | None = None
    status: str | None = None
    reason: str | None = None
    sha256: str | None = None  # the bytes ECE holds, as the function recorded them

    def to_json(self) -> dict[str, str | None]:
        return {name: getattr(self, name) for name in FIELDS}

    @property
    def exit_code(self) -> int:
        if self.status is None:
            return EXIT_OK  # put, not waited for
        if self.status == UPLOADED or (self.status == SKIPPED and self.reason == REASON_DUPLICATE):
            return EXIT_OK
        return EXIT_NEGATIVE


@dataclass(frozen=True)
class Refusal:
    """Why the function would reject the file: nothing is put."""

    reason: str
    detail: str
    problems: tuple[str, ...] = ()  # one line per problem of the archive, as validate prints


class _Failed(Exception):
    """When publishing cannot go on: the message to print and the exit status."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


def run(args: argparse.Namespace) -> int:
    path: Path = args.path
    key: str = args.key or KEY_TEMPLATE.format(extension_id=args.extension_id, file_name=path.name)
    publication = Publication(args.bucket, key)
    try:
        _regular_file_size(path)
        if not key.lower().endswith(ZIP_SUFFIX):
            raise UsageError(f"key {key!r} does not end in {ZIP_SUFFIX}: the uploader ignores it")
        context = Context.from_args(args)
        refusal = check(
            path,
            args.extension_id,
            key,
            context.env,
            extension_type=args.extension_type,
            es_version=args.es_version,
        )
        if refusal is not None:
            _show(replace(publication, status=REJECTED, reason=refusal.reason), as_json=args.json)
            _refused(refusal)
            return EXIT_NEGATIVE
        s3 = _s3_client(context)
        version_id = put(s3, path, publication, context.env, args.extension_id)
        publication = replace(publication, version_id=version_id)
        if args.wait:
            _say(f"put s3://{args.bucket}/{key} (version {version_id or '-'})")
            if version_id is None:
                _say(f"s3://{args.bucket} is not versioned: waiting on whatever {key} holds")
            publication = wait_for_outcome(s3, publication, args.timeout)
    except UsageError as exc:
        return fail("publish", str(exc))
    except _Failed as exc:
        _show(publication, as_json=args.json)
        _say(str(exc))
        return exc.code
    _show(publication, as_json=args.json)
    if publication.status is not None and publication.exit_code != EXIT_OK:
        _say(f"{publication.status}: {publication.reason or '-'}")
    return publication.exit_code


# ------------------------------------------------------------------ checks before the put


def check(
    path: Path,
    extension_id: str,
    key: str,
    env: Mapping[str, str],
    *,
    extension_type: Literal["plugin", "bundle"] | None = None,
    es_version: str | None = None,
) -> Refusal | None:
    """The function's verdicts that need no ECE, in its order; None when the file may go."""
    from extension_uploader import reasons
    from extension_uploader.ece import is_safe_extension_id
    from extension_uploader.inspection import ExtensionInfo, InspectionBug, inspect_archive

    max_zip_bytes, limits = read_limits(env)
    size = _regular_file_size(path)
    if size == 0:
        return Refusal(reasons.OBJECT_EMPTY, f"{path} is empty")
    if size > max_zip_bytes:
        return Refusal(
            reasons.OBJECT_TOO_LARGE, f"{path} has {size} bytes, MAX_ZIP_BYTES is {max_zip_bytes}"
        )
    if not is_safe_extension_id(extension_id):
        return Refusal(reasons.TAG_INVALID_EXTENSION_ID, f"{extension_id!r} is not an extension id")
    policy = _target_policy(env)
    if policy is not None and not policy.permits(key, extension_id):
        return Refusal(
            reasons.TAG_EXTENSION_NOT_ALLOWED,
            f"ALLOWED_EXTENSION_IDS/EXTENSION_ROUTES do not let {key} target {extension_id}",
        )
    try:
        report = inspect_archive(path, limits, ExtensionInfo(extension_type, es_version))
    except OSError as exc:
        raise UsageError(f"{path}: {exc.strerror or exc}") from None
    except InspectionBug as exc:
        raise UsageError(
            f"{path}: internal error, no verdict: {exc.__cause__!r} (a bug in the uploader, "
            "not a problem of the archive; please report it)"
        ) from None
    if report.ok:
        return None
    from ece_uploader.validate import print_report

    printed = io.StringIO()
    print_report(path, report, printed)
    first = report.problems[0]
    where = f"[{first.entry}] " if first.entry is not None else ""
    return Refusal(
        report.reason or first.code,
        f"{where}{first.message}",
        tuple(printed.getvalue().splitlines(keepends=True)),
    )


def read_limits(env: Mapping[str, str]) -> tuple[int, Any]:
    """MAX_ZIP_BYTES and the archive limits the function runs with, where they are set."""
    from extension_uploader.config import ConfigError, archive_limits

    try:
        return archive_limits(env)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None


def _target_policy(env: Mapping[str, str]) -> Any:
    """The function's allow-list and routes, when the settings name them."""
    from extension_uploader.access import AccessConfigError, TargetPolicy

    allowed = env.get("ALLOWED_EXTENSION_IDS", "").strip()
    if not allowed:
        return None
    try:
        return TargetPolicy.parse(allowed, env.get("EXTENSION_ROUTES"))
    except AccessConfigError as exc:
        raise UsageError(str(exc)) from None


def _regular_file_size(path: Path) -> int:
    try:
        if not path.is_file():
            raise UsageError(f"{path}: {'no such file' if not path.exists() else 'not a file'}")
        return path.stat().st_size
    except OSError as exc:
        raise UsageError(f"{path}: {exc.strerror or exc}") from None


def _refused(refusal: Refusal) -> None:
    for line in refusal.problems:
        sys.stderr.write(line)
    _say(f"refused, nothing put: {refusal.reason}: {refusal.detail}")


# ------------------------------------------------------------------ the put


def put(
    s3: Any, path: Path, publication: Publication, env: Mapping[str, str], extension_id: str
) -> str | None:
    """Put the file tagged with its extension id; the version id S3 gave it.

    S3 checks the bytes it receives against the SHA-256 taken before the checks:
    a file changed since then is refused rather than published unchecked.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    from extension_uploader.config import DEFAULT_EXTENSION_ID_TAG

    tag_key = env.get("EXTENSION_ID_TAG", "").strip() or DEFAULT_EXTENSION_ID_TAG
    digest = _sha256(path)
    target = f"s3://{publication.bucket}/{publication.key}"
    try:
        with path.open("rb") as body:
            reply = s3.put_object(
                Bucket=publication.bucket,
                Key=publication.key,
                Body=body,
                ContentType="application/zip",
                ChecksumSHA256=base64.b64encode(digest).decode("ascii"),
                Tagging=urlencode({tag_key: extension_id}, quote_via=quote),
            )
    except OSError as exc:
        raise UsageError(f"{path}: {exc.strerror or exc}") from None
    except ClientError as exc:
        raise _Failed(f"cannot put {target}: {_client_error(exc)}") from None
    except BotoCoreError as exc:
        raise _Failed(f"cannot put {target}: {exc}") from None
    version_id = reply.get("VersionId")
    return str(version_id) if version_id and version_id != "null" else None


def _sha256(path: Path) -> bytes:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(_HASH_CHUNK_BYTES):
                digest.update(chunk)
    except OSError as exc:
        raise UsageError(f"{path}: {exc.strerror or exc}") from None
    return digest.digest()


def _s3_client(context: Context) -> Any:
    from botocore.exceptions import BotoCoreError

    try:
        return context.client("s3")
    except BotoCoreError as exc:
        raise UsageError(str(exc)) from None


# ------------------------------------------------------------------ waiting


def wait_for_outcome(
    s3: Any,
    publication: Publication,
    timeout_seconds: float,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Publication:
    """Poll the version's tags until the function's outcome is there, with backoff."""
    from botocore.exceptions import BotoCoreError, ClientError

    _say(f"waiting up to {timeout_seconds:g} s for the uploader's outcome")
    address: dict[str, str] = {"Bucket": publication.bucket, "Key": publication.key}
    if publication.version_id:
        address["VersionId"] = publication.version_id
    deadline = clock() + timeout_seconds
    pause = FIRST_POLL_SECONDS
    while True:
        try:
            reply = s3.get_object_tagging(**address)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchKey", "NoSuchVersion"):
                return replace(publication, status=SKIPPED, reason=REASON_DELETED)
            if code in ("AccessDenied", "403", "NoSuchBucket", "InvalidAccessKeyId"):
                raise _Failed(f"cannot read the outcome tags: {_client_error(exc)}") from None
            tags: dict[str, str] = {}  # throttled or S3 unwell: ask again after the pause
        except BotoCoreError:
            tags = {}
        else:
            tags = {tag["Key"]: tag["Value"] for tag in reply.get("TagSet", [])}
        if status := tags.get(TAG_STATUS):
            return replace(
                publication,
                status=status,
                reason=tags.get(TAG_REASON) or (REASON_OK if status == UPLOADED else None),
                sha256=tags.get(TAG_SHA256),
            )
        remaining = deadline - clock()
        if remaining <= 0:
            raise _Failed(
                f"no outcome after {timeout_seconds:g} s: is the uploader deployed, and does "
                f"s3://{publication.bucket}/{publication.key} reach it?",
                EXIT_TIMED_OUT,
            )
        sleep(min(remaining, pause * random.uniform(1 - JITTER, 1 + JITTER)))  # noqa: S311
        pause = min(pause * 2, MAX_POLL_SECONDS)


# ------------------------------------------------------------------ output


def _show(publication: Publication, *, as_json: bool) -> None:
    if as_json:
        print_json(publication.to_json())
        return
    for name in FIELDS:
        print(f"{name}: {getattr(publication, name) or '-'}")


def _say(message: str) -> None:
    print(f"ece-uploader publish: {message}", file=sys.stderr, flush=True)


def _client_error(exc: Any) -> str:
    error = exc.response.get("Error", {})
    return f"{error.get('Code', 'error')}: {error.get('Message') or exc}"


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0: {text!r}")
    return value
