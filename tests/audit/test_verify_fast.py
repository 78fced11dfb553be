"""Verification's fast path (tuples, orjson, several processes) gives the reference verdict.

The hash is defined once, in evidence_verifier.py. Verification reads rows as tuples, hashes
them with orjson and, on PostgreSQL, walks stretches of a long chain in several processes. None
of that may change a verdict: a good chain verifies, and a broken one is reported at the same
entry, with the same words, as one walk with the reference encoder reports it.
"""

from __future__ import annotations

import json
import os
import time
from datetime import timedelta

import orjson
import pytest
from django.db import connection, transaction
from django.utils import timezone
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from statusadmin.audit import chain, triggers
from statusadmin.audit.evidence_verifier import canonical_json
from statusadmin.audit.models import AuditEntry
from tests import tokens
from tests.factories import add_entry
from tests.helpers import raw

TABLE = "audit_auditentry"


def reference_verify() -> chain.VerifyResult:
    """One walk in this process, every hash by the reference definition (no fast path)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(chain.orjson, "dumps", _refuse)
        return chain.verify(processes=1)


def _refuse(*args: object, **kwargs: object) -> bytes:
    raise TypeError("the fast encoder is off: the reference decides")


@pytest.mark.django_db
class FastHashTests:
    def test_the_fast_encoder_really_falls_short_somewhere(self) -> None:
        # Why a fast hash that doesn't match is re-checked the reference way: orjson reads an
        # integer beyond 64 bits as a float, and refuses to write one.
        text = canonical_json({"n": 2**70})
        assert orjson.dumps(orjson.loads(text), option=orjson.OPT_SORT_KEYS).decode() != text
        with pytest.raises(TypeError):
            orjson.dumps(json.loads(text))

    def test_an_entry_the_fast_encoder_writes_differently_still_verifies(self) -> None:
        add_entry()
        add_entry(requested={"huge": 2**70, "negative": -(2**80)})
        add_entry()
        result = chain.verify()
        assert result.ok, result.message
        assert result.checked == 3

    def test_an_edit_of_such_an_entry_is_still_caught(self, entries_table_unlocked) -> None:  # type: ignore[no-untyped-def]
        add_entry()
        odd = add_entry(requested={"huge": 2**70})
        add_entry()
        entries_table_unlocked()
        raw(
            f"UPDATE {TABLE} SET requested = %s WHERE id = %s",
            [json.dumps({"huge": 2**71}), odd.id],
        )
        result = chain.verify()
        assert not result.ok
        assert result.first_bad_seq == odd.seq
        assert "was changed after it was written" in result.message

    def test_timestamps_are_read_back_as_the_hash_saw_them(self, entries_table_unlocked) -> None:  # type: ignore[no-untyped-def]
        # Whole seconds (no microseconds) are stored and read back differently by the
        # databases; the fast path must still produce the canonical text.
        at = timezone.now().replace(microsecond=0)
        entry = add_entry(at=at)
        assert chain.verify().ok
        entries_table_unlocked()
        raw(
            f"UPDATE {TABLE} SET created_at = %s WHERE id = %s",
            [at - timedelta(microseconds=1), entry.id],
        )
        assert chain.verify().first_bad_seq == entry.seq


# A function, not a method: Hypothesis wants one executor for every example.
@pytest.mark.django_db
@hsettings(max_examples=40, deadline=None)
@given(
    reason=st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00")),
    requested=st.dictionaries(
        st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00")),
        # No floats: PostgreSQL's jsonb rewrites them (1e16 comes back as an integer), and
        # nothing the dashboard records is one.
        st.none()
        | st.booleans()
        | st.integers()
        | st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00")),
        max_size=4,
    ),
)
def test_whatever_the_content_the_fast_path_agrees_with_the_reference(
    reason: str, requested: dict
) -> None:
    with transaction.atomic():
        add_entry(reason=reason, requested=requested)
        fast, reference = chain.verify(), reference_verify()
        transaction.set_rollback(True)  # each example starts from an empty log
    assert fast == reference
    assert fast.ok, fast.message


# --- several processes ---------------------------------------------------------------------------

ENTRIES = 48  # six stretches of eight for two processes: boundaries at 9, 17, 25, ...


@pytest.fixture(params=["processes", "inline"])
def stretches(request, monkeypatch):  # type: ignore[no-untyped-def]
    """The stretches walked by several processes (PostgreSQL only: SQLite's test database is
    in memory) or, to test the joining on every database, one after another in this one."""
    if request.param == "processes":
        if connection.vendor != "postgresql":
            pytest.skip("other processes can't see SQLite's in-memory test database")
        return request.param
    monkeypatch.setattr(chain, "_shares_database", lambda: True)
    monkeypatch.setattr(
        chain,
        "_walk_parallel",
        lambda lo, hi, walk, key, processes: chain.join_stretches(
            lo, hi, walk, key, processes, map
        ),
    )
    return request.param


@pytest.fixture
def long_chain(request, monkeypatch, stretches, no_audit_keys):  # type: ignore[no-untyped-def]
    """A chain that counts as long enough to split up, written without a chain key (tests add
    one where they need it); committed, when other processes walk it."""
    request.getfixturevalue("transactional_db" if stretches == "processes" else "db")
    monkeypatch.setattr(chain, "PARALLEL_MIN_ENTRIES", 0)
    start = timezone.now() - timedelta(hours=2)
    return [add_entry(at=start + timedelta(minutes=i), reason=f"r{i}") for i in range(ENTRIES)]


def tamper(sql: str, params: list) -> None:
    """Change the table behind Django's back, as someone with database rights could."""
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
        else:
            triggers.remove(connection)  # undone with the test's transaction
        cursor.execute(sql, params)


