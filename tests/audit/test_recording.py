"""Every write path leaves exactly one complete audit entry with the right outcome."""

from __future__ import annotations

import pytest
import requests
from django.contrib.auth.models import User

from statusadmin.audit import chain
from statusadmin.audit import services as audit
from statusadmin.audit.models import Action, AuditEntry, Outcome
from statusadmin.audit.selectors import Filters, entry_page
from statusadmin.audit.services import Origin
from statusadmin.convoso import errors
from statusadmin.convoso.connection import SANDBOX_ACCOUNT, get_client
from statusadmin.convoso.sandbox import seed
from statusadmin.convoso.status import Status
from statusadmin.convoso.validation import InvalidInput
from statusadmin.statuses import mirror, services
from tests.helpers import attempts, dropped, refused

pytestmark = pytest.mark.django_db

ORIGIN = Origin(ip="203.0.113.7", user_agent="Firefox/140", request_id="req-12345678")


@pytest.fixture(autouse=True)
def _seeded(db):  # type: ignore[no-untyped-def]
    seed()


def only_entry() -> AuditEntry:
    (entry,) = attempts().all()
    return entry


def update(supervisor, **kwargs):  # type: ignore[no-untyped-def]
    kwargs.setdefault("code", "XFER")
    kwargs.setdefault("changes", {"callback": "Y"})
    return services.status_update(actor=supervisor, origin=ORIGIN, **kwargs)


class SuccessTests:
    def test_update_records_who_what_when_where_and_why(self, no_approvals, supervisor):
        update(supervisor, changes={"dnc": "Y", "name": "Closer"}, reason="Opt-outs transfer")
        entry = only_entry()
        assert entry.outcome == Outcome.SUCCEEDED
        assert (entry.actor, entry.actor_username) == (supervisor, "sue")
        assert (entry.remote_ip, entry.user_agent, entry.request_id) == (
            "203.0.113.7", "Firefox/140", "req-12345678",
        )  # fmt: skip
        assert (entry.action, entry.status_code, entry.account) == ("update", "XFER", "sandbox")
        assert entry.reason == "Opt-outs transfer"
        assert entry.requested == {"dnc": True, "name": "Closer"}
        assert entry.before["dnc"] is False
        assert entry.before["name"] == "Transferred to Closer"
        assert entry.after["dnc"] is True
        assert entry.after["name"] == "Closer"
        assert entry.changed_fields == ["name", "dnc"]
        assert entry.created_at <= entry.completed_at
        assert entry.created_at.utcoffset().total_seconds() == 0
        assert entry.seq == 1
        assert len(entry.hash) == 64

    def test_before_is_read_fresh_from_convoso_not_the_mirror(self, supervisor):
        mirror.mirror_refresh()
        from statusadmin.convoso.models import SandboxStatus

        SandboxStatus.objects.filter(code="XFER").update(name="Renamed in Convoso's own UI")
        update(supervisor)
        assert only_entry().before["name"] == "Renamed in Convoso's own UI"

    def test_create(self, no_approvals, supervisor):
        services.status_create(
            actor=supervisor, code="vip1", name="VIP", color="#abcdef",
            flags={"dnc": True}, reason="VIP opt-outs", origin=ORIGIN,
        )  # fmt: skip
        entry = only_entry()
        assert entry.reason == "VIP opt-outs"
        assert (entry.action, entry.outcome, entry.status_code) == ("create", "succeeded", "VIP1")
        assert entry.before is None
        assert entry.after["dnc"] is True
        assert entry.requested == {
            "code": "VIP1", "name": "VIP", "color": "#abcdef", "final": False,
            "reached": False, "success": False, "dnc": True, "callback": False,
            "contact": False, "voicemail": False,
        }  # fmt: skip

    def test_stale_page_is_noted(self, supervisor):
        from dataclasses import replace

        from statusadmin.statuses.selectors import status_version

        current = get_client().get("XFER")
        # The page showed another name; the change is to a different field, so it merges.
        shown = status_version(replace(current, name="What the page showed"))
        update(supervisor, expected_version=shown)
        entry = only_entry()
        assert entry.outcome == Outcome.SUCCEEDED
        assert "changed since the page was loaded" in entry.note


