"""``ece-uploader demo``: the whole product, end to end, on loopback.

Starts the sandbox, drops the sample zips into the bucket (tagged as a user
would), hands each S3 notification the bucket produced to the function exactly
as S3 would invoke it, then prints each object's outcome tags and checks that
ECE stored the good zips byte for byte. Stops everything it started.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import requests

from ece_uploader.commands import status
from ece_uploader.commands.common import Context
from ece_uploader.extras import sandbox_extra_missing
from ece_uploader.local import invoke, read_function, stdout_redirected
from ece_uploader.samples import (
    NOT_ALLOWED_EXTENSION_ID,
    UNKNOWN_EXTENSION_ID,
    DemoSample,
    demo_samples,
)

if TYPE_CHECKING:
    from ece_uploader.sandbox import Sandbox

EXTENSION_ID_TAG = "ece-extension-id"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("demo", help="run the product end to end on loopback")
    parser.add_argument("--template", type=Path, default=None, help="template.yaml to run")
    parser.add_argument("--log-file", type=Path, default=None, help="keep the function's logs here")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if missing := sandbox_extra_missing():
        print(f"ece-uploader demo: {missing}", file=sys.stderr)
        return 2
    from ece_uploader.sandbox import Sandbox  # moto is heavy: only this command pays for it

    spec = read_function(args.template or default_template())
    with tempfile.TemporaryDirectory(prefix="ece-demo-") as workdir:
        log_path = args.log_file or Path(workdir) / "function.log"
        with Sandbox() as sandbox, log_path.open("w") as log:
            samples = demo_samples()
            _drop_samples(sandbox, samples)
            events = sandbox.receive_events()
            print(f"delivering {len(events)} S3 event(s) to the function (logs: {log_path})")
            failures = 0
            for event in events:
                with stdout_redirected(log.fileno()):
                    try:
                        invoke(event, spec, sandbox.env)
                    except Exception as exc:  # the platform would retry: the demo reports it
                        failures += 1
                        print(f"invocation raised {type(exc).__name__}: {exc}", file=log)
            rows = [_outcome_row(sandbox, sample) for sample in samples]
            _print_table(rows)
            problems = _check(sandbox, samples, rows)
            print("\n$ ece-uploader status --env-vars <the sandbox's description>")
            if status.show(status.collect(Context(sandbox.env))):
                problems.append("status flagged drift between the ledger and ECE")
            if failures:
                problems.append(f"{failures} invocation(s) raised: see the function's log")
        if args.log_file is None and problems:
            sys.stderr.write(Path(log_path).read_text() if Path(log_path).exists() else "")
    for problem in problems:
        print(f"FAIL: {problem}")
    if not problems:
        print("demo OK: every sample has its expected outcome and ECE holds the good zips")
    return 1 if problems else 0


def default_template() -> Path:
    here = Path("template.yaml")
    if here.exists():
        return here
    return Path(__file__).resolve().parents[2] / "template.yaml"


def _drop_samples(sandbox: Sandbox, samples: list[DemoSample]) -> None:
    from ece_uploader.sandbox import BUCKET

    s3 = sandbox.s3()
    for sample in samples:
        extra: dict[str, Any] = {}
        extension_id = _extension_id(sandbox, sample)
        if extension_id is not None:
            extra["Tagging"] = f"{EXTENSION_ID_TAG}={quote(extension_id)}&team=search"
        s3.put_object(Bucket=BUCKET, Key=sample.key, Body=sample.data, **extra)


def _extension_id(sandbox: Sandbox, sample: DemoSample) -> str | None:
    if sample.extension is None:
        return None
    if sample.extension == "unknown":
        return UNKNOWN_EXTENSION_ID
    if sample.extension == "not-allowed":
        return NOT_ALLOWED_EXTENSION_ID
    return str(sandbox.extensions[sample.extension]["id"])


def _outcome_row(sandbox: Sandbox, sample: DemoSample) -> dict[str, str]:
    from ece_uploader.sandbox import BUCKET

    tags = {
        tag["Key"]: tag["Value"]
        for tag in sandbox.s3().get_object_tagging(Bucket=BUCKET, Key=sample.key)["TagSet"]
    }
    return {
        "key": sample.key,
        "extension": tags.get(EXTENSION_ID_TAG, "-"),
        "status": tags.get("ece-upload-status", "(none)"),
        "reason": tags.get("ece-upload-reason", "(none)"),
    }


def _print_table(rows: list[dict[str, str]]) -> None:
    columns = ("key", "extension", "status", "reason")
    widths = {column: max(len(column), *(len(row[column]) for row in rows)) for column in columns}
    print("  ".join(column.upper().ljust(widths[column]) for column in columns).rstrip())
    for row in rows:
        print("  ".join(row[column].ljust(widths[column]) for column in columns).rstrip())


def _check(sandbox: Sandbox, samples: list[DemoSample], rows: list[dict[str, str]]) -> list[str]:
    problems = []
    for sample, row in zip(samples, rows, strict=True):
        expected = (sample.expected_status, sample.expected_reason)
        if (row["status"], row["reason"]) != expected:
            problems.append(
                f"{sample.key}: expected {expected}, got {(row['status'], row['reason'])}"
            )
    for sample in samples:
        if sample.expected_status != "uploaded" or sample.extension not in sandbox.extensions:
            continue
        stored = _download_from_ece(sandbox, str(sandbox.extensions[sample.extension]["id"]))
        if stored != sample.data:
            problems.append(f"{sample.key}: ECE's stored bytes differ from the zip")
        else:
            print(f"ECE holds {sample.key} byte for byte ({len(stored)} bytes)")
    return problems


def _download_from_ece(sandbox: Sandbox, extension_id: str) -> bytes | None:
    """Fetch the stored file through the extension's ``file_metadata.url``, as a user would."""
    api = f"{sandbox.ece_api_url}/api/v1/deployments/extensions/{extension_id}"
    headers = {"Authorization": f"ApiKey {sandbox.api_key}"}
    extension = requests.get(api, headers=headers, timeout=10).json()
    url = (extension.get("file_metadata") or {}).get("url")
    if not url:
        return None
    return requests.get(url, headers=headers, timeout=30).content
