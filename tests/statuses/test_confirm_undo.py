"""Flag toggles on the status list: Final and Success ask first (they change who is dialled),
any change can carry a reason, and a change can be undone from the message bar, as a change
like any other (#26 item 9)."""

from __future__ import annotations

import json
import re
from html import unescape

import pytest

from statusadmin.approvals.models import ChangeRequest
from statusadmin.audit.models import AuditEntry
from statusadmin.convoso.models import SandboxStatus
from statusadmin.convoso.sandbox import seed

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def _catalogue(db):  # type: ignore[no-untyped-def]
    seed()


def undo_form(html: str) -> tuple[str, dict[str, str]]:
    """The Undo button in the message bar: where it posts and what (htmx's hx-vals)."""
    button = re.search(r'<button[^>]*class="link undo"[^>]*>Undo</button>', html)
    assert button, html
    url = re.search(r'hx-post="([^"]+)"', button[0])
    vals = re.search(r'hx-vals="([^"]+)"', button[0])
    assert url
    assert vals
    return unescape(url[1]), json.loads(unescape(vals[1]))


class ConfirmTests:
    @pytest.mark.parametrize("flag", ["final", "success"])
    def test_final_and_success_ask_first_and_send_nothing(self, supervisor_client, flag):
        before = getattr(SandboxStatus.objects.get(code="XFER"), flag)
        target = "N" if before else "Y"
        html = supervisor_client.post("/statuses/XFER/flag/", {flag: target}, **HX)
        html = html.content.decode()
        label = flag.capitalize()
        assert f"Turn {label} {'on' if target == 'Y' else 'off'} for XFER?" in html
        assert 'name="confirmed" value="1"' in html
        assert getattr(SandboxStatus.objects.get(code="XFER"), flag) is before
        assert not AuditEntry.objects.filter(status_code="XFER").exists()

    def test_confirmed_it_is_sent_with_the_optional_reason(self, supervisor_client):
        supervisor_client.post(
            "/statuses/XFER/flag/",
            {"final": "Y", "confirmed": "1", "reason": "Campaign closed"},
            **HX,
        )
        assert SandboxStatus.objects.get(code="XFER").final is True
        entry = AuditEntry.objects.get(status_code="XFER")
        assert entry.reason == "Campaign closed"
        assert entry.changed_fields == ["final"]

    def test_other_flags_go_straight_through_with_a_reason_if_given(self, supervisor_client):
        supervisor_client.post(
            "/statuses/XFER/flag/", {"callback": "Y", "reason": "Agents asked"}, **HX
        )
        assert SandboxStatus.objects.get(code="XFER").callback is True
        assert AuditEntry.objects.get(status_code="XFER").reason == "Agents asked"

    def test_the_list_offers_one_reason_for_every_change_on_it(self, supervisor_client):
        page = supervisor_client.get("/").content.decode()
        field = re.search(r'<input[^>]*id="change-reason"[^>]*>', page)
        assert field, "no reason field"
        assert 'form="edits"' in field[0]
        assert 'name="reason"' in field[0]
        # The colour picker, which posts on its own, takes it along too.
        assert 'hx-include="#change-reason"' in page


class UndoTests:
    def test_a_flag_change_is_undone_as_a_change_of_its_own(self, supervisor_client):
        response = supervisor_client.post("/statuses/XFER/flag/", {"callback": "Y"}, **HX)
        url, fields = undo_form(response.content.decode())
        assert url.startswith("/statuses/XFER/flag/?v=")
        assert fields["callback"] == "N"
        supervisor_client.post(url, fields, **HX)
        assert SandboxStatus.objects.get(code="XFER").callback is False
        entries = AuditEntry.objects.filter(status_code="XFER").order_by("id")
        assert [e.changed_fields for e in entries] == [["callback"], ["callback"]]
        assert entries[1].reason.startswith("Undo")

    def test_undoing_final_needs_no_second_confirmation(self, supervisor_client):
        response = supervisor_client.post(
            "/statuses/XFER/flag/", {"final": "Y", "confirmed": "1"}, **HX
        )
        url, fields = undo_form(response.content.decode())
        assert fields["confirmed"] == "1"
        supervisor_client.post(url, fields, **HX)
        assert SandboxStatus.objects.get(code="XFER").final is False

    def test_a_colour_change_is_undone(self, supervisor_client):
        old = SandboxStatus.objects.get(code="XFER").hex_color
        response = supervisor_client.post("/statuses/XFER/color/", {"color": "#112233"}, **HX)
        url, fields = undo_form(response.content.decode())
        supervisor_client.post(url, fields, **HX)
        assert SandboxStatus.objects.get(code="XFER").hex_color.upper() == old.upper()

    def test_undoing_dnc_goes_through_approval(self, supervisor_client, no_approvals, settings):
        response = supervisor_client.post(
            "/statuses/XFER/flag/", {"dnc": "Y", "reason": "Opted out"}, **HX
        )
        url, fields = undo_form(response.content.decode())
        settings.APPROVAL_FIELDS = ["dnc"]  # four eyes on again: the undo waits for them too
        supervisor_client.post(url, fields, **HX)
        assert SandboxStatus.objects.get(code="XFER").dnc is True
        assert ChangeRequest.objects.get(status_code="XFER").changes == {"dnc": False}

    def test_nothing_saved_offers_nothing_to_undo(self, supervisor_client):
        response = supervisor_client.post("/statuses/XFER/flag/", {"callback": "N"}, **HX)
        assert "undo" not in response.content.decode()