class RejectionTests:
    @pytest.mark.parametrize("code", sorted(errors.UPDATE_CODES))
    def test_each_update_code(self, supervisor, real_convoso, code):
        real_convoso.serve_catalogue()
        text = errors.UPDATE_CODES[code][1]
        real_convoso.mock.post(
            real_convoso.url("update"), json={"success": False, "code": code, "error": text}
        )
        with pytest.raises(errors.ConvosoRejected):
            update(supervisor)
        entry = only_entry()
        assert (entry.outcome, entry.error_code, entry.error_message) == ("rejected", code, text)
        assert entry.before["code"] == "XFER"
        assert entry.changed_fields == []
        assert entry.seq == 1

    @pytest.mark.parametrize("code", sorted(errors.INSERT_CODES))
    def test_each_insert_code(self, supervisor, real_convoso, code):
        text = errors.INSERT_CODES[code][1]
        real_convoso.mock.post(
            real_convoso.url("insert"), json={"success": False, "code": code, "error": text}
        )
        with pytest.raises(errors.ConvosoRejected):
            services.status_create(actor=supervisor, code="AB1", name="x", color=None, flags={})
        entry = only_entry()
        assert (entry.action, entry.outcome, entry.error_code) == ("create", "rejected", code)

    def test_duplicate(self, supervisor):
        with pytest.raises(errors.DuplicateStatus):
            services.status_create(actor=supervisor, code="XFER", name="x", color=None, flags={})
        entry = only_entry()
        assert entry.outcome == "rejected"
        assert entry.error_message == "Status code already exists"

    def test_system_status(self, supervisor):
        with pytest.raises(errors.StatusNotModifiable):
            update(supervisor, code="COMP")
        assert (only_entry().outcome, only_entry().error_code) == ("rejected", 6069)

    def test_rejected_token(self, supervisor, real_convoso):
        real_convoso.mock.post(real_convoso.url("search"), status=401)
        with pytest.raises(errors.TokenRejected):
            update(supervisor)
        entry = only_entry()
        assert (entry.outcome, entry.failure_kind) == ("rejected", "token")
        assert entry.before is None

    def test_input_refused_before_sending(self, supervisor, real_convoso):
        with pytest.raises(InvalidInput):
            update(supervisor, changes={"color": "red;background:url(x)"})
        entry = only_entry()
        assert (entry.outcome, entry.failure_kind) == ("rejected", "invalid_input")
        assert entry.requested == {"color": "red;background:url(x)"}
        assert len(real_convoso.mock.calls) == 0

    def test_dnc_without_reason_is_a_question_not_an_attempt(self, supervisor):
        with pytest.raises(services.ReasonRequired):
            update(supervisor, changes={"dnc": "Y"})
        assert not attempts().exists()


TRANSPORT = [
    ("connect-timeout", {"body": requests.ConnectTimeout()}, "failed", "timeout"),
    ("refused", {"body": refused()}, "failed", "connection"),
    ("dropped", {"body": dropped()}, "unknown", "connection"),
    ("read-timeout", {"body": requests.ReadTimeout()}, "unknown", "timeout"),
    ("http-502", {"status": 502}, "failed", "http_error"),
    ("http-500", {"status": 500}, "unknown", "http_error"),
    ("malformed", {"body": "<html>"}, "unknown", "malformed"),
]


