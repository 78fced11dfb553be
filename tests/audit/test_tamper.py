"""Tampering with the audit log in raw SQL, as someone with database rights could, is caught.

Each test lifts the append-only triggers first (an attacker with those rights can), changes the
table behind Django's back, then runs `verify_audit`, which must fail and name the first bad
entry.
"""

from __future__ import annotations

import io
import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from statusadmin.audit import chain, triggers
from statusadmin.audit.models import AuditEntry, Verification
from tests.factories import add_entry
from tests.helpers import raw

pytestmark = pytest.mark.django_db

TABLE = "audit_auditentry"


@pytest.fixture
def five(entries_table_unlocked):  # type: ignore[no-untyped-def]
    start = timezone.now() - timedelta(hours=1)
    entries = [
        add_entry(at=start + timedelta(minutes=i), actor=f"user{i}", reason=f"reason {i}")
        for i in range(1, 6)
    ]
    assert chain.verify().ok
    entries_table_unlocked()
    return entries


def verify_fails(*args: str) -> str:
    with pytest.raises(CommandError) as exc:
        call_command("verify_audit", *args, stdout=io.StringIO())
    return str(exc.value)


def verify_exit(*args: str) -> tuple[int, str]:
    """verify_audit's exit status and what it said."""
    out = io.StringIO()
    try:
        call_command("verify_audit", *args, stdout=out)
    except CommandError as exc:
        return exc.returncode, str(exc)
    return 0, out.getvalue()


@pytest.fixture
def five_intact():  # type: ignore[no-untyped-def]
    start = timezone.now() - timedelta(hours=1)
    return [add_entry(at=start + timedelta(minutes=i), actor=f"user{i}") for i in range(1, 6)]


def checkpoint(*args: str) -> None:
    call_command("audit_checkpoint", *args, stderr=io.StringIO())


class IntactTests:
    def test_a_checkpointed_log_verifies(self, five_intact):
        checkpoint()
        status, said = verify_exit()
        assert status == 0, said
        assert "5 entries verified" in said
        assert "head at entry 5" in said
        result = Verification.objects.get()
        assert (result.ok, result.state, result.covered_seq) == (True, "intact", 5)

    def test_entries_after_the_last_checkpoint_are_named(self, five_intact):
        checkpoint()
        add_entry()
        add_entry()
        status, said = verify_exit()
        assert status == 0, said
        assert "entries up to 5 are confirmed by a checkpoint" in said
        assert "the 2 after it not yet" in said

    def test_an_empty_log_verifies(self):
        status, said = verify_exit()
        assert status == 0, said
        assert "0 entries verified" in said


class UnanchoredTests:
    """verify_audit never claims more than it knows: without an outside checkpoint, a log that
    looks whole can't be vouched for."""

    def test_no_checkpoint_at_all(self, five_intact):
        status, said = verify_exit()
        assert status == 2
        assert "Audit log not checkpointed" in said
        assert "no checkpoint kept outside the database covers them" in said
        assert Verification.objects.get().state == "unanchored"

    def test_only_a_checkpoint_of_the_empty_log(self):
        checkpoint()  # as `make run` writes on a new install
        add_entry()
        assert verify_exit()[0] == 2

    def test_a_chain_recomputed_after_an_edit_is_not_called_intact(
        self, five_intact, entries_table_unlocked
    ):
        entries_table_unlocked()
        raw(f"UPDATE {TABLE} SET reason = 'forged' WHERE seq = 2")
        prev = AuditEntry.objects.get(seq=1).hash
        for seq in range(2, 6):
            values = AuditEntry.objects.filter(seq=seq).values(*chain.CHAIN_FIELDS).get()
            new_hash = chain.entry_hash(prev, values, seq)
            raw(
                f"UPDATE {TABLE} SET prev_hash = %s, hash = %s WHERE seq = %s",
                [prev, new_hash, seq],
            )
            prev = new_hash
        triggers.install(connection)
        assert chain.verify().ok  # the chain alone can't tell
        status, said = verify_exit()
        assert status == 2, said

    def test_a_missing_checkpoint_file_is_named(self, five_intact, settings):
        checkpoint()
        Path(settings.AUDIT_CHECKPOINT_FILE).unlink()
        status, said = verify_exit()
        assert status == 2
        assert (
            f"checkpoints were written to {settings.AUDIT_CHECKPOINT_FILE}, but it is missing"
            in said
        )


