"""Writes whose reply was lost: the dashboard finds out what happened, and says so.

The attempt stays in the log as "unknown" (that is what happened on the wire); a resolution
entry, chained and linked to it, records what a later read of Convoso showed.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from statusadmin.audit.models import Action, AuditEntry, Outcome
from statusadmin.audit.selectors import Filters, entry_page
from statusadmin.audit.services import IN_FLIGHT_WINDOW, begin, finish_with_error, record_resolution
from statusadmin.convoso import errors
from statusadmin.convoso.status import Status
from statusadmin.statuses import mirror, services
from statusadmin.statuses.models import MirrorStatus
from tests.helpers import status_item

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


def applied_then_lost(real_convoso, change):  # type: ignore[no-untyped-def]
    """Convoso carries out the update, then the reply never arrives."""

    def reply(request):  # type: ignore[no-untyped-def]
        real_convoso.catalogue[0].update(change)
        raise requests.ReadTimeout("read timed out")

    real_convoso.mock.add_callback("POST", real_convoso.url("update"), callback=reply)


def entries() -> list[AuditEntry]:
    return list(AuditEntry.objects.order_by("seq"))


class UpdateTests:
    def test_made_counts_as_saved_and_is_resolved_at_once(
        self, no_approvals, supervisor, real_convoso
    ):
        real_convoso.serve_catalogue()
        applied_then_lost(real_convoso, {"dnc": "Y"})
        result = services.status_update(
            actor=supervisor, code="XFER", changes={"dnc": "Y"}, reason="Opt-outs"
        )
        assert (result.resolved, result.changed, result.status.dnc) == (True, ["dnc"], True)
        assert (result.before.dnc, result.stale) == (False, False)
        attempt, resolution = entries()
        assert (attempt.outcome, attempt.failure_kind) == (Outcome.UNKNOWN, "timeout")
        assert (resolution.action, resolution.outcome) == (Action.RESOLVE, Outcome.SUCCEEDED)
        assert resolution.resolves == attempt
        assert (resolution.actor, resolution.actor_username) == (supervisor, "sue")
        assert resolution.changed_fields == ["dnc"]
        assert (resolution.before["dnc"], resolution.after["dnc"]) == (False, True)
        assert re.fullmatch(
            rf"Convoso's reply to entry {attempt.seq} was lost; a read of Convoso at .+ shows "
            r"the change was made\.",
            resolution.note,
        ), resolution.note
        assert resolution.requested == attempt.requested == {"dnc": True}
        assert MirrorStatus.objects.get(code="XFER").dnc is True
        # Filtering by the changed field (and by person) finds the change.
        found = entry_page(filters=Filters(field="dnc", actor="sue")).entries
        assert found == [resolution]

    def test_not_made_is_safe_to_retry_and_says_so(self, supervisor, real_convoso):
        real_convoso.serve_catalogue()
        real_convoso.mock.post(real_convoso.url("update"), body=requests.ReadTimeout())
        with pytest.raises(errors.ConvosoUnavailable) as exc:
            services.status_update(actor=supervisor, code="XFER", changes={"final": "Y"})
        assert exc.value.may_have_applied is False
        assert "A check afterwards shows the change was not made" in exc.value.explanation
        attempt, resolution = entries()
        assert attempt.outcome == Outcome.UNKNOWN
        assert (resolution.outcome, resolution.changed_fields) == (Outcome.FAILED, [])
        assert resolution.resolves == attempt

    def test_the_check_is_one_quick_read(self, supervisor, real_convoso, monkeypatch):
        # The person is waiting: short timeouts and no retries; the next refresh can wait.
        built: list[dict[str, object]] = []
        real_build = services.build_client

        def build_client(account, **kwargs):  # type: ignore[no-untyped-def]
            built.append(kwargs)
            return real_build(account, **kwargs)

        monkeypatch.setattr(services, "build_client", build_client)
        real_convoso.serve_catalogue()
        real_convoso.mock.post(real_convoso.url("update"), body=requests.ReadTimeout())
        with pytest.raises(errors.ConvosoUnavailable):
            services.status_update(actor=supervisor, code="XFER", changes={"final": "Y"})
        connect, read = services.RESOLVE_TIMEOUTS
        assert built == [{"connect_timeout": connect, "read_timeout": read, "retries": 0}]

    def test_a_status_gone_when_checked_leaves_the_mirror(self, supervisor, real_convoso):
        real_convoso.serve_catalogue()
        mirror.mirror_refresh()

        def reply(request):  # type: ignore[no-untyped-def]
            real_convoso.catalogue.pop(0)  # XFER is removed in Convoso as the reply is lost
            raise requests.ReadTimeout("read timed out")

        real_convoso.mock.add_callback("POST", real_convoso.url("update"), callback=reply)
        with pytest.raises(errors.ConvosoUnavailable, match="safe to try again"):
            services.status_update(actor=supervisor, code="XFER", changes={"final": "Y"})
        assert not MirrorStatus.objects.filter(code="XFER").exists()
        assert MirrorStatus.objects.filter(code="COMP").exists()

    def test_unreachable_afterwards_is_left_to_the_next_refresh(self, supervisor, real_convoso):
        real_convoso.mock.post(
            real_convoso.url("search"), json={"data": [status_item("XFER", "Transferred")]}
        )
        real_convoso.mock.post(real_convoso.url("update"), body=requests.ReadTimeout())
        real_convoso.mock.post(real_convoso.url("search"), body=requests.ConnectTimeout())
        with pytest.raises(errors.ConvosoUnavailable) as exc:
            services.status_update(actor=supervisor, code="XFER", changes={"final": "Y"})
        assert exc.value.may_have_applied is True
        (attempt,) = entries()
        assert attempt.outcome == Outcome.UNKNOWN
        # Convoso had in fact applied it; the next refresh finds out.
        real_convoso.mock.replace(
            "POST", real_convoso.url("search"), body=requests.ConnectTimeout()
        )
        real_convoso.mock.remove("POST", real_convoso.url("search"))
        real_convoso.catalogue[0]["final"] = "Y"
        real_convoso.serve_catalogue()
        mirror.mirror_refresh(force=True)
        resolution = AuditEntry.objects.get(action=Action.RESOLVE)
        assert (resolution.outcome, resolution.changed_fields) == (Outcome.SUCCEEDED, ["final"])
        assert resolution.resolves == attempt
        assert MirrorStatus.objects.get(code="XFER").final is True
        assert not AuditEntry.objects.filter(action__startswith="external_").exists()
        # Resolved once: a later refresh adds nothing.
        mirror.mirror_refresh(force=True)
        assert AuditEntry.objects.filter(action=Action.RESOLVE).count() == 1

    def test_the_view_says_what_happened(self, supervisor_client, real_convoso):
        real_convoso.serve_catalogue()
        applied_then_lost(real_convoso, {"callback": "Y"})
        page = supervisor_client.post("/statuses/XFER/flag/", {"callback": "Y"}, **HX)
        html = page.content.decode()
        assert "Saved XFER: Callback No → Yes." in html
        assert (
            "Convoso&#x27;s reply was lost; a check afterwards shows the change was made." in html
        )
        assert re.search(r'name="callback"[^>]*aria-checked="true"', html)

    def test_attempt_and_resolution_link_to_each_other(self, client, admin_user, real_convoso):
        real_convoso.serve_catalogue()
        applied_then_lost(real_convoso, {"final": "Y"})
        services.status_update(actor=admin_user, code="XFER", changes={"final": "Y"})
        attempt, resolution = entries()
        client.force_login(admin_user)
        attempt_page = client.get(f"/audit/{attempt.pk}/").content.decode()
        assert f'<a href="/audit/{resolution.pk}/">the change was made</a>' in attempt_page
        resolution_page = client.get(f"/audit/{resolution.pk}/").content.decode()
        assert f'<a href="/audit/{attempt.pk}/">an attempt whose reply was lost</a>' in (
            resolution_page
        )
        assert "Outcome checked: XFER" in resolution_page


class CreateTests:
    def test_made(self, supervisor, real_convoso):
        real_convoso.serve_catalogue()

        def reply(request):  # type: ignore[no-untyped-def]
            real_convoso.catalogue.append(status_item("VIP1", "VIP"))
            raise requests.ReadTimeout("read timed out")

        real_convoso.mock.add_callback("POST", real_convoso.url("insert"), callback=reply)
        result = services.status_create(
            actor=supervisor, code="vip1", name="VIP", color=None, flags={}
        )
        assert (result.resolved, result.status.code) == (True, "VIP1")
        attempt, resolution = entries()
        assert (attempt.action, attempt.outcome) == (Action.CREATE, Outcome.UNKNOWN)
        assert (resolution.outcome, resolution.resolves) == (Outcome.SUCCEEDED, attempt)
        assert "name" in resolution.changed_fields
        assert real_convoso.calls_to("insert") == 1  # never tried twice
        assert MirrorStatus.objects.filter(code="VIP1").exists()

    def test_not_made(self, supervisor, real_convoso):
        real_convoso.serve_catalogue()
        real_convoso.mock.post(real_convoso.url("insert"), body=requests.ReadTimeout())
        with pytest.raises(errors.ConvosoUnavailable, match="safe to try again"):
            services.status_create(actor=supervisor, code="vip1", name="VIP", color=None, flags={})
        _attempt, resolution = entries()
        assert (resolution.outcome, resolution.after) == (Outcome.FAILED, None)
        assert "shows no status VIP1" in resolution.note
        assert real_convoso.calls_to("insert") == 1

    def test_made_but_only_the_refresh_finds_out(self, supervisor, real_convoso):
        real_convoso.mock.post(real_convoso.url("insert"), body=requests.ReadTimeout())
        real_convoso.mock.post(real_convoso.url("search"), body=requests.ConnectTimeout())
        with pytest.raises(errors.ConvosoUnavailable):
            services.status_create(actor=supervisor, code="vip1", name="VIP", color=None, flags={})
        real_convoso.mock.remove("POST", real_convoso.url("search"))
        real_convoso.catalogue.append(status_item("VIP1", "VIP"))
        real_convoso.serve_catalogue()
        mirror.mirror_refresh(force=True)  # a first copy of the account: a baseline
        resolution = AuditEntry.objects.get(action=Action.RESOLVE)
        assert resolution.outcome == Outcome.SUCCEEDED
        assert not AuditEntry.objects.filter(action="external_create").exists()


class InterruptedTests:
    def test_a_worker_that_died_mid_call_is_resolved_after_the_in_flight_window(
        self, supervisor, real_convoso
    ):
        real_convoso.serve_catalogue()
        mirror.mirror_refresh(force=True)
        attempt = begin(
            actor=supervisor, origin=None, action=Action.UPDATE, code="XFER",
            account=services.get_client().account, requested={"final": True},
        )  # fmt: skip
        real_convoso.catalogue[0]["final"] = "Y"  # it got through before the worker died
        mirror.mirror_refresh(force=True)
        attempt.refresh_from_db()
        assert attempt.outcome == Outcome.PENDING  # still within the in-flight window
        assert not AuditEntry.objects.filter(action=Action.RESOLVE).exists()

        later = timezone.now() + IN_FLIGHT_WINDOW + timedelta(seconds=1)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(timezone, "now", lambda: later)
            mirror.mirror_refresh(force=True)
        attempt.refresh_from_db()
        assert (attempt.outcome, attempt.failure_kind) == (Outcome.UNKNOWN, "interrupted")
        resolution = AuditEntry.objects.get(action=Action.RESOLVE)
        assert (resolution.outcome, resolution.resolves) == (Outcome.SUCCEEDED, attempt)
        assert resolution.changed_fields == ["final"]
        assert MirrorStatus.objects.get(code="XFER").final is True

    def test_only_attempts_finished_before_the_catalogue_was_read_are_judged(
        self, supervisor, real_convoso
    ):
        real_convoso.serve_catalogue()
        mirror.mirror_refresh(force=True)
        client = services.get_client()
        fetched_at = timezone.now()
        catalogue = client.search("")  # read before the attempt below ended
        attempt = begin(
            actor=supervisor, origin=None, action=Action.UPDATE, code="XFER",
            account=client.account, requested={"final": True},
        )  # fmt: skip
        finish_with_error(
            attempt, errors.ConvosoUnavailable("lost", kind="timeout", may_have_applied=True)
        )
        resolutions = AuditEntry.objects.filter(action=Action.RESOLVE)
        mirror._replace_mirror(client.account, catalogue, fetched_at=fetched_at)
        assert resolutions.count() == 0
        mirror.mirror_refresh(force=True)
        assert resolutions.count() == 1


class ResolutionEntryTests:
    """The entry audit.record_resolution writes for an attempt whose reply was lost."""

    XFER = Status(code="XFER", name="Transferred", reached=True, custom=True)

    def lost(self, supervisor, requested):  # type: ignore[no-untyped-def]
        attempt = begin(
            actor=supervisor, origin=None, action=Action.UPDATE, code="XFER",
            account="sandbox", requested=requested,
        )  # fmt: skip
        lost = errors.ConvosoUnavailable("lost", kind="timeout", may_have_applied=True)
        return finish_with_error(attempt, lost, before=self.XFER)

    def test_made_in_the_name_of_who_asked(self, supervisor):
        attempt = self.lost(supervisor, {"final": True, "reached": True})
        resolution = record_resolution(attempt, replace(self.XFER, final=True))
        # Reached was on already: the attempt changed only Final.
        assert (resolution.outcome, resolution.changed_fields) == (Outcome.SUCCEEDED, ["final"])
        assert (resolution.actor, resolution.actor_user_id, resolution.actor_username) == (
            supervisor, supervisor.pk, "sue",
        )  # fmt: skip
        assert resolution.completed_at == resolution.created_at
        assert resolution.after["final"] is True

    def test_not_made(self, supervisor):
        attempt = self.lost(supervisor, {"final": True})
        resolution = record_resolution(attempt, self.XFER)
        assert (resolution.outcome, resolution.changed_fields) == (Outcome.FAILED, [])
        assert re.fullmatch(
            rf"Convoso's reply to entry {attempt.seq} was lost; a read of Convoso at "
            r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC shows the change was not made\.",
            resolution.note,
        )
