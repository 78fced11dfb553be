"""/healthz: is this instance able to serve? For load balancers and the container health check.

Answered by middleware near the top of the stack, so it needs no login, no allowed host (it is
asked by IP address) and no HTTPS (it is asked from inside the network).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from statusadmin.audit import triggers
from statusadmin.convoso.connection import build_client, is_sandbox
from statusadmin.convoso.errors import ConvosoError, ConvosoUnavailable, TokenRejected
from statusadmin.convoso.tenancy import default_account

PATH = "/healthz"
# Not "healthz:convoso", under which older releases cached Convoso's text for the public body.
PROBE_CACHE_KEY = "healthz:convoso-state"


def database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except DatabaseError:
        return False


def failure_kind(exc: ConvosoError) -> str:
    """timeout, connection, http_error, malformed or redirect when no usable answer came;
    token or rejected when Convoso answered and refused."""
    if isinstance(exc, ConvosoUnavailable):
        return exc.kind
    if isinstance(exc, TokenRejected):
        return "token"
    return exc.outcome


def convoso_reachability() -> dict[str, Any]:
    """Whether Convoso answered a search recently. Cached: Convoso is asked at most once per
    HEALTHZ_CONVOSO_TTL seconds, however often the health check runs.

    States and codes only: the body is public, and Convoso's text (which may be HTML, long,
    or anything at all) is for the dashboard and the audit log, not for a load balancer.
    """
    cached = cache.get(PROBE_CACHE_KEY)
    if cached is not None:
        return cached
    # The default account's: the others are each their owners' business, and the body public.
    probe = build_client(default_account(), connect_timeout=2, read_timeout=3, retries=0)
    try:
        probe.search("healthz")
        result: dict[str, Any] = {"reachable": True, "failure": None, "code": None}
    except ConvosoError as exc:
        result = {"reachable": False, "failure": failure_kind(exc), "code": exc.code}
    result["checked_at"] = timezone.now().isoformat(timespec="seconds")
    cache.set(PROBE_CACHE_KEY, result, settings.HEALTHZ_CONVOSO_TTL)
    return result


def mirror_age() -> float | None:
    from statusadmin.statuses.models import MirrorSync

    sync = MirrorSync.objects.filter(account=default_account().key).first()
    if sync is None or sync.synced_at is None:
        return None
    return round((timezone.now() - sync.synced_at).total_seconds(), 1)


def report() -> tuple[int, dict[str, Any]]:
    if not database_ok():
        # Nothing else can be checked without the database (the cache lives there too).
        return 503, {"status": "unavailable", "database": {"ok": False}}
    convoso = {"mode": "sandbox" if is_sandbox() else "live", **convoso_reachability()}
    # The log is only append-only while the database's triggers are there (audit/triggers.py).
    append_only = not triggers.missing(connection)
    body = {
        "status": "ok" if convoso["reachable"] and append_only else "degraded",
        "database": {"ok": True},
        "audit": {"append_only": append_only},
        "convoso": convoso,
        "mirror": {"age_seconds": mirror_age()},
        "sandbox": is_sandbox(),
    }
    return 200, body


class HealthCheckMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path != PATH:
            return self.get_response(request)
        status, body = report()
        response = HttpResponse(json.dumps(body), status=status, content_type="application/json")
        response["Cache-Control"] = "no-store"
        return response
