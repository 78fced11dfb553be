"""The hash chain over completed audit entries: canonical content, appending, verifying.

Each completed entry gets the next sequence number and
    hash = SHA-256(previous entry's hash + "\\n" + canonical JSON of the entry's content)
so editing, removing, inserting or reordering entries breaks the chain from that point on, and
cutting off the tail is caught against checkpoints kept outside the database.

The hash alone can be recomputed by anyone who can read this code, so with a chain key
configured (keys.py) each new entry also gets a tag, mac = HMAC-SHA256(chain key, hash). Someone
with database access alone can still recompute hashes after an edit, but not the tags. Tags
sit beside the hash rather than replacing it, so that entries written before the key existed
keep their hashes, and an auditor without the key can still recompute every hash and check it
against the signed checkpoints (evidence_verifier.py). Once an entry is tagged, every later one
must be: an untagged entry after a tagged one was written without the key, or forged.

The canonical form, the hash and the tag are defined in evidence_verifier.py, the standalone
verifier an auditor runs, so the two can't drift apart.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import connection, transaction

from . import keys
from .evidence_verifier import GENESIS, canonical_json, chain_tag, link_hash, tag_matches
from .models import (
    FIXED_AT_START,
    OUTCOME_FIELDS,
    OUTSIDE_ACTOR,
    AuditEntry,
    Outcome,
    touched_text,
)

# Any fixed 64-bit number will do: it names the lock that serialises appends on PostgreSQL.
_ADVISORY_LOCK_KEY = 0x5A_0D17_C4A1

# Added after the first entries were written: hashed only when set, so older entries keep
# their hashes (for them the value is NULL, and setting it later still breaks the hash).
OPTIONAL_HASHED_FIELDS = (
    "actor_user_id", "resolves_id", "request_ref", "requested_by", "approval_note", "reverts_ref",
    "change_set_ref",
)  # fmt: skip
# The content the hash covers: everything about the attempt except the chain fields
# themselves and the actor's foreign key (which becomes NULL if the user is deleted; the
# copied user id and username are what the record keeps). Key order doesn't matter: the
# canonical form sorts them.
HASHED_FIELDS = tuple(
    name for name in (*FIXED_AT_START, *OUTCOME_FIELDS) if name not in OPTIONAL_HASHED_FIELDS
)
CHAIN_FIELDS = (
    "id", "seq", "prev_hash", "hash", "mac", "touched", "actor_id",
    *HASHED_FIELDS, *OPTIONAL_HASHED_FIELDS,
)  # fmt: skip


def _stamp(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def content(values: Mapping[str, Any], seq: int) -> dict[str, Any]:
    """What the hash covers, as plain JSON values, the same whichever database it came from.

    It is also what an evidence bundle carries for each entry, so an auditor hashes exactly this.
    """
    hashed = {name: values.get(name) for name in HASHED_FIELDS}
    hashed["created_at"] = _stamp(hashed["created_at"])
    hashed["completed_at"] = _stamp(hashed["completed_at"])
    hashed["seq"] = seq
    for name in OPTIONAL_HASHED_FIELDS:
        if values.get(name) not in (None, ""):
            hashed[name] = values[name]
    return hashed


def canonical(values: Mapping[str, Any], seq: int) -> str:
    """One stable text for an entry's content."""
    return canonical_json(content(values, seq))


def entry_hash(prev_hash: str, values: Mapping[str, Any], seq: int) -> str:
    return link_hash(prev_hash, content(values, seq))


def tag(entry_hash_: str) -> str:
    """The chain-key tag for a hash; empty when no chain key is configured."""
    key = keys.chain_key()
    return chain_tag(key, entry_hash_) if key else ""


