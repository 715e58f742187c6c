"""A fault-injecting HTTP proxy on loopback, for what moto cannot do: fail.

It sits between the function's S3 client and moto in server mode and forwards
every request as it is, unless a scripted :class:`Rule` matches it; then it
answers an S3 XML error with a status, sends the real reply cut short after some
bytes of its body, or resets the connection. Real sockets, one thread per
connection (at most ``max_connections`` at a time), bounded bodies and socket
timeouts so a test can never hang on it.

Usage::

    with FaultProxy(upstream="http://127.0.0.1:5000") as proxy:
        proxy.script(Rule(method="PUT", query="tagging", status=503, code="SlowDown"))
        ...  # point AWS_ENDPOINT_URL_S3 at proxy.url
        assert proxy.hits(method="PUT", query="tagging") == 4
"""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import socket
import struct
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self
from urllib.parse import urlsplit

MAX_BODY_BYTES = 64 * 1024 * 1024
SOCKET_TIMEOUT_SECONDS = 15.0
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
}


@dataclass
class Rule:
    """What to do to the requests it matches.

    Matching: ``method`` (exact, or None for any), ``path`` (a regular expression
    searched in the path, without the query), ``query`` (a parameter name that
    must be in the query, e.g. ``tagging``; ``""`` means no query at all; None:
    anything), ``without`` (a parameter name that must not be in the query),
    ``operation`` (a JSON-protocol request's operation, from ``X-Amz-Target``, e.g.
    DynamoDB's ``UpdateItem``; its error reply is then JSON, as those services send).
    ``times``: how many requests it applies to, None for every matching one.

    Effect, one of: ``status`` (an S3 XML error with ``code``; no body for HEAD,
    as S3 does), ``cut_after`` (forward, then send only that many bytes of the
    reply's body and close), ``reset`` (TCP RST: before any reply, or after
    ``cut_after`` bytes of the body when both are set).
    """

    method: str | None = None
    path: str | None = None
    query: str | None = None
    without: str | None = None
    operation: str | None = None
    times: int | None = 1
    status: int | None = None
    code: str = "InternalError"
    cut_after: int | None = None
    reset: bool = False
    used: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.status is None and self.cut_after is None and not self.reset:
            raise ValueError("a rule needs an effect: status, cut_after or reset")

    def matches(self, method: str, path: str, query: str, operation: str = "") -> bool:
        if self.times is not None and self.used >= self.times:
            return False
        if self.method is not None and method != self.method:
            return False
        if self.operation is not None and operation != self.operation:
            return False
        if self.path is not None and not re.search(self.path, path):
            return False
        names = {part.split("=", 1)[0] for part in query.split("&") if part}
        if self.query is not None:
            if self.query == "" and names:
                return False
            if self.query and self.query not in names:
                return False
        return self.without is None or self.without not in names


@dataclass(frozen=True)
class Hit:
    method: str
    path: str
    query: str
    effect: str  # "forwarded", "error 503", "cut 1000", "reset"


