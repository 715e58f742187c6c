"""S3 failing, through the handler: the function's S3 client talks to moto through a
fault-injecting proxy on loopback (``tests/faultproxy.py``), over real sockets.

The function finds the proxy the way it finds any endpoint: ``AWS_ENDPOINT_URL_S3``
(Secrets Manager still goes straight to moto). boto3 retries throttling and 5xx
itself (standard mode, with backoff): a fault scripted once is absorbed, a fault
scripted for every attempt is not. Only one test exhausts those retries (their
backoff is real time); 501 stands for the 5xx boto3 does not retry.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ece_uploader.emulator import EceEmulator
from ece_uploader.samples import bundle_zip
from extension_uploader.app import RetryableEventError
from extension_uploader.pipeline import Runtime
from tests.faultproxy import FaultProxy, Rule

from .conftest import TAG, Logs, Put, Tags, log_line, outcome, run, s3_event
from .test_boundaries import stored_zip

# app.AWS_CLIENT_CONFIG: standard mode, retries={"max_attempts": 4}, which botocore
# counts as retries after the first call: 5 calls in all.
BOTO_CALLS = 5


@pytest.fixture
def proxy(
    aws_endpoint: str,
    put: Callable[..., Put],
    tags_of: Tags,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[FaultProxy]:
    """The proxy, with S3 clients built from now on pointed at it.

    ``put`` and ``tags_of`` are built first: the test's own view of S3 goes straight
    to moto and never sees a fault.
    """
    with FaultProxy(aws_endpoint) as running:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", running.url)
        yield running


# What the function asks S3 for an object of a versioned bucket, as (method, query) rules.
HEAD = {"method": "HEAD"}
READ_TAGS = {"method": "GET", "query": "tagging"}
DOWNLOAD = {"method": "GET", "without": "tagging"}
WRITE_TAGS = {"method": "PUT", "query": "tagging"}


def rule(target: dict[str, str], key: str, **effect: Any) -> Rule:
    """A rule for the requests of ``target`` kind about the object whose key ends in ``key``."""
    return Rule(path=re.escape(key) + "$", **target, **effect)


def test_every_s3_call_goes_through_the_proxy(
    proxy: FaultProxy,
    put: Callable[..., Put],
    make_runtime: Callable[..., Runtime],
    ece: EceEmulator,
    bundle: str,
    tags_of: Tags,
) -> None:
    obj = put("proxied/plain.zip", bundle_zip(), {TAG: bundle})
    result = run(s3_event(obj), make_runtime())
    assert result["results"][0]["status"] == "uploaded"
    assert outcome(tags_of(obj)) == ("uploaded", "ok")
    assert ece.stored_bytes(bundle) == bundle_zip()
    seen = {(hit.method, "tagging" in hit.query) for hit in proxy.hits(path=r"plain\.zip$")}
    assert seen == {("HEAD", False), ("GET", True), ("GET", False), ("PUT", True)}


# -- AccessDenied: permanent, never raised ---------------------------------------------------


@pytest.mark.parametrize(
    ("target", "tagged"),
    [(HEAD, False), (READ_TAGS, False), (DOWNLOAD, True)],
    ids=["head", "read-tags", "download"],
)
def test_access_denied_is_a_permanent_failure(
    target: dict[str, str],
    tagged: bool,
    proxy: FaultProxy,
    put: Callable[..., Put],
    make_runtime: Callable[..., Runtime],
    ece: EceEmulator,
    bundle: str,
    tags_of: Tags,
    function_logs: Callable[[], list[dict[str, Any]]],
) -> None:
    obj = put("denied/x.zip", bundle_zip(), {TAG: bundle})
    proxy.script(rule(target, "x.zip", status=403, code="AccessDenied", times=None))

    result = run(s3_event(obj), make_runtime())  # not raised: a retry would not help

    [row] = result["results"]
    assert (row["status"], row["reason"]) == ("failed", "s3.access_denied")
    detail = object_line(function_logs(), obj)["detail"]  # a HEAD reply has no body
    assert re.fullmatch(r"S3 [\w ]+ failed: (AccessDenied|403)", detail), detail
    assert len([hit for hit in proxy.hits(**target) if hit.effect == "error 403"]) == 1
    assert ece.find_requests("PUT") == []
    if tagged:  # the object was seen: its outcome is written on it
        assert outcome(tags_of(obj)) == ("failed", "s3.access_denied")
    else:  # nothing was learnt about the object: nothing to tag
        assert tags_of(obj) == {TAG: bundle}
        assert proxy.hits(**WRITE_TAGS) == []


def test_access_denied_writing_the_tags_is_not_retried(
    proxy: FaultProxy,
    put: Callable[..., Put],
    make_runtime: Callable[..., Runtime],
    ece: EceEmulator,
    bundle: str,
    tags_of: Tags,
) -> None:
    obj = put("denied/tags.zip", bundle_zip(), {TAG: bundle})
    proxy.script(rule(WRITE_TAGS, "tags.zip", status=403, code="AccessDenied", times=None))
    result = run(s3_event(obj), make_runtime())
    assert result["results"][0]["status"] == "uploaded"
    assert ece.stored_bytes(bundle) == bundle_zip()
    assert tags_of(obj) == {TAG: bundle}
    assert len(proxy.hits(**WRITE_TAGS)) == 1


@pytest.mark.parametrize(
    ("status", "code", "reason"),
    [(412, "PreconditionFailed", "object.changed"), (404, "NoSuchVersion", "object.deleted")],
    ids=["changed", "gone"],
)
def test_an_object_replaced_or_gone_during_the_download_is_skipped_untagged(
    status: int,
    code: str,
    reason: str,
    proxy: FaultProxy,
    put: Callable[..., Put],
    make_runtime: Callable[..., Runtime],
    ece: EceEmulator,
    bundle: str,
    tags_of: Tags,
    function_logs: Callable[[], list[dict[str, Any]]],
) -> None:
    obj = put("moved/x.zip", bundle_zip(), {TAG: bundle})
    proxy.script(rule(DOWNLOAD, "x.zip", status=status, code=code, times=None))

    result = run(s3_event(obj), make_runtime())

    [row] = result["results"]
    assert (row["status"], row["reason"]) == ("skipped", reason)
    assert re.fullmatch(rf"S3 [\w ]+ failed: {code}", object_line(function_logs(), obj)["detail"])
    assert proxy.hits(**WRITE_TAGS) == []  # not ours to tag: its own event comes, or none
    assert tags_of(obj) == {TAG: bundle}
    assert ece.find_requests("PUT") == []


def object_line(lines: list[dict[str, Any]], obj: Put) -> dict[str, Any]:
    """The function's one outcome line for ``obj``."""
    [line] = [line for line in lines if line.get("key") == obj.key and "status" in line]
    return line


