"""HTTP/1.1 plumbing: a threaded server with keep-alive, TLS and abrupt endings.

The standard library's :class:`http.server.BaseHTTPRequestHandler` does the
parsing; :class:`Exchange` gives the server's handler (any ``Callable[[Exchange],
None]``: this module knows nothing of what answers) one request to read and answer
(or to reset or hold, for fault injection). Each connection gets a thread; the
TLS handshake happens there too, so a slow client never blocks the accept loop.
``Expect: 100-continue`` is answered lazily: ``100 Continue`` goes out when the
application first reads the body, so a request refused before that is answered
without the client sending its body.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import ssl
import struct
import threading
from collections.abc import Callable, Iterator, Mapping
from http.server import BaseHTTPRequestHandler, HTTPServer
from socketserver import TCPServer, ThreadingMixIn
from typing import TYPE_CHECKING, Any, BinaryIO, cast
from urllib.parse import parse_qs, urlsplit

from . import replies
from .body import BodyError, RequestBody

if TYPE_CHECKING:
    from socketserver import _RequestType

_LOG = logging.getLogger(__name__)

IDLE_TIMEOUT_SECONDS = 120.0
HANDSHAKE_TIMEOUT_SECONDS = 10.0
HOLD_POLL_SECONDS = 0.05
STREAM_CHUNK_BYTES = 1024 * 1024
_REDACTED_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})


class Exchange:
    """One request and the means to answer it."""

    def __init__(self, handler: EmulatorHandler) -> None:
        self._handler = handler
        url = urlsplit(handler.path)
        self.method: str = handler.command
        self.path: str = url.path
        self.query: dict[str, list[str]] = parse_qs(url.query, keep_blank_values=True)
        self.client = "{}:{}".format(*handler.client_address[:2])
        self.expect_continue = (
            handler.headers.get("Expect", "").strip().lower() == "100-continue"
            and handler.request_version >= "HTTP/1.1"
        )
        self.answered = False
        self.abandoned = False
        self.keep_bytes: int | None = None  # a "truncate" fault: store only this much
        self.body = RequestBody(
            cast(BinaryIO, handler.rfile),
            content_length=_content_length(handler.headers.get("Content-Length")),
            chunked=_is_chunked(handler.headers.get("Transfer-Encoding")),
            on_first_read=self._send_continue if self.expect_continue else None,
        )

    def header(self, name: str) -> str | None:
        value = self._handler.headers.get(name)
        return None if value is None else str(value)

    def loggable_headers(self) -> dict[str, str]:
        """Request headers by lower-case name, credentials left out."""
        headers: dict[str, str] = {}
        for name, value in self._handler.headers.items():
            key = name.lower()
            if key not in _REDACTED_HEADERS:
                headers[key] = f"{headers[key]}, {value}" if key in headers else str(value)
        return headers

    @property
    def expect_pending(self) -> bool:
        """The client awaits ``100 Continue`` before it sends the body."""
        return self.expect_continue and not self.body.started and not self.body.finished

    def settle_body(self) -> None:
        """Read what is left of the body, unless the client still waits to send it."""
        if not self.expect_pending:
            self.body.drain()

    def respond(
        self,
        status: int,
        payload: bytes,
        *,
        content_type: str | None,
        headers: Mapping[str, str] | None = None,
        close: bool = False,
    ) -> None:
        self._start(status, len(payload), content_type, headers, close=close)
        if self.method != "HEAD":
            self._handler.wfile.write(payload)

    def respond_stream(
        self,
        status: int,
        stream: BinaryIO,
        size: int,
        *,
        content_type: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self._start(status, size, content_type, headers, close=False)
        if self.method != "HEAD":
            while chunk := stream.read(STREAM_CHUNK_BYTES):
                self._handler.wfile.write(chunk)

    def reset(self) -> None:
        """Close the connection abruptly (TCP RST), never answering."""
        self.abandoned = True
        handler = self._handler
        handler.close_connection = True
        sock = handler.connection
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        handler.rfile.close()
        sock.close()

    def hold(self, stopping: threading.Event) -> None:
        """Never answer: return when the client closes or the server stops."""
        self.abandoned = True
        self._handler.close_connection = True
        sock = self._handler.connection
        with contextlib.suppress(OSError):
            sock.settimeout(HOLD_POLL_SECONDS)
        while not stopping.wait(HOLD_POLL_SECONDS):
            if _peer_closed(sock):
                return

    def _start(
        self,
        status: int,
        length: int,
        content_type: str | None,
        headers: Mapping[str, str] | None,
        *,
        close: bool,
    ) -> None:
        handler = self._handler
        # A client still waiting for 100 Continue may or may not send its body
        # now: the connection cannot carry another request.
        close = close or self.expect_pending or not self.body.finished
        handler.send_response(status)
        if content_type is not None:
            handler.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(length))
        if close:
            handler.send_header("Connection", "close")
        handler.end_headers()
        self.answered = True

    def _send_continue(self) -> None:
        self._handler.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")


# What the server calls with each request; it must answer, reset or hold it.
Handler = Callable[[Exchange], None]


def _content_length(value: str | None) -> int | None:
    if value is None:
        return None
    text = value.strip()
    if not text.isdigit():
        raise BodyError(f"bad Content-Length {value!r}")
    return int(text)


def _is_chunked(value: str | None) -> bool:
    if not value:
        return False
    codings = [c.strip().lower() for c in value.split(",") if c.strip()]
    if codings != ["chunked"]:
        raise BodyError(f"unsupported Transfer-Encoding {value!r}")
    return True


def _peer_closed(sock: socket.socket) -> bool:
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return False
        return sock.recv(4096) == b""
    except (TimeoutError, ssl.SSLWantReadError):
        return False
    except (OSError, ValueError):
        return True


class EmulatorHandler(BaseHTTPRequestHandler):
    """Hands every request of a connection to the server's handler."""

    protocol_version = "HTTP/1.1"
    server_version = "ece-emulator"
    sys_version = ""
    timeout = IDLE_TIMEOUT_SECONDS
    disable_nagle_algorithm = True

    def version_string(self) -> str:
        return self.server_version

    def handle_expect_100(self) -> bool:
        # Deferred: Exchange sends 100 Continue when the body is first read.
        return True

    def __getattr__(self, name: str) -> Any:
        # Every method goes to the application, which answers 405 where the
        # spec has no such operation.
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Malformed requests (bad request line, huge headers): JSON, not HTML."""
        # Unparsed requests count as HTTP/0.9, which would drop the status line.
        self.request_version = "HTTP/1.0"
        text = message or explain or "The request could not be parsed"
        self._send_failure(code, replies.INVALID_DATA, text)

    def log_message(self, format: str, *args: Any) -> None:
        _LOG.debug("%s %s", self.address_string(), format % args)

    def _serve(self) -> None:
        server = cast(EmulatorServer, self.server)
        exchange: Exchange | None = None
        try:
            exchange = Exchange(self)
            server.handler(exchange)
        except BodyError as exc:
            _LOG.debug("unreadable request body: %s", exc)
            self._refuse(exchange)
        except OSError as exc:
            _LOG.debug("connection error: %s", exc)
            self.close_connection = True
        except Exception:
            _LOG.exception("emulator failure on %s %s", self.command, self.path)
            self._refuse(exchange, status=500)
        if exchange is not None and not exchange.answered and not exchange.abandoned:
            self._refuse(exchange, status=500)

    def _refuse(self, exchange: Exchange | None, status: int = 400) -> None:
        self.close_connection = True
        if exchange is not None and (exchange.answered or exchange.abandoned):
            return
        code = replies.INVALID_DATA if status < 500 else replies.INTERNAL_ERROR
        self._send_failure(status, code, "The request could not be processed")
        if exchange is not None:
            exchange.answered = True

    def _send_failure(self, status: int, code: str, message: str) -> None:
        """A BasicFailedReply, then the connection closes."""
        self.close_connection = True
        payload = replies.json_bytes(replies.failed_reply(code, message))
        with contextlib.suppress(OSError):
            self.send_response(status)
            self.send_header("Content-Type", replies.JSON_TYPE)
            self.send_header(replies.ERROR_CODES_HEADER, code)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(payload)


class EmulatorServer(ThreadingMixIn, HTTPServer):
    """A thread per connection; tracks connections so that stopping is prompt."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        handler: Handler,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.handler = handler
        self.ssl_context = ssl_context
        self._connections: set[socket.socket] = set()
        self._idle = threading.Condition()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, EmulatorHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks the host name up (getfqdn), which can be slow.
        TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def finish_request(self, request: _RequestType, client_address: Any) -> None:
        connection = cast(socket.socket, request)
        if self.ssl_context is not None:
            try:
                connection.settimeout(HANDSHAKE_TIMEOUT_SECONDS)
                connection = self.ssl_context.wrap_socket(connection, server_side=True)
            except (OSError, ValueError) as exc:
                _LOG.debug("TLS handshake failed: %s", exc)
                return
        with self._tracked(connection):
            EmulatorHandler(connection, client_address, self)
        if connection is not request:
            connection.close()

    def handle_error(self, request: _RequestType, client_address: Any) -> None:
        _LOG.debug("connection from %s ended with an error", client_address, exc_info=True)

    def close_connections(self) -> None:
        """Shut every open connection down, waking the threads that serve them."""
        with self._idle:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                # The plain socket method: TLS state is no concern any more.
                socket.socket.shutdown(connection, socket.SHUT_RDWR)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no connection is being served; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._connections, timeout)

    @contextlib.contextmanager
    def _tracked(self, connection: socket.socket) -> Iterator[None]:
        with self._idle:
            self._connections.add(connection)
        try:
            yield
        finally:
            with self._idle:
                self._connections.discard(connection)
                self._idle.notify_all()
