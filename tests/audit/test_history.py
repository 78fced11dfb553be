"""The catalogue as of any moment, rebuilt from the audit log alone, against what Convoso (the
sandbox) actually held at that moment."""

from __future__ import annotations

import html
import io
import json
import re
from datetime import UTC, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from statusadmin.approvals import services as approvals
from statusadmin.audit import history, triggers
from statusadmin.audit import views as audit_views
from statusadmin.audit.evidence_verifier import CATALOGUE_FIELDS
from statusadmin.audit.forms import MomentForm
from statusadmin.audit.integrity import run_verification
from statusadmin.audit.models import Action, AuditEntry, CatalogueSnapshot, Outcome, Verification
from statusadmin.audit.services import begin, finish_with_error
from statusadmin.convoso import errors
from statusadmin.convoso.connection import SANDBOX_ACCOUNT, get_client
from statusadmin.convoso.models import SandboxFault, SandboxStatus
from statusadmin.convoso.sandbox import seed
from statusadmin.convoso.status import FLAGS
from statusadmin.convoso.validation import InvalidInput
from statusadmin.statuses import mirror, services
from tests.factories import make_user

pytestmark = pytest.mark.django_db


class Rollback(Exception):
    """Undo one example's writes, so every example starts from the same sandbox and log."""


def truth() -> dict[str, dict[str, Any]]:
    """What Convoso holds, read through its API: the catalogue the rebuild must match."""
    return {
        s.code: {name: getattr(s, name) for name in CATALOGUE_FIELDS}
        for s in get_client().search("")
    }


def rebuilt(at) -> dict[str, dict[str, Any]]:  # type: ignore[no-untyped-def]
    catalogue = history.catalogue_at(account=SANDBOX_ACCOUNT, at=at)
    assert all(s.known for s in catalogue.statuses)
    return {s.code: s.fields for s in catalogue.statuses}


# One step of what happens to a catalogue: (kind, status, field, value).
CODES = ["XFER", "HOT", "LVM", "NEW1", "NEW2"]
FIELDS = [*FLAGS, "name", "color"]
steps = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "update",
                "create",
                "drift",
                "remove",
                "failed",
                "rejected",
                "approved",
                "refused",
                "revert",
            ]
        ),
        st.sampled_from(CODES),
        st.sampled_from(FIELDS),
        st.booleans(),
    ),
    min_size=1,
    max_size=8,
)


def value_for(field: str, on: bool) -> object:
    if field in FLAGS:
        return "Y" if on else "N"
    if field == "color":
        return "#AA0000" if on else "#00AA00"
    return "Name A" if on else "Name B"


def take(kind: str, code: str, field: str, on: bool, people: dict[str, Any]) -> None:
    """One step, as the dashboard or Convoso's own screens would take it. Steps that can't
    apply (a status that isn't there, a code already taken) are refused, as in real life."""
    sue, april = people["sue"], people["april"]
    change = {field: value_for(field, on)}
    try:
        if kind == "update":
            services.status_update(actor=sue, code=code, changes=change, reason="r")
        elif kind == "create":
            services.status_create(actor=sue, code=code, name=f"Made {code}", color=None,
                                   flags={f: on for f in FLAGS if f != "dnc"})  # fmt: skip
        elif kind == "drift":  # changed in Convoso's own screens, seen at the next sync
            value = change[field]
            column = {"color": "hex_color"}.get(field, field)
            stored = value == "Y" if field in FLAGS else str(value).removeprefix("#")
            SandboxStatus.objects.filter(code=code, custom=True).update(**{column: stored})
            mirror.mirror_refresh(force=True)
        elif kind == "remove":  # removed in Convoso, seen at the next sync
            SandboxStatus.objects.filter(code=code, custom=True).delete()
            mirror.mirror_refresh(force=True)
        elif kind == "failed":  # Convoso answers 500 before doing anything
            SandboxFault.objects.create(endpoint="update", kind="http_500", remaining=1)
            services.status_update(actor=sue, code=code, changes=change, reason="r")
        elif kind == "rejected":  # broken input: refused before anything is sent
            services.status_update(actor=sue, code=code, changes={"color": "red"})
        elif kind in ("approved", "refused"):  # four eyes on DNC
            request = approvals.request_update(
                actor=sue, code=code, changes={"dnc": "Y" if on else "N"}, reason="Opt-outs"
            )
            if kind == "approved":
                approvals.approve(request_id=request.pk, approver=april)
            else:
                approvals.reject(request_id=request.pk, approver=april, note="Not now")
        elif kind == "revert":
            last = (
                AuditEntry.objects.filter(
                    status_code=code, action=Action.UPDATE, outcome=Outcome.SUCCEEDED
                )
                .order_by("-seq")
                .first()
            )
            if last is not None and last.revertible:
                current = get_client().get(code)
                services.status_update(
                    actor=sue, code=code, reverts=last.pk, reason="r",
                    changes=services.changes_to_restore(last.before or {}, current),
                )  # fmt: skip
    except (InvalidInput, errors.ConvosoError, services.NotSent, approvals.ApprovalError):
        pass
    SandboxFault.objects.all().delete()