def _lock_chain() -> None:
    """Serialise appends so two writers can never take the same position in the chain.

    PostgreSQL: a transaction-scoped advisory lock. SQLite: the project opens every transaction
    with BEGIN IMMEDIATE (settings), which already admits one writer at a time.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_LOCK_KEY])


def _head() -> tuple[int, str]:
    row = (
        AuditEntry.objects.filter(seq__isnull=False)
        .order_by("-seq")
        .values_list("seq", "hash")
        .first()
    )
    return row if row else (0, GENESIS)


def _link(values: dict[str, Any]) -> dict[str, Any]:
    """Chain fields for an entry with these values, appended at the head. Needs the lock."""
    head_seq, head_hash = _head()
    seq = head_seq + 1
    hash_ = entry_hash(head_hash, values, seq)
    return {
        "seq": seq,
        "prev_hash": head_hash,
        "hash": hash_,
        "mac": tag(hash_),
        "touched": touched_text(values.get("changed_fields")),
    }


def append(**values: Any) -> AuditEntry:
    """Write an already-complete entry (a change seen outside the dashboard) onto the chain."""
    with transaction.atomic():
        _lock_chain()
        entry = AuditEntry(**values)
        entry.__dict__.update(_link(_values_of(entry)))
        entry.save()
    return entry


def complete(entry: AuditEntry, **outcome: Any) -> AuditEntry:
    """Give a pending entry its outcome and its place in the chain. Allowed once."""
    with transaction.atomic():
        _lock_chain()
        for name, value in outcome.items():
            setattr(entry, name, value)
        fields = {name: getattr(entry, name) for name in outcome}
        fields.update(_link(_values_of(entry)))
        if AuditEntry.objects.all()._complete_pending(entry.pk, **fields) != 1:
            raise ValueError(f"Audit entry {entry.pk} is not pending; it was completed already.")
    entry.__dict__.update(fields)
    return entry


def _values_of(entry: AuditEntry) -> dict[str, Any]:
    values = {name: getattr(entry, name) for name in (*HASHED_FIELDS, *OPTIONAL_HASHED_FIELDS)}
    values["changed_fields"] = list(values["changed_fields"] or [])
    return values


# --- verification ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Checkpointed:
    seq: int
    hash: str
    at: str = ""
    # Whether it can vouch for the tail or anchor a purge: kept outside the database (the
    # checkpoint file), or signed with a trusted key wherever it is kept. An unsigned copy in
    # the database can't: whoever can rewrite the log can rewrite the copy beside it.
    vouches: bool = True
    # The id of the trusted key whose valid signature it bears ("": unsigned).
    key_id: str = ""
    # It recorded that its entry carried a chain-key tag.
    keyed: bool = False


@dataclass(frozen=True, slots=True)
class VerifyResult:
    ok: bool
    checked: int
    head_seq: int
    first_bad_seq: int | None = None
    first_bad_id: int | None = None
    message: str = ""
    # The newest entry a vouching checkpoint confirmed (0: none did), and the checkpoint.
    covered_seq: int = 0
    covered_by: Checkpointed | None = None
    # Entries carrying a chain-key tag, and how many of those tags could not be checked
    # because no chain key is configured here.
    tagged: int = 0
    unchecked: int = 0


def _rows() -> Iterator[dict[str, Any]]:
    return (
        AuditEntry.objects.filter(seq__isnull=False)
        .order_by("seq")
        .values(*CHAIN_FIELDS)
        .iterator(chunk_size=5000)
    )


def verify(checkpoints: Iterable[Checkpointed] = ()) -> VerifyResult:
    """Recompute the whole chain (and the chain-key tags, given the key); report the first
    entry that breaks it.

    After a retention purge the oldest entries are gone: the chain then starts after a
    checkpointed entry (the anchor) and continues from that checkpoint's hash.
    """
    points = list(checkpoints)
    key = keys.chain_key()
    expected_seq, prev_hash, checked = 1, GENESIS, 0
    tagged, last_tagged = 0, None
    rows = _rows()
    first = next(rows, None)
    if first is not None and first["seq"] > 1:
        anchor = next((p for p in points if p.vouches and p.seq == first["seq"] - 1), None)
        if anchor is not None:
            expected_seq, prev_hash = first["seq"], anchor.hash
    start_seq = expected_seq
    for row in itertools.chain([first] if first else [], rows):
        seq = row["seq"]
        problem = None
        if seq != expected_seq:
            problem = (
                f"entry {expected_seq} is missing (deleted?); the chain jumps to {seq}"
                if seq > expected_seq
                else f"entry {seq} appears out of order"
            )
            seq = expected_seq
        elif row["prev_hash"] != prev_hash:
            problem = (
                f"entry {seq} does not follow entry {seq - 1}: an entry was inserted, removed "
                "or moved before it"
            )
        elif row["hash"] != entry_hash(prev_hash, row, seq):
            problem = (
                f"entry {seq} was changed after it was written "
                "(its content no longer matches its hash)"
            )
        elif row["mac"] and key and not tag_matches(key, row["hash"], row["mac"]):
            problem = (
                f"entry {seq}: its chain-key tag does not match its hash: the entry was "
                "rewritten (or the chain recomputed) by someone without the chain key"
            )
        elif not row["mac"] and last_tagged is not None:
            problem = (
                f"entry {seq} carries no chain-key tag, though entry {last_tagged} before it "
                "does: it was written without AUDIT_CHAIN_KEY, or by someone without the key"
            )
        elif row["touched"] != touched_text(row["changed_fields"]):
            problem = f"entry {seq}: its searchable list of changed fields was altered"
        elif _actor_moved(row):
            problem = f"entry {seq}: its link to the acting user was changed"
        if problem:
            return VerifyResult(False, checked, seq - 1, seq, row["id"], problem, tagged=tagged)
        if row["mac"]:
            tagged, last_tagged = tagged + 1, seq
        checked += 1
        expected_seq, prev_hash = seq + 1, row["hash"]
    head_seq = expected_seq - 1

    unchained = (
        AuditEntry.objects.filter(seq__isnull=True)
        .exclude(outcome=Outcome.PENDING)
        .values_list("id", flat=True)
        .first()
    )
    if unchained is not None:
        return VerifyResult(
            False, checked, head_seq, None, unchained,
            f"entry id {unchained} is complete but not in the chain (inserted directly?)",
        )  # fmt: skip

    covered: Checkpointed | None = None
    for point in points:
        if point.seq < start_seq:
            continue  # before the retention anchor: removed on purpose, and proven by it
        if point.seq > head_seq:
            return VerifyResult(
                False, checked, head_seq, head_seq + 1, None,
                f"the chain ends at entry {head_seq}, but a checkpoint{_at(point)} recorded "
                f"entry {point.seq}: entries were removed from the end",
            )  # fmt: skip
        recorded = AuditEntry.objects.filter(seq=point.seq).values_list("hash", "mac").first()
        if recorded is None or recorded[0] != point.hash:
            return VerifyResult(
                False, checked, head_seq, point.seq, None,
                f"entry {point.seq} differs from the checkpoint{_at(point)}: the chain was "
                "rewritten",
            )  # fmt: skip
        if point.keyed and not recorded[1]:
            return VerifyResult(
                False, checked, head_seq, point.seq, None,
                f"entry {point.seq} lost the chain-key tag that the checkpoint{_at(point)} "
                "recorded: the chain was rewritten without the key",
            )  # fmt: skip
        if point.vouches and (covered is None or point.seq > covered.seq):
            covered = point
    message = f"{checked} entr{'y' if checked == 1 else 'ies'} verified"
    if start_seq > 1:
        message += f" (from entry {start_seq}, after the retention checkpoint)"
    return VerifyResult(
        True, checked, head_seq, message=message,
        covered_seq=covered.seq if covered else 0, covered_by=covered,
        tagged=tagged, unchecked=0 if key else tagged,
    )  # fmt: skip


def _actor_moved(row: Mapping[str, Any]) -> bool:
    """The actor link may only ever be cleared (when the user is deleted), never moved.

    Entries written before the user id was copied (actor_user_id NULL, a person's name) can't
    be checked: for them only the hashed username vouches for who acted.
    """
    if row["actor_id"] is None or row["actor_id"] == row["actor_user_id"]:
        return False
    return row["actor_user_id"] is not None or row["actor_username"] == OUTSIDE_ACTOR


def _at(point: Checkpointed) -> str:
    where = " kept in the database" if not point.vouches else ""
    if point.key_id:
        where = f" signed with key {point.key_id}"
    return f"{where} of {point.at}" if point.at else where


def head() -> Checkpointed:
    row = (
        AuditEntry.objects.filter(seq__isnull=False)
        .order_by("-seq")
        .values_list("seq", "hash", "mac")
        .first()
    )
    seq, hash_, mac = row if row else (0, GENESIS, "")
    return Checkpointed(seq, hash_, keyed=bool(mac))


def at(seq: int) -> Checkpointed:
    """The chain position of entry ``seq`` (for a retention anchor)."""
    hash_, mac = AuditEntry.objects.values_list("hash", "mac").get(seq=seq)
    return Checkpointed(seq, hash_, keyed=bool(mac))