class GuardTests:
    def test_a_missing_trigger_is_reported(self, five_intact):
        checkpoint()
        triggers.remove(connection)
        status, said = verify_exit()
        assert status == 3
        assert "no longer refuses changes to entries" in said
        assert Verification.objects.get().state == "unguarded"


class TamperTests:
    def test_edited(self, five):
        raw(f"UPDATE {TABLE} SET reason = 'nothing to see' WHERE seq = 3")
        message = verify_fails()
        assert "entry 3 was changed after it was written" in message
        result = Verification.objects.get()
        assert (result.ok, result.first_bad_seq) == (False, 3)

    def test_edited_even_with_its_hash_recomputed(self, five):
        # A careful forger recomputes the edited entry's hash; the next entry then breaks.
        raw(f"UPDATE {TABLE} SET reason = 'forged' WHERE seq = 3")
        values = AuditEntry.objects.filter(seq=3).values(*chain.HASHED_FIELDS, "prev_hash").get()
        raw(
            f"UPDATE {TABLE} SET hash = %s WHERE seq = 3",
            [chain.entry_hash(values["prev_hash"], values, 3)],
        )
        assert "entry 4 does not follow entry 3" in verify_fails()

    def test_deleted_from_the_middle(self, five):
        raw(f"DELETE FROM {TABLE} WHERE seq = 2")
        assert "entry 2 is missing" in verify_fails()

    def test_inserted(self, five):
        # Make room after entry 2 and slip a well-formed entry in, hashed onto entry 2.
        for seq in (5, 4, 3):
            raw(f"UPDATE {TABLE} SET seq = %s WHERE seq = %s", [seq + 1, seq])
        prev = AuditEntry.objects.get(seq=2).hash
        forged = {
            "created_at": timezone.now() - timedelta(minutes=50),
            "completed_at": timezone.now() - timedelta(minutes=50),
            "actor_username": "mallory", "account": "sandbox", "action": "update",
            "status_code": "XFER", "before": None, "requested": {}, "after": None,
            "changed_fields": [], "reason": "", "outcome": "succeeded", "remote_ip": None,
            "user_agent": "", "request_id": "", "error_code": None, "error_message": "",
            "failure_kind": "", "note": "",
        }  # fmt: skip
        raw(
            f"INSERT INTO {TABLE} (created_at, completed_at, actor_username, account, action, "
            "status_code, requested, changed_fields, touched, reason, outcome, user_agent, "
            "request_id, error_message, failure_kind, note, seq, prev_hash, hash) VALUES "
            "(%s, %s, 'mallory', 'sandbox', 'update', 'XFER', '{}', '[]', '', '', 'succeeded', "
            "'', '', '', '', '', 3, %s, %s)",
            [forged["created_at"], forged["completed_at"], prev, chain.entry_hash(prev, forged, 3)],
        )
        assert "entry 4 does not follow entry 3" in verify_fails()

    def test_reordered(self, five):
        raw(f"UPDATE {TABLE} SET seq = -1 WHERE seq = 2")
        raw(f"UPDATE {TABLE} SET seq = 2 WHERE seq = 3")
        raw(f"UPDATE {TABLE} SET seq = 3 WHERE seq = -1")
        message = verify_fails()
        assert "entry 2 does not follow entry 1" in message

    def test_truncated_below_a_checkpoint(self, five, tmp_path):
        checkpoints = tmp_path / "checkpoints.jsonl"
        out = io.StringIO()
        call_command("audit_checkpoint", "--file", str(checkpoints), "--print", stdout=out)
        line = json.loads(out.getvalue())
        assert line["seq"] == 5
        assert line["hash"] == AuditEntry.objects.get(seq=5).hash
        raw(f"DELETE FROM {TABLE} WHERE seq >= 4")
        # Without the checkpoint the shortened chain looks whole; with it, it does not.
        assert chain.verify().ok
        message = verify_fails("--checkpoints", str(checkpoints))
        assert "the chain ends at entry 3, but a checkpoint" in message
        assert "entry 5" in message

    def test_rewritten_below_a_checkpoint(self, five, tmp_path):
        checkpoints = tmp_path / "checkpoints.jsonl"
        call_command("audit_checkpoint", "--file", str(checkpoints), stderr=io.StringIO())
        # Rewrite the head entry and re-hash it, so that the chain on its own still verifies.
        raw(f"UPDATE {TABLE} SET reason = 'nothing to see' WHERE seq = 5")
        values = AuditEntry.objects.filter(seq=5).values(*chain.HASHED_FIELDS, "prev_hash").get()
        raw(
            f"UPDATE {TABLE} SET hash = %s WHERE seq = 5",
            [chain.entry_hash(values["prev_hash"], values, 5)],
        )
        assert chain.verify().ok
        message = verify_fails("--checkpoints", str(checkpoints))
        assert "entry 5 differs from the checkpoint" in message
        assert "the chain was rewritten" in message

    def test_search_column_altered(self, five):
        raw(f"UPDATE {TABLE} SET touched = '' WHERE seq = 4")
        assert "entry 4: its searchable list of changed fields was altered" in verify_fails()

    def test_emptied_with_only_the_databases_checkpoint_copy(self, five, settings):
        checkpoint()
        Path(settings.AUDIT_CHECKPOINT_FILE).unlink()  # the careless forger deletes the file too
        raw(f"DELETE FROM {TABLE}")
        status, said = verify_exit()
        assert status == 1
        assert "the chain ends at entry 0, but a checkpoint kept in the database" in said

    def test_emptied_after_a_verification_saw_more(self, five):
        verify_exit()
        # Consistent (if not checkpointed, and on SQLite unguarded): it saw entry 5.
        assert Verification.objects.get().ok is True
        raw(f"DELETE FROM {TABLE}")
        status, said = verify_exit()
        assert status == 1
        assert "but the verification of" in said
        assert "saw entry 5: entries were removed from the end" in said

    def test_the_copied_user_id_is_hashed(self, supervisor):
        from statusadmin.audit.services import begin, finish

        entry = begin(
            actor=supervisor, origin=None, action="update", code="XFER", account="sandbox",
            requested={"final": True},
        )  # fmt: skip
        finish(entry, before=None, after=chain_status(), changed=[])
        triggers.remove(connection)
        raw(f"UPDATE {TABLE} SET actor_user_id = actor_user_id + 1, actor_id = NULL")
        assert "entry 1 was changed after it was written" in verify_fails()

    def test_actor_link_moved_without_touching_the_hashed_id(self, supervisor, admin_user):
        from statusadmin.audit.services import begin, finish

        entry = begin(
            actor=supervisor, origin=None, action="update", code="XFER", account="sandbox",
            requested={"final": True},
        )  # fmt: skip
        finish(entry, before=None, after=chain_status(), changed=[])
        assert AuditEntry.objects.get().actor_user_id == supervisor.pk
        triggers.remove(connection)
        raw(f"UPDATE {TABLE} SET actor_id = %s", [admin_user.pk])
        assert "its link to the acting user was changed" in verify_fails()

    def test_actor_link_cleared_when_the_user_is_deleted_is_fine(self, supervisor):
        from statusadmin.audit.services import begin, finish

        entry = begin(
            actor=supervisor, origin=None, action="update", code="XFER", account="sandbox",
            requested={"final": True},
        )  # fmt: skip
        finish(entry, before=None, after=chain_status(), changed=[])
        pk = supervisor.pk
        supervisor.delete()
        entry = AuditEntry.objects.get()
        assert (entry.actor_id, entry.actor_user_id) == (None, pk)
        assert chain.verify().ok

    def test_complete_entry_outside_the_chain(self, five):
        raw(f"UPDATE {TABLE} SET seq = NULL WHERE seq = 5")
        assert "not in the chain" in verify_fails()