class TransportFailureTests:
    @pytest.mark.parametrize(("name", "reply", "outcome", "kind"), TRANSPORT)
    def test_update(self, supervisor, real_convoso, name, reply, outcome, kind):
        real_convoso.serve_catalogue()
        real_convoso.mock.post(real_convoso.url("update"), **reply)
        with pytest.raises(errors.ConvosoUnavailable):
            update(supervisor)
        entry = AuditEntry.objects.exclude(action="resolve").get()
        assert (entry.outcome, entry.failure_kind) == (outcome, kind)
        assert entry.error_message
        assert entry.before["code"] == "XFER"
        # A reply that may have been lost is checked at once (tests/statuses/test_resolution.py).
        resolutions = list(AuditEntry.objects.filter(resolves=entry))
        assert [r.outcome for r in resolutions] == (["failed"] if outcome == "unknown" else [])

    def test_read_of_before_fails(self, supervisor, real_convoso):
        real_convoso.mock.post(real_convoso.url("search"), body=refused())
        with pytest.raises(errors.ConvosoUnavailable):
            update(supervisor)
        entry = only_entry()
        assert (entry.outcome, entry.before) == ("failed", None)

    def test_insert_lost_reply_but_created(self, supervisor, real_convoso):
        from tests.helpers import status_item

        real_convoso.catalogue.append(status_item("NEW1", "New"))
        real_convoso.serve_catalogue()
        real_convoso.mock.post(real_convoso.url("insert"), body=requests.ReadTimeout())
        services.status_create(actor=supervisor, code="NEW1", name="New", color=None, flags={})
        attempt, resolution = attempts().order_by("seq")
        assert (attempt.outcome, attempt.failure_kind) == ("unknown", "timeout")
        assert (resolution.outcome, resolution.resolves) == ("succeeded", attempt)

    def test_insert_lost_reply_and_not_created(self, supervisor, real_convoso):
        real_convoso.serve_catalogue()
        real_convoso.mock.post(real_convoso.url("insert"), body=requests.ReadTimeout())
        with pytest.raises(errors.ConvosoUnavailable):
            services.status_create(actor=supervisor, code="NEW1", name="New", color=None, flags={})
        attempt, resolution = attempts().order_by("seq")
        assert (attempt.outcome, attempt.failure_kind) == ("unknown", "timeout")
        assert (resolution.outcome, resolution.resolves) == ("failed", attempt)

    def test_insert_lost_reply_and_check_failed(self, supervisor, real_convoso):
        real_convoso.mock.post(real_convoso.url("insert"), body=requests.ReadTimeout())
        real_convoso.mock.post(real_convoso.url("search"), body=refused())
        with pytest.raises(errors.ConvosoUnavailable):
            services.status_create(actor=supervisor, code="NEW1", name="New", color=None, flags={})
        assert only_entry().outcome == "unknown"

    def test_a_bug_in_the_dashboard_is_recorded_too(self, supervisor, monkeypatch):
        def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
            raise RuntimeError("bug")

        monkeypatch.setattr(type(get_client()), "update", broken)
        with pytest.raises(RuntimeError):
            update(supervisor)
        assert (only_entry().outcome, only_entry().failure_kind) == ("failed", "internal")

    def test_a_bug_after_convoso_answered_is_recorded_too(self, supervisor, monkeypatch):
        def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
            raise RuntimeError("bug")

        monkeypatch.setattr(services, "_read_back", broken)
        with pytest.raises(RuntimeError):
            update(supervisor)
        entry = only_entry()
        assert (entry.outcome, entry.failure_kind) == ("failed", "internal")
        assert entry.error_message == "The dashboard failed: RuntimeError"


class CrashTests:
    def test_a_crash_mid_call_leaves_a_visible_pending_entry(self, supervisor, monkeypatch):
        class ProcessKilled(BaseException):
            """Stands in for the worker dying: nothing after this line runs."""

        def die(*args, **kwargs):  # type: ignore[no-untyped-def]
            raise ProcessKilled

        monkeypatch.setattr(type(get_client()), "update", die)
        with pytest.raises(ProcessKilled):
            update(supervisor)
        entry = only_entry()
        assert entry.outcome == Outcome.PENDING
        assert entry.completed_at is None
        assert entry.seq is None  # not in the chain, and the chain is still whole
        assert chain.verify().ok
        assert entry.requested == {"callback": True}

    def test_the_pending_entry_is_written_before_convoso_is_called(self, supervisor, monkeypatch):
        seen: list[str] = []
        real = type(get_client()).call

        def spy(self, endpoint, fields):  # type: ignore[no-untyped-def]
            seen.append(attempts().get().outcome)
            return real(self, endpoint, fields)

        monkeypatch.setattr(type(get_client()), "call", spy)
        update(supervisor)
        # The fresh read, the update, and the read-back of what Convoso now holds.
        assert seen == ["pending", "pending", "pending"]
        assert only_entry().outcome == "succeeded"

    def test_completion_happens_once(self, supervisor):
        update(supervisor)
        entry = only_entry()
        with pytest.raises(ValueError, match="not pending"):
            chain.complete(entry, outcome=Outcome.FAILED)


class ActorTests:
    def test_entry_survives_the_users_deletion(self, supervisor):
        update(supervisor)
        supervisor.delete()
        entry = only_entry()
        assert entry.actor is None
        assert entry.actor_username == "sue"
        assert chain.verify().ok

    def test_external_entries_have_no_actor(self):
        mirror.mirror_refresh()
        from statusadmin.convoso.models import SandboxStatus

        SandboxStatus.objects.filter(code="HOT").update(final=True)
        mirror.mirror_refresh(force=True)
        entry = only_entry()
        assert (entry.actor, entry.actor_username) == (None, "outside the dashboard")


