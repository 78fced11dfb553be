"""The everyday CSV (the audit list's "CSV") answers "who asked, who approved" on its own, and
opens in Excel on Windows as written."""

from __future__ import annotations

import csv
import io

import pytest

from statusadmin.approvals import services as approvals
from statusadmin.audit.models import Action, AuditEntry
from statusadmin.changesets import runner
from statusadmin.changesets import services as changesets
from statusadmin.convoso.sandbox import seed
from statusadmin.statuses import services

BOM = "\ufeff"


def report(client, **query) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    response = client.get("/audit/report.csv", query)
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith(BOM)  # Excel reads UTF-8 (arrows, accents) only with the mark
    return list(csv.DictReader(io.StringIO(body.removeprefix(BOM), newline="")))


def row_of(rows: list[dict[str, str]], action: str) -> dict[str, str]:
    (found,) = [r for r in rows if r["Action"] == action]
    return found


class FourEyesTests:
    def test_a_requests_steps_and_its_change(self, supervisor, approver_user, compliance_client):
        seed()
        request = approvals.request_update(
            actor=supervisor, code="HOT", changes={"dnc": "Y"}, reason="Customer opted out"
        )
        approvals.approve(request_id=request.pk, approver=approver_user, note="Checked the call")
        rows = report(compliance_client)
        asked = row_of(rows, "Change requested")
        assert asked["What changed"] == "DNC No → Yes"
        assert (asked["Requested by"], asked["Request"]) == ("sue", str(request.pk))
        approved = row_of(rows, "Approved")
        assert approved["What changed"] == "DNC No → Yes"
        assert approved["Approved by"] == "april"
        assert approved["Approver's note"] == "Checked the call"
        change = row_of(rows, "Update")
        assert change["What changed"] == "DNC No → Yes"
        assert (change["Requested by"], change["Approved by"]) == ("sue", "april")
        assert change["Approver's note"] == "Checked the call"
        assert change["Request"] == str(request.pk)
        assert change["Reason"] == "Customer opted out"


@pytest.mark.django_db(transaction=True)  # the runner's threads have connections of their own
class ChangeSetTests:
    def test_a_change_sets_changes_name_their_approver(
        self, supervisor, approver_user, compliance_client
    ):
        seed()
        plan = changesets.plan_bulk(
            actor=supervisor, codes=["HOT"], changes={"dnc": "Y"}, title="Opt-outs"
        )
        changesets.apply(change_set_id=plan.pk, actor=supervisor, reason="Regulator request")
        changesets.decide(change_set_id=plan.pk, approver=approver_user, approve=True, note="Fine")
        runner.run(plan.pk)
        update = AuditEntry.objects.get(action=Action.UPDATE, change_set_ref=plan.pk)
        assert update.approved_by == "april"
        change = row_of(report(compliance_client), "Update")
        assert (change["Approved by"], change["Change set"]) == ("april", str(plan.pk))
        assert change["Requested by"] == ""  # a change set's planner is its actor
        assert change["Who"] == "sue"


class AuditListTests:
    """The same trail on the screen, on the change itself, and the field filter keeps it."""

    @pytest.fixture
    def approved(self, supervisor, approver_user):  # type: ignore[no-untyped-def]
        seed()
        request = approvals.request_update(
            actor=supervisor, code="HOT", changes={"dnc": "Y"}, reason="Customer opted out"
        )
        approvals.approve(request_id=request.pk, approver=approver_user, note="Checked")
        return request

    def test_the_change_names_both_people_and_links_the_request(self, approved, compliance_client):
        html = compliance_client.get("/audit/", {"action": "update"}).content.decode()
        assert "requested by sue · approved by april" in html
        assert f'<a href="?request={approved.pk}">request {approved.pk}</a>' in html

    def test_the_requests_trail_is_one_filter_away(self, approved, supervisor, compliance_client):
        services.status_update(actor=supervisor, code="XFER", changes={"callback": "Y"})
        html = compliance_client.get("/audit/", {"request": approved.pk}).content.decode()
        shown = [
            a
            for a in ("Change requested", "Approved", "Update")
            if f'<td data-label="Action">{a}</td>' in html
        ]
        assert shown == ["Change requested", "Approved", "Update"]
        assert ">XFER<" not in html  # nothing but the request's own

    def test_a_field_filter_keeps_the_requests_steps(self, approved, compliance_client):
        html = compliance_client.get("/audit/", {"field": "dnc"}).content.decode()
        for action in ("Change requested", "Approved", "Update"):
            assert f'<td data-label="Action">{action}</td>' in html, action
        other = compliance_client.get("/audit/", {"field": "final"}).content.decode()
        assert '<td data-label="Action">Change requested</td>' not in other
