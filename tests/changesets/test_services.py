"""Change sets: planned, reviewed, applied by the worker for real, resumed after a crash."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.utils import timezone

from statusadmin.audit.models import Action, AuditEntry
from statusadmin.audit.services import Origin
from statusadmin.changesets import runner
from statusadmin.changesets import selectors as changeset_selectors
from statusadmin.changesets import services as changesets
from statusadmin.changesets.models import ChangeSet, ChangeSetItem
from statusadmin.convoso.models import SandboxStatus
from statusadmin.convoso.sandbox import seed
from statusadmin.convoso.status import FLAGS
from statusadmin.statuses import services
from tests.factories import make_user
from tests.helpers import pass_second_factor, status_held_by_another_writer

HEADER = "code,name,color," + ",".join(FLAGS) + ",workflow,system\n"


def run_worker() -> None:
    call_command("worker", "--batch", stdout=io.StringIO(), stderr=io.StringIO())


def items(change_set: ChangeSet) -> dict[str, ChangeSetItem]:
    return {i.code: i for i in change_set.items.all()}


@pytest.mark.django_db
class PlanTests:
    @pytest.fixture(autouse=True)
    def _catalogue(self, db):  # type: ignore[no-untyped-def]
        seed()

    def test_an_import_is_planned_line_by_line(self, supervisor):
        data = (
            HEADER
            + "NEW1,Brand new,#123456,N,N,N,N,N,N,N,,N\n"  # line 2: create
            + "XFER,Transferred to Closer,6711D1,N,Y,Y,N,N,Y,N,,N\n"  # line 3: unchanged
            + "HOT,Hot Lead,00AA00,N,Y,Y,N,Y,Y,Y,,N\n"  # line 4: voicemail on
            + "BAD!,Bad code,,N,N,N,N,N,N,N,,N\n"  # line 5
            + "LVM,Left Voicemail,#GGGGGG,N,N,N,N,Y,N,Y,,N\n"  # line 6
            + "SALE,Sale,00AA00,N,Y,Y,N,N,Y,N,sale,Y\n"  # line 7: a system status changed
            + "HOT,Again,,N,N,N,N,N,N,N,,N\n"  # line 8: duplicate
            + "CBHOLD,Callback Requested,,N,Y,N,N,Y,Y,perhaps,,N\n"  # line 9
        ).encode()
        plan = changesets.plan_import(actor=supervisor, data=data, filename="standard.csv")
        found = {(i.line, i.code): (i.plan, i.problem) for i in plan.items.all()}
        assert found[(2, "NEW1")][0] == "create"
        assert found[(3, "XFER")] == ("unchanged", "")
        assert found[(4, "HOT")] == ("update", "")
        assert plan.items.get(line=4).changes == {"voicemail": True}
        assert found[(5, "BAD!")] == ("invalid", "Use 2 to 6 letters or digits, with no spaces "
                                      "or symbols (for example SALE or CB2).")  # fmt: skip
        assert found[(6, "LVM")][1].startswith("color: Use six hexadecimal digits")
        assert found[(7, "SALE")] == ("invalid", "is a system status: Convoso can't change it")
        assert found[(8, "HOT")] == ("invalid", "repeats line 4")
        assert "“perhaps” is not Y or N" in found[(9, "CBHOLD")][1]
        counted = changeset_selectors.counts(plan)
        assert (counted["create"], counted["update"], counted["unchanged"], counted["invalid"]) == (
            1, 1, 1, 5,
        )  # fmt: skip
        assert plan.state == "planned"
        assert not SandboxStatus.objects.filter(code="NEW1").exists()  # nothing sent

    def test_every_problem_on_a_line_is_reported(self, supervisor):
        # A new status with a bad code, a bad colour, a bad flag and no name: the person fixes
        # the line once, not four times (#26 item 8).
        data = (HEADER + "BAD!,,#GGGGGG,N,N,N,maybe,N,N,N,,N\n").encode()
        plan = changesets.plan_import(actor=supervisor, data=data, filename="a.csv")
        (item,) = plan.items.all()
        assert item.plan == "invalid"
        problems = item.problem.split("; ")
        assert any(p.startswith("dnc: “maybe” is not Y or N") for p in problems), problems
        assert any(p.startswith("color: Use six hexadecimal digits") for p in problems), problems
        assert any("letters, digits" in p or "symbols" in p for p in problems), problems
        assert "a new status needs a name" in problems
        assert len(problems) == 4

    def test_a_repeated_line_with_its_own_problems_says_both(self, supervisor):
        data = HEADER + "NEW1,New,,N,N,N,N,N,N,N,,N\n" + "NEW1,New,,N,N,N,N,N,oops,N,,N\n"
        plan = changesets.plan_import(actor=supervisor, data=data.encode(), filename="a.csv")
        problem = plan.items.get(line=3).problem
        assert "repeats line 2" in problem
        assert "contact: “oops” is not Y or N" in problem

    def test_the_export_reimported_changes_nothing(self, supervisor_client, supervisor):
        body = b"".join(supervisor_client.get("/statuses/export.csv").streaming_content)
        plan = changesets.plan_import(actor=supervisor, data=body, filename="export.csv")
        assert {i.plan for i in plan.items.all()} == {"unchanged"}
        data = supervisor_client.get("/statuses/export.json").content
        assert len(json.loads(data)["statuses"]) == 15
        plan = changesets.plan_import(actor=supervisor, data=data, filename="export.json")
        assert {i.plan for i in plan.items.all()} == {"unchanged"}

    def test_the_export_follows_the_search(self, supervisor_client):
        body = b"".join(
            supervisor_client.get("/statuses/export.csv", {"q": "xfer"}).streaming_content
        )
        assert body.decode().startswith("\ufeffcode,")  # Excel reads UTF-8 only with the mark
        assert body.decode().splitlines()[1].startswith("XFER,Transferred to Closer,#6711D1")
        assert len(body.decode().splitlines()) == 2

    def test_a_reason_is_asked_only_when_dnc_changes(self, supervisor, no_approvals):
        quiet = (HEADER + "NEW1,New,,N,N,N,N,N,N,N,,N\n").encode()
        loud = (HEADER + "NEW2,New,,N,N,N,Y,N,N,N,,N\n").encode()
        assert not changeset_selectors.needs_reason(
            changesets.plan_import(actor=supervisor, data=quiet, filename="a.csv")
        )
        assert changeset_selectors.needs_reason(
            changesets.plan_import(actor=supervisor, data=loud, filename="b.csv")
        )

    def test_names_are_compared_as_convoso_would_store_them(self, supervisor):
        data = (
            HEADER
            + "XFER,  Transferred to Closer  ,6711D1,N,Y,Y,N,N,Y,N,,N\n"
            + "NEW1, Brand new ,,N,N,N,N,N,N,N,,N\n"
        ).encode()
        plan = changesets.plan_import(actor=supervisor, data=data, filename="padded.csv")
        planned = items(plan)
        assert (planned["XFER"].plan, planned["XFER"].changes) == ("unchanged", {})
        assert planned["NEW1"].changes["name"] == "Brand new"

    def test_a_code_in_lower_case_is_the_status_with_that_code(self, supervisor):
        """Convoso's codes are upper case: a file's "hot" is HOT, changed, not a new status."""
        data = (HEADER + "hot,Hot Lead,00AA00,N,Y,Y,N,Y,Y,Y,,N\n").encode()
        plan = changesets.plan_import(actor=supervisor, data=data, filename="lower.csv")
        (item,) = plan.items.all()
        assert (item.plan, item.changes) == ("update", {"voicemail": True})

    def test_a_bulk_edit(self, supervisor):
        plan = changesets.plan_bulk(
            actor=supervisor, codes=["XFER", "LVM", "COMP", "NOPE"], changes={"voicemail": True},
            title="Voicemail on",
        )  # fmt: skip
        planned = items(plan)
        assert (planned["XFER"].plan, planned["XFER"].changes) == ("update", {"voicemail": True})
        assert planned["LVM"].plan == "unchanged"  # already on
        assert planned["COMP"].problem == "is a system status: Convoso can't change it"
        assert planned["NOPE"].plan == "invalid"


@pytest.mark.django_db(transaction=True)
class ApplyTests:
    @pytest.fixture(autouse=True)
    def _catalogue(self, transactional_db):  # type: ignore[no-untyped-def]
        seed()

    def test_applied_by_the_worker_each_change_audited_with_the_set(self, supervisor):
        plan = changesets.plan_bulk(
            actor=supervisor, codes=["XFER", "HOT", "CBHOLD"], changes={"final": True},
            title="Final on",
        )  # fmt: skip
        changesets.apply(change_set_id=plan.pk, actor=supervisor)
        plan.refresh_from_db()
        assert plan.state == "queued"
        run_worker()
        plan.refresh_from_db()
        assert plan.state == "finished"
        assert {i.state for i in plan.items.all()} == {"done"}
        assert set(SandboxStatus.objects.filter(final=True, custom=True).values_list(
            "code", flat=True)) >= {"XFER", "HOT", "CBHOLD"}  # fmt: skip
        entries = AuditEntry.objects.filter(change_set_ref=plan.pk, action=Action.UPDATE)
        assert sorted(e.status_code for e in entries) == ["CBHOLD", "HOT", "XFER"]
        assert {(e.actor_username, e.outcome) for e in entries} == {("sue", "succeeded")}
        assert {i.entry_id for i in plan.items.all()} == {e.pk for e in entries}

    def test_one_failure_never_stops_the_rest(self, supervisor):
        plan = changesets.plan_bulk(
            actor=supervisor, codes=["XFER", "HOT"], changes={"final": True}, title="Final on"
        )
        SandboxStatus.objects.filter(code="XFER").delete()  # gone before it is applied
        changesets.apply(change_set_id=plan.pk, actor=supervisor)
        run_worker()
        planned = items(plan)
        assert planned["XFER"].state == "failed"
        assert "no status with this code" in planned["XFER"].outcome
        assert planned["HOT"].state == "done"
        assert SandboxStatus.objects.get(code="HOT").final is True

    def test_a_dnc_set_waits_for_one_approval(self, supervisor):
        plan = changesets.plan_bulk(
            actor=supervisor, codes=["XFER", "HOT"], changes={"dnc": True}, title="DNC on"
        )
        assert plan.needs_approval
        with pytest.raises(services.ReasonRequired):
            changesets.apply(change_set_id=plan.pk, actor=supervisor)
        changesets.apply(change_set_id=plan.pk, actor=supervisor, reason="Opt-out campaign")
        run_worker()
        assert SandboxStatus.objects.filter(dnc=True, code__in=["XFER", "HOT"]).count() == 0
        with pytest.raises(changesets.ChangeSetError, match="another approver"):
            changesets.decide(change_set_id=plan.pk, approver=supervisor, approve=True)
        april = make_user("april", "Approver")
        changesets.decide(change_set_id=plan.pk, approver=april, approve=True, note="OK")
        run_worker()
        assert SandboxStatus.objects.filter(dnc=True, code__in=["XFER", "HOT"]).count() == 2
        steps = list(
            AuditEntry.objects.filter(change_set_ref=plan.pk)
            .order_by("seq")
            .values_list("action", "actor_username")
        )
        assert steps[:2] == [("request", "sue"), ("approve", "april")]
        assert sorted(steps[2:]) == [("update", "sue"), ("update", "sue")]
        applied = AuditEntry.objects.filter(change_set_ref=plan.pk, action="update").first()
        assert (applied.reason, applied.approval_note) == (
            "Opt-out campaign", f"Change set {plan.pk} approved by april: OK",
        )  # fmt: skip

    def test_lines_that_cant_be_applied_are_skipped_and_never_sent(self, supervisor):
        plan = changesets.plan_bulk(
            actor=supervisor, codes=["XFER", "COMP", "NOPE"], changes={"final": True},
            title="Final on",
        )  # fmt: skip
        changesets.apply(change_set_id=plan.pk, actor=supervisor)
        run_worker()
        plan.refresh_from_db()
        assert plan.state == "finished"
        assert {c: i.state for c, i in items(plan).items()} == {
            "XFER": "done", "COMP": "skipped", "NOPE": "skipped",
        }  # fmt: skip
        sent = AuditEntry.objects.filter(change_set_ref=plan.pk)
        assert [e.status_code for e in sent] == ["XFER"]  # the others were never attempted

    def test_the_request_for_approval_names_the_set_and_where_it_came_from(self, supervisor):
        plan = changesets.plan_bulk(
            actor=supervisor, codes=["XFER"], changes={"dnc": True}, title="DNC on"
        )
        origin = Origin(ip="203.0.113.7", user_agent="Firefox/140")
        changesets.apply(
            change_set_id=plan.pk, actor=supervisor, reason="Opt-out campaign", origin=origin
        )
        request = AuditEntry.objects.get(change_set_ref=plan.pk, action="request")
        assert request.status_code == f"change set {plan.pk}"  # what the audit list shows
        assert (request.remote_ip, request.user_agent) == ("203.0.113.7", "Firefox/140")

    def test_a_set_whose_planner_lost_the_right_to_edit_is_not_approved(self, supervisor):
        plan = changesets.plan_bulk(
            actor=supervisor, codes=["XFER"], changes={"dnc": True}, title="DNC on"
        )
        changesets.apply(change_set_id=plan.pk, actor=supervisor, reason="Opt-out campaign")
        supervisor.groups.clear()
        april = make_user("april", "Approver")
        with pytest.raises(changesets.ChangeSetError, match="may no longer change statuses"):
            changesets.decide(change_set_id=plan.pk, approver=april, approve=True, note="OK")
        plan.refresh_from_db()
        assert plan.state == "awaiting"
        changesets.decide(
            change_set_id=plan.pk, approver=april, approve=False, note="Planner has left"
        )
        plan.refresh_from_db()
        assert plan.state == "rejected"

    @pytest.mark.parametrize("taken", ["role removed", "deactivated"])
    def test_nothing_is_sent_for_a_planner_whose_rights_went_before_the_worker_ran(
        self, supervisor, taken
    ):
        plan = changesets.plan_bulk(
            actor=supervisor, codes=["XFER", "HOT"], changes={"final": True}, title="Final on"
        )
        changesets.apply(change_set_id=plan.pk, actor=supervisor)
        if taken == "role removed":
            supervisor.groups.clear()
        else:
            type(supervisor).objects.filter(pk=supervisor.pk).update(is_active=False)
        run_worker()
        planned = items(plan)
        assert {planned[c].state for c in ("XFER", "HOT")} == {"failed"}
        assert "may no longer change statuses" in planned["XFER"].outcome
        assert SandboxStatus.objects.filter(code__in=["XFER", "HOT"], final=True).count() == 0
        assert not AuditEntry.objects.filter(change_set_ref=plan.pk, action=Action.UPDATE).exists()

    def test_a_worker_that_died_mid_write_never_sends_twice(self, supervisor, monkeypatch):
        plan = changesets.plan_bulk(
            actor=supervisor, codes=["XFER", "HOT"], changes={"final": True}, title="Final on"
        )
        changesets.apply(change_set_id=plan.pk, actor=supervisor)
        planned = items(plan)
        # The dead worker had sent XFER's change (Convoso has it) but recorded nothing after.
        SandboxStatus.objects.filter(code="XFER").update(final=True)
        ChangeSetItem.objects.filter(pk=planned["XFER"].pk).update(state="sending")
        ChangeSet.objects.filter(pk=plan.pk).update(
            state="running",
            worker_token="dead",
            heartbeat_at=timezone.now() - runner.STALE_AFTER * 2,
        )
        sent: list[str] = []
        from statusadmin.convoso.client import ConvosoClient

        real = ConvosoClient.call

        def count(self, endpoint, fields):  # type: ignore[no-untyped-def]
            if endpoint == "update":
                sent.append(fields["status"])
            return real(self, endpoint, fields)

        monkeypatch.setattr(ConvosoClient, "call", count)
        assert changesets.resume_stalled() == 1
        run_worker()
        assert sent == ["HOT"]
        planned = items(plan)
        assert planned["XFER"].state == "done"
        assert "already applied" in planned["XFER"].outcome
        assert planned["HOT"].state == "done"

    def test_a_new_status_from_a_file_is_created_with_its_approval(self, supervisor):
        data = (HEADER + "NEW1,Brand new,#123456,N,N,N,Y,N,N,N,,N\n").encode()
        plan = changesets.plan_import(actor=supervisor, data=data, filename="new.csv")
        assert plan.needs_approval
        changesets.apply(change_set_id=plan.pk, actor=supervisor, reason="SMS opt-outs")
        april = make_user("april", "Approver")
        changesets.decide(change_set_id=plan.pk, approver=april, approve=True, note="OK")
        run_worker()
        row = SandboxStatus.objects.get(code="NEW1")
        assert (row.name, row.hex_color, row.dnc, row.final) == ("Brand new", "123456", True, False)
        created = AuditEntry.objects.get(change_set_ref=plan.pk, action=Action.CREATE)
        assert (created.actor_username, created.outcome, created.reason) == (
            "sue", "succeeded", "SMS opt-outs",
        )  # fmt: skip
        # The set was approved as a whole: no one request, no requester but the planner.
        assert (created.approved_by, created.approval_note, created.requested_by) == (
            "april", f"Change set {plan.pk} approved by april: OK", "",
        )  # fmt: skip
        assert plan.items.get().outcome == "Done."
        assert plan.items.get().entry_id == created.pk  # the item names the entry of its write

    def test_a_write_cut_short_before_convoso_had_it_is_sent_on_resume(
        self, supervisor, monkeypatch
    ):
        data = (HEADER + "NEW1,Brand new,,N,N,N,N,N,N,N,,N\n").encode()
        created = changesets.plan_import(actor=supervisor, data=data, filename="new.csv")
        updated = changesets.plan_bulk(
            actor=supervisor, codes=["XFER", "HOT"], changes={"final": True}, title="Final on"
        )
        for plan in (created, updated):
            changesets.apply(change_set_id=plan.pk, actor=supervisor)
        # A worker died after marking these "sending", before Convoso had them.
        ChangeSetItem.objects.filter(code__in=["NEW1", "XFER"]).update(state="sending")
        ChangeSet.objects.update(
            state="running", worker_token="dead",
            heartbeat_at=timezone.now() - runner.STALE_AFTER * 2,
        )  # fmt: skip
        from statusadmin.convoso.client import ConvosoClient

        real = ConvosoClient.call
        sent: list[tuple[str, str]] = []

        def count(self, endpoint, fields):  # type: ignore[no-untyped-def]
            if endpoint in ("update", "insert"):
                code = fields["status"]
                # Each item is marked "sending" before its write, so a crash now is resumed
                # by reading Convoso first.
                sent.append((code, ChangeSetItem.objects.get(code=code).state))
            return real(self, endpoint, fields)

        monkeypatch.setattr(ConvosoClient, "call", count)
        assert changesets.resume_stalled() == 2
        run_worker()
        assert sorted(sent) == [("HOT", "sending"), ("NEW1", "sending"), ("XFER", "sending")]
        assert SandboxStatus.objects.get(code="NEW1").name == "Brand new"
        assert SandboxStatus.objects.filter(code__in=["XFER", "HOT"], final=True).count() == 2
        assert {(i.code, i.state, i.outcome) for i in ChangeSetItem.objects.all()} == {
            ("NEW1", "done", "Done."), ("XFER", "done", "Done."), ("HOT", "done", "Done."),
        }  # fmt: skip

    def test_a_planner_deleted_before_the_worker_ran_sends_nothing(self, supervisor):
        plan = changesets.plan_bulk(
            actor=supervisor, codes=["XFER"], changes={"final": True}, title="Final on"
        )
        changesets.apply(change_set_id=plan.pk, actor=supervisor)
        supervisor.delete()
        run_worker()
        item = plan.items.get()
        assert (item.state, item.outcome) == (
            "failed", "The person who planned it no longer exists.",
        )  # fmt: skip
        assert SandboxStatus.objects.get(code="XFER").final is False

    def test_a_change_that_came_under_four_eyes_after_it_was_applied_is_not_sent(
        self, supervisor, settings
    ):
        plan = changesets.plan_bulk(
            actor=supervisor, codes=["XFER"], changes={"final": True}, title="Final on"
        )
        changesets.apply(change_set_id=plan.pk, actor=supervisor)
        settings.APPROVAL_FIELDS = ["dnc", "final"]
        run_worker()
        item = plan.items.get()
        assert (item.state, item.outcome) == (
            "failed", "This change needs approval (the policy changed).",
        )  # fmt: skip
        assert SandboxStatus.objects.get(code="XFER").final is False

    def test_a_long_write_keeps_proving_its_worker_is_alive(self, supervisor, monkeypatch):
        import time

        plan = changesets.plan_bulk(
            actor=supervisor, codes=["XFER"], changes={"final": True}, title="Final on"
        )
        changesets.apply(change_set_id=plan.pk, actor=supervisor)
        monkeypatch.setattr(runner, "HEARTBEAT_SECONDS", 0.02)
        from statusadmin.convoso.client import ConvosoClient

        real = ConvosoClient.call
        beats = []

        def slow(self, endpoint, fields):  # type: ignore[no-untyped-def]
            if endpoint == "update":
                beats.append(ChangeSet.objects.get(pk=plan.pk).heartbeat_at)
                time.sleep(0.3)
                beats.append(ChangeSet.objects.get(pk=plan.pk).heartbeat_at)
            return real(self, endpoint, fields)

        monkeypatch.setattr(ConvosoClient, "call", slow)
        run_worker()
        assert beats[1] > beats[0]  # a resume would not take it from under the live worker
        assert plan.items.get().state == "done"

    def test_a_second_run_during_a_write_sends_nothing_twice(self, supervisor, monkeypatch):
        plan = changesets.plan_bulk(
            actor=supervisor, codes=["XFER"], changes={"final": True}, title="Final on"
        )
        changesets.apply(change_set_id=plan.pk, actor=supervisor)
        from statusadmin.convoso.client import ConvosoClient

        real = ConvosoClient.call
        sent: list[str] = []
        second: list[str] = []

        def duplicate_task_meanwhile(self, endpoint, fields):  # type: ignore[no-untyped-def]
            if endpoint == "update":
                sent.append(fields["status"])
                if not second:  # the same set's task, delivered twice, starts now
                    second.append(runner.run(plan.pk))
            return real(self, endpoint, fields)

        monkeypatch.setattr(ConvosoClient, "call", duplicate_task_meanwhile)
        assert runner.run(plan.pk) == "1 done, 0 failed"
        assert second == ["not queued, or another worker is applying it"]
        assert sent == ["XFER"]

    def test_a_live_worker_is_not_doubled(self, supervisor):
        plan = changesets.plan_bulk(
            actor=supervisor, codes=["XFER"], changes={"final": True}, title="Final on"
        )
        changesets.apply(change_set_id=plan.pk, actor=supervisor)
        ChangeSet.objects.filter(pk=plan.pk).update(
            state="running", worker_token="alive", heartbeat_at=timezone.now()
        )
        assert changesets.resume_stalled() == 0
        assert runner.run(plan.pk) == "not queued, or another worker is applying it"
        assert SandboxStatus.objects.get(code="XFER").final is False


@pytest.mark.django_db
class ScreenTests:
    @pytest.fixture(autouse=True)
    def _catalogue(self, db):  # type: ignore[no-untyped-def]
        seed()

    def test_bulk_from_the_list_to_a_plan(self, supervisor_client):
        response = supervisor_client.post(
            "/statuses/bulk/", {"codes": ["XFER", "HOT"], "action": "voicemail", "value": "Y"}
        )
        plan = ChangeSet.objects.get()
        assert response["Location"] == f"/changes/{plan.pk}/"
        page = supervisor_client.get(response["Location"]).content.decode()
        assert "Voicemail on for 2 statuses" in page
        assert "2 to update, 0 unchanged" in page.replace("0 to create, ", "")
        assert "Apply" in page
        assert SandboxStatus.objects.get(code="XFER").voicemail is False

    def test_import_shows_the_plan_before_anything_is_sent(self, supervisor_client):
        from django.core.files.uploadedfile import SimpleUploadedFile

        upload = SimpleUploadedFile(
            "standard.csv", (HEADER + "NEW7,New seven,,N,N,N,N,N,N,N,,N\n").encode()
        )
        response = supervisor_client.post("/statuses/import/", {"file": upload})
        assert response["Location"] == f"/changes/{ChangeSet.objects.get().pk}/"
        page = supervisor_client.get(response["Location"]).content.decode()
        assert "Import of standard.csv" in page
        assert "1 to create" in page
        assert not SandboxStatus.objects.filter(code="NEW7").exists()

    def test_an_unreadable_file_is_explained_by_the_form(self, supervisor_client):
        from django.core.files.uploadedfile import SimpleUploadedFile

        upload = SimpleUploadedFile("notes.txt", b"just some words\n")
        page = supervisor_client.post("/statuses/import/", {"file": upload}).content.decode()
        assert "The first line must name the columns" in page
        assert not ChangeSet.objects.exists()

    def test_the_progress_partial_polls_while_it_runs(self, supervisor_client, supervisor):
        plan = changesets.plan_bulk(
            actor=supervisor, codes=["XFER"], changes={"final": True}, title="Final on"
        )
        page = supervisor_client.get(f"/changes/{plan.pk}/", HTTP_HX_REQUEST="true")
        assert 'hx-trigger="every 2s"' not in page.content.decode()  # planned: nothing moves
        ChangeSet.objects.filter(pk=plan.pk).update(state="running")
        partial = supervisor_client.get(f"/changes/{plan.pk}/", HTTP_HX_REQUEST="true")
        html = partial.content.decode()
        assert html.lstrip().startswith('<section id="progress"')
        assert 'hx-trigger="every 2s"' in html


@pytest.mark.django_db(transaction=True)
def test_a_busy_status_waits_for_a_later_round_instead_of_failing(supervisor, settings):
    seed()
    settings.CONVOSO_CONNECT_TIMEOUT = settings.CONVOSO_READ_TIMEOUT = 0.05
    plan = changesets.plan_bulk(
        actor=supervisor, codes=["XFER", "HOT"], changes={"final": True}, title="Final on"
    )
    changesets.apply(change_set_id=plan.pk, actor=supervisor)
    with status_held_by_another_writer("XFER"):
        assert runner.run(plan.pk) == "some statuses were busy; continuing later"
    planned = items(plan)
    assert (planned["HOT"].state, planned["XFER"].state) == ("done", "planned")
    assert planned["XFER"].outcome.startswith("Waiting: Another change to XFER")
    plan.refresh_from_db()
    assert plan.state == "queued"
    assert runner.run(plan.pk) == "2 done, 0 failed"
    assert SandboxStatus.objects.get(code="XFER").final is True


@pytest.mark.django_db
def test_approvers_find_a_change_set_that_waits_for_them(supervisor, approver_user):
    from django.test import Client

    seed()
    plan = changesets.plan_bulk(
        actor=supervisor, codes=["XFER"], changes={"dnc": True}, title="DNC on for 1 statuses"
    )
    changesets.apply(change_set_id=plan.pk, actor=supervisor, reason="Opt-out campaign")
    browser = Client()
    browser.force_login(approver_user)
    pass_second_factor(browser, approver_user)
    page = browser.get("/approvals/").content.decode()
    assert "Change set: DNC on for 1 statuses" in page
    assert f'href="/changes/{plan.pk}/"' in page
    assert '<span class="nav-count" aria-label="1 waiting">1</span>' in page
    plan_page = browser.get(f"/changes/{plan.pk}/").content.decode()
    assert "Approve and apply" in plan_page


@pytest.mark.django_db
class DecisionAndDiscardTests:
    """What the planner and the approver are told, and what the log keeps, before anything
    is sent."""

    @pytest.fixture(autouse=True)
    def _catalogue(self, db):  # type: ignore[no-untyped-def]
        seed()

    def awaiting(self, supervisor) -> ChangeSet:  # type: ignore[no-untyped-def]
        plan = changesets.plan_bulk(
            actor=supervisor, codes=["XFER"], changes={"dnc": True}, title="DNC on"
        )
        return changesets.apply(change_set_id=plan.pk, actor=supervisor, reason="Opt-outs")

    def test_a_rejection_needs_a_reason_and_the_log_keeps_each_note(self, supervisor):
        plan = self.awaiting(supervisor)
        april = make_user("april", "Approver")
        with pytest.raises(services.ReasonRequired):
            changesets.decide(change_set_id=plan.pk, approver=april, approve=False, note=" ")
        plan.refresh_from_db()
        assert plan.state == "awaiting"
        changesets.decide(
            change_set_id=plan.pk, approver=april, approve=False, note="Wrong statuses"
        )
        plan.refresh_from_db()
        assert (plan.state, plan.decision_note) == ("rejected", "Wrong statuses")
        steps = AuditEntry.objects.filter(change_set_ref=plan.pk).order_by("seq")
        assert [(e.action, e.actor_username, e.reason) for e in steps] == [
            ("request", "sue", "Opt-outs"), ("reject", "april", "Wrong statuses"),
        ]  # fmt: skip
        assert SandboxStatus.objects.get(code="XFER").dnc is False

    def test_an_approvals_note_is_in_the_log(self, supervisor):
        plan = self.awaiting(supervisor)
        april = make_user("april", "Approver")
        changesets.decide(change_set_id=plan.pk, approver=april, approve=True, note="Agreed")
        approval = AuditEntry.objects.get(change_set_ref=plan.pk, action=Action.APPROVE)
        assert (approval.actor_username, approval.requested_by, approval.reason) == (
            "april", "sue", "Agreed",
        )  # fmt: skip

    @pytest.mark.parametrize("dnc", [False, True])
    def test_two_applies_at_once_queue_it_once(self, supervisor, monkeypatch, dnc):
        plan = changesets.plan_bulk(
            actor=supervisor, codes=["XFER"], changes={"dnc": dnc, "final": True}, title="Set"
        )
        real = changesets.needs_reason

        def other_tab_applies_first(change_set):  # type: ignore[no-untyped-def]
            ChangeSet.objects.filter(pk=change_set.pk).update(state="queued")
            return real(change_set)

        monkeypatch.setattr(changesets, "needs_reason", other_tab_applies_first)
        with pytest.raises(changesets.ChangeSetError) as exc:
            changesets.apply(change_set_id=plan.pk, actor=supervisor, reason="Opt-outs")
        assert exc.value.explanation == "This change set was applied meanwhile."
        assert not AuditEntry.objects.filter(change_set_ref=plan.pk).exists()

    def test_only_its_planner_discards_it_and_only_before_it_is_applied(self, supervisor):
        plan = changesets.plan_bulk(
            actor=supervisor, codes=["XFER"], changes={"final": True}, title="Final on"
        )
        ben = make_user("ben", "Supervisor")
        with pytest.raises(changesets.ChangeSetError) as exc:
            changesets.discard(change_set_id=plan.pk, actor=ben)
        assert exc.value.explanation == (
            "Only the person who planned this change set can discard it."
        )
        changesets.discard(change_set_id=plan.pk, actor=supervisor)
        plan.refresh_from_db()
        assert plan.state == "discarded"
        with pytest.raises(changesets.ChangeSetError, match="already Discarded"):
            changesets.apply(change_set_id=plan.pk, actor=supervisor)
        applied = changesets.plan_bulk(
            actor=supervisor, codes=["XFER"], changes={"final": True}, title="Final on"
        )
        changesets.apply(change_set_id=applied.pk, actor=supervisor)
        with pytest.raises(changesets.ChangeSetError) as exc:
            changesets.discard(change_set_id=applied.pk, actor=supervisor)
        assert exc.value.explanation == (
            "Only a change set that hasn't been applied can be discarded."
        )
        applied.refresh_from_db()
        assert applied.state == "queued"
