"""Tampering with the audit log in raw SQL, as someone with database rights could, is caught.

Each test lifts the append-only triggers first (an attacker with those rights can), changes the
table behind Django's back, then runs `verify_audit`, which must fail and name the first bad
entry.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from statusadmin.audit import chain, integrity, triggers
from statusadmin.audit.models import AuditEntry, Verification
from tests.factories import add_entry
from tests.helpers import raw, verify_exit

# The chain alone, and unsigned checkpoints: test_chain_key.py and test_signed_checkpoints.py
# add the keys.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_audit_keys")]

TABLE = "audit_auditentry"


def file_points(path: Path) -> list[chain.Checkpointed]:
    """The checkpoint file's lines as the verifier weighs them (not the database's copies)."""
    return [found.point() for found in integrity.found_checkpoints(path) if found.in_file]


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


@pytest.fixture
def five_intact():  # type: ignore[no-untyped-def]
    start = timezone.now() - timedelta(hours=1)
    return [add_entry(at=start + timedelta(minutes=i), actor=f"user{i}") for i in range(1, 6)]


def checkpoint(*args: str) -> None:
    call_command("audit_checkpoint", *args, stderr=io.StringIO())


def rechain(first_seq: int, prev_hash: str) -> None:
    """Recompute the chain from entry ``first_seq`` on, as a careful forger would."""
    for seq in (
        AuditEntry.objects.filter(seq__gte=first_seq).order_by("seq").values_list("seq", flat=True)
    ):
        values = AuditEntry.objects.filter(seq=seq).values(*chain.CHAIN_FIELDS).get()
        new_hash = chain.entry_hash(prev_hash, values, seq)
        raw(
            f"UPDATE {TABLE} SET prev_hash = %s, hash = %s WHERE seq = %s",
            [prev_hash, new_hash, seq],
        )
        prev_hash = new_hash


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

    def test_verifying_again_finds_it_still_intact(self, five_intact):
        checkpoint()
        assert verify_exit()[0] == 0
        status, said = verify_exit()
        assert status == 0, said
        assert list(Verification.objects.values_list("state", flat=True)) == ["intact"] * 2

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
        assert (
            "no checkpoint kept outside the database covers them, so entries cut from the end "
            "would not show, nor a chain recomputed after an edit"
        ) in said
        assert Verification.objects.get().state == "unanchored"
        assert "but it is missing" not in said  # no checkpoint was ever written

    def test_only_a_checkpoint_of_the_empty_log(self):
        checkpoint()  # as `make run` writes on a new install
        add_entry()
        status, said = verify_exit()
        assert status == 2
        assert "no checkpoint kept outside the database covers it" in said
        assert "but it is missing" not in said  # the file is there

    def test_a_chain_recomputed_after_an_edit_is_not_called_intact(
        self, five_intact, entries_table_unlocked
    ):
        entries_table_unlocked()
        raw(f"UPDATE {TABLE} SET reason = 'forged' WHERE seq = 2")
        rechain(2, AuditEntry.objects.get(seq=1).hash)
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
        assert "run `manage.py migrate`" in said
        # The chain itself was still verified, and the verdict says so first.
        assert "5 entries verified; but the database no longer refuses changes" in said
        assert Verification.objects.get().state == "unguarded"


class TamperTests:
    def test_edited(self, five):
        raw(f"UPDATE {TABLE} SET reason = 'nothing to see' WHERE seq = 3")
        message = verify_fails()
        assert "entry 3 was changed after it was written" in message
        assert "catalogue snapshots" not in message  # a broken chain vouches for nothing
        result = Verification.objects.get()
        assert (result.ok, result.first_bad_seq) == (False, 3)

    @pytest.mark.parametrize(
        ("column", "value"),
        [
            ("created_at", datetime(2020, 1, 1, tzinfo=UTC)),  # backdated
            ("completed_at", datetime(2020, 1, 1, tzinfo=UTC)),
            ("actor_username", "someone else"),
            ("status_code", "SALE"),
            ("outcome", "failed"),
            ("note", "added afterwards"),
        ],
    )
    def test_any_recorded_column_edited(self, five, column, value):
        raw(f"UPDATE {TABLE} SET {column} = %s WHERE seq = 3", [value])
        assert "entry 3 was changed after it was written" in verify_fails()

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
        assert (
            "entry 2 does not follow entry 1: an entry was inserted, removed or moved before it"
        ) in verify_fails()

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
        result = chain.verify(file_points(checkpoints))
        assert (result.ok, result.head_seq, result.first_bad_seq) == (False, 3, 4)
        message = verify_fails("--checkpoints", str(checkpoints))
        assert f"the chain ends at entry 3, but a checkpoint of {line['at']} recorded" in message
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
        result = chain.verify(file_points(checkpoints))
        assert (result.ok, result.head_seq, result.first_bad_seq) == (False, 5, 5)
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
        result = chain.verify()
        assert (result.ok, result.first_bad_id) == (False, five[4].id)
        status, said = verify_exit()
        assert status == 1
        assert f"entry id {five[4].id} is complete but not in the chain" in said


class CheckpointTests:
    def test_appends_one_line_each_time(self, tmp_path):
        path = tmp_path / "not" / "yet" / "checkpoints.jsonl"
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

    def test_lines_are_read_with_or_without_their_time(self, tmp_path):
        path = tmp_path / "checkpoints.jsonl"
        path.write_text(
            '{"seq": 1, "hash": "a", "at": "2026-01-02T03:04:05+00:00"}\n'
            "\n"
            '{"seq": "2", "hash": "b"}\n'
        )
        assert file_points(path) == [
            chain.Checkpointed(1, "a", "2026-01-02T03:04:05+00:00"),
            chain.Checkpointed(2, "b", ""),
        ]

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

    def test_purging_only_the_first_entry_still_verifies(self, five, tmp_path):
        checkpoints = tmp_path / "checkpoints.jsonl"
        call_command(
            "audit_checkpoint", "--file", str(checkpoints), "--seq", "1", stderr=io.StringIO()
        )
        raw(f"DELETE FROM {TABLE} WHERE seq = 1")
        result = chain.verify(file_points(checkpoints))
        assert result.ok, result.message
        assert result.message == "4 entries verified (from entry 2, after the retention checkpoint)"

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

    def test_a_checkpoint_after_the_anchor_is_still_compared(self, five, tmp_path):
        checkpoints = tmp_path / "checkpoints.jsonl"
        for seq in ("2", "3"):  # the anchor first, as the purge procedure writes them
            checkpoint("--file", str(checkpoints), "--seq", seq)
        anchor = AuditEntry.objects.get(seq=2).hash
        raw(f"DELETE FROM {TABLE} WHERE seq <= 2")
        # Entry 3 rewritten and the chain recomputed from the anchor: only entry 3's own
        # checkpoint can tell.
        raw(f"UPDATE {TABLE} SET reason = 'forged' WHERE seq = 3")
        rechain(3, anchor)
        assert chain.verify(file_points(checkpoints)).first_bad_seq == 3
        status, said = verify_exit("--checkpoints", str(checkpoints))
        assert status == 1
        assert "entry 3 differs from the checkpoint" in said

    def test_anchor_must_exist(self, tmp_path):
        with pytest.raises(CommandError, match="no audit entry 7"):
            call_command("audit_checkpoint", "--seq", "7", stderr=io.StringIO())


def chain_status():  # type: ignore[no-untyped-def]
    from statusadmin.convoso.status import Status

    return Status(code="XFER", name="Transferred")


class CanonicalFormTests:
    """What an entry's hash covers, written out one fixed way. It can never change: entries
    written by an earlier release must still verify under every later one."""

    VALUES = {
        "created_at": datetime.fromisoformat("2026-03-01T09:30:00.123456+02:00"),
        "completed_at": datetime(2026, 3, 1, 7, 30, 1, tzinfo=UTC),
        "actor_username": "sue", "remote_ip": "203.0.113.7", "user_agent": "Firefox/140",
        "request_id": "req-1", "account": "sandbox", "action": "update", "status_code": "XFER",
        "before": {"dnc": False, "name": "Transferred"}, "requested": {"dnc": True},
        "after": {"dnc": True, "name": "Transferred"}, "changed_fields": ["dnc"],
        "reason": "Opt-out — per request", "outcome": "succeeded", "error_code": None,
        "error_message": "", "failure_kind": "", "note": "", "actor_user_id": 7,
        "resolves_id": None,
    }  # fmt: skip

    def test_the_canonical_text_of_an_entry(self):
        # Sorted keys, no spaces, text as written, times in UTC to the microsecond, the
        # position in the chain, and the optional fields only when set.
        assert chain.canonical(self.VALUES, 3) == (
            '{"account":"sandbox","action":"update","actor_user_id":7,"actor_username":"sue",'
            '"after":{"dnc":true,"name":"Transferred"},"before":{"dnc":false,"name":"Transferred"'
            '},"changed_fields":["dnc"],"completed_at":"2026-03-01T07:30:01.000000+00:00",'
            '"created_at":"2026-03-01T07:30:00.123456+00:00","error_code":null,'
            '"error_message":"","failure_kind":"","note":"","outcome":"succeeded",'
            '"reason":"Opt-out — per request","remote_ip":"203.0.113.7","request_id":"req-1",'
            '"requested":{"dnc":true},"seq":3,"status_code":"XFER","user_agent":"Firefox/140"}'
        )

    def test_the_hash_of_an_entry(self):
        assert chain.entry_hash(chain.GENESIS, self.VALUES, 3) == (
            "5cf616ba8c56b8efda184977d3ed60776b25d6b71cbc30682244e05b23e67b3e"
        )
