"""An emulator of Convoso's Status API, for running the dashboard with no Convoso account.

It follows the documented contract (convoso-status-api.txt and convoso-api-notes.md): the same
validation in the same order, the same error codes and texts, custom-only updates, duplicate
codes, and the documented response shapes. Its state lives in the database (SandboxStatus), so
changes survive restarts and every worker process sees the same account.

Two transports reach it, and the client's code is the same for both:
- ``SandboxAdapter``, a requests adapter mounted on the sandbox base URL (in-process);
- ``SandboxServer``, a real HTTP server (``manage.py convoso_sandbox --port 8765``).
Faults can be switched on (``manage.py convoso_sandbox_fault``) to see every failure for real.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from http.client import RemoteDisconnected
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests
from django.db import IntegrityError, connections, transaction
from django.db.models import F, Q
from requests import PreparedRequest, Response
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.exceptions import ProtocolError

from . import errors
from .models import SandboxFault, SandboxStatus
from .status import FLAGS
from .validation import CODE_RE, HEX_RE

logger = logging.getLogger(__name__)

SANDBOX_TOKEN = "sandbox-token"  # noqa: S105 - not a secret: the emulator's fixed token
# Each token "sandbox-token-<name>" is an emulated account of its own (its tenant), so that
# several Convoso accounts can be tried side by side with no real one.
_TENANT_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,23}")


def tenant_of(token: str | None, default: str = SANDBOX_TOKEN) -> str | None:
    """The emulated account a token opens ("" for the default token), or None: refused."""
    if token == default:
        return ""
    if token and token.startswith(default + "-"):
        name = token[len(default) + 1 :]
        return name if _TENANT_RE.fullmatch(name) else None
    return None


def token_for(tenant: str) -> str:
    return f"{SANDBOX_TOKEN}-{tenant}" if tenant else SANDBOX_TOKEN


# The ten standard statuses of the reference's "Common Status Codes" table, as system statuses,
# with the full flag sets from its "Standard Status Examples" where it gives them.
#            code, name, final reached success dnc callback contact voicemail, colour, workflow
SYSTEM_STATUSES: list[tuple[str, str, str, str, str]] = [
    ("COMP", "Completed", "YYYNNYN", "00AA00", "sale"),
    ("SALE", "Sale", "YYYNNYN", "00AA00", "sale"),
    ("NA", "No Answer", "NNNNYNN", "FFAA00", ""),
    ("BUSY", "Busy", "NNNNYNN", "FFAA00", ""),
    ("AM", "Answering Machine", "NNNNYNY", "0000FF", ""),
    ("DNC", "Do Not Call", "YYNYNYN", "FF0000", ""),
    ("WN", "Wrong Number", "YNNNNNN", "FF0000", ""),
    ("INVALID", "Invalid", "YNNNNNN", "888888", ""),
    ("INTERESTED", "Interested", "NYYNYYN", "0000FF", ""),
    ("NOTINT", "Not Interested", "YYNNNYN", "FF0000", ""),
]
CUSTOM_STATUSES: list[tuple[str, str, str, str, str]] = [
    ("XFER", "Transferred to Closer", "NYYNNYN", "6711D1", ""),
    ("CBHOLD", "Callback Requested", "NYNNYYN", "FFAA00", ""),
    ("LVM", "Left Voicemail", "NNNNYNY", "0077CC", ""),
    ("OPTOUT", "Opted Out by Text", "YYNYNYN", "AA0000", ""),
    ("HOT", "Hot Lead", "NYYNYYN", "00AA00", ""),
]


def _row(spec: tuple[str, str, str, str, str], custom: bool) -> SandboxStatus:
    code, name, flags, color, workflow = spec
    values = {flag: flags[i] == "Y" for i, flag in enumerate(FLAGS)}
    return SandboxStatus(
        code=code, name=name, hex_color=color, workflow=workflow, custom=custom, **values
    )


def seed(tenant: str = "") -> int:
    """Fill an empty sandbox account with the standard and demo statuses. Returns rows added."""
    if SandboxStatus.objects.filter(tenant=tenant).exists():
        return 0
    rows = [_row(s, custom=False) for s in SYSTEM_STATUSES]
    rows += [_row(s, custom=True) for s in CUSTOM_STATUSES]
    for row in rows:
        row.tenant = tenant
    SandboxStatus.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def _item(row: SandboxStatus) -> dict[str, Any]:
    """One search result, shaped like the reference's response example."""
    item: dict[str, Any] = {"status": row.code, "name": row.name}
    item.update({flag: "Y" if getattr(row, flag) else "N" for flag in FLAGS})
    item["workflow_disposition_event_option"] = row.workflow
    item["custom_status"] = row.custom
    if row.hex_color:
        item["hex_color"] = "#" + row.hex_color
    return item