@pytest.fixture
def people(db):  # type: ignore[no-untyped-def]
    seed()
    mirror.mirror_refresh()  # the first copy: where history starts
    return {"sue": make_user("sue", "Supervisor"), "april": make_user("april", "Approver")}


class PropertyTests:
    @settings(
        max_examples=30,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(story=steps)
    def test_the_rebuild_equals_what_convoso_held_at_every_moment(self, people, story):
        try:
            with transaction.atomic():
                moments = [(timezone.now(), truth())]
                for step in story:
                    take(*step, people)
                    moments.append((timezone.now(), truth()))
                for at, held in moments:
                    assert rebuilt(at) == held
                raise Rollback
        except Rollback:
            pass


class EdgeTests:
    def test_a_moment_exactly_on_an_entry_counts_it(self, people):
        result = services.status_update(actor=people["sue"], code="HOT", changes={"final": "Y"})
        entry = AuditEntry.objects.get(pk=result.entry)
        assert rebuilt(entry.completed_at)["HOT"]["final"] is True
        assert rebuilt(entry.completed_at - timedelta(microseconds=1))["HOT"]["final"] is False

    def test_entries_complete_in_chain_order(self, people, monkeypatch):
        # A writer takes its completion time, then waits for the chain while another goes
        # first: its entry is stamped no earlier than the one before it, so the entries done by
        # any moment are a prefix of the chain (what the rebuild reads, and snapshots rest on).
        early = timezone.now()
        late = begin(
            actor=people["sue"], origin=None, action=Action.UPDATE, code="HOT",
            account=SANDBOX_ACCOUNT, requested={"final": True},
        )  # fmt: skip
        done = services.status_update(actor=people["sue"], code="XFER", changes={"name": "X"})
        # Its time was read before XFER's entry took its place: as if it had waited on the lock.
        monkeypatch.setattr("statusadmin.audit.services.timezone.now", lambda: early)
        finish_with_error(late, errors.ConvosoUnavailable("timeout", kind="timeout"))
        monkeypatch.undo()
        first = AuditEntry.objects.get(pk=done.entry)
        late.refresh_from_db()
        assert late.seq > first.seq
        assert late.completed_at >= first.completed_at > early

    def test_two_changes_within_a_second_are_told_apart(self, people):
        first = services.status_update(actor=people["sue"], code="HOT", changes={"final": "Y"})
        second = services.status_update(actor=people["sue"], code="HOT", changes={"name": "X"})
        a, b = (AuditEntry.objects.get(pk=r.entry).completed_at for r in (first, second))
        assert (b - a) < timedelta(seconds=1)
        between = rebuilt(a)["HOT"]
        assert (between["final"], between["name"]) == (True, "Hot Lead")
        assert rebuilt(b)["HOT"]["name"] == "X"

    def test_a_status_removed_upstream_is_there_before_and_gone_after(self, people):
        before = timezone.now()
        SandboxStatus.objects.filter(code="LVM").delete()
        mirror.mirror_refresh(force=True)
        assert "LVM" in rebuilt(before)
        assert "LVM" not in rebuilt(timezone.now())

    def test_a_lost_reply_is_uncertain_until_settled(self, people):
        attempt = begin(
            actor=people["sue"], origin=None, action=Action.UPDATE, code="HOT",
            account=SANDBOX_ACCOUNT, requested={"final": True},
        )  # fmt: skip
        finish_with_error(attempt, errors.ConvosoUnavailable("lost", kind="timeout",
                                                             may_have_applied=True))  # fmt: skip
        SandboxStatus.objects.filter(code="HOT").update(final=True)  # it did reach Convoso
        lost = timezone.now()
        hot = history.catalogue_at(account=SANDBOX_ACCOUNT, at=lost).get("HOT")
        assert hot is not None
        assert (hot.known, hot.uncertain) == (False, AuditEntry.objects.get(pk=attempt.pk).seq)
        mirror.mirror_refresh(force=True)  # the next sync settles it
        settled = history.catalogue_at(account=SANDBOX_ACCOUNT, at=timezone.now()).get("HOT")
        assert settled is not None
        assert (settled.known, settled.fields["final"]) == (True, True)

    def test_before_the_first_copy_nothing_is_known_but_it_says_so(self, people):
        copy = AuditEntry.objects.get(action=Action.CATALOGUE_COPY)
        earlier = copy.completed_at - timedelta(days=1)
        catalogue = history.catalogue_at(account=SANDBOX_ACCOUNT, at=earlier, later=["HOT", "XFER"])
        assert [(s.code, s.known, s.first_seen) for s in catalogue.statuses] == [
            ("HOT", False, copy.completed_at), ("XFER", False, copy.completed_at),
        ]  # fmt: skip

    def test_each_field_names_the_entry_that_set_it(self, people):
        copy = AuditEntry.objects.get(action=Action.CATALOGUE_COPY)
        result = services.status_update(actor=people["sue"], code="HOT", changes={"final": "Y"})
        hot = history.catalogue_at(account=SANDBOX_ACCOUNT, at=timezone.now()).get("HOT")
        assert hot is not None
        entry = AuditEntry.objects.get(pk=result.entry)
        assert hot.set_by["final"] == entry.seq
        assert hot.set_by["name"] == copy.seq  # unchanged since the copy
        assert hot.last == entry.seq


class SnapshotTests:
    def test_snapshots_are_a_cache_that_changes_no_answer(self, people, monkeypatch):
        monkeypatch.setattr(history, "SNAPSHOT_EVERY", 3)
        sue = people["sue"]
        moments = []
        for i, code in enumerate(["HOT", "XFER", "LVM"] * 3):
            services.status_update(actor=sue, code=code, changes={"name": f"Name {i}"})
            moments.append(timezone.now())
        assert history.keep_snapshots(SANDBOX_ACCOUNT) >= 2
        with_snapshots = [rebuilt(at) for at in moments]
        CatalogueSnapshot.objects.all().delete()
        monkeypatch.setattr(history, "SNAPSHOT_EVERY", 10**9)
        assert [rebuilt(at) for at in moments] == with_snapshots

    def test_a_question_far_from_any_snapshot_leaves_one(self, people, monkeypatch):
        monkeypatch.setattr(history, "SNAPSHOT_EVERY", 2)
        for code in ("HOT", "XFER", "LVM"):
            services.status_update(actor=people["sue"], code=code, changes={"final": "Y"})
        rebuilt(timezone.now())
        assert CatalogueSnapshot.objects.exists()
        assert rebuilt(timezone.now())["LVM"]["final"] is True

    def test_verification_recomputes_every_snapshot(self, people, monkeypatch):
        monkeypatch.setattr(history, "SNAPSHOT_EVERY", 2)
        for code in ("HOT", "XFER", "LVM", "HOT"):
            services.status_update(actor=people["sue"], code=code, changes={"final": "Y"})
        made = history.keep_snapshots(SANDBOX_ACCOUNT)
        assert made >= 2
        result = run_verification(ran_by="test")
        assert result.state != Verification.State.TAMPERED, result.message
        assert f"{made} catalogue snapshots match the log" in result.message

    def test_an_altered_snapshot_is_tampering_and_is_dropped(self, people, monkeypatch):
        monkeypatch.setattr(history, "SNAPSHOT_EVERY", 2)
        for code in ("HOT", "XFER", "LVM", "CBHOLD", "HOT"):
            services.status_update(actor=people["sue"], code=code, changes={"final": "Y"})
        history.keep_snapshots(SANDBOX_ACCOUNT)
        first, *later = CatalogueSnapshot.objects.order_by("seq")
        assert later
        # Someone with the database's password makes the past say HOT was never final.
        altered = later[0]
        altered.state["HOT"]["fields"]["final"] = False
        altered.save()
        result = run_verification(ran_by="test")
        assert result.state == Verification.State.TAMPERED
        assert (
            f"the catalogue snapshot after entry {altered.seq} differs from the log's own replay"
            in result.message
        )
        # The cache is dropped from the altered one on, so no screen shows the altered past.
        assert list(CatalogueSnapshot.objects.values_list("seq", flat=True)) == [first.seq]
        assert rebuilt(timezone.now())["HOT"]["final"] is True

    def test_a_snapshot_of_no_entry_is_tampering(self, people):
        CatalogueSnapshot.objects.create(
            account=SANDBOX_ACCOUNT, seq=10**6, upto_at=timezone.now(), state={}
        )
        result = run_verification(ran_by="test")
        assert result.state == Verification.State.TAMPERED
        assert "the catalogue snapshot after entry 1000000 differs" in result.message


class RetentionTests:
    """The README's purge: the anchor checkpoint keeps the catalogue as it stood after the
    last entry to go, and history goes on from there."""

    def purge_through(self, seq: int, tmp_path, unlock) -> Any:  # type: ignore[no-untyped-def]
        checkpoints = tmp_path / "checkpoints.jsonl"
        call_command(
            "audit_checkpoint", "--file", str(checkpoints), "--seq", str(seq),
            stderr=io.StringIO(),
        )  # fmt: skip
        unlock()
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {AuditEntry._meta.db_table} WHERE seq <= %s", [seq])
        triggers.install(connection)
        return checkpoints

    def test_the_catalogue_survives_a_purge_of_its_first_copy(
        self, people, tmp_path, entries_table_unlocked, monkeypatch
    ):
        monkeypatch.setattr(history, "SNAPSHOT_EVERY", 10**9)
        sue = people["sue"]
        services.status_update(actor=sue, code="HOT", changes={"final": "Y"})
        last_to_go = AuditEntry.objects.order_by("-seq").values_list("seq", flat=True)[0]
        services.status_update(actor=sue, code="XFER", changes={"final": "Y"})
        checkpoints = self.purge_through(last_to_go, tmp_path, entries_table_unlocked)
        assert not AuditEntry.objects.filter(action=Action.CATALOGUE_COPY).exists()
        assert rebuilt(timezone.now()) == truth()
        result = run_verification(ran_by="test", checkpoints=checkpoints)
        assert result.state != Verification.State.TAMPERED, result.message
        assert result.message.startswith("1 entry verified (from entry"), result.message
        assert (
            f"the catalogue before entry {last_to_go + 1} rests on the one kept at the "
            "retention cut-off" in result.message
        )

    def test_snapshots_after_the_cut_are_still_checked(
        self, people, tmp_path, entries_table_unlocked, monkeypatch
    ):
        monkeypatch.setattr(history, "SNAPSHOT_EVERY", 1)
        sue = people["sue"]
        for code in ("HOT", "CBHOLD"):
            services.status_update(actor=sue, code=code, changes={"final": "Y"})
        checkpoints = self.purge_through(2, tmp_path, entries_table_unlocked)
        for code in ("XFER", "LVM"):
            services.status_update(actor=sue, code=code, changes={"final": "Y"})
        history.keep_snapshots(SANDBOX_ACCOUNT)
        later = CatalogueSnapshot.objects.order_by("-seq").first()
        assert later is not None
        assert later.seq > 4
        later.state["XFER"]["fields"]["final"] = False
        later.save()
        result = run_verification(ran_by="test", checkpoints=checkpoints)
        assert result.state == Verification.State.TAMPERED
        assert f"snapshot after entry {later.seq} differs" in result.message


class TimelineTests:
    def test_a_flags_values_with_who_set_them(self, people):
        sue, april = people["sue"], people["april"]
        request = approvals.request_update(
            actor=sue, code="HOT", changes={"dnc": "Y"}, reason="Opt-outs"
        )
        result = approvals.approve(request_id=request.pk, approver=april)
        periods = history.timelines(account=SANDBOX_ACCOUNT, code="HOT")["dnc"]
        assert [p.value for p in periods] == [False, True]
        assert periods[0].until == periods[1].since
        assert periods[1].until is None
        assert periods[1].entry == AuditEntry.objects.get(pk=result.entry).seq

    def test_every_field_in_one_pass(self, people):
        services.status_update(actor=people["sue"], code="HOT", changes={"name": "Warm"})
        periods = history.timelines(account=SANDBOX_ACCOUNT, code="HOT")
        assert [p.value for p in periods["name"]] == ["Hot Lead", "Warm"]
        assert [p.value for p in periods["final"]] == [False]


class CommandTests:
    def run(self, *args: str) -> str:
        out = io.StringIO()
        call_command("catalogue_as_of", *args, stdout=out)
        return out.getvalue()

    def test_json_with_the_apis_field_names(self, people, no_approvals):
        result = services.status_update(actor=people["sue"], code="HOT", changes={"dnc": "Y"},
                                        reason="Opt-outs")  # fmt: skip
        rows = json.loads(self.run("--at", timezone.now().isoformat(), "--code", "HOT"))
        assert rows == [{
            "status": "HOT", "name": "Hot Lead", "hex_color": rows[0]["hex_color"],
            "final": "N", "reached": "Y", "success": "Y", "dnc": "Y", "callback": "Y",
            "contact": "Y", "voicemail": "N", "custom_status": "Y",
            "as_of_entry": AuditEntry.objects.get(pk=result.entry).seq, "known": True,
        }]  # fmt: skip

    def test_csv_and_the_whole_catalogue(self, people):
        text = self.run("--at", timezone.now().isoformat(), "--format", "csv")
        lines = text.splitlines()
        assert lines[0].startswith("status,name,hex_color,final")
        assert len(lines) == 1 + len(truth())

    def test_a_zone_is_required_and_any_zone_is_understood(self, people):
        with pytest.raises(CommandError, match="no time zone"):
            self.run("--at", "2026-11-03T14:05:00")
        utc = timezone.now().astimezone(UTC)
        in_kolkata = utc.astimezone(ZoneInfo("Asia/Kolkata")).isoformat()
        assert self.run("--at", in_kolkata) == self.run(
            "--at", utc.isoformat().replace("+00:00", "Z")
        )

    @pytest.mark.parametrize("bad", ["yesterday", "2026-13-01T00:00Z", ""])
    def test_a_bad_moment_is_a_clear_error(self, people, bad):
        with pytest.raises(CommandError, match="not an ISO 8601 moment"):
            self.run("--at", bad)

    def test_the_future_is_refused(self, people):
        with pytest.raises(CommandError, match="in the future"):
            self.run("--at", (timezone.now() + timedelta(hours=1)).isoformat())

    def test_an_unknown_code(self, people):
        with pytest.raises(CommandError, match="knows no status 'NOPE'"):
            self.run("--at", timezone.now().isoformat(), "--code", "NOPE")


class ScreenTests:
    @pytest.fixture
    def reviewer(self, client, people):  # type: ignore[no-untyped-def]
        client.force_login(make_user("carl", "Compliance"))
        return client

    def local(self, moment, zone: str = "Europe/London") -> str:  # type: ignore[no-untyped-def]
        return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%M:%S.%f")

    def test_the_catalogue_with_each_value_linked_to_who_set_it(self, reviewer, people):
        request = approvals.request_update(
            actor=people["sue"], code="HOT", changes={"dnc": "Y"}, reason="Opt-outs"
        )
        result = approvals.approve(request_id=request.pk, approver=people["april"])
        entry = AuditEntry.objects.get(pk=result.entry)
        page = reviewer.get(
            "/audit/catalogue/", {"at": self.local(timezone.now()), "tz": "Europe/London"}
        ).content.decode()
        assert "Times are in <strong>Europe/London</strong>" in page
        assert f'href="/audit/{entry.pk}/" title="Asked by sue, approved by april' in page
        assert "As first copied from Convoso" in page

    def test_compare_shows_only_what_differs(self, reviewer, people):
        before = timezone.now()
        services.status_update(actor=people["sue"], code="HOT", changes={"final": "Y"})
        page = reviewer.get("/audit/catalogue/", {
            "at": self.local(before, "UTC"), "compare": self.local(timezone.now(), "UTC"),
            "tz": "UTC",
        }).content.decode()  # fmt: skip
        rows = re.findall(r'<tr><th scope="row" class="code">(\w+)</th><td>(\w+)</td>', page)
        assert rows == [("HOT", "final")]

    def test_many_differences_come_a_page_of_statuses_at_a_time(
        self, reviewer, people, monkeypatch
    ):
        monkeypatch.setattr(audit_views, "CATALOGUE_PAGE", 2)
        before = timezone.now()
        for code in ("CBHOLD", "HOT", "LVM"):
            services.status_update(actor=people["sue"], code=code, changes={"final": "Y"})
        services.status_update(actor=people["sue"], code="HOT", changes={"name": "Warm Lead"})
        query = {
            "at": self.local(before, "UTC"), "compare": self.local(timezone.now(), "UTC"),
            "tz": "UTC",
        }  # fmt: skip

        def shown(page: str) -> list[tuple[str, str]]:
            return re.findall(r'<tr><th scope="row" class="code">(\w+)</th><td>(\w+)</td>', page)

        first = reviewer.get("/audit/catalogue/", query).content.decode()
        # A status's differences are never split across pages.
        assert shown(first) == [("CBHOLD", "final"), ("HOT", "name"), ("HOT", "final")]
        more = re.search(r'<a href="\?([^"]+)">More statuses</a>', first)
        assert more is not None
        second = reviewer.get(f"/audit/catalogue/?{html.unescape(more.group(1))}").content.decode()
        assert shown(second) == [("LVM", "final")]
        assert "More statuses" not in second

    def test_a_time_the_clocks_skipped_is_explained(self, reviewer):
        page = reviewer.get(
            "/audit/catalogue/", {"at": "2026-03-29T01:30", "tz": "Europe/London"}
        ).content.decode()
        assert "never happened in Europe/London: the clocks went forward" in page

    def test_an_hour_that_happened_twice_is_its_first_time(self, reviewer, people):
        form = MomentForm({"at": "2026-10-25T01:30", "tz": "Europe/London"})
        assert form.is_valid()
        assert form.cleaned_data["at"].utcoffset() == timedelta(hours=1)  # still summer time

    def test_a_bad_zone_and_the_future_are_explained(self, reviewer):
        page = reviewer.get("/audit/catalogue/", {"at": "2026-01-01T10:00", "tz": "Mars/Base"})
        assert "&#x27;Mars/Base&#x27; is not a time zone" in page.content.decode()
        future = (timezone.now() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
        page = reviewer.get("/audit/catalogue/", {"at": future, "tz": "UTC"})
        assert "That is in the future" in page.content.decode()

    def test_the_csv_is_what_is_shown(self, reviewer, people):
        response = reviewer.get(
            "/audit/catalogue.csv", {"at": self.local(timezone.now(), "UTC"), "tz": "UTC"}
        )
        text = response.content.decode()
        assert text.startswith("\ufeff")  # Excel on Windows reads UTF-8 only with the mark
        lines = text.removeprefix("\ufeff").splitlines()
        assert lines[0] == ",".join(history.CSV_COLUMNS)
        assert len(lines) == 1 + len(truth())
        assert 'filename="catalogue-' in response["Content-Disposition"]

    def test_a_hostile_name_is_made_text_in_the_csv(self, reviewer, people):
        services.status_update(actor=people["sue"], code="HOT", changes={"name": "=cmd|calc"})
        body = reviewer.get(
            "/audit/catalogue.csv",
            {"at": self.local(timezone.now(), "UTC"), "tz": "UTC", "q": "HOT"},
        ).content.decode()
        assert ",'=cmd|calc," in body

    def test_the_status_history_shows_each_flag_over_time(self, reviewer, people):
        request = approvals.request_update(
            actor=people["sue"], code="HOT", changes={"dnc": "Y"}, reason="Opt-outs"
        )
        approvals.approve(request_id=request.pk, approver=people["april"])
        page = reviewer.get("/statuses/HOT/history/").content.decode()
        dnc = re.search(r"<dt>DNC</dt>\s*<dd>(.*?)</dd>", page, re.S).group(1)
        assert re.search(r"<strong>No</strong> from .* until .*as first copied", dnc)
        assert re.search(r"<strong>Yes</strong> since .*asked by sue, approved by april", dnc)
