"""X-Ray tracing through Powertools' Tracer, on only when the template turns it on.

The handler runs in its own process through ``ece-uploader invoke`` (the X-Ray
SDK and its patches of botocore and requests are process-wide), with a fake
X-Ray daemon: a UDP socket on loopback that collects the segments it is sent.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ece_uploader.samples import bundle_zip

from .conftest import TAG, Put, Tags, outcome, s3_event

CLI = [sys.executable, "-m", "ece_uploader.cli"]
TRACE_HEADER = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"


@pytest.fixture
def daemon() -> Iterator[socket.socket]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", 0))
        udp.settimeout(0.5)
        yield udp


def segments(udp: socket.socket) -> list[dict[str, Any]]:
    """What the SDK sent: each datagram is a header line, then one (sub)segment document."""
    found = []
    while True:
        try:
            datagram = udp.recv(65536)
        except TimeoutError:
            return found
        _, _, body = datagram.decode().partition("\n")
        found.append(json.loads(body))


def flatten(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every (sub)segment, however it was nested or streamed."""
    found: list[dict[str, Any]] = []
    stack = list(documents)
    while stack:
        document = stack.pop()
        found.append(document)
        stack.extend(document.get("subsegments", []))
    return found


def names(documents: list[dict[str, Any]]) -> set[str]:
    return {document.get("name", "") for document in flatten(documents)}


def invoke(
    tmp_path: Path, event: dict[str, Any], env: dict[str, str], udp: socket.socket, tracing: str
) -> subprocess.CompletedProcess[str]:
    (tmp_path / "event.json").write_text(json.dumps(event))
    function_env = env | {
        "POWERTOOLS_TRACE_DISABLED": tracing,
        "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{udp.getsockname()[1]}",
    }
    (tmp_path / "env.json").write_text(json.dumps({"UploaderFunction": function_env}))
    process_env = os.environ | {"LAMBDA_TASK_ROOT": str(tmp_path), "_X_AMZN_TRACE_ID": TRACE_HEADER}
    return subprocess.run(
        [*CLI, "invoke", "-e", str(tmp_path / "event.json"), "-n", str(tmp_path / "env.json")],
        env=process_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_tracing_on_sends_the_handler_and_its_calls_to_xray(
    put: Callable[..., Put],
    function_env: dict[str, str],
    bundle: str,
    tags_of: Tags,
    daemon: socket.socket,
    tmp_path: Path,
) -> None:
    obj = put("traced/x.zip", bundle_zip(), {TAG: bundle})

    done = invoke(tmp_path, s3_event(obj), function_env, daemon, tracing="false")

    assert done.returncode == 0, done.stderr[-2000:]
    assert outcome(tags_of(obj)) == ("uploaded", "ok")
    documents = segments(daemon)
    seen = names(documents)
    assert "## lambda_handler" in seen
    assert {"s3", "dynamodb", "secretsmanager", "127.0.0.1"} <= seen  # AWS calls and ECE
    handler = next(d for d in flatten(documents) if d.get("name") == "## lambda_handler")
    assert handler["annotations"]["ColdStart"] is True
    assert handler["annotations"]["Service"] == "ece-extension-uploader"


def test_tracing_off_sends_nothing(
    put: Callable[..., Put],
    function_env: dict[str, str],
    bundle: str,
    tags_of: Tags,
    daemon: socket.socket,
    tmp_path: Path,
) -> None:
    obj = put("untraced/x.zip", bundle_zip(), {TAG: bundle})

    done = invoke(tmp_path, s3_event(obj), function_env, daemon, tracing="true")

    assert done.returncode == 0, done.stderr[-2000:]
    assert outcome(tags_of(obj)) == ("uploaded", "ok")
    assert segments(daemon) == []
    assert "aws_xray_sdk" not in done.stderr
