"""The keyed chain: with AUDIT_CHAIN_KEY, someone with database access alone can't forge or edit
an entry, even by recomputing the chain with the project's own code.

As in test_tamper.py, each attack lifts the append-only triggers and changes the table in raw
SQL; the forger has this code but not the key (the settings hold none while they work).
"""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from statusadmin.audit import chain
from statusadmin.audit.evidence_verifier import chain_key_bytes, chain_tag
from statusadmin.audit.models import AuditEntry, Verification
from tests.factories import add_entry
from tests.helpers import raw, verify_exit

pytestmark = pytest.mark.django_db

TABLE = "audit_auditentry"


def checkpoint() -> None:
    call_command("audit_checkpoint", stderr=io.StringIO())


def five_entries() -> list[AuditEntry]:
    start = timezone.now() - timedelta(hours=1)
    return [
        add_entry(at=start + timedelta(minutes=i), actor=f"user{i}", reason=f"reason {i}")
        for i in range(1, 6)
    ]


@pytest.fixture
def keyed_five(chain_key):  # type: ignore[no-untyped-def]
    return five_entries()


def recompute_chain(from_seq: int, *, tags: str = "keep") -> None:
    """What a forger with database access does after an edit: rehash every entry from
    ``from_seq`` on with the project's own code. Tags: keep the stale ones, or blank them."""
    prev = AuditEntry.objects.get(seq=from_seq - 1).hash if from_seq > 1 else chain.GENESIS
    last = AuditEntry.objects.order_by("-seq").values_list("seq", flat=True).first()
    for seq in range(from_seq, last + 1):
        values = AuditEntry.objects.filter(seq=seq).values(*chain.CHAIN_FIELDS).get()
        new_hash = chain.entry_hash(prev, values, seq)
        raw(
            f"UPDATE {TABLE} SET prev_hash = %s, hash = %s WHERE seq = %s",
            [prev, new_hash, seq],
        )
        if tags == "blank":
            raw(f"UPDATE {TABLE} SET mac = '' WHERE seq = %s", [seq])
        prev = new_hash


class TaggingTests:
    def test_entries_written_with_the_key_carry_its_tag(self, keyed_five, chain_key):
        for entry in AuditEntry.objects.all():
            assert entry.mac == chain_tag(chain_key_bytes(chain_key), entry.hash)

    @pytest.mark.usefixtures("no_audit_keys")
    def test_without_a_key_entries_carry_no_tag_and_hash_as_before(self):
        entry = add_entry()
        assert entry.mac == ""
        values = AuditEntry.objects.filter(pk=entry.pk).values(*chain.CHAIN_FIELDS).get()
        assert entry.hash == chain.entry_hash(chain.GENESIS, values, 1)

    @pytest.mark.usefixtures("no_audit_keys")
    def test_entries_from_before_the_key_still_verify(self, settings):
        old = five_entries()  # written before any key was configured
        settings.AUDIT_CHAIN_KEY = "k" * 40
        new = add_entry()
        assert [e.mac == "" for e in [*old, new]] == [True] * 5 + [False]
        checkpoint()
        status, said = verify_exit()
        assert status == 0, said
        assert "6 entries verified" in said

    def test_a_checkpoint_of_an_empty_log_claims_no_tag(self, chain_key, tmp_path):
        """A new installation checkpoints its log before anything is in it (make run): that
        checkpoint must not claim a chain-key tag that no entry carries."""
        from statusadmin.audit.integrity import write_checkpoint
        from statusadmin.audit.models import Checkpoint

        path = tmp_path / "checkpoints.jsonl"
        write_checkpoint(path)
        (line,) = path.read_text().splitlines()
        assert (json.loads(line)["seq"], json.loads(line)["keyed"]) == (0, False)
        assert Checkpoint.objects.get().keyed is False

    def test_a_completed_pending_entry_is_tagged(self, chain_key, supervisor):
        from statusadmin.audit.services import begin, finish
        from statusadmin.convoso.status import Status

        entry = begin(
            actor=supervisor, origin=None, action="update", code="XFER", account="sandbox",
            requested={"final": True},
        )  # fmt: skip
        assert AuditEntry.objects.get(pk=entry.pk).mac == ""
        finish(entry, before=None, after=Status(code="XFER", name="Transferred"), changed=[])
        stored = AuditEntry.objects.get(pk=entry.pk)
        assert stored.mac == chain_tag(chain_key_bytes(chain_key), stored.hash)