def both() -> tuple[chain.VerifyResult, chain.VerifyResult]:
    return chain.verify(processes=2), reference_verify()


class ParallelTests:
    def test_an_intact_chain(self, long_chain) -> None:  # type: ignore[no-untyped-def]
        parallel, single = both()
        assert parallel == single
        assert parallel.ok
        assert parallel.checked == ENTRIES

    @pytest.mark.parametrize("seq", [1, 8, 9, 17, 30, ENTRIES])
    def test_an_edit_is_reported_at_the_same_entry(self, long_chain, seq) -> None:  # type: ignore[no-untyped-def]
        tamper(f"UPDATE {TABLE} SET reason = 'forged' WHERE seq = %s", [seq])
        parallel, single = both()
        assert parallel == single
        assert (parallel.ok, parallel.first_bad_seq, parallel.checked) == (False, seq, seq - 1)

    @pytest.mark.parametrize("seq", [9, 20])
    def test_a_removed_entry_at_or_inside_a_stretch_boundary(self, long_chain, seq) -> None:  # type: ignore[no-untyped-def]
        tamper(f"DELETE FROM {TABLE} WHERE seq = %s", [seq])
        parallel, single = both()
        assert parallel == single
        assert parallel.first_bad_seq == seq
        assert f"entry {seq} is missing" in parallel.message

    def test_an_entry_rewritten_with_its_hash_recomputed(self, long_chain) -> None:  # type: ignore[no-untyped-def]
        # The forger edits entry 18 and recomputes its hash with the project's own code. Entry
        # 18 is then consistent on its own; entry 19 still names the old hash. 48 entries, two
        # processes: stretches of six (1, 7, 13, 19, ...), so the stretch starting at 19 is
        # clean on its own and only joining it to the one before shows the break.
        values = AuditEntry.objects.values(*chain.CHAIN_FIELDS).get(seq=18)
        values["reason"] = "forged"
        forged = chain.entry_hash(values["prev_hash"], values, 18)
        tamper(f"UPDATE {TABLE} SET reason = 'forged', hash = %s WHERE seq = 18", [forged])
        parallel, single = both()
        assert parallel == single
        assert parallel.first_bad_seq == 19
        assert "does not follow entry 18" in parallel.message

    def test_a_chain_recomputed_from_the_middle_without_the_key(
        self, long_chain, settings, monkeypatch
    ) -> None:  # type: ignore[no-untyped-def]
        settings.AUDIT_CHAIN_KEY = tokens.CHAIN_KEY
        start = timezone.now() - timedelta(minutes=30)
        for i in range(ENTRIES):
            add_entry(at=start + timedelta(seconds=i))
        # 96 entries, two processes: stretches of 12 (1, 13, ... 73, 85). The forger drops
        # the tags from entry 73 on: untagged entries after tagged ones, in a stretch that on
        # its own holds no tagged entry.
        tamper(f"UPDATE {TABLE} SET mac = '' WHERE seq >= 73", [])
        parallel, single = both()
        assert parallel == single
        assert parallel.first_bad_seq == 73
        assert "carries no chain-key tag" in parallel.message

    def test_a_tail_cut_off(self, long_chain) -> None:  # type: ignore[no-untyped-def]
        tamper(f"DELETE FROM {TABLE} WHERE seq > 40", [])
        parallel, single = both()
        assert parallel == single
        assert parallel.ok
        assert parallel.head_seq == 40
        assert AuditEntry.objects.filter(seq__isnull=False).count() == 40