class RequestMetadataTests:
    def test_view_records_request_id_ip_and_agent(self, supervisor_client):
        response = supervisor_client.post(
            "/statuses/XFER/flag/", {"callback": "Y"}, HTTP_HX_REQUEST="true",
            HTTP_USER_AGENT="Chrome/150", REMOTE_ADDR="198.51.100.4",
        )  # fmt: skip
        entry = only_entry()
        assert entry.request_id == response["X-Request-ID"]
        assert len(entry.request_id) == 32
        assert (entry.remote_ip, entry.user_agent) == ("198.51.100.4", "Chrome/150")

    def test_forwarded_for_is_ignored_from_an_untrusted_peer(self, supervisor_client):
        supervisor_client.post(
            "/statuses/XFER/flag/", {"callback": "Y"}, HTTP_HX_REQUEST="true",
            REMOTE_ADDR="198.51.100.4", HTTP_X_FORWARDED_FOR="10.9.9.9",
            HTTP_X_REQUEST_ID="spoofed-request-id",
        )  # fmt: skip
        entry = only_entry()
        assert entry.remote_ip == "198.51.100.4"
        assert entry.request_id != "spoofed-request-id"

    def test_forwarded_for_is_honoured_from_a_trusted_proxy(self, supervisor_client, settings):
        settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
        response = supervisor_client.post(
            "/statuses/XFER/flag/", {"callback": "Y"}, HTTP_HX_REQUEST="true",
            REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 192.0.2.55, 10.0.0.9",
            HTTP_X_REQUEST_ID="lb-request-0001",
        )  # fmt: skip
        entry = only_entry()
        # The right-most address not ours is the client; what is left of it could be forged.
        assert entry.remote_ip == "192.0.2.55"
        assert entry.request_id == response["X-Request-ID"] == "lb-request-0001"

    def test_hostile_metadata_is_stored_safely(self, supervisor):
        origin = Origin(ip="not-an-ip", user_agent="x\x00y" * 400, request_id="r" * 100)
        services.status_update(
            actor=supervisor, code="XFER", changes={"callback": "Y"}, origin=origin
        )
        entry = only_entry()
        assert entry.remote_ip is None
        assert "\x00" not in entry.user_agent
        assert len(entry.user_agent) == 512
        assert len(entry.request_id) == 64
        assert chain.verify().ok

    def test_what_was_asked_for_is_stored_safely(self, supervisor):
        entry = audit.begin(
            actor=supervisor, origin=None, action=Action.UPDATE, code="XFER", account="sandbox",
            requested={"k" * 150: 1, "list": ["a\x00b", 2, None, {"x": "y"}], "n": 1.5},
        )  # fmt: skip
        entry.refresh_from_db()
        assert entry.requested == {"k" * 100: 1, "list": ["ab", 2, None, {"x": "y"}], "n": "1.5"}


class FinishWithErrorTests:
    """How each kind of failure is recorded (the services call finish_with_error)."""

    def pending(self, supervisor):  # type: ignore[no-untyped-def]
        return audit.begin(
            actor=supervisor, origin=None, action=Action.UPDATE, code="XFER", account="sandbox",
            requested={"final": True},
        )  # fmt: skip

    def test_a_convoso_error_of_no_other_kind(self, supervisor):
        entry = audit.finish_with_error(self.pending(supervisor), errors.ConvosoError("Odd."))
        assert (entry.outcome, entry.error_message, entry.failure_kind) == ("failed", "Odd.", "")

    @pytest.mark.parametrize(
        ("error", "outcome", "kind"),
        [
            (audit.NotSent("Declined."), "rejected", "not_sent"),
            (services.StatusBusy("XFER"), "failed", "busy"),
        ],
    )
    def test_a_write_the_dashboard_did_not_send(self, supervisor, error, outcome, kind):
        entry = audit.finish_with_error(self.pending(supervisor), error)
        entry.refresh_from_db()
        assert (entry.outcome, entry.failure_kind) == (outcome, kind)
        assert entry.error_message == f"Not sent by the dashboard: {error.explanation}"
        assert chain.verify().ok