# -- Throttling and 5xx: boto3 absorbs one, the platform retries the rest ---------------------


@pytest.mark.parametrize(
    ("target", "status", "code"),
    [
        (HEAD, 503, "SlowDown"),
        (READ_TAGS, 503, "SlowDown"),
        (DOWNLOAD, 500, "InternalError"),
        (WRITE_TAGS, 503, "SlowDown"),
    ],
    ids=["head-slowdown", "read-tags-slowdown", "download-500", "tag-slowdown"],
)
def test_one_throttle_or_5xx_is_absorbed_by_the_client_retries(
    target: dict[str, str],
    status: int,
    code: str,
    proxy: FaultProxy,
    put: Callable[..., Put],
    make_runtime: Callable[..., Runtime],
    ece: EceEmulator,
    bundle: str,
    tags_of: Tags,
) -> None:
    obj = put("absorbed/x.zip", bundle_zip(), {TAG: bundle})
    proxy.script(rule(target, "x.zip", status=status, code=code, times=1))
    result = run(s3_event(obj), make_runtime())
    assert result["results"][0]["status"] == "uploaded"
    assert outcome(tags_of(obj)) == ("uploaded", "ok")
    assert [hit.effect for hit in proxy.hits(**target)][:2] == [f"error {status}", "forwarded"]


