"""Changes made behind the dashboard's back are recorded once; its own changes never are."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from statusadmin.audit.models import Action, AuditEntry, Outcome
from statusadmin.audit.services import begin, finish_with_error
from statusadmin.convoso import errors
from statusadmin.convoso.models import SandboxStatus
from statusadmin.convoso.sandbox import seed
from statusadmin.convoso.status import Status
from statusadmin.statuses import mirror, services
from statusadmin.statuses.models import MirrorStatus, MirrorSync
from tests.helpers import attempts, refused

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _baseline(db):  # type: ignore[no-untyped-def]
    seed()
    mirror.mirror_refresh()  # the first copy of an account is a baseline, not drift


def sync() -> str:
    out = io.StringIO()
    call_command("sync_statuses", stdout=out)
    return out.getvalue()


def unreachable_client(account, **kwargs):  # type: ignore[no-untyped-def]
    """A client for the one check after a lost reply, which can't reach Convoso either."""
    from statusadmin.convoso.client import ConvosoClient

    return ConvosoClient(api_url="http://127.0.0.1:9/v1", token="t", connect_timeout=0.2)


def external() -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(actor_username="outside the dashboard").order_by("id"))


def upgraded_mirror(account: str) -> list[Status]:
    """A second account as an installation from before catalogue copies left it: its mirror
    synced (the sandbox's statuses), its log without a copy. Returns the mirrored statuses."""
    now = timezone.now()
    statuses = [m.to_status() for m in MirrorStatus.objects.all()]
    MirrorSync.objects.create(account=account, synced_at=now)
    MirrorStatus.objects.bulk_create(
        MirrorStatus(account=account, code=s.code, synced_at=now, **MirrorStatus.values_from(s))
        for s in statuses
    )
    return statuses