class ForgeryTests:
    """Each change a database administrator could make, with the key configured for the
    verification (as it is on the server) but not for the forger."""

    @pytest.fixture(autouse=True)
    def _unlocked(self, keyed_five, entries_table_unlocked):  # type: ignore[no-untyped-def]
        entries_table_unlocked()

    def test_edit_with_the_chain_recomputed_without_the_key(self, settings):
        raw(f"UPDATE {TABLE} SET reason = 'forged' WHERE seq = 2")
        key, settings.AUDIT_CHAIN_KEY = settings.AUDIT_CHAIN_KEY, ""
        recompute_chain(2)
        assert chain.verify().ok  # without the key the chain alone can't tell
        settings.AUDIT_CHAIN_KEY = key
        status, said = verify_exit()
        assert status == 1
        assert "entry 2: its chain-key tag does not match its hash" in said
        assert Verification.objects.get().first_bad_seq == 2

    def test_recomputed_with_every_tag_removed(self):
        # No tag anywhere, so no "untagged after tagged": the checkpoint remembers a tag.
        checkpoint()
        raw(f"UPDATE {TABLE} SET mac = ''")
        raw(f"UPDATE {TABLE} SET reason = 'forged' WHERE seq = 5")
        recompute_chain(5, tags="blank")
        status, said = verify_exit()
        assert status == 1
        assert "entry 5 differs from the checkpoint" in said

    def test_tags_removed_without_touching_the_hashes(self):
        checkpoint()
        raw(f"UPDATE {TABLE} SET mac = ''")
        status, said = verify_exit()
        assert status == 1
        assert "entry 5 lost the chain-key tag that the checkpoint" in said
        # What it means, as the integrity panel shows it.
        verdict = Verification.objects.get().message
        assert verdict.endswith("recorded: the chain was rewritten without the key"), verdict

    def test_tag_copied_from_another_entry(self):
        raw(f"UPDATE {TABLE} SET reason = 'forged' WHERE seq = 5")
        recompute_chain(5)
        mac = AuditEntry.objects.get(seq=4).mac
        raw(f"UPDATE {TABLE} SET mac = %s WHERE seq = 5", [mac])
        status, said = verify_exit()
        assert status == 1
        assert "entry 5: its chain-key tag does not match" in said

    def test_an_entry_appended_with_the_projects_code_but_without_the_key(self, settings):
        key, settings.AUDIT_CHAIN_KEY = settings.AUDIT_CHAIN_KEY, ""
        add_entry(actor="mallory")
        settings.AUDIT_CHAIN_KEY = key
        status, said = verify_exit()
        assert status == 1
        assert "entry 6 carries no chain-key tag, though entry 5 before it does" in said
        assert "it was written without AUDIT_CHAIN_KEY, or by someone without the key" in said

    def test_an_entry_inserted_and_the_rest_recomputed(self):
        for seq in (5, 4, 3):
            raw(f"UPDATE {TABLE} SET seq = %s WHERE seq = %s", [seq + 1, seq])
        raw(
            f"INSERT INTO {TABLE} (created_at, completed_at, actor_username, account, action, "
            "status_code, requested, changed_fields, touched, reason, outcome, user_agent, "
            "request_id, error_message, failure_kind, note, requested_by, approval_note, seq, "
            "prev_hash, hash, mac) SELECT created_at, completed_at, 'mallory', account, action, "
            "status_code, requested, changed_fields, touched, reason, outcome, user_agent, "
            "request_id, error_message, failure_kind, note, requested_by, approval_note, 3, "
            f"prev_hash, hash, mac FROM {TABLE} WHERE seq = 2"
        )
        recompute_chain(3)
        status, said = verify_exit()
        assert status == 1
        assert "entry 3: its chain-key tag does not match" in said

    def test_an_entry_deleted_and_the_rest_recomputed(self):
        raw(f"DELETE FROM {TABLE} WHERE seq = 3")
        for seq in (4, 5):
            raw(f"UPDATE {TABLE} SET seq = %s WHERE seq = %s", [seq - 1, seq])
        recompute_chain(3)
        status, said = verify_exit()
        assert status == 1
        assert "entry 3: its chain-key tag does not match" in said

    def test_reordered_and_recomputed(self):
        raw(f"UPDATE {TABLE} SET seq = -1 WHERE seq = 2")
        raw(f"UPDATE {TABLE} SET seq = 2 WHERE seq = 3")
        raw(f"UPDATE {TABLE} SET seq = 3 WHERE seq = -1")
        recompute_chain(2)
        status, said = verify_exit()
        assert status == 1
        assert "entry 2: its chain-key tag does not match" in said

    def test_tail_cut_is_caught_by_the_checkpoint(self):
        # Tags vouch for what is there, not for what was removed: that is the checkpoint's job.
        checkpoint()
        raw(f"DELETE FROM {TABLE} WHERE seq >= 4")
        status, said = verify_exit()
        assert status == 1
        assert "the chain ends at entry 3, but a checkpoint" in said


