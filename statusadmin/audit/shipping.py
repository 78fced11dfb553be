"""Send each checkpoint off the server too: to a syslog collector and/or an HTTP endpoint.

A copy that sits where the database's administrators can't reach is what makes a cut tail or a
rewritten chain show even if they also rewrite the checkpoint file. Sending never stops the
checkpoint: the file is written first, and a failure here is reported, not raised.

Reports name a destination without its credentials or query and a failure by its kind (an
exception's class, an HTTP status), never by the exception's text, which can quote a URL.
"""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import requests
from django.conf import settings

logger = logging.getLogger(__name__)

# RFC 5424: facility 13 (log audit), severity 5 (notice).
_PRIORITY = 13 * 8 + 5


@dataclass(frozen=True, slots=True)
class Shipped:
    destination: str
    error: str = ""  # empty: delivered


def ship(line: str) -> list[Shipped]:
    """Send a checkpoint's JSON line to every configured destination."""
    results = []
    if settings.AUDIT_CHECKPOINT_SYSLOG:
        results.append(_attempt(_syslog_name(), _send_syslog, line))
    if settings.AUDIT_CHECKPOINT_URL:
        results.append(_attempt(_url_name(settings.AUDIT_CHECKPOINT_URL), _send_http, line))
    return results


def _attempt(destination: str, send, line: str) -> Shipped:  # type: ignore[no-untyped-def]
    try:
        send(line)
    except (OSError, ValueError, requests.RequestException, _Refused) as exc:
        error = str(exc) if isinstance(exc, _Refused) else type(exc).__name__
        logger.warning("audit checkpoint not sent to %s: %s", destination, error)
        return Shipped(destination, error)
    return Shipped(destination)


class _Refused(Exception):
    """The endpoint answered, but not with success; the text is ours and safe to show."""


def _syslog_target() -> tuple[str, str, int]:
    """(transport, host, port) from "udp://host:port", "tcp://host:port" or "host:port"."""
    value = settings.AUDIT_CHECKPOINT_SYSLOG
    parts = urlsplit(value if "://" in value else f"udp://{value}")
    if parts.scheme not in ("udp", "tcp") or not parts.hostname or not parts.port:
        raise ValueError("AUDIT_CHECKPOINT_SYSLOG must be udp://host:port or tcp://host:port")
    return parts.scheme, parts.hostname, parts.port


def _syslog_name() -> str:
    try:
        transport, host, port = _syslog_target()
    except ValueError:
        return "syslog (AUDIT_CHECKPOINT_SYSLOG is not udp://host:port or tcp://host:port)"
    return f"syslog {transport}://{host}:{port}"


def _send_syslog(line: str) -> None:
    # By hand rather than logging.handlers.SysLogHandler: that handler has no timeout and
    # reports a failed send only to stderr, while a lost checkpoint must be reported here.
    transport, host, port = _syslog_target()
    stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    message = (
        f"<{_PRIORITY}>1 {stamp} {socket.gethostname() or '-'} statusadmin - "
        f"audit-checkpoint - {line}"
    ).encode()
    timeout = settings.AUDIT_CHECKPOINT_TIMEOUT
    if transport == "udp":
        family = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
        with socket.socket(family[0], socket.SOCK_DGRAM) as sock:
            sock.settimeout(timeout)
            sock.sendto(message, family[4])
        return
    # TCP syslog frames each message with its length (RFC 6587, octet counting).
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(f"{len(message)} ".encode() + message)


def _url_name(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def _send_http(line: str) -> None:
    headers = {"Content-Type": "application/json"}
    if settings.AUDIT_CHECKPOINT_URL_TOKEN:
        headers["Authorization"] = f"Bearer {settings.AUDIT_CHECKPOINT_URL_TOKEN}"
    # No redirects: a redirect would carry the checkpoint (and the token) somewhere else.
    response = requests.post(
        settings.AUDIT_CHECKPOINT_URL,
        data=line.encode(),
        headers=headers,
        timeout=settings.AUDIT_CHECKPOINT_TIMEOUT,
        allow_redirects=False,
    )
    if not 200 <= response.status_code < 300:
        what = "a redirect, not followed" if response.is_redirect else "not a success"
        raise _Refused(f"HTTP {response.status_code} ({what})")
