"""The dashboard when Convoso's replies are hostile: echoed tokens, odd shapes, huge texts.

Convoso is mocked with `responses` (the real_convoso fixture); every endpoint answers whatever
the test scripts, so each screen and write path meets the reply through the whole stack.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import responses
from django.core.cache import cache
from django.test import Client

from statusadmin import health
from statusadmin.audit.models import AuditEntry
from tests.conftest import REAL_TOKEN, status_item

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}
REMOVED = "[token removed]"

Reply = tuple[int, dict[str, str], bytes]


class ScriptedConvoso:
    """Answers each endpoint with the reply set for it; search serves a catalogue by default."""

    def __init__(self, real_convoso: Any) -> None:
        self.catalogue = [status_item("XFER", "Transferred", reached="Y")]
        self.replies: dict[str, Reply | None] = {"search": None, "insert": None, "update": None}
        for endpoint in self.replies:
            real_convoso.mock.add_callback(
                responses.POST, real_convoso.url(endpoint), callback=self._answer(endpoint)
            )

    def _answer(self, endpoint: str) -> Callable[[Any], Reply]:
        def answer(request: Any) -> Reply:
            reply = self.replies[endpoint]
            if reply is not None:
                return reply
            if endpoint == "search":
                return 200, {}, json.dumps({"data": self.catalogue}).encode()
            return 200, {}, json.dumps({"success": True, "data": {"status": "XFER"}}).encode()

        return answer


def json_reply(body: object, status: int = 200) -> Reply:
    return status, {"Content-Type": "application/json"}, json.dumps(body).encode()


@pytest.fixture
def convoso(real_convoso) -> ScriptedConvoso:  # type: ignore[no-untyped-def]
    return ScriptedConvoso(real_convoso)


def body(response) -> str:  # type: ignore[no-untyped-def]
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return content.decode()


class TokenEchoTests:
    def test_an_echoed_token_reaches_no_page_no_audit_row_no_export_and_no_healthz(
        self, supervisor_client, admin_user, convoso
    ):
        echo = json_reply({"success": False, "error": f"Invalid token {REAL_TOKEN} for account"})
        seen: list[str] = [body(supervisor_client.get("/"))]

        convoso.replies["update"] = echo
        toggled = body(supervisor_client.post("/statuses/XFER/flag/", {"final": "Y"}, **HX))
        assert f"Invalid token {REMOVED} for account" in toggled

        convoso.catalogue[0]["name"] = f"Closer {REAL_TOKEN}"
        renamed = body(supervisor_client.post("/refresh/", {"q": ""}, **HX))
        assert f"Closer {REMOVED}" in renamed

        convoso.replies["search"] = echo
        refused = body(supervisor_client.post("/refresh/", {"q": ""}, **HX))
        assert f"Invalid token {REMOVED} for account" in refused

        cache.delete(health.PROBE_CACHE_KEY)
        healthz = body(Client().get("/healthz"))
        assert json.loads(healthz)["convoso"]["reachable"] is False

        admin = Client()
        admin.force_login(admin_user)
        csv_export = body(admin.get("/audit/export.csv"))
        jsonl_export = body(admin.get("/audit/export.jsonl"))
        assert f"Invalid token {REMOVED} for account" in csv_export
        assert f"Closer {REMOVED}" in jsonl_export

        rows = [json.dumps(row, default=str) for row in AuditEntry.objects.values()]
        assert [e.outcome for e in AuditEntry.objects.order_by("seq")] == ["rejected", "observed"]
        seen += [toggled, renamed, refused, healthz, csv_export, jsonl_export, *rows]
        leaks = [text[:300] for text in seen if REAL_TOKEN in text]
        assert leaks == []