class CheckpointTests:
    def test_appends_one_line_each_time(self, tmp_path):
        path = tmp_path / "sub" / "checkpoints.jsonl"
        add_entry()
        call_command("audit_checkpoint", "--file", str(path), stderr=io.StringIO())
        add_entry()
        call_command("audit_checkpoint", "--file", str(path), stderr=io.StringIO())
        lines = [json.loads(x) for x in path.read_text().splitlines()]
        assert [x["seq"] for x in lines] == [1, 2]
        assert all(len(x["hash"]) == 64 and x["at"] for x in lines)

    def test_default_file_comes_from_settings(self, settings, tmp_path):
        settings.AUDIT_CHECKPOINT_FILE = str(tmp_path / "cp.jsonl")
        call_command("audit_checkpoint", stderr=io.StringIO())
        assert json.loads((tmp_path / "cp.jsonl").read_text())["seq"] == 0

    def test_a_garbled_checkpoint_file_is_reported(self, tmp_path):
        path = tmp_path / "bad.jsonl"
        path.write_text('{"seq": 1, "hash": "x"}\nnot json\n')
        assert "line 2: not a checkpoint" in verify_fails("--checkpoints", str(path))

    def test_missing_checkpoint_file_is_reported(self, tmp_path):
        assert "No checkpoint file" in verify_fails("--checkpoints", str(tmp_path / "nope"))


