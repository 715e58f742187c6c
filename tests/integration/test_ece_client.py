"""The ECE client against the emulator over real sockets: what real deployments throw at it."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from ece_uploader.emulator import EceEmulator, Fault
from ece_uploader.samples import bundle_zip
from extension_uploader import reasons
from extension_uploader.app import RetryableEventError, handle_event
from extension_uploader.credentials import parse_secret
from extension_uploader.deadline import DEFAULT_RESERVE_SECONDS, Deadline
from extension_uploader.ece import MAX_ATTEMPTS, EceClient
from extension_uploader.ece_errors import EceError
from extension_uploader.pipeline import Runtime

from .conftest import API_KEY, TAG, Put, Tags, outcome, run, s3_event
from .test_ledger import wait_for


class StaticKey:
    """Credentials without Secrets Manager, for client-only tests."""

    def __init__(self, key: str = API_KEY, ca_bundle: str | None = None) -> None:
        self.secret = json.dumps({"api_key": key} | ({"ca_bundle": ca_bundle} if ca_bundle else {}))
        self.reads = 0

    def get(self, *, refresh: bool = False) -> Any:
        self.reads += 1
        return parse_secret(self.secret)


@pytest.fixture
def zip_file(tmp_path: Path) -> Path:
    path = tmp_path / "bundle.zip"
    path.write_bytes(bundle_zip())
    return path


def test_preflight_and_upload_share_one_connection(
    ece: EceEmulator, bundle: str, zip_file: Path
) -> None:
    client = EceClient(ece.url, StaticKey())
    extension = client.get_extension(bundle, Deadline.after(60))
    assert (extension.extension_type, extension.version) == ("bundle", "*")
    client.upload(bundle, zip_file, Deadline.after(60))
    clients = {request.client for request in ece.requests}
    assert len(clients) == 1  # keep-alive: the session reused the connection


def test_multipart_request_is_what_the_spec_describes(
    ece: EceEmulator, bundle: str, zip_file: Path
) -> None:
    EceClient(ece.url, StaticKey()).upload(bundle, zip_file, Deadline.after(60))
    [put] = ece.find_requests("PUT")
    assert put.part_names == ("file",)
    assert put.content_type is not None and put.content_type.startswith("multipart/form-data")
    assert put.headers.get("content-length") and "transfer-encoding" not in put.headers
    assert not put.expect_continue
    [upload] = ece.uploads(bundle)
    assert upload.mode == "multipart" and upload.size == zip_file.stat().st_size
    assert ece.spec_violations == []


def test_raw_mode_sends_an_application_zip_body(
    put: Callable[..., Put],
    make_runtime: Callable[..., Runtime],
    ece: EceEmulator,
    bundle: str,
    tags_of: Tags,
) -> None:
    obj = put("raw.zip", bundle_zip(), {TAG: bundle})
    run(s3_event(obj), make_runtime({"UPLOAD_MODE": "raw"}))
    assert outcome(tags_of(obj)) == ("uploaded", "ok")
    [upload] = ece.uploads(bundle)
    assert upload.mode == "raw" and upload.content_type == "application/zip"
    assert ece.stored_bytes(bundle) == bundle_zip()
    [request] = ece.find_requests("PUT")
    assert request.headers.get("content-length") == str(len(bundle_zip()))


def test_key_rotation_costs_one_401_and_no_outage(
    put: Callable[..., Put],
    runtime: Runtime,
    ece: EceEmulator,
    bundle: str,
    secrets_client: Any,
    secret_id: str,
    tags_of: Tags,
) -> None:
    first = put("rot/1.zip", bundle_zip(), {TAG: bundle})
    run(s3_event(first), runtime)  # the old key is now cached in the warm container
    secrets_client.put_secret_value(
        SecretId=secret_id, SecretString=json.dumps({"api_key": "new-key"})
    )
    ece.set_api_keys({"new-key"})
    second = put("rot/2.zip", bundle_zip(), {TAG: bundle})

    run(s3_event(second), runtime)

    assert outcome(tags_of(second)) == ("uploaded", "ok")
    statuses = [request.status for request in ece.requests if request.extension_id == bundle]
    assert statuses.count(401) == 1


def test_retry_after_is_honoured(
    put: Callable[..., Put],
    make_runtime: Callable[..., Runtime],
    ece: EceEmulator,
    bundle: str,
    tags_of: Tags,
) -> None:
    waits: list[float] = []
    ece.script(Fault(status=503, retry_after=3), method="PUT", times=1)
    ece.script(Fault(status=429, retry_after=1), method="PUT", times=1)
    obj = put("retry.zip", bundle_zip(), {TAG: bundle})

    run(s3_event(obj), make_runtime(sleep=waits.append))

    assert waits == [3.0, 1.0]
    assert outcome(tags_of(obj)) == ("uploaded", "ok")
    assert len(ece.find_requests("PUT")) == 3 and len(ece.uploads(bundle)) == 1


def test_backoff_without_retry_after_is_bounded_jitter(
    ece: EceEmulator, bundle: str, zip_file: Path
) -> None:
    waits: list[float] = []
    ece.script(Fault(status=502, html="<html>bad gateway</html>"), method="PUT", times=4)
    client = EceClient(ece.url, StaticKey(), sleep=waits.append)
    client.upload(bundle, zip_file, Deadline.after(600))
    assert len(waits) == 4
    # full jitter: uniform(0, min(20, 1 s * 2**attempt)) after the attempt-th failure
    assert all(0 <= wait <= min(20, 2**n) for n, wait in enumerate(waits, start=1))
    assert len(ece.find_requests("PUT")) == 5 and len(ece.uploads(bundle)) == 1


def test_connection_reset_mid_body_is_retried_from_the_file(
    ece: EceEmulator, bundle: str, tmp_path: Path
) -> None:
    path = tmp_path / "bundle.zip"
    data = bundle_zip()
    path.write_bytes(data)
    ece.script(Fault(reset_after_bytes=100), method="PUT", times=1)
    EceClient(ece.url, StaticKey(), backoff_base_seconds=0.01).upload(
        bundle, path, Deadline.after(60)
    )
    assert len(ece.find_requests("PUT")) == 2
    assert ece.stored_bytes(bundle) == data


def test_never_answering_ece_times_out_and_is_retried_up_to_the_attempt_limit(
    ece: EceEmulator, bundle: str, zip_file: Path
) -> None:
    ece.script(Fault(hang=True), method="PUT", times=None)
    client = EceClient(ece.url, StaticKey(), timeout_seconds=0.3, backoff_base_seconds=0.01)
    with pytest.raises(EceError) as caught:
        client.upload(bundle, zip_file, Deadline.after(60))
    assert caught.value.reason == reasons.ECE_TIMEOUT and caught.value.transient
    assert len(ece.find_requests("PUT")) == MAX_ATTEMPTS


def test_never_answering_ece_times_out_within_the_deadline(
    ece: EceEmulator, bundle: str, zip_file: Path
) -> None:
    """The read timeout (ECE_TIMEOUT_SECONDS) is clipped to the time the invocation has left."""
    ece.script(Fault(hang=True), method="PUT", times=None)
    work_seconds, read_timeout = 3.0, 15.0
    client = EceClient(
        ece.url, StaticKey(), timeout_seconds=read_timeout, backoff_base_seconds=0.01
    )
    started = time.monotonic()
    with pytest.raises(EceError) as caught:
        client.upload(bundle, zip_file, Deadline.after(work_seconds, reserve_seconds=0))
    elapsed = time.monotonic() - started
    assert caught.value.reason in (reasons.ECE_TIMEOUT, reasons.LAMBDA_OUT_OF_TIME)
    assert caught.value.transient
    assert elapsed < work_seconds + 1.5, f"took {elapsed:.1f} s: the read timeout was not clipped"


class Clock:
    """An invocation's clock where the client's sleeps pass instantly but still count.

    ``remaining_ms`` is what Lambda's context would say: the budget less the real
    time spent and the time slept. ``sleep`` records each wait.
    """

    def __init__(self, budget_seconds: float) -> None:
        self._end = time.monotonic() + budget_seconds
        self.waits: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)

    def remaining_ms(self) -> int:
        return int((self._end - time.monotonic() - sum(self.waits)) * 1000)


def test_retries_never_sleep_past_the_deadline(
    ece: EceEmulator, bundle: str, zip_file: Path
) -> None:
    ece.script(Fault(status=503, retry_after=15), method="PUT", times=None)
    clock = Clock(budget_seconds=20)
    client = EceClient(ece.url, StaticKey(), sleep=clock.sleep)
    with pytest.raises(EceError) as caught:
        client.upload(bundle, zip_file, Deadline(clock.remaining_ms, reserve_seconds=0))
    assert caught.value.reason == reasons.LAMBDA_OUT_OF_TIME and caught.value.transient
    # 15 s + a 2 s attempt fit in 20 s once; a second 15 s wait would not
    assert clock.waits == [15.0]
    assert clock.remaining_ms() > 0
    assert len(ece.find_requests("PUT")) == 2


def test_out_of_time_stops_retrying_and_leaves_time_for_the_tags(
    put: Callable[..., Put],
    make_runtime: Callable[..., Runtime],
    ece: EceEmulator,
    bundle: str,
    tags_of: Tags,
) -> None:
    ece.script(Fault(status=503, retry_after=60), method="PUT", times=None)
    obj = put("late.zip", bundle_zip(), {TAG: bundle})
    clock = Clock(budget_seconds=20)  # 10 s reserve: 10 s of work, then a 60 s wait asked
    runtime = make_runtime(sleep=clock.sleep)
    with pytest.raises(RetryableEventError):
        handle_event(s3_event(obj), runtime, Deadline(clock.remaining_ms))
    assert clock.waits == []  # the 60 s wait was not taken
    assert clock.remaining_ms() / 1000 >= DEFAULT_RESERVE_SECONDS  # the reserve is intact
    assert outcome(tags_of(obj)) == ("failed", "lambda.out_of_time")
    assert len(ece.find_requests("PUT")) == 1


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        (Fault(status=403, html="<html>Forbidden by WAF</html>"), "ece.http_403"),
        (Fault(status=413, html="<html>Request Entity Too Large</html>"), "ece.http_413"),
        (Fault(status=403, code="root.unauthorized.rbac"), "ece.root.unauthorized.rbac"),
        (Fault(status=404, code="extensions.not_found"), "ece.extensions.not_found"),
    ],
)
def test_permanent_refusals_are_tagged_not_raised_nor_retried(
    fault: Fault,
    reason: str,
    put: Callable[..., Put],
    runtime: Runtime,
    ece: EceEmulator,
    bundle: str,
    tags_of: Tags,
) -> None:
    ece.script(fault, method="PUT", times=None)
    obj = put("perm.zip", bundle_zip(), {TAG: bundle})
    run(s3_event(obj), runtime)  # does not raise
    assert outcome(tags_of(obj)) == ("failed", reason)
    assert len(ece.find_requests("PUT")) == 1


def test_401_after_a_refresh_is_permanent(
    put: Callable[..., Put], runtime: Runtime, ece: EceEmulator, bundle: str, tags_of: Tags
) -> None:
    ece.set_api_keys({"someone-else"})
    obj = put("unauth.zip", bundle_zip(), {TAG: bundle})
    run(s3_event(obj), runtime)
    assert outcome(tags_of(obj)) == ("failed", "ece.root.unauthenticated")
    assert [r.status for r in ece.requests] == [401, 401]


def test_error_message_goes_to_the_log_not_the_tags(
    put: Callable[..., Put],
    runtime: Runtime,
    ece: EceEmulator,
    bundle: str,
    tags_of: Tags,
    function_logs: Callable[[], list[dict[str, Any]]],
) -> None:
    ece.script(
        Fault(status=400, code="extensions.request_execution_failed", message="Bad CEN"),
        method="PUT",
    )
    obj = put("refused.zip", bundle_zip(), {TAG: bundle})
    run(s3_event(obj), runtime)
    tags = tags_of(obj)
    assert outcome(tags) == ("rejected", "ece.extensions.request_execution_failed")
    assert "Bad CEN" not in json.dumps(tags)
    [line] = [line for line in function_logs() if line.get("key") == "refused.zip"]
    assert line["detail"] == "Bad CEN"


@pytest.fixture
def tls_ece() -> Iterator[EceEmulator]:
    emulator = EceEmulator(api_keys={API_KEY}, tls=True)
    emulator.start()
    try:
        yield emulator
        assert emulator.spec_violations == []
    finally:
        emulator.stop()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, ("failed", "ece.tls")),
        ({"ECE_CA_BUNDLE": "<ca>"}, ("uploaded", "ok")),
        ({"ECE_TLS_VERIFY": "false"}, ("uploaded", "ok")),
    ],
)
def test_self_signed_ece_needs_a_ca_bundle_or_verify_off(
    env: dict[str, str],
    expected: tuple[str, str],
    tls_ece: EceEmulator,
    put: Callable[..., Put],
    make_runtime: Callable[..., Runtime],
    tags_of: Tags,
) -> None:
    extension = str(
        tls_ece.create_extension(name="tls", extension_type="bundle", version="*")["id"]
    )
    env = {
        key: str(tls_ece.ca_bundle_path) if value == "<ca>" else value for key, value in env.items()
    }
    obj = put("tls.zip", bundle_zip(), {TAG: extension})
    run(s3_event(obj), make_runtime({"ECE_API_URL": tls_ece.url, **env}))
    assert outcome(tags_of(obj)) == expected
    assert tls_ece.url.startswith("https://")


def test_ca_bundle_from_the_secret(
    tls_ece: EceEmulator,
    put: Callable[..., Put],
    make_runtime: Callable[..., Runtime],
    secrets_client: Any,
    secret_id: str,
    tags_of: Tags,
) -> None:
    secrets_client.put_secret_value(
        SecretId=secret_id,
        SecretString=json.dumps({"api_key": API_KEY, "ca_bundle": tls_ece.ca_pem}),
    )
    extension = str(
        tls_ece.create_extension(name="tls", extension_type="bundle", version="*")["id"]
    )
    obj = put("tls-secret.zip", bundle_zip(), {TAG: extension})
    run(s3_event(obj), make_runtime({"ECE_API_URL": tls_ece.url}))
    assert outcome(tags_of(obj)) == ("uploaded", "ok")


def test_verify_off_warns_at_every_cold_start(
    make_runtime: Callable[..., Runtime], function_logs: Callable[[], list[dict[str, Any]]]
) -> None:
    make_runtime({"ECE_TLS_VERIFY": "false"})
    make_runtime({"ECE_TLS_VERIFY": "false"})
    warnings = [line["message"] for line in function_logs() if line["level"] == "WARNING"]
    assert len([text for text in warnings if "ECE_TLS_VERIFY" in text]) == 2


def test_basic_auth_secret(
    put: Callable[..., Put],
    make_runtime: Callable[..., Runtime],
    ece: EceEmulator,
    secrets_client: Any,
    bundle: str,
    tags_of: Tags,
) -> None:
    ece.set_basic_users({"admin": "s3cret pw"})
    name = f"ece/basic-{bundle}"
    secrets_client.create_secret(
        Name=name, SecretString=json.dumps({"username": "admin", "password": "s3cret pw"})
    )
    obj = put("basic.zip", bundle_zip(), {TAG: bundle})
    run(s3_event(obj), make_runtime({"ECE_SECRET_ID": name}))
    assert outcome(tags_of(obj)) == ("uploaded", "ok")
    assert {request.auth_scheme for request in ece.requests} == {"Basic"}


@pytest.mark.parametrize("bad_id", ["../users", "a/b", "x?y", "%2e%2e", "..", "a b"])
def test_client_refuses_ids_that_would_change_the_path(
    bad_id: str, ece: EceEmulator, zip_file: Path
) -> None:
    client = EceClient(ece.url, StaticKey())
    with pytest.raises(EceError) as caught:
        client.upload(bad_id, zip_file, Deadline.after(60))
    assert caught.value.reason == reasons.TAG_INVALID_EXTENSION_ID
    assert ece.requests == []


def test_a_file_ece_cut_short_once_is_sent_again_within_the_invocation(
    put: Callable[..., Put], runtime: Runtime, ece: EceEmulator, bundle: str, tags_of: Tags
) -> None:
    ece.script(Fault(keep_bytes=100), method="PUT")
    obj = put("cut.zip", bundle_zip(), {TAG: bundle})
    run(s3_event(obj), runtime)
    assert outcome(tags_of(obj)) == ("uploaded", "ok")
    assert [upload.size for upload in ece.uploads(bundle)] == [100, len(bundle_zip())]
    assert ece.stored_bytes(bundle) == bundle_zip()
    assert runtime.ledger.read(bundle).attention is None


def test_a_file_ece_keeps_cutting_short_fails_transiently_and_needs_attention(
    put: Callable[..., Put],
    runtime: Runtime,
    ece: EceEmulator,
    bundle: str,
    tags_of: Tags,
    function_logs: Callable[[], list[dict[str, Any]]],
) -> None:
    ece.script(Fault(keep_bytes=100), method="PUT", times=None)
    obj = put("cut.zip", bundle_zip(), {TAG: bundle})
    with pytest.raises(RetryableEventError):  # the platform tries again later
        run(s3_event(obj), runtime)
    assert outcome(tags_of(obj)) == ("failed", "ece.size_mismatch")
    assert len(ece.uploads(bundle)) == 2
    cut = f"ECE stored 100 bytes of {len(bundle_zip())} sent"
    [line] = [line for line in function_logs() if line.get("key") == "cut.zip"]
    assert line["detail"] == f"twice: {cut}"
    record = runtime.ledger.read(bundle)
    assert record.attention is not None and record.attention["reason"] == "ece.size_mismatch"
    assert record.attention["detail"] == f"{cut}; then ece.size_mismatch (HTTP 200)"
    assert record.live is None and record.lease_owner is None

    ece.clear_faults()  # the platform's retry, once ECE behaves
    run(s3_event(obj), runtime)
    assert outcome(tags_of(obj)) == ("uploaded", "ok")
    assert ece.stored_bytes(bundle) == bundle_zip()
    assert runtime.ledger.read(bundle).attention is None


def test_a_newer_version_written_during_a_cut_upload_stops_the_second_send(
    put: Callable[..., Put],
    runtime: Runtime,
    ece: EceEmulator,
    bundle: str,
    tags_of: Tags,
) -> None:
    """The second send of a cut file is checked like any attempt: still the newest?"""
    ece.script(Fault(keep_bytes=100, delay=1.0), method="PUT")
    old = put("cut-then-new.zip", bundle_zip(), {TAG: bundle})
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(run, s3_event(old), runtime)
        wait_for(lambda: len(ece.find_requests("PUT")) == 1)
        put("cut-then-new.zip", bundle_zip() + b"", {TAG: bundle})  # while ECE cuts the old one
        result = first.result()

    assert (result["results"][0]["status"], result["results"][0]["reason"]) == (
        "skipped",
        "upload.superseded",
    )
    assert [upload.size for upload in ece.uploads(bundle)] == [100]  # no second send
    assert outcome(tags_of(old)) == ("skipped", "upload.superseded")


def test_an_error_without_a_message_from_ece_is_logged_by_its_reason(
    put: Callable[..., Put],
    make_runtime: Callable[..., Runtime],
    ece: EceEmulator,
    bundle: str,
    function_logs: Callable[[], list[dict[str, Any]]],
) -> None:
    ece.script(Fault(status=502, html="<html>Bad Gateway</html>"), method="PUT", times=None)
    obj = put("silent.zip", bundle_zip(), {TAG: bundle})
    with pytest.raises(RetryableEventError):
        run(s3_event(obj), make_runtime())
    [line] = [line for line in function_logs() if line.get("key") == "silent.zip"]
    assert (line["status"], line["reason"]) == ("failed", "ece.http_502")
    assert line["detail"] == "ece.http_502 (HTTP 502)"


class _SizeReportingEce(BaseHTTPRequestHandler):
    """An ECE that takes any upload and reports ``file_metadata.size`` as scripted."""

    protocol_version = "HTTP/1.1"
    reported_size = 0

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_PUT(self) -> None:
        remaining = int(self.headers.get("Content-Length") or 0)
        while remaining > 0:
            remaining -= len(self.rfile.read(min(remaining, 65536)))
        extension_id = self.path.rsplit("/", 1)[-1]
        body = json.dumps(
            {
                "id": extension_id,
                "name": "sized",
                "extension_type": "bundle",
                "version": "*",
                "url": f"http://127.0.0.1/{extension_id}",
                "file_metadata": {
                    "size": self.reported_size,
                    "url": f"http://127.0.0.1/files/{extension_id}.zip",
                    "last_modified_date": "2026-11-28T09:15:00.123Z",
                },
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def sized_ece() -> Iterator[tuple[str, type[_SizeReportingEce]]]:
    handler = type("Handler", (_SizeReportingEce,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.mark.parametrize("difference", [-1, +1, +1000])
def test_ece_reporting_another_size_than_sent_is_a_size_mismatch(
    difference: int, sized_ece: tuple[str, type[_SizeReportingEce]], zip_file: Path
) -> None:
    url, handler = sized_ece
    sent = zip_file.stat().st_size
    client = EceClient(url, StaticKey())
    handler.reported_size = sent
    assert client.upload("4242", zip_file, Deadline.after(60)).file_size == sent
    handler.reported_size = sent + difference
    with pytest.raises(EceError) as caught:
        client.upload("4242", zip_file, Deadline.after(60))
    assert caught.value.reason == reasons.ECE_SIZE_MISMATCH
    assert caught.value.server_message == f"ECE stored {sent + difference} bytes of {sent} sent"


def test_ece_500_is_transient_and_left_to_the_platform(
    put: Callable[..., Put], runtime: Runtime, ece: EceEmulator, bundle: str, tags_of: Tags
) -> None:
    ece.script(Fault(status=500), method="PUT")
    obj = put("boom.zip", bundle_zip(), {TAG: bundle})
    with pytest.raises(RetryableEventError):
        run(s3_event(obj), runtime)
    assert outcome(tags_of(obj)) == ("failed", "ece.root.internal_server_error")
    assert len(ece.find_requests("PUT")) == 1  # not retried in-process: the platform retries


class RunsOut:
    """Remaining time that is plentiful for the first ``calls`` looks, then gone."""

    def __init__(self, calls: int) -> None:
        self.calls = calls

    def __call__(self) -> int:
        self.calls -= 1
        return 60_000 if self.calls >= 0 else 0


@pytest.mark.parametrize("mode", ["multipart", "raw"])
def test_a_send_that_would_outlive_the_invocation_is_stopped(
    mode: str, ece: EceEmulator, bundle: str, tmp_path: Path
) -> None:
    path = tmp_path / "big.zip"
    # a body sent in many reads (the client reads the file 1 MiB at a time)
    path.write_bytes(bundle_zip() + b"\0" * (64 * 1024 * 1024))
    client = EceClient(ece.url, StaticKey(), upload_mode=mode)  # type: ignore[arg-type]
    with pytest.raises(EceError) as caught:
        client.upload(bundle, path, Deadline(RunsOut(calls=40), reserve_seconds=0))
    assert caught.value.reason == reasons.LAMBDA_OUT_OF_TIME and caught.value.transient
    assert ece.uploads(bundle) == []  # ECE never got a whole file
    EceClient(ece.url, StaticKey(), upload_mode=mode).upload(  # type: ignore[arg-type]
        bundle, path, Deadline.after(60)
    )
    assert ece.stored_bytes(bundle) == path.read_bytes()


def test_secret_cache_age_follows_powertools_setting(
    put: Callable[..., Put],
    runtime: Runtime,
    ece: EceEmulator,
    bundle: str,
    secrets_client: Any,
    secret_id: str,
    tags_of: Tags,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POWERTOOLS_PARAMETERS_MAX_AGE", "0")  # no caching at all
    run(s3_event(put("age/1.zip", bundle_zip(), {TAG: bundle})), runtime)
    secrets_client.put_secret_value(SecretId=secret_id, SecretString="rotated-key")
    ece.set_api_keys({"rotated-key"})
    second = put("age/2.zip", bundle_zip(), {TAG: bundle})
    run(s3_event(second), runtime)
    assert outcome(tags_of(second)) == ("uploaded", "ok")
    assert 401 not in [request.status for request in ece.requests]  # read afresh, not refreshed