@pytest.fixture
def far_from_utc():  # type: ignore[no-untyped-def]
    """The machine's local time far from UTC, so a timestamp read as local time would show."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Kolkata"
    time.tzset()
    yield
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()


@pytest.mark.django_db
class FastPathTakenTests:
    """The reference re-check is a safety net, not the road: ordinary entries never need it
    (otherwise verification quietly runs at the old speed)."""

    def test_ordinary_entries_never_fall_back(self, monkeypatch, chain_key, far_from_utc):
        start = timezone.now().replace(microsecond=0) - timedelta(hours=1)
        for i in range(5):
            add_entry(at=start + timedelta(minutes=i), reason=f"r{i}", actor_user_id=i + 1)
        fallbacks: list[int] = []
        reference = chain.entry_hash
        monkeypatch.setattr(chain, "entry_hash", lambda *a: fallbacks.append(a[2]) or reference(*a))
        result = chain.verify(processes=1)
        assert result.ok, result.message
        assert fallbacks == []

    def test_a_bad_tag_is_named_and_tagged_entries_are_counted(
        self, chain_key, entries_table_unlocked
    ):
        for i in range(3):
            add_entry(reason=f"r{i}")
        entries_table_unlocked()
        raw(f"UPDATE {TABLE} SET mac = %s WHERE seq = 3", ["0" * 64])
        result = chain.verify(processes=1)
        assert result.first_bad_seq == 3
        assert result.message == (
            "entry 3: its chain-key tag does not match its hash: the entry was rewritten (or "
            "the chain recomputed) by someone without the chain key"
        )
        assert result.tagged == 2
        assert result.head_seq == 2

    def test_a_good_tagged_chain_counts_its_tags(self, chain_key):
        for i in range(3):
            add_entry(reason=f"r{i}")
        result = chain.verify(processes=1)
        assert (result.ok, result.tagged, result.unchecked, result.head_seq) == (True, 3, 0, 3)

    def test_tags_stripped_below_a_keyed_checkpoint_name_the_head(
        self, chain_key, entries_table_unlocked
    ):
        for i in range(3):
            add_entry(reason=f"r{i}")
        point = chain.at(2)
        assert point.keyed
        entries_table_unlocked()
        raw(f"UPDATE {TABLE} SET mac = ''")
        result = chain.verify([point], processes=1)
        assert (result.ok, result.first_bad_seq, result.head_seq) == (False, 2, 3)
        assert "lost the chain-key tag" in result.message

    def test_a_complete_entry_outside_the_chain_names_the_head(self, entries_table_unlocked):
        add_entry()
        stray = add_entry()
        entries_table_unlocked()
        raw(f"UPDATE {TABLE} SET seq = NULL WHERE id = %s", [stray.id])
        result = chain.verify(processes=1)
        assert (result.ok, result.head_seq, result.first_bad_id) == (False, 1, stray.id)

    def test_a_rewritten_checkpointed_entry_names_the_head(self, entries_table_unlocked):
        for i in range(3):
            add_entry(reason=f"r{i}")
        point = chain.Checkpointed(2, "f" * 64)
        result = chain.verify([point], processes=1)
        assert (result.ok, result.first_bad_seq, result.head_seq) == (False, 2, 3)