def _error(code: int, endpoint: str) -> dict[str, Any]:
    _field, text, _explanation = errors.CODES_BY_ENDPOINT[endpoint][code]
    return {"success": False, "code": code, "error": text}


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes
    drop: bool = False  # close the connection without answering
    delay: float = 0.0  # wait this long before answering (after the work is done)


def _json(status: int, payload: dict[str, Any]) -> Reply:
    return Reply(status, json.dumps(payload).encode())


class Sandbox:
    """The emulated API: ``respond`` maps (path, form) to a Reply; the transports deliver it."""

    def __init__(self, *, token: str = SANDBOX_TOKEN, latency_ms: float = 0) -> None:
        self.token = token
        self.latency = latency_ms / 1000

    def respond(self, path: str, form: Mapping[str, str]) -> Reply:
        """Answer one request. Never raises: an internal fault becomes HTTP 500, as on a server."""
        try:
            return self._respond(path, form)
        except Exception:
            logger.exception("sandbox: internal error")
            return _json(500, {"success": False, "error": "Internal server error"})

    def _respond(self, path: str, form: Mapping[str, str]) -> Reply:
        if self.latency:
            time.sleep(self.latency)
        endpoint = path.rstrip("/").rsplit("/", 1)[-1]
        if not path.rstrip("/").endswith(f"/status/{endpoint}") or endpoint not in ENDPOINTS:
            return _json(404, {"success": False, "error": "Not found"})
        fault = take_fault(endpoint)
        if fault is not None and fault.kind in _BEFORE_WORK:
            return _BEFORE_WORK[fault.kind]
        tenant = tenant_of(form.get("auth_token"), self.token)
        if tenant is None:
            return _json(401, {"success": False, "error": errors.BAD_AUTH_TEXT})
        seed(tenant)
        reply = _json(200, getattr(self, f"_{endpoint}")(form, tenant))
        if fault is None:
            return reply
        if fault.kind == SandboxFault.Kind.MALFORMED:
            return Reply(200, b"<html><body>502 Bad Gateway</body></html>")
        return Reply(reply.status, reply.body, delay=fault.delay_seconds)  # TIMEOUT

    def _search(self, form: Mapping[str, str], tenant: str) -> dict[str, Any]:
        rows = SandboxStatus.objects.filter(tenant=tenant)
        # An empty query lists everything (the official example sends `query=`).
        query = form.get("query", "").strip()
        if query:
            rows = rows.filter(Q(code__icontains=query) | Q(name__icontains=query))
        return {"data": [_item(r) for r in rows]}

    def _insert(self, form: Mapping[str, str], tenant: str) -> dict[str, Any]:
        # Checked in the order of the documented table: 6060, 6061, 6062-6068, 6078.
        name = form.get("name", "").strip()
        if not name:
            return _error(6060, "insert")
        code = form.get("status", "").strip()
        if not CODE_RE.fullmatch(code):
            return _error(6061, "insert")
        flags: dict[str, bool] = {}
        for i, flag in enumerate(FLAGS):
            value = form.get(flag, "")
            if value not in ("Y", "N"):
                return _error(6062 + i, "insert")
            flags[flag] = value == "Y"
        color = form.get("hex_color", "")
        if color and not (HEX_RE.fullmatch(color) and not color.startswith("#")):
            return _error(6078, "insert")
        code = code.upper()
        try:
            with transaction.atomic():
                SandboxStatus.objects.create(
                    tenant=tenant,
                    code=code,
                    name=name,
                    hex_color=color.upper(),
                    custom=True,
                    **flags,
                )
        except IntegrityError:
            return {"success": False, "error": errors.DUPLICATE_TEXT}
        return {"success": True, "code": 200, "data": {"new": "1", "status": code}}

    def _update(self, form: Mapping[str, str], tenant: str) -> dict[str, Any]:
        rows = SandboxStatus.objects.filter(tenant=tenant)
        code = form.get("status", "").strip().upper()
        row = rows.filter(code=code, custom=True).first() if code else None
        if row is None:
            return _error(6069, "update")
        # Convoso treats an omitted flag like an empty one (convoso-api-notes.md).
        for i, flag in enumerate(FLAGS):
            value = form.get(flag, "")
            if value not in ("Y", "N"):
                return _error(6071 + i, "update")
            setattr(row, flag, value == "Y")
        color = form.get("hex_color")
        if color is not None:
            if not (HEX_RE.fullmatch(color) and not color.startswith("#")):
                return _error(6078, "update")
            row.hex_color = color.upper()
        name = form.get("name", "").strip()
        if name:
            row.name = name
        row.save()
        return {"success": True, "data": {"status": row.code}}