class DriftTests:
    def test_first_sync_of_an_account_records_the_copy_and_no_drift(self):
        (copy,) = AuditEntry.objects.all()
        assert (copy.action, copy.outcome, copy.actor) == (
            Action.CATALOGUE_COPY, Outcome.RECORDED, None,
        )  # fmt: skip
        assert sorted(s["code"] for s in copy.after["catalogue"]) == sorted(
            MirrorStatus.objects.values_list("code", flat=True)
        )
        assert MirrorStatus.objects.count() == 15
        assert "0 changes" in sync()
        assert AuditEntry.objects.count() == 1  # copied once

    def test_a_mirror_that_predates_copies_gets_one_at_the_next_sync(self):
        """An installation upgraded from before copies existed (its mirror synced, its log
        without a copy): the history of its statuses starts at the next sync."""
        other = "upgraded-account"
        statuses = upgraded_mirror(other)
        mirror._replace_mirror(other, statuses, fetched_at=timezone.now())
        copies = AuditEntry.objects.filter(action=Action.CATALOGUE_COPY, account=other)
        assert copies.count() == 1
        assert not attempts().filter(account=other).exists()  # and no drift

    def test_a_log_that_predates_copies_gets_one_at_the_next_sync(self):
        """The same upgrade, with entries in the log from before copies existed: the next sync
        still records the copy, so the log's catalogue holds every status, not only those the
        older entries name."""
        from statusadmin.audit import history
        from statusadmin.audit.services import record_external

        other = "upgraded-account"
        statuses = upgraded_mirror(other)
        hot = next(s for s in statuses if s.code == "HOT")
        record_external(account=other, action=Action.EXTERNAL_UPDATE, before=hot, after=hot)
        mirror._replace_mirror(other, statuses, fetched_at=timezone.now())
        copies = AuditEntry.objects.filter(action=Action.CATALOGUE_COPY, account=other)
        assert copies.count() == 1
        catalogue = history.catalogue_at(account=other, at=timezone.now())
        assert sorted(s.code for s in catalogue.statuses if s.known) == sorted(
            s.code for s in statuses
        )

    def test_a_change_made_elsewhere_is_recorded_once(self):
        SandboxStatus.objects.filter(code="HOT").update(dnc=True, name="Hot (edited in Convoso)")
        assert "1 change made outside the dashboard recorded" in sync()
        (entry,) = external()
        assert (entry.action, entry.outcome, entry.actor) == (
            Action.EXTERNAL_UPDATE, Outcome.OBSERVED, None,
        )  # fmt: skip
        assert entry.before["dnc"] is False
        assert entry.after["dnc"] is True
        assert entry.changed_fields == ["name", "dnc"]
        assert entry.seq is not None
        assert "0 changes" in sync()
        assert len(external()) == 1

    def test_a_status_created_elsewhere(self):
        SandboxStatus.objects.create(code="NEW9", name="Made in Convoso", custom=True)
        sync()
        (entry,) = external()
        assert (entry.action, entry.status_code, entry.before) == ("external_create", "NEW9", None)
        assert entry.after["name"] == "Made in Convoso"

    def test_a_status_removed_elsewhere(self):
        SandboxStatus.objects.filter(code="LVM").delete()
        sync()
        (entry,) = external()
        assert (entry.action, entry.after) == ("external_remove", None)
        assert entry.before["code"] == "LVM"
        assert not MirrorStatus.objects.filter(code="LVM").exists()

    def test_a_dashboard_change_is_never_drift(self, supervisor):
        services.status_update(actor=supervisor, code="HOT", changes={"final": "Y"})
        services.status_create(actor=supervisor, code="NEW1", name="New", color=None, flags={})
        sync()
        assert external() == []
        assert attempts().count() == 2

    def test_a_lost_reply_that_took_effect_is_not_drift(self, supervisor, monkeypatch):
        """The update reached Convoso but its reply was lost, and the check right after it
        failed too: recorded as unknown, then the next sync finds exactly what was asked for.
        That is the dashboard's change, resolved, not drift."""
        real = type(services.get_client()).call

        def lose_reply(self, endpoint, fields):  # type: ignore[no-untyped-def]
            result = real(self, endpoint, fields)
            if endpoint == "update":
                raise errors.ConvosoUnavailable("lost", kind="timeout", may_have_applied=True)
            return result

        monkeypatch.setattr(type(services.get_client()), "call", lose_reply)
        monkeypatch.setattr(services, "build_client", unreachable_client)
        with pytest.raises(errors.ConvosoUnavailable):
            services.status_update(actor=supervisor, code="HOT", changes={"final": "Y"})
        monkeypatch.undo()
        assert attempts().get().outcome == "unknown"
        sync()
        assert external() == []
        resolution = AuditEntry.objects.get(action=Action.RESOLVE)
        assert (resolution.outcome, resolution.changed_fields) == ("succeeded", ["final"])
        assert MirrorStatus.objects.get(code="HOT").final is True

    def test_a_different_change_after_a_lost_reply_is_still_drift(self, supervisor):
        entry = begin(
            actor=supervisor, origin=None, action=Action.UPDATE, code="HOT",
            account="sandbox", requested={"final": True},
        )  # fmt: skip
        finish_with_error(
            entry, errors.ConvosoUnavailable("x", kind="timeout", may_have_applied=True)
        )
        SandboxStatus.objects.filter(code="HOT").update(voicemail=True)
        sync()
        assert [e.changed_fields for e in external()] == [["voicemail"]]
        resolution = AuditEntry.objects.get(action=Action.RESOLVE)
        assert (resolution.outcome, resolution.resolves) == ("failed", entry)

    def test_a_write_in_flight_is_left_to_the_writer(self, supervisor):
        begin(
            actor=supervisor, origin=None, action=Action.UPDATE, code="HOT",
            account="sandbox", requested={"final": True},
        )  # fmt: skip
        SandboxStatus.objects.filter(code="HOT").update(final=True)  # Convoso already applied it
        sync()
        assert external() == []
        # The writer records what Convoso holds once its write is done; until then the row
        # stays as it was.
        assert MirrorStatus.objects.get(code="HOT").final is False

    def test_a_write_in_flight_in_another_account_hides_no_drift_here(self, supervisor):
        # Another Convoso account has a write to its own HOT under way; this account's HOT,
        # changed behind the dashboard's back, is still drift here.
        begin(
            actor=supervisor, origin=None, action=Action.UPDATE, code="HOT",
            account="east", requested={"final": True},
        )  # fmt: skip
        SandboxStatus.objects.filter(code="HOT").update(final=True)
        sync()
        assert [(e.status_code, e.changed_fields) for e in external()] == [("HOT", ["final"])]

    def test_a_catalogue_older_than_the_mirror_row_is_not_drift(self, supervisor, monkeypatch):
        """A refresh read Convoso, then a dashboard write landed, then the refresh compared."""
        client = services.get_client()
        stale_catalogue = client.search("")
        services.status_update(actor=supervisor, code="HOT", changes={"final": "Y"})
        fetched_at = timezone.now() - timedelta(seconds=1)
        mirror._replace_mirror(client.account, stale_catalogue, fetched_at=fetched_at)
        assert external() == []
        assert MirrorStatus.objects.get(code="HOT").final is True

    def test_sync_failure_is_an_error(self, real_convoso):
        real_convoso.mock.post(real_convoso.url("search"), body=refused())
        with pytest.raises(CommandError, match="could not be reached"):
            sync()

    def test_the_dashboard_refresh_records_drift_too(self, supervisor_client):
        SandboxStatus.objects.filter(code="HOT").update(callback=False)
        supervisor_client.post("/refresh/", {"q": ""}, HTTP_HX_REQUEST="true")
        assert [e.changed_fields for e in external()] == [["callback"]]