class WithoutTheKeyTests:
    def test_tags_that_cant_be_checked_are_said_plainly(self, keyed_five, settings):
        checkpoint()
        settings.AUDIT_CHAIN_KEY = ""
        status, said = verify_exit()
        assert status == 4
        assert "Audit log not fully checked" in said
        assert "5 entries carry a chain-key tag that can't be checked here" in said
        assert Verification.objects.get().state == "unchecked"

    @pytest.mark.usefixtures("no_audit_keys")
    def test_no_key_at_all_is_said(self):
        five_entries()
        checkpoint()
        status, said = verify_exit()
        assert status == 0, said
        assert (
            "no chain key is configured (AUDIT_CHAIN_KEY), so anyone with database access "
            "could recompute the chain after an edit"
        ) in said

    @pytest.mark.usefixtures("no_audit_keys")
    def test_a_key_configured_after_every_entry_is_said(self, settings):
        five_entries()
        settings.AUDIT_CHAIN_KEY = "k" * 40
        checkpoint()
        status, said = verify_exit()
        assert status == 0, said
        assert (
            "no entry carries a chain-key tag yet (all were written before AUDIT_CHAIN_KEY "
            "was configured)"
        ) in said

    def test_tagged_but_not_checkpointed_names_only_the_cut_tail(self, keyed_five):
        # The tags already show a recomputed chain; only a cut tail needs a checkpoint.
        status, said = verify_exit()
        assert status == 2, said
        result = Verification.objects.get()
        assert result.state == "unanchored"
        assert result.message.endswith(
            "no checkpoint kept outside the database covers them, so entries cut from the end "
            "would not show"
        ), result.message


class SystemCheckTests:
    """Losing the chain key after entries were tagged stops a deploy (`migrate` runs the
    checks) before the application writes untagged entries that would look forged."""

    def test_tagged_entries_and_no_key_is_an_error(self, keyed_five, settings):
        from statusadmin.audit.checks import chain_key_kept

        assert chain_key_kept() == []
        settings.AUDIT_CHAIN_KEY = ""
        [error] = chain_key_kept()
        assert error.id == "audit.E002"
        assert "AUDIT_CHAIN_KEY" in error.msg

    def test_no_tagged_entries_and_no_key_is_fine(self):
        from statusadmin.audit.checks import chain_key_kept

        five_entries()
        assert chain_key_kept() == []
