"""Per-request facts the audit log and the logs need: a request id and the client's address."""

from __future__ import annotations

import ipaddress
import logging
import re
import time
import uuid
from collections.abc import Callable
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from statusadmin.accounts import identity
from statusadmin.audit.services import Origin
from statusadmin.logs import current_request_id, current_user

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{8,64}")


@lru_cache(maxsize=1)
def _trusted_networks(proxies: tuple[str, ...]) -> tuple[ipaddress._BaseNetwork, ...]:
    return tuple(ipaddress.ip_network(p, strict=False) for p in proxies)


def _is_trusted(ip: str) -> bool:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in net for net in _trusted_networks(tuple(settings.TRUSTED_PROXIES)))


def client_ip(request: HttpRequest) -> str | None:
    """The client's address. X-Forwarded-For counts only when it comes from a trusted proxy,
    and then the right-most address that isn't one of ours is the client (the ones to its left
    could have been written by anybody)."""
    remote = request.META.get("REMOTE_ADDR") or None
    if not remote or not _is_trusted(remote):
        return remote
    forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    for address in reversed([a for a in forwarded if a]):
        if not _is_trusted(address):
            return address
    return remote


def client_ip_for_axes(request: HttpRequest) -> str:
    """django-axes locks out by address: the same trusted-proxy rules as the audit log."""
    return client_ip(request) or "0.0.0.0"  # noqa: S104 - a placeholder, not a bind address


def origin_from_request(request: HttpRequest) -> Origin:
    proof = identity.proof(request)
    return Origin(
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent", ""),
        request_id=getattr(request, "request_id", ""),
        auth_method=proof.method,
        auth_issuer=proof.issuer,
        auth_subject=proof.subject,
        second_factor=proof.second_factor if proof.method else None,
    )


class RequestIdMiddleware:
    """Gives every request an id: in the response header, the log lines and the audit log.

    An id set by a trusted proxy is kept, so one id follows the request through the stack.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        remote = request.META.get("REMOTE_ADDR", "")
        if incoming and _VALID_REQUEST_ID.fullmatch(incoming) and _is_trusted(remote):
            request_id = incoming
        else:
            request_id = uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        token = current_request_id.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            current_request_id.reset(token)
        response[REQUEST_ID_HEADER] = request_id
        return response


request_logger = logging.getLogger("statusadmin.request")


class RequestLogMiddleware:
    """One log line per request: method, path, status, duration, with request id and user."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user.get_username() if request.user.is_authenticated else ""
        token = current_user.set(user)
        started = time.monotonic()
        try:
            response = self.get_response(request)
        finally:
            current_user.reset(token)
        request_logger.info(
            "%s %s %s",
            request.method,
            request.path,
            response.status_code,
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round((time.monotonic() - started) * 1000, 1),
                "user": user,
            },
        )
        return response