def test_each_account_is_recorded(supervisor, real_convoso):
    real_convoso.serve_catalogue()
    real_convoso.mock.post(real_convoso.url("update"), json={"success": True, "data": {}})
    update(supervisor)
    assert only_entry().account == get_client().account != SANDBOX_ACCOUNT


def test_users_without_a_primary_key_are_not_linked():
    entry_user = User(username="ghost")
    from statusadmin.audit import services as audit

    entry = audit.begin(
        actor=entry_user, origin=None, action=Action.UPDATE, code="X", account="a", requested={}
    )
    assert (entry.actor, entry.actor_username) == (None, "ghost")


class WhatEachEntryCarriesTests:
    """Fields an auditor reads on a row or filters by, written by each kind of entry."""

    def test_an_approved_change_names_both_people_the_note_and_its_change_set(self, supervisor):
        approval = services.Approval(
            request_id=None, requested_by="ann", note="Checked with legal",
            claim=lambda current: None, approved_by="bob",
        )  # fmt: skip
        update(supervisor, changes={"dnc": "Y"}, reason="Opt-outs", approval=approval, change_set=7)
        entry = only_entry()
        assert entry.outcome == Outcome.SUCCEEDED
        assert (entry.requested_by, entry.approved_by, entry.approval_note) == (
            "ann", "bob", "Checked with legal",
        )  # fmt: skip
        assert entry.change_set_ref == 7

    def test_a_save_of_values_convoso_already_holds_changed_nothing(self, supervisor):
        held = get_client().get("XFER")
        update(supervisor, changes={"callback": "Y" if held.callback else "N"})
        entry = only_entry()
        assert (entry.outcome, entry.changed_fields, entry.after) == (Outcome.UNCHANGED, [], None)
        assert entry.note == audit.NOTHING_SENT
        # The changed-field filter never offers it as a change.
        assert entry_page(filters=Filters(field="callback")).entries == []

    def test_overlong_codes_and_identities_are_recorded_cut_to_their_columns(self, supervisor):
        # PostgreSQL refuses a value longer than its column: cut, the attempt is still recorded.
        origin = Origin(auth_method="oidc", auth_issuer="i" * 300, auth_subject="s" * 300)
        entry = audit.begin(
            actor=supervisor, origin=origin, action=Action.UPDATE, code="C" * 100,
            account="sandbox", requested={},
        )  # fmt: skip
        entry.refresh_from_db()
        assert (entry.status_code, entry.auth_issuer, entry.auth_subject) == (
            "C" * 64, "i" * 255, "s" * 255,
        )  # fmt: skip
        outside = audit.record_external(
            account="sandbox", action=Action.CREATE, before=None,
            after=Status(code="D" * 100, name="From elsewhere"),
        )  # fmt: skip
        outside.refresh_from_db()
        assert outside.status_code == "D" * 64
        assert chain.verify().ok

    def test_a_failed_sign_in_names_the_name_that_was_typed(self):
        entry = audit.record_access(
            actor=None, action=Action.SIGN_IN_FAILED, origin=ORIGIN, username="mallory",
            failure="Wrong password.", failure_kind="password",
        )  # fmt: skip
        entry.refresh_from_db()
        assert (entry.actor, entry.actor_username) == (None, "mallory")
        assert (entry.outcome, entry.error_message) == (Outcome.FAILED, "Wrong password.")
        assert entry.remote_ip == "203.0.113.7"

    def test_a_decision_reads_on_its_own(self, supervisor):
        asked_against = {"code": "XFER", "name": "Transferred to Closer", "dnc": False}
        entry = audit.record_step(
            actor=supervisor, action=Action.APPROVE, account="sandbox", code="XFER",
            request_ref=3, requested_by="ann", reason="Agreed", requested={"dnc": True},
            before=asked_against, origin=ORIGIN,
        )  # fmt: skip
        entry.refresh_from_db()
        assert (entry.actor, entry.actor_username, entry.remote_ip) == (
            supervisor, "sue", "203.0.113.7",
        )  # fmt: skip
        assert (entry.requested, entry.before) == ({"dnc": True}, asked_against)
        assert (entry.request_ref, entry.requested_by, entry.reason) == (3, "ann", "Agreed")
        assert (entry.outcome, entry.changed_fields, entry.after) == (Outcome.RECORDED, [], None)
