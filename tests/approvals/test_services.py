"""Four eyes: changes to APPROVAL_FIELDS (DNC by default) wait for a second person."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection, connections
from django.utils import timezone

from statusadmin.approvals import services as approvals
from statusadmin.approvals.models import ChangeRequest
from statusadmin.audit import chain
from statusadmin.audit.models import Action, AuditEntry, Outcome
from statusadmin.audit.services import Origin
from statusadmin.convoso.connection import get_client
from statusadmin.convoso.models import SandboxStatus
from statusadmin.convoso.sandbox import seed
from statusadmin.convoso.validation import InvalidInput
from statusadmin.statuses import services
from statusadmin.statuses.mirror import mirror_refresh
from statusadmin.statuses.selectors import status_version
from tests.factories import make_user

pytestmark = pytest.mark.django_db
State = ChangeRequest.State


@pytest.fixture(autouse=True)
def _catalogue(db):  # type: ignore[no-untyped-def]
    seed()


@pytest.fixture
def approver(db):  # type: ignore[no-untyped-def]
    return make_user("april", "Approver", email="april@example.test")


def ask_dnc_on(actor, code: str = "XFER", reason: str = "Opt-outs by text"):  # type: ignore[no-untyped-def]
    return approvals.request_update(actor=actor, code=code, changes={"dnc": "Y"}, reason=reason)


def steps(request: ChangeRequest) -> list[tuple[str, str, str]]:
    return [
        (e.action, e.outcome, e.actor_username)
        for e in AuditEntry.objects.filter(request_ref=request.pk).order_by("seq")
    ]


class PolicyTests:
    def test_a_dnc_change_is_not_sent_without_approval(self, supervisor, monkeypatch):
        sent: list[object] = []
        monkeypatch.setattr(type(get_client()), "call", lambda *a, **k: sent.append(a))
        with pytest.raises(services.ApprovalNeeded) as exc:
            services.status_update(
                actor=supervisor, code="XFER", changes={"dnc": "Y"}, reason="Opt-outs"
            )
        assert exc.value.fields == ["dnc"]
        with pytest.raises(services.ApprovalNeeded):
            services.status_create(
                actor=supervisor, code="OPT1", name="Opt-out", color=None,
                flags={"dnc": True}, reason="Opt-outs",
            )  # fmt: skip
        assert sent == []
        assert not AuditEntry.objects.exists()

    def test_other_changes_go_straight_through(self, supervisor):
        services.status_update(actor=supervisor, code="XFER", changes={"callback": "Y"})
        services.status_create(
            actor=supervisor, code="NEW1", name="New", color=None, flags={"final": True}
        )
        assert SandboxStatus.objects.get(code="XFER").callback is True
        assert SandboxStatus.objects.filter(code="NEW1").exists()

    def test_the_fields_are_configurable(self, supervisor, settings):
        settings.APPROVAL_FIELDS = ["final"]
        services.status_update(
            actor=supervisor, code="XFER", changes={"dnc": "Y"}, reason="Opt-outs"
        )
        assert SandboxStatus.objects.get(code="XFER").dnc is True
        with pytest.raises(services.ApprovalNeeded):
            services.status_update(actor=supervisor, code="XFER", changes={"final": "Y"})

    def test_empty_turns_approvals_off(self, supervisor, no_approvals):
        services.status_update(
            actor=supervisor, code="XFER", changes={"dnc": "Y"}, reason="Opt-outs"
        )
        assert SandboxStatus.objects.get(code="XFER").dnc is True


class RequestTests:
    def test_a_request_is_recorded_and_nothing_is_sent(self, supervisor):
        request = ask_dnc_on(supervisor)
        assert (request.state, request.changes, request.reason) == (
            State.PENDING, {"dnc": True}, "Opt-outs by text",
        )  # fmt: skip
        assert request.before["dnc"] is False
        assert SandboxStatus.objects.get(code="XFER").dnc is False
        (entry,) = AuditEntry.objects.all()
        assert (entry.action, entry.outcome, entry.actor_username) == ("request", "recorded", "sue")
        assert (entry.request_ref, entry.requested, entry.reason) == (
            request.pk, {"dnc": True}, "Opt-outs by text",
        )  # fmt: skip
        assert entry.changed_fields == []  # nothing changed yet

    def test_the_reason_is_required_and_real(self, supervisor):
        for reason in ("", "\u200b", "\x00"):
            with pytest.raises(services.ReasonRequired):
                ask_dnc_on(supervisor, reason=reason)
        assert not ChangeRequest.objects.exists()

    def test_a_request_for_a_new_status_needs_a_reason_too(self, supervisor, settings):
        """Even when what needs the second person is not DNC (here Final), the approver is told
        why: a request without a real reason is refused and nothing is recorded."""
        settings.APPROVAL_FIELDS = ["final"]
        for reason in ("", "  "):
            with pytest.raises(services.ReasonRequired):
                approvals.create_or_request(
                    actor=supervisor, code="FIN9", name="Closed", color=None,
                    flags={"final": True}, reason=reason,
                )  # fmt: skip
        assert not ChangeRequest.objects.exists()
        assert not AuditEntry.objects.exists()

    def test_one_request_at_a_time_per_status(self, supervisor):
        ask_dnc_on(supervisor)
        other = make_user("ben", "Supervisor")
        with pytest.raises(approvals.ApprovalError, match="already waiting for approval by sue"):
            ask_dnc_on(other)
        ask_dnc_on(other, code="HOT")  # another status is free
        assert ChangeRequest.objects.filter(state=State.PENDING).count() == 2

    def test_nothing_to_approve(self, supervisor):
        SandboxStatus.objects.filter(code="XFER").update(dnc=True)
        with pytest.raises(approvals.ApprovalError, match="nothing to approve"):
            ask_dnc_on(supervisor)

    def test_a_change_of_something_unseen_is_refused(self, supervisor):
        shown = get_client().get("XFER")
        SandboxStatus.objects.filter(code="XFER").update(dnc=True)
        with pytest.raises(services.EditConflict) as exc:
            approvals.request_update(
                actor=supervisor, code="XFER", changes={"dnc": "N"}, reason="Not opt-outs",
                expected_version=status_version(shown),
            )  # fmt: skip
        assert exc.value.explanation.startswith("XFER was changed after your page loaded")
        assert not ChangeRequest.objects.exists()

    def test_approvers_are_told_by_email_but_not_the_requester(self, supervisor, approver):
        make_user("ada", is_superuser=True, email="ada@example.test")
        supervisor.email = "sue@example.test"
        supervisor.save()
        make_user("carl", "Compliance", email="carl@example.test")
        with self.on_commit():
            ask_dnc_on(supervisor)
        (message,) = mail.outbox
        assert sorted(message.to) == ["ada@example.test", "april@example.test"]
        assert "XFER" in message.subject
        assert "Opt-outs by text" in message.body
        assert "/approvals/" in message.body

    def test_a_mail_server_that_fails_blocks_nothing(self, supervisor, approver, monkeypatch):
        def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
            raise ConnectionRefusedError("no mail server")

        monkeypatch.setattr("statusadmin.approvals.notifications.send_mail", broken)
        with self.on_commit():
            request = ask_dnc_on(supervisor)
        assert request.state == State.PENDING

    @staticmethod
    def on_commit():  # type: ignore[no-untyped-def]
        from django.test import TestCase

        return TestCase.captureOnCommitCallbacks(execute=True)


class DecisionTests:
    def test_approval_sends_the_change_naming_both_people(self, supervisor, approver):
        request = ask_dnc_on(supervisor)
        result = approvals.approve(request_id=request.pk, approver=approver, note="Checked")
        assert result.status.dnc is True
        assert SandboxStatus.objects.get(code="XFER").dnc is True
        request.refresh_from_db()
        assert (request.state, request.decided_by_username) == (State.APPLIED, "april")
        assert steps(request) == [
            ("request", "recorded", "sue"),
            ("approve", "recorded", "april"),
            ("update", "succeeded", "april"),
        ]
        applied = AuditEntry.objects.get(action=Action.UPDATE)
        assert (applied.requested_by, applied.reason, applied.approval_note) == (
            "sue", "Opt-outs by text", "Checked",
        )  # fmt: skip
        assert applied.changed_fields == ["dnc"]
        assert chain.verify().ok

    def test_nobody_approves_their_own_request(self, supervisor):
        from django.contrib.auth.models import Group

        supervisor.groups.add(Group.objects.get(name="Approver"))
        supervisor.is_superuser = True
        supervisor.save()
        request = ask_dnc_on(supervisor)
        with pytest.raises(approvals.ApprovalError, match="another approver must decide"):
            approvals.approve(request_id=request.pk, approver=supervisor)
        with pytest.raises(approvals.ApprovalError):
            approvals.reject(request_id=request.pk, approver=supervisor, note="Changed my mind")
        assert SandboxStatus.objects.get(code="XFER").dnc is False

    @pytest.mark.parametrize("taken", ["role removed", "deactivated", "deleted"])
    def test_a_requester_whose_rights_were_taken_away_is_not_acted_for(
        self, supervisor, approver, taken
    ):
        """Approving sends the requester's change: once they may no longer change statuses,
        nobody can send it for them. The request stays open, to be rejected."""
        request = ask_dnc_on(supervisor)
        if taken == "role removed":
            supervisor.groups.clear()
        elif taken == "deactivated":
            type(supervisor).objects.filter(pk=supervisor.pk).update(is_active=False)
        else:
            supervisor.delete()
        with pytest.raises(approvals.ApprovalError, match="may no longer change statuses"):
            approvals.approve(request_id=request.pk, approver=approver)
        assert SandboxStatus.objects.get(code="XFER").dnc is False
        assert ChangeRequest.objects.get(pk=request.pk).state == State.PENDING
        approvals.reject(request_id=request.pk, approver=approver, note="Requester has left")
        assert ChangeRequest.objects.get(pk=request.pk).state == State.REJECTED

    def test_admins_can_approve(self, supervisor, admin_user):
        request = ask_dnc_on(supervisor)
        approvals.approve(request_id=request.pk, approver=admin_user)
        assert SandboxStatus.objects.get(code="XFER").dnc is True

    def test_a_status_changed_since_the_request_must_be_confirmed(self, supervisor, approver):
        request = ask_dnc_on(supervisor)
        SandboxStatus.objects.filter(code="XFER").update(hex_color="FF0000")  # someone else
        with pytest.raises(approvals.StaleApproval) as exc:
            approvals.approve(request_id=request.pk, approver=approver)
        assert "changed after the request was made (Colour #6711D1 → #FF0000)" in (
            exc.value.explanation
        )
        assert SandboxStatus.objects.get(code="XFER").dnc is False
        held = AuditEntry.objects.get(action=Action.UPDATE)
        assert (held.outcome, held.failure_kind) == ("to_confirm", "stale_approval")
        request.refresh_from_db()
        assert request.state == State.PENDING
        approvals.approve(
            request_id=request.pk, approver=approver, confirmed_version=exc.value.version
        )
        row = SandboxStatus.objects.get(code="XFER")
        assert (row.dnc, row.hex_color) == (True, "FF0000")  # both changes stand

    def test_rejection_needs_a_reason_and_sends_nothing(self, supervisor, approver):
        request = ask_dnc_on(supervisor)
        with pytest.raises(InvalidInput) as exc:
            approvals.reject(request_id=request.pk, approver=approver, note="  ")
        assert (exc.value.field, exc.value.message) == (
            "note", "Say briefly why. It goes in the audit log.",
        )  # fmt: skip
        approvals.reject(request_id=request.pk, approver=approver, note="Not an opt-out status")
        with pytest.raises(approvals.ApprovalError, match="already rejected by april"):
            approvals.approve(request_id=request.pk, approver=approver)
        assert SandboxStatus.objects.get(code="XFER").dnc is False
        assert steps(request) == [("request", "recorded", "sue"), ("reject", "recorded", "april")]
        rejection = AuditEntry.objects.get(action="reject")
        assert rejection.reason == "Not an opt-out status"
        assert (rejection.requested_by, rejection.requested) == ("sue", {"dnc": True})

    def test_only_the_requester_withdraws(self, supervisor, approver):
        request = ask_dnc_on(supervisor)
        with pytest.raises(approvals.ApprovalError, match="Only the person who asked"):
            approvals.withdraw(request_id=request.pk, actor=approver)
        approvals.withdraw(request_id=request.pk, actor=supervisor)
        assert steps(request)[-1] == ("withdraw", "recorded", "sue")
        ask_dnc_on(supervisor)  # the status is free again

    def test_a_request_expires_unsent(self, supervisor, approver, settings):
        request = ask_dnc_on(supervisor)
        ChangeRequest.objects.filter(pk=request.pk).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )
        with pytest.raises(approvals.ApprovalError, match="already expired"):
            approvals.approve(request_id=request.pk, approver=approver)
        assert steps(request)[-1] == ("expire", "recorded", "the dashboard")
        assert approvals.expire_overdue() == 0  # once
        assert SandboxStatus.objects.get(code="XFER").dnc is False

    def test_a_status_that_disappeared_closes_the_request(self, supervisor, approver):
        from statusadmin.convoso import errors

        request = ask_dnc_on(supervisor)
        SandboxStatus.objects.filter(code="XFER").delete()
        with pytest.raises(errors.StatusNotFound, match="no status with this code"):
            approvals.approve(request_id=request.pk, approver=approver)
        request.refresh_from_db()
        assert request.state == State.FAILED
        assert "no status with this code" in request.failure
        with pytest.raises(approvals.ApprovalError, match="already approved, but Convoso"):
            approvals.approve(request_id=request.pk, approver=approver)

    def test_a_new_status_with_dnc_on(self, supervisor, approver):
        request = approvals.request_create(
            actor=supervisor, code="opt9", name="Opted out", color="#aa0000",
            flags={"dnc": True, "final": True}, reason="SMS opt-outs",
        )  # fmt: skip
        assert not SandboxStatus.objects.filter(code="OPT9").exists()
        approvals.approve(request_id=request.pk, approver=approver)
        row = SandboxStatus.objects.get(code="OPT9")
        assert (row.dnc, row.final, row.hex_color) == (True, True, "AA0000")
        created = AuditEntry.objects.get(action=Action.CREATE)
        assert (created.actor_username, created.requested_by) == ("april", "sue")

    def test_a_new_status_records_where_each_person_asked_and_approved_from(
        self, supervisor, approver
    ):
        request = approvals.create_or_request(
            actor=supervisor, code="opt9", name="Opted out", color=None, flags={"dnc": True},
            reason="SMS opt-outs", origin=Origin(ip="192.0.2.10", user_agent="Firefox/140"),
        )  # fmt: skip
        assert isinstance(request, ChangeRequest)
        approvals.approve(
            request_id=request.pk, approver=approver,
            origin=Origin(ip="198.51.100.20", user_agent="Safari/18"),
        )  # fmt: skip
        where = dict(AuditEntry.objects.values_list("action", "remote_ip"))
        assert where == {
            Action.REQUEST: "192.0.2.10", Action.APPROVE: "198.51.100.20",
            Action.CREATE: "198.51.100.20",
        }  # fmt: skip

    def test_a_new_status_whose_code_exists_is_refused_at_the_code(self, supervisor):
        mirror_refresh()
        with pytest.raises(InvalidInput) as exc:
            approvals.create_or_request(
                actor=supervisor, code="xfer", name="Again", color=None, flags={"dnc": True},
                reason="SMS opt-outs",
            )  # fmt: skip
        assert (exc.value.field, exc.value.message) == (
            "code", "A status with this code already exists in Convoso.",
        )  # fmt: skip
        assert not ChangeRequest.objects.exists()

    def test_the_requester_is_told_the_decision(self, supervisor, approver):
        supervisor.email = "sue@example.test"
        supervisor.save()
        request = ask_dnc_on(supervisor)
        mail.outbox.clear()
        with RequestTests.on_commit():
            approvals.reject(request_id=request.pk, approver=approver, note="Wrong status")
        (message,) = mail.outbox
        assert message.to == ["sue@example.test"]
        assert "rejected" in message.subject
        assert "Wrong status" in message.body


@pytest.mark.django_db(transaction=True)
def test_two_approvers_at_once_send_the_change_once(supervisor, approver):
    other = make_user("otto", "Approver")
    request = ask_dnc_on(supervisor)
    sent: list[str] = []
    real = type(get_client()).call

    def count(self, endpoint, fields):  # type: ignore[no-untyped-def]
        if endpoint == "update":
            sent.append(endpoint)
        return real(self, endpoint, fields)

    type(get_client()).call = count  # type: ignore[method-assign]
    results: list[object] = []
    start = threading.Barrier(2)

    def decide(user) -> None:  # type: ignore[no-untyped-def]
        try:
            start.wait()
            results.append(approvals.approve(request_id=request.pk, approver=user))
        except Exception as exc:
            results.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=decide, args=(u,)) for u in (approver, other)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    finally:
        type(get_client()).call = real  # type: ignore[method-assign]
    assert sent == ["update"], (connection.vendor, results)
    assert sum(isinstance(r, services.WriteResult) for r in results) == 1
    assert any(isinstance(r, approvals.ApprovalError | approvals.DecidedMeanwhile) for r in results)
    assert AuditEntry.objects.filter(action=Action.APPROVE).count() == 1


def test_statuses_of_a_request_never_show_the_old_version(supervisor):
    shown = get_client().get("XFER")
    assert status_version(replace(shown, dnc=True)) != status_version(shown)
    assert Outcome.RECORDED.label == "Recorded"


class AuditFilterTests:
    def test_awaiting_approval_and_approved_by(self, supervisor, approver):
        from statusadmin.audit.selectors import Filters, entry_page

        waiting = ask_dnc_on(supervisor, code="HOT")
        approved = ask_dnc_on(supervisor, code="XFER")
        approvals.approve(request_id=approved.pk, approver=approver, note="Fine")
        rejected = ask_dnc_on(supervisor, code="LVM")
        approvals.reject(request_id=rejected.pk, approver=approver, note="Not this one")

        def found(**filters: object) -> list[tuple[str, str]]:
            page = entry_page(filters=Filters(**filters))  # type: ignore[arg-type]
            return sorted((e.action, e.status_code) for e in page.entries)

        assert found(awaiting=True) == [("request", "HOT")]
        assert found(approved_by="april") == [("approve", "XFER"), ("update", "XFER")]
        assert waiting.state == State.PENDING

    def test_both_exports_carry_the_workflow(self, supervisor, approver, admin_user):
        import csv
        import io
        import json

        from django.test import Client

        request = ask_dnc_on(supervisor)
        approvals.approve(request_id=request.pk, approver=approver, note="Checked")
        browser = Client()
        browser.force_login(admin_user)
        body = b"".join(browser.get("/audit/export.csv").streaming_content).decode("utf-8-sig")
        rows = list(csv.DictReader(io.StringIO(body)))
        applied = next(r for r in rows if r["action"] == "update")
        assert (applied["requested_by"], applied["approval_note"], applied["request_ref"]) == (
            "sue", "Checked", str(request.pk),
        )  # fmt: skip
        lines = b"".join(browser.get("/audit/export.jsonl").streaming_content).decode()
        records = [json.loads(line) for line in lines.splitlines()]
        assert {r["action"] for r in records if r["request_ref"] == request.pk} == {
            "request", "approve", "update",
        }  # fmt: skip


def test_the_sync_command_expires_overdue_requests(supervisor):
    import io

    from django.core.management import call_command

    request = ask_dnc_on(supervisor)
    ChangeRequest.objects.filter(pk=request.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    out = io.StringIO()
    call_command("sync_statuses", stdout=out)
    assert "1 change request expired." in out.getvalue()
    request.refresh_from_db()
    assert request.state == State.EXPIRED