class RetentionTests:
    """The documented purge: checkpoint the last entry to go, then remove up to it."""

    def test_purge_after_an_anchor_checkpoint_still_verifies(self, five, tmp_path):
        checkpoints = tmp_path / "checkpoints.jsonl"
        call_command("audit_checkpoint", "--file", str(checkpoints), stderr=io.StringIO())
        call_command(
            "audit_checkpoint", "--file", str(checkpoints), "--seq", "2", stderr=io.StringIO()
        )
        raw(f"DELETE FROM {TABLE} WHERE seq <= 2")
        triggers.install(connection)  # the procedure's last step puts the guard back
        out = io.StringIO()
        call_command("verify_audit", "--checkpoints", str(checkpoints), stdout=out)
        assert "3 entries verified (from entry 3" in out.getvalue()

    def test_purge_without_an_anchor_is_reported(self, five, tmp_path):
        raw(f"DELETE FROM {TABLE} WHERE seq <= 2")
        assert "entry 1 is missing" in verify_fails()

    def test_tampering_after_a_purge_is_still_caught(self, five, tmp_path):
        checkpoints = tmp_path / "checkpoints.jsonl"
        call_command(
            "audit_checkpoint", "--file", str(checkpoints), "--seq", "2", stderr=io.StringIO()
        )
        raw(f"DELETE FROM {TABLE} WHERE seq <= 2")
        raw(f"UPDATE {TABLE} SET reason = 'x' WHERE seq = 4")
        assert "entry 4 was changed" in verify_fails("--checkpoints", str(checkpoints))

    def test_anchor_must_exist(self, tmp_path):
        with pytest.raises(CommandError, match="no audit entry 7"):
            call_command("audit_checkpoint", "--seq", "7", stderr=io.StringIO())


def chain_status():  # type: ignore[no-untyped-def]
    from statusadmin.convoso.status import Status

    return Status(code="XFER", name="Transferred")
