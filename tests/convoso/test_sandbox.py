"""Sandbox behaviour beyond the shared contract: state, seeding, transports."""

from __future__ import annotations

import io
import json
import threading
from urllib.request import Request, urlopen

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from statusadmin.convoso import errors
from statusadmin.convoso.connection import SANDBOX_ACCOUNT, get_client
from statusadmin.convoso.models import SandboxFault, SandboxStatus
from statusadmin.convoso.sandbox import (
    CUSTOM_STATUSES,
    SANDBOX_TOKEN,
    SYSTEM_STATUSES,
    Sandbox,
    SandboxAdapter,
    seed,
)

pytestmark = pytest.mark.django_db


class SeedTests:
    def test_ten_standard_system_statuses_and_some_custom(self):
        assert seed() == len(SYSTEM_STATUSES) + len(CUSTOM_STATUSES)
        system = set(SandboxStatus.objects.filter(custom=False).values_list("code", flat=True))
        assert system == {"COMP", "SALE", "NA", "BUSY", "AM", "DNC", "WN", "INVALID",
                          "INTERESTED", "NOTINT"}  # fmt: skip
        assert SandboxStatus.objects.filter(custom=True).count() >= 3

    def test_flags_follow_the_reference_examples(self):
        seed()
        dnc = SandboxStatus.objects.get(code="DNC")
        assert (dnc.final, dnc.reached, dnc.success, dnc.dnc, dnc.callback, dnc.contact,
                dnc.voicemail) == (True, True, False, True, False, True, False)  # fmt: skip

    def test_seeding_twice_changes_nothing(self):
        seed()
        SandboxStatus.objects.filter(code="XFER").update(name="Renamed")
        assert seed() == 0
        assert SandboxStatus.objects.get(code="XFER").name == "Renamed"


class InProcessTests:
    def test_sandbox_mode_uses_the_adapter_and_keeps_state_in_the_database(self):
        client = get_client()
        assert client.account == SANDBOX_ACCOUNT
        assert isinstance(client.session.get_adapter(client.api_url + "/status/x"), SandboxAdapter)
        client.update("XFER", {"name": "Closer transfer", "dnc": True})
        row = SandboxStatus.objects.get(code="XFER")
        assert (row.name, row.dnc) == ("Closer transfer", True)
        assert get_client().get("XFER").name == "Closer transfer"

    def test_insert_is_visible_to_search(self):
        get_client().insert(code="new1", name="Brand New", flags={"callback": True})
        (found,) = get_client().search("brand new")
        assert (found.code, found.callback, found.custom) == ("NEW1", True, True)

    @override_settings(CONVOSO_AUTH_TOKEN="real-token", CONVOSO_SANDBOX=False)
    def test_a_configured_token_means_no_sandbox(self):
        client = get_client()
        assert client.account != SANDBOX_ACCOUNT
        assert not isinstance(client.session.get_adapter(client.api_url + "/"), SandboxAdapter)

    def test_latency_is_applied(self, monkeypatch):
        slept: list[float] = []
        monkeypatch.setattr("statusadmin.convoso.sandbox.time.sleep", slept.append)
        Sandbox(latency_ms=150).respond("/v1/status/search", {"auth_token": SANDBOX_TOKEN})
        assert slept == [0.15]

    def test_unknown_path_is_404(self):
        reply = Sandbox().respond("/v1/leads/search", {"auth_token": SANDBOX_TOKEN})
        assert reply.status == 404
        assert json.loads(reply.body)["success"] is False


class HttpTests:
    def test_served_over_a_socket_with_documented_shapes(self, sandbox_server):
        request = Request(
            sandbox_server.url + "/status/search",
            data=f"auth_token={SANDBOX_TOKEN}&query=completed".encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        with urlopen(request, timeout=5) as response:
            assert response.headers["Content-Type"] == "application/json"
            payload = json.load(response)
        assert payload == {
            "data": [
                {
                    "status": "COMP",
                    "name": "Completed",
                    "final": "Y",
                    "reached": "Y",
                    "success": "Y",
                    "dnc": "N",
                    "callback": "N",
                    "contact": "Y",
                    "voicemail": "N",
                    "workflow_disposition_event_option": "sale",
                    "custom_status": False,
                    "hex_color": "#00AA00",
                }
            ]
        }

    def test_get_is_not_allowed(self, sandbox_server):
        from urllib.error import HTTPError

        with pytest.raises(HTTPError) as exc:
            urlopen(sandbox_server.url + "/status/search", timeout=5)
        assert exc.value.code == 405

    def test_management_command_serves_until_interrupted(self, transactional_db, monkeypatch):
        started = threading.Event()

        def fake_serve_forever(self, poll_interval=0.5):  # type: ignore[no-untyped-def]
            started.set()
            raise KeyboardInterrupt

        monkeypatch.setattr(
            "statusadmin.convoso.sandbox.SandboxServer.serve_forever", fake_serve_forever
        )
        out = io.StringIO()
        call_command("convoso_sandbox", "--port", "0", stdout=out)
        assert started.is_set()
        assert "Convoso sandbox on http://127.0.0.1:" in out.getvalue()
        assert SandboxStatus.objects.filter(code="COMP").exists()


class FaultSwitchTests:
    def test_command_sets_and_clears_faults(self):
        out = io.StringIO()
        call_command("convoso_sandbox_fault", "update", "timeout", "--times", "2", stdout=out)
        assert "timeout on update, 2 time(s)" in out.getvalue()
        fault = SandboxFault.objects.get()
        assert (fault.endpoint, fault.kind, fault.remaining) == ("update", "timeout", 2)
        call_command("convoso_sandbox_fault", "any", "http_503", "--times", "0", stdout=out)
        assert SandboxFault.objects.get(kind="http_503").remaining is None
        call_command("convoso_sandbox_fault", "--clear", stdout=out)
        assert not SandboxFault.objects.exists()

    def test_command_needs_endpoint_and_kind(self):
        with pytest.raises(CommandError):
            call_command("convoso_sandbox_fault", "update", stdout=io.StringIO())

    def test_faults_count_down_and_vanish(self):
        SandboxFault.objects.create(endpoint="search", kind="http_500", remaining=2)
        statuses = [
            Sandbox().respond("/v1/status/search", {"auth_token": SANDBOX_TOKEN}).status
            for _ in range(3)
        ]
        assert statuses == [500, 500, 200]
        assert not SandboxFault.objects.exists()

    def test_other_endpoints_are_unaffected(self):
        SandboxFault.objects.create(endpoint="insert", kind="bad_token", remaining=None)
        assert Sandbox().respond("/v1/status/search", {"auth_token": SANDBOX_TOKEN}).status == 200

    def test_in_process_faults_look_like_network_failures(self, settings):
        settings.CONVOSO_READ_TIMEOUT = 0.05
        SandboxFault.objects.create(endpoint="update", kind="disconnect", remaining=1)
        with pytest.raises(errors.ConvosoUnavailable) as exc:
            get_client().update("XFER", {"final": True})
        assert (exc.value.kind, exc.value.outcome) == ("connection", "unknown")
        SandboxFault.objects.create(endpoint="update", kind="timeout", remaining=1)
        with pytest.raises(errors.ConvosoUnavailable) as exc:
            get_client().update("XFER", {"callback": True})
        assert (exc.value.kind, exc.value.outcome) == ("timeout", "unknown")
        # A lost reply is not a lost change: the timeout fault applies the request first.
        assert SandboxStatus.objects.get(code="XFER").callback is True