ENDPOINTS = ("search", "insert", "update")
# Faults that strike before the request is carried out.
_BEFORE_WORK: dict[str, Reply] = {
    SandboxFault.Kind.DISCONNECT: Reply(0, b"", drop=True),
    SandboxFault.Kind.HTTP_500: _json(500, {"success": False, "error": "Internal server error"}),
    SandboxFault.Kind.HTTP_503: _json(503, {"success": False, "error": "Service unavailable"}),
    SandboxFault.Kind.UNKNOWN_CODE: _json(
        200, {"success": False, "code": 9999, "error": "Sandbox fault: account suspended"}
    ),
    SandboxFault.Kind.BAD_TOKEN: _json(401, {"success": False, "error": errors.BAD_AUTH_TEXT}),
}


def take_fault(endpoint: str) -> SandboxFault | None:
    """The oldest fault switched on for this endpoint, counted down once."""
    for fault in SandboxFault.objects.filter(endpoint__in=[endpoint, ""]):
        if fault.remaining is None:
            return fault
        taken = SandboxFault.objects.filter(pk=fault.pk, remaining__gt=0).update(
            remaining=F("remaining") - 1
        )
        SandboxFault.objects.filter(pk=fault.pk, remaining=0).delete()
        if taken:
            return fault
    return None


# --- transports ------------------------------------------------------------------------------


class SandboxAdapter(BaseAdapter):
    """A requests transport that hands each request to the in-process Sandbox."""

    def __init__(self, sandbox: Sandbox | None = None) -> None:
        super().__init__()
        if sandbox is None:
            from django.conf import settings

            sandbox = Sandbox(latency_ms=settings.CONVOSO_SANDBOX_LATENCY_MS)
        self.sandbox = sandbox

    def send(
        self,
        request: PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> Response:
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        reply = self.sandbox.respond(urlsplit(request.url or "").path, form)
        # The same failures a socket would show, as the exceptions requests would raise.
        if reply.drop:
            raise requests.ConnectionError(
                ProtocolError("Connection aborted.", RemoteDisconnected("closed")),
                request=request,
            )
        if reply.delay:
            read_timeout = timeout[1] if isinstance(timeout, tuple) else timeout
            if read_timeout is not None and reply.delay >= read_timeout:
                time.sleep(read_timeout)
                raise requests.ReadTimeout("Read timed out.", request=request)
            time.sleep(reply.delay)
        response = Response()
        response.status_code = reply.status
        response.reason = HTTPStatus(reply.status).phrase
        response._content = reply.body
        response.encoding = "utf-8"
        response.headers = CaseInsensitiveDict({"Content-Type": "application/json"})
        response.url = request.url or ""
        response.request = request
        return response

    def close(self) -> None:
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: SandboxServer

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        form = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
        try:
            reply = self.server.sandbox.respond(urlsplit(self.path).path, form)
        finally:
            # Each request runs in its own thread: give its database connection back now.
            connections.close_all()
        if reply.drop:
            self.close_connection = True
            return
        if reply.delay:
            time.sleep(reply.delay)
        self._send(reply.status, reply.body)

    def do_GET(self) -> None:
        self._send(405, b'{"success": false, "error": "Method not allowed"}')

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        # One request per connection: a stopped sandbox then refuses the very next call,
        # instead of answering on connections kept alive from before.
        self.send_header("Connection", "close")
        self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        if not self.server.quiet:
            logger.info("sandbox %s", format % args)


class SandboxServer(ThreadingHTTPServer):
    """The sandbox over real HTTP. Port 0 picks a free port (``server_port``)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], sandbox: Sandbox, *, quiet: bool = False) -> None:
        super().__init__(address, _Handler)
        self.sandbox = sandbox
        self.quiet = quiet


def make_server(host: str, port: int, sandbox: Sandbox, *, quiet: bool = False) -> SandboxServer:
    return SandboxServer((host, port), sandbox, quiet=quiet)