@pytest.mark.parametrize(
    ("target", "status", "code", "tagged"),
    [(DOWNLOAD, 503, "SlowDown", True), (HEAD, 501, "NotImplemented", False)],
    ids=["download-slowdown-every-attempt", "head-501"],
)
def test_throttling_or_5xx_that_outlasts_the_client_retries_is_transient(
    target: dict[str, str],
    status: int,
    code: str,
    tagged: bool,
    proxy: FaultProxy,
    put: Callable[..., Put],
    make_runtime: Callable[..., Runtime],
    ece: EceEmulator,
    bundle: str,
    tags_of: Tags,
) -> None:
    obj = put("exhausted/x.zip", bundle_zip(), {TAG: bundle})
    proxy.script(rule(target, "x.zip", status=status, code=code, times=None))

    with pytest.raises(RetryableEventError):
        run(s3_event(obj), make_runtime())

    calls = BOTO_CALLS if status in (500, 502, 503, 504) else 1
    assert [hit.effect for hit in proxy.hits(**target)] == [f"error {status}"] * calls
    assert ece.find_requests("PUT") == []
    if tagged:
        assert outcome(tags_of(obj)) == ("failed", "s3.error")
    else:
        assert tags_of(obj) == {TAG: bundle}


# -- The connection failing ------------------------------------------------------------------


@pytest.fixture
def several_mib() -> bytes:
    rng = random.Random(11)
    return stored_zip({f"dictionaries/part{n}.bin": rng.randbytes(1024 * 1024) for n in range(3)})


@pytest.mark.parametrize("reset", [True, False], ids=["reset", "closed"])
def test_connection_lost_mid_download_is_transient(
    reset: bool,
    several_mib: bytes,
    proxy: FaultProxy,
    put: Callable[..., Put],
    make_runtime: Callable[..., Runtime],
    ece: EceEmulator,
    bundle: str,
    tags_of: Tags,
) -> None:
    obj = put("cut/x.zip", several_mib, {TAG: bundle})
    proxy.script(rule(DOWNLOAD, "x.zip", cut_after=1_500_000, reset=reset, times=None))

    with pytest.raises(RetryableEventError):
        run(s3_event(obj), make_runtime())

    assert outcome(tags_of(obj)) == ("failed", "s3.error")
    assert ece.find_requests("PUT") == []
    assert [hit.effect for hit in proxy.hits(**DOWNLOAD)] == ["cut 1500000"]  # body: no retry


def test_reset_before_the_reply_is_retried_by_the_client(
    proxy: FaultProxy,
    put: Callable[..., Put],
    make_runtime: Callable[..., Runtime],
    bundle: str,
    tags_of: Tags,
) -> None:
    obj = put("reset/x.zip", bundle_zip(), {TAG: bundle})
    proxy.script(rule(DOWNLOAD, "x.zip", reset=True, times=1))
    result = run(s3_event(obj), make_runtime())
    assert result["results"][0]["status"] == "uploaded"
    assert [hit.effect for hit in proxy.hits(**DOWNLOAD)] == ["reset", "forwarded"]


# -- Writing the outcome tags ----------------------------------------------------------------


def test_tags_that_cannot_be_written_make_the_event_retried(
    proxy: FaultProxy,
    put: Callable[..., Put],
    make_runtime: Callable[..., Runtime],
    ece: EceEmulator,
    bundle: str,
    tags_of: Tags,
    function_logs: Logs,
) -> None:
    obj = put("untaggable/x.zip", bundle_zip(), {TAG: bundle})
    proxy.script(rule(WRITE_TAGS, "x.zip", status=501, code="NotImplemented", times=None))
    runtime = make_runtime()

    with pytest.raises(RetryableEventError):  # uploaded, but without tags nobody can tell
        run(s3_event(obj), runtime)

    assert ece.stored_bytes(bundle) == bundle_zip()
    assert tags_of(obj) == {TAG: bundle}
    assert [hit.effect for hit in proxy.hits(**WRITE_TAGS)] == ["error 501"]
    [error] = [line for line in function_logs() if line["level"] == "ERROR"]
    assert error["message"] == "could not write the outcome tags"
    assert (error["key"], error["reason"], error["error"]) == (
        obj.key,
        "s3.error",
        "S3 tag failed: NotImplemented",
    )
    assert log_line(function_logs, obj.key)["status"] == "uploaded"  # and it stands

    proxy.clear()  # S3 recovers; the platform delivers the event again
    run(s3_event(obj), runtime)
    assert outcome(tags_of(obj)) == ("uploaded", "ok")
