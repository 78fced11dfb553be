"""The four-eyes screens: the row that waits, the approvers' list, their decisions."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from statusadmin.approvals.models import ChangeRequest
from statusadmin.convoso.models import SandboxStatus
from statusadmin.convoso.sandbox import seed
from tests.factories import make_user
from tests.helpers import pass_second_factor

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def _catalogue(db):  # type: ignore[no-untyped-def]
    seed()


@pytest.fixture
def approver_client(approver_user) -> Client:  # type: ignore[no-untyped-def]
    browser = Client()
    browser.force_login(approver_user)
    pass_second_factor(browser, approver_user)
    return browser


def html(response) -> str:  # type: ignore[no-untyped-def]
    return response.content.decode()


def ask(client: Client, code: str = "XFER") -> str:
    return html(
        client.post(f"/statuses/{code}/flag/", {"dnc": "Y", "reason": "Opt-outs by text"}, **HX)
    )


class RowTests:
    def test_a_request_still_shows_after_its_status_became_a_system_status(self, supervisor_client):
        # Convoso made XFER a system status while its DNC change waited: the row moves to the
        # system table, and still says a change waits there, so the requester can take it back.
        ask(supervisor_client)
        SandboxStatus.objects.filter(code="XFER").update(custom=False)
        supervisor_client.post("/refresh/", {"q": "XFER"}, **HX)
        page = html(supervisor_client.get("/", {"q": "XFER"}))
        system = page[page.index('id="system-heading"') :]
        assert 'id="row-XFER"' in system
        assert "waiting for approval" in system
        assert "Withdraw the request" in system

    def test_a_dnc_change_waits_and_the_row_says_so(self, supervisor_client):
        row = ask(supervisor_client)
        assert "DNC No → Yes: waiting for approval by a second person (asked by sue," in row
        switch = re.search(r'<button[^>]*name="dnc"[^>]*>', row).group(0)
        assert 'aria-disabled="true"' in switch
        assert 'aria-checked="false"' in switch
        assert "Withdraw the request" in row
        assert 'hx-swap-oob="innerHTML"' in row  # the toast
        assert SandboxStatus.objects.get(code="XFER").dnc is False
        # The same on a fresh page, for everyone; only the requester may withdraw.
        assert "waiting for approval" in html(supervisor_client.get("/", {"q": "XFER"}))
        other = Client()
        other.force_login(make_user("ben", "Supervisor"))
        page = html(other.get("/", {"q": "XFER"}))
        assert "waiting for approval" in page
        assert "Withdraw the request" not in page

    def test_a_second_request_for_the_same_status_is_refused_in_plain_words(
        self, supervisor_client
    ):
        ask(supervisor_client)
        other = Client()
        other.force_login(make_user("ben", "Supervisor"))
        row = ask(other)
        assert "already waiting for approval by sue" in row
        assert ChangeRequest.objects.count() == 1

    def test_withdraw_from_the_row(self, supervisor_client):
        ask(supervisor_client)
        request = ChangeRequest.objects.get()
        row = html(supervisor_client.post(f"/approvals/{request.pk}/withdraw/", **HX))
        assert "Withdrawn: nothing will be sent for XFER." in row
        assert "waiting for approval" not in row
        request.refresh_from_db()
        assert request.state == "withdrawn"

    def test_without_javascript_the_flow_works_too(self, supervisor_client):
        response = supervisor_client.post(
            "/statuses/XFER/flag/", {"dnc": "Y", "reason": "Opt-outs by text"}
        )
        assert response.status_code == 302
        page = html(supervisor_client.get(response["Location"]))
        assert "waiting for approval" in page

    def test_a_new_status_with_dnc_on_waits(self, supervisor_client):
        response = supervisor_client.post(
            "/statuses/new/",
            {"code": "OPT9", "name": "Opted out", "color": "#aa0000", "dnc": "on",
             "reason": "SMS opt-outs"},
        )  # fmt: skip
        assert response.status_code == 302
        assert "OPT9 waits for a second person&#x27;s approval" in html(
            supervisor_client.get(response["Location"])
        )
        assert not SandboxStatus.objects.filter(code="OPT9").exists()


class ApprovalListTests:
    def test_approvers_see_what_waits_and_a_count_in_the_navigation(
        self, supervisor_client, approver_client
    ):
        ask(supervisor_client)
        page = html(approver_client.get("/approvals/"))
        assert "XFER: DNC No → Yes" in page
        assert "Asked by</dt><dd>sue" in page
        assert "Opt-outs by text" in page
        assert "In Convoso now</dt><dd>Transferred to Closer, colour #6711D1; DNC off" in page
        assert re.search(r'<span class="nav-count"[^>]*>1</span>', page)
        assert "nav-count" not in html(supervisor_client.get("/"))
        assert supervisor_client.get("/approvals/").status_code == 403

    def test_an_approvers_keystroke_counts_nothing_waiting(
        self, supervisor_client, approver_client
    ):
        """The count is the header's; a search fragment has no header to show it in."""
        ask(supervisor_client)
        with CaptureQueriesContext(connection) as queries:
            page = html(approver_client.get("/", {"q": "XF"}, HTTP_HX_REQUEST="true"))
        assert "XFER" in page
        counted = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"]]
        assert counted == []
        assert re.search(r'<span class="nav-count"[^>]*>1</span>', html(approver_client.get("/")))

    def test_approve(self, supervisor_client, approver_client):
        ask(supervisor_client)
        request = ChangeRequest.objects.get()
        response = approver_client.post(f"/approvals/{request.pk}/approve/", {"note": "Checked"})
        assert response["Location"] == "/approvals/"
        page = html(approver_client.get("/approvals/"))
        assert "Approved: XFER was changed in Convoso." in page
        assert "Nothing is waiting for approval." in page
        assert SandboxStatus.objects.get(code="XFER").dnc is True

    def test_reject_needs_a_reason(self, supervisor_client, approver_client):
        ask(supervisor_client)
        request = ChangeRequest.objects.get()
        page = html(approver_client.post(f"/approvals/{request.pk}/reject/", {"note": " "}))
        error = re.search(rf'<p class="error" id="reject-error-{request.pk}" role="alert">', page)
        assert error, page
        response = approver_client.post(f"/approvals/{request.pk}/reject/", {"note": "Wrong one"})
        assert response.status_code == 302
        request.refresh_from_db()
        assert (request.state, request.decision_note) == ("rejected", "Wrong one")

    def test_a_change_since_the_request_must_be_confirmed(self, supervisor_client, approver_client):
        ask(supervisor_client)
        request = ChangeRequest.objects.get()
        SandboxStatus.objects.filter(code="XFER").update(hex_color="FF0000")
        page = html(approver_client.post(f"/approvals/{request.pk}/approve/", {"note": ""}))
        assert "changed after the request was made (Colour #6711D1 → #FF0000)" in page
        confirmed = re.search(r'name="confirmed" value="(\w+)"', page).group(1)
        assert "Approve anyway" in page
        assert SandboxStatus.objects.get(code="XFER").dnc is False
        approver_client.post(f"/approvals/{request.pk}/approve/", {"confirmed": confirmed})
        assert SandboxStatus.objects.get(code="XFER").dnc is True

    def test_approve_anyway_keeps_the_note_and_the_first_attempt_is_not_a_rejection(
        self, supervisor_client, approver_client, compliance_user
    ):
        from statusadmin.audit.models import AuditEntry

        ask(supervisor_client)
        request = ChangeRequest.objects.get()
        SandboxStatus.objects.filter(code="XFER").update(hex_color="FF0000")
        note = "Checked with the opt-out list"
        page = html(approver_client.post(f"/approvals/{request.pk}/approve/", {"note": note}))
        assert "Approve anyway" in page
        assert f'name="note" maxlength="500" value="{note}"' in page
        first = AuditEntry.objects.get(action="update")
        assert first.outcome == "to_confirm"
        assert first.get_outcome_display() == "Not sent: needs confirmation"
        assert first.approval_note == note
        auditor = Client()
        auditor.force_login(compliance_user)
        log = html(auditor.get("/audit/"))
        assert '<span class="outcome to_confirm">Not sent: needs confirmation</span>' in log
        assert ">Rejected</span>" not in log
        confirmed = re.search(r'name="confirmed" value="(\w+)"', page).group(1)
        approver_client.post(
            f"/approvals/{request.pk}/approve/", {"confirmed": confirmed, "note": note}
        )
        assert SandboxStatus.objects.get(code="XFER").dnc is True
        request.refresh_from_db()
        assert (request.state, request.decision_note) == ("applied", note)
        sent = AuditEntry.objects.filter(action="update", outcome="succeeded").get()
        assert sent.approval_note == note
        assert AuditEntry.objects.get(action="approve").reason == note

    def test_the_requester_cannot_decide_even_as_an_approver(self, approver_client, approver_user):
        from django.contrib.auth.models import Group

        approver_user.groups.add(Group.objects.get(name="Supervisor"))
        ask(approver_client)
        request = ChangeRequest.objects.get()
        page = html(approver_client.get("/approvals/"))
        assert "You asked for this change: another approver must decide it." in page
        assert f"/approvals/{request.pk}/approve/" not in page
        page = html(approver_client.post(f"/approvals/{request.pk}/approve/"))
        assert "another approver must decide it (four eyes)" in page
        assert SandboxStatus.objects.get(code="XFER").dnc is False


class ApprovalListCostTests:
    def test_the_list_asks_the_database_the_same_whatever_waits(
        self, supervisor_client, approver_client
    ):
        codes = ["XFER", "CBHOLD", "LVM", "HOT"]  # custom statuses with DNC off

        def queries(waiting: int) -> int:
            with CaptureQueriesContext(connection) as captured:
                page = html(approver_client.get("/approvals/"))
            assert page.count('<section class="approval" id="request-') == waiting
            return len(captured)

        ask(supervisor_client, codes[0])
        queries(1)  # the first visit also refreshes the mirror and fills caches
        one = queries(1)
        for code in codes[1:]:
            ask(supervisor_client, code)
        assert queries(4) == one