class FaultProxy:
    def __init__(self, upstream: str, max_connections: int = 16) -> None:
        parts = urlsplit(upstream)
        assert parts.scheme == "http" and parts.hostname, "plain http upstreams only"
        self._upstream = (parts.hostname, parts.port or 80)
        self._rules: list[Rule] = []
        self._hits: list[Hit] = []
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max_connections)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def script(self, rule: Rule) -> Rule:
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def hits(
        self,
        method: str | None = None,
        path: str | None = None,
        query: str | None = None,
        without: str | None = None,
    ) -> list[Hit]:
        """Requests seen, filtered the way a :class:`Rule` matches (``times`` aside)."""
        probe = Rule(method=method, path=path, query=query, without=without, times=None, reset=True)
        with self._lock:
            return [hit for hit in self._hits if probe.matches(hit.method, hit.path, hit.query)]

    def _take_rule(self, method: str, path: str, query: str, operation: str) -> Rule | None:
        with self._lock:
            for rule in self._rules:
                if rule.matches(method, path, query, operation):
                    rule.used += 1
                    return rule
        return None

    def _record(self, hit: Hit) -> None:
        with self._lock:
            self._hits.append(hit)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = SOCKET_TIMEOUT_SECONDS

            def log_message(self, format: str, *args: object) -> None:
                pass  # quiet: the hits are the log

            def handle_one_request(self) -> None:
                with proxy._slots:
                    super().handle_one_request()

            def do_GET(self) -> None:
                self._proxy()

            do_HEAD = do_PUT = do_POST = do_DELETE = do_GET

            def _read_body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks: list[bytes] = []
                    total = 0
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        total += size
                        if total > MAX_BODY_BYTES:
                            raise ValueError("request body too large")
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY_BYTES:
                    raise ValueError("request body too large")
                return self.rfile.read(length) if length else b""

            def _proxy(self) -> None:
                path, _, query = self.path.partition("?")
                body = self._read_body()
                rule = proxy._take_rule(self.command, path, query, self._operation())
                if rule is not None and rule.status is not None:
                    proxy._record(Hit(self.command, path, query, f"error {rule.status}"))
                    self._send_error_reply(rule)
                    return
                if rule is not None and rule.reset and rule.cut_after is None:
                    proxy._record(Hit(self.command, path, query, "reset"))
                    self._reset()
                    return
                status, reason, headers, data = self._forward(body)
                if rule is None:
                    proxy._record(Hit(self.command, path, query, "forwarded"))
                    self._relay(status, reason, headers, data)
                    return
                assert rule.cut_after is not None
                proxy._record(Hit(self.command, path, query, f"cut {rule.cut_after}"))
                self._relay(status, reason, headers, data[: rule.cut_after], full=len(data))
                if rule.reset:
                    self._reset()
                else:
                    self.close_connection = True
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_WR)

            def _forward(self, body: bytes) -> tuple[int, str, list[tuple[str, str]], bytes]:
                upstream = http.client.HTTPConnection(
                    *proxy._upstream, timeout=SOCKET_TIMEOUT_SECONDS
                )
                try:
                    headers = {
                        name: value
                        for name, value in self.headers.items()
                        if name.lower() not in _HOP_BY_HOP
                    }
                    if body or self.command in ("PUT", "POST"):
                        headers["Content-Length"] = str(len(body))
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    reply = upstream.getresponse()
                    data = reply.read(MAX_BODY_BYTES + 1)
                    if len(data) > MAX_BODY_BYTES:
                        raise ValueError("reply body too large")
                    kept = [
                        (name, value)
                        for name, value in reply.getheaders()
                        if name.lower() not in _HOP_BY_HOP
                    ]
                    return reply.status, reply.reason, kept, data
                finally:
                    upstream.close()

            def _relay(
                self,
                status: int,
                reason: str,
                headers: list[tuple[str, str]],
                data: bytes,
                full: int | None = None,
            ) -> None:
                self.send_response_only(status, reason)
                for name, value in headers:
                    if name.lower() != "content-length" or self.command == "HEAD":
                        self.send_header(name, value)  # HEAD: the object's length, as S3 sent it
                if self.command != "HEAD":
                    self.send_header("Content-Length", str(len(data) if full is None else full))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                self.wfile.flush()

            def _operation(self) -> str:
                """The operation of a JSON-protocol request (DynamoDB's ``UpdateItem``...)."""
                return self.headers.get("X-Amz-Target", "").rpartition(".")[2]

            def _send_error_reply(self, rule: Rule) -> None:
                assert rule.status is not None
                if self._operation():  # a JSON-protocol service answers in JSON
                    kind = "application/x-amz-json-1.0"
                    body = json.dumps({"__type": rule.code, "message": "scripted fault"}).encode()
                else:
                    kind = "application/xml"
                    body = (
                        '<?xml version="1.0" encoding="UTF-8"?>\n'
                        f"<Error><Code>{rule.code}</Code><Message>scripted fault</Message>"
                        "<RequestId>FAULTPROXY</RequestId></Error>"
                    ).encode()
                self.send_response_only(rule.status)
                self.send_header("Content-Type", kind)
                self.send_header("x-amz-request-id", "FAULTPROXY")
                length = 0 if self.command == "HEAD" else len(body)
                self.send_header("Content-Length", str(length))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)
                self.wfile.flush()

            def _reset(self) -> None:
                """Close with SO_LINGER 0: the peer sees a TCP RST, not an orderly end."""
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.wfile.flush()
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                # The descriptor closes when its last user does: the buffered files first.
                self.rfile.close()
                self.wfile.close()
                self.connection.close()

        return Handler
