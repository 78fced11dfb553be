"""/healthz: no login, no host check, no HTTPS redirect; 503 when the database is down."""

from __future__ import annotations

import json

import pytest
import requests
from django.core.cache import cache
from django.db import DatabaseError

from statusadmin import health
from tests.helpers import refused
from tests.tokens import REAL_TOKEN

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_probe():  # type: ignore[no-untyped-def]
    cache.delete(health.PROBE_CACHE_KEY)


CONVOSO_KEYS = {"mode", "reachable", "failure", "code", "checked_at"}


def get(client, **extra):  # type: ignore[no-untyped-def]
    response = client.get("/healthz", **extra)
    return response, json.loads(response.content)


def test_reports_database_convoso_mirror_and_mode(client):
    client.get("/")  # anonymous: nothing synced yet
    response, body = get(client)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    assert body["status"] == "ok"
    assert body["database"] == {"ok": True}
    assert set(body["convoso"]) == CONVOSO_KEYS
    assert body["convoso"]["mode"] == "sandbox"
    assert body["convoso"]["reachable"] is True
    assert (body["convoso"]["failure"], body["convoso"]["code"]) == (None, None)
    assert body["sandbox"] is True
    assert body["mirror"] == {"age_seconds": None}
    assert body["audit"] == {"append_only": True}


def test_a_missing_audit_guard_is_degraded(client):
    from django.db import connection

    from statusadmin.audit import triggers

    triggers.remove(connection)  # undone with the test's transaction
    response, body = get(client)
    assert response.status_code == 200
    assert (body["status"], body["audit"]) == ("degraded", {"append_only": False})


def test_mirror_age_once_synced(supervisor_client):
    supervisor_client.get("/")
    _, body = get(supervisor_client)
    assert 0 <= body["mirror"]["age_seconds"] < 5


def test_needs_no_login_no_allowed_host_and_no_https(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    response, body = get(client, HTTP_HOST="10.1.2.3:8000")
    assert response.status_code == 200
    assert body["status"] == "ok"


def test_convoso_is_asked_at_most_once_per_ttl(client, real_convoso):
    real_convoso.serve_catalogue()
    for _ in range(5):
        get(client)
    assert real_convoso.calls_to("search") == 1


def test_unreachable_convoso_is_degraded_not_down(client, real_convoso):
    real_convoso.mock.post(real_convoso.url("search"), body=refused())
    response, body = get(client)
    assert response.status_code == 200
    assert body["status"] == "degraded"
    assert body["convoso"]["reachable"] is False
    assert body["convoso"]["mode"] == "live"
    assert body["convoso"]["failure"] == "connection"
    assert body["convoso"]["code"] is None


def test_database_down_is_503(client, monkeypatch):
    class DownDatabase:
        def cursor(self):  # type: ignore[no-untyped-def]
            raise DatabaseError("could not connect to server: Connection refused")

    monkeypatch.setattr(health, "connection", DownDatabase())
    response, body = get(client)
    assert response.status_code == 503
    assert body == {"status": "unavailable", "database": {"ok": False}}


def test_token_never_in_the_report(client, real_convoso):
    real_convoso.mock.post(real_convoso.url("search"), status=401)
    response, _ = get(client)
    assert REAL_TOKEN not in response.content.decode()


@pytest.mark.parametrize(
    ("reply", "failure", "code"),
    [
        ({"body": requests.ReadTimeout()}, "timeout", None),
        ({"status": 500, "body": "oops"}, "http_error", None),
        ({"body": "<html>Gateway</html>"}, "malformed", None),
        ({"status": 307, "headers": {"Location": "https://elsewhere.test/"}}, "redirect", None),
        ({"status": 401}, "token", None),
        ({"json": {"success": False, "error": "Invalid authentication token"}}, "token", None),
        ({"json": {"success": False, "code": 7001, "error": "Quota hit"}}, "rejected", 7001),
        ({"json": {"success": False, "code": "²", "error": "Quota hit"}}, "rejected", None),
    ],
)
def test_a_failure_is_reported_as_a_kind_and_a_code(client, real_convoso, reply, failure, code):
    real_convoso.mock.post(real_convoso.url("search"), **reply)
    response, body = get(client)
    assert response.status_code == 200
    assert body["status"] == "degraded"
    assert set(body["convoso"]) == CONVOSO_KEYS
    assert (body["convoso"]["reachable"], body["convoso"]["failure"]) == (False, failure)
    assert body["convoso"]["code"] == code


HOSTILE_TEXTS = [
    "<script>alert('healthz')</script>",
    f"Invalid token {REAL_TOKEN} for account",
    "Quota hit " + "and more " * 600,
]


@pytest.mark.parametrize("text", HOSTILE_TEXTS, ids=["html", "token", "long"])
@pytest.mark.parametrize("key", ["error", "message"])
def test_convosos_text_never_appears(client, real_convoso, text, key):
    real_convoso.mock.post(real_convoso.url("search"), json={"success": False, key: text})
    response, body = get(client)
    content = response.content.decode()
    for fragment in ("<script>", "healthz')", REAL_TOKEN, "Invalid token", "Quota hit"):
        assert fragment not in content
    assert body["convoso"]["failure"] == "rejected"
    assert len(content) < 400


def test_a_report_cached_by_an_older_release_is_not_served(client, real_convoso):
    cache.set("healthz:convoso", {"reachable": False, "error": "Convoso said: <b>secret</b>"})
    real_convoso.serve_catalogue()
    response, body = get(client)
    assert "secret" not in response.content.decode()
    assert body["convoso"]["reachable"] is True
