"""How ECE says no: its error replies and the network's failures as :class:`EceError` kinds.

``ece.<code>`` from a ``BasicFailedReply``, ``ece.http_<status>`` for a reply that
is not one (a proxy or WAF page), ``ece.tls``, ``ece.timeout``, ``ece.unreachable``;
each with whether a retry may help. Shared by the function's ECE client and the
command line's deployments client.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from extension_uploader import reasons

if TYPE_CHECKING:
    import requests


class EceError(Exception):
    """When ECE refused or could not be reached.

    ``reason`` is the contract's code; ``transient`` says whether the platform
    should retry; ``refused_file`` marks ECE's verdict on the file itself (the
    object is then ``rejected``, not ``failed``). ``server_message`` is ECE's own
    text, for the log only.
    """

    def __init__(
        self,
        reason: str,
        *,
        status: int | None = None,
        transient: bool = False,
        refused_file: bool = False,
        server_message: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(reason if status is None else f"{reason} (HTTP {status})")
        self.reason = reason
        self.status = status
        self.transient = transient
        self.refused_file = refused_file
        self.server_message = server_message
        self.retry_after = retry_after


def error_from_reply(reply: requests.Response) -> EceError:
    """Map an error reply: ``ece.<code>`` for a BasicFailedReply, else ``ece.http_<status>``."""
    status = reply.status_code
    code, message = failed_reply(reply)
    reason = reasons.ece_reason(code) if code else reasons.ece_http_reason(status)
    return EceError(
        reason,
        status=status,
        transient=status == 429 or status >= 500,
        refused_file=status == 400 and reason == reasons.ECE_REQUEST_EXECUTION_FAILED,
        server_message=message,
        retry_after=retry_after_seconds(reply.headers.get("Retry-After")),
    )


def failed_reply(reply: requests.Response) -> tuple[str | None, str | None]:
    if "json" not in reply.headers.get("Content-Type", ""):
        return None, None
    try:
        errors = reply.json().get("errors")
        first = errors[0]
        return str(first["code"]), str(first.get("message", ""))[:500]
    except (ValueError, AttributeError, LookupError, TypeError):
        return None, None


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds from ``Retry-After``: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    from email.utils import parsedate_to_datetime

    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


@contextmanager
def network_errors() -> Iterator[None]:
    """requests' exceptions as :class:`EceError` kinds: TLS, timeout, unreachable."""
    import requests

    try:
        yield
    except requests.exceptions.SSLError as exc:
        raise EceError(reasons.ECE_TLS, server_message=describe(exc)) from None
    except requests.exceptions.Timeout as exc:
        raise EceError(reasons.ECE_TIMEOUT, transient=True, server_message=describe(exc)) from None
    except requests.exceptions.RequestException as exc:
        raise EceError(
            reasons.ECE_UNREACHABLE, transient=True, server_message=describe(exc)
        ) from None


def describe(exc: Exception) -> str:
    # requests' messages name the URL and the underlying error, never headers.
    return f"{type(exc).__name__}: {exc}"[:300]
