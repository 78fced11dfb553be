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

import hashlib
import itertools
import json
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max, Min

from . import keys
from . import processes as processes_
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
    "change_set_ref", "auth_method", "auth_issuer", "auth_subject", "second_factor",
    "approved_by",
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


def _head() -> tuple[int, str, datetime | None]:
    row = (
        AuditEntry.objects.filter(seq__isnull=False)
        .order_by("-seq")
        .values_list("seq", "hash", "completed_at")
        .first()
    )
    return (row[0] or 0, row[1], row[2]) if row else (0, GENESIS, None)


def _link(values: dict[str, Any]) -> dict[str, Any]:
    """Chain fields for an entry with these values, appended at the head. Needs the lock.

    Entries complete in chain order: one whose completion time was read before another took
    the head (it waited for the lock) is stamped with the head's time instead. So the entries
    done by any moment are a prefix of the chain, which the catalogue's rebuild reads by seq
    (history.py) and its snapshots rest on."""
    head_seq, head_hash, head_done = _head()
    done = values.get("completed_at")
    if done is not None and head_done is not None and done < head_done:
        values["completed_at"] = head_done
    seq = head_seq + 1
    hash_ = entry_hash(head_hash, values, seq)
    return {
        "completed_at": values.get("completed_at"),
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


# Verification reads rows as plain tuples in CHAIN_FIELDS order, in windows of seq, and hashes
# them with orjson: the ORM's dicts, Django's JSON decoding and the standard library's encoder
# made verification 4x slower than this (bench/README.md). The standard definition in
# evidence_verifier.py stays the reference: a row whose fast hash differs is re-read through the
# ORM and hashed the reference way before anything is reported, so the fast path can only ever
# make verification quicker, never change its verdict. (A fast hash that matches proves the
# content: both encoders write valid JSON that parses back to the same values.)
_BATCH = 5000
_HASHED_AT = 7  # where HASHED_FIELDS start in a row
_OPTIONAL_AT = _HASHED_AT + len(HASHED_FIELDS)
_JSON_FIELDS = tuple(
    name
    for name in HASHED_FIELDS
    if AuditEntry._meta.get_field(name).get_internal_type() == "JSONField"
)
_STAMP_FIELDS = ("created_at", "completed_at")
# Spreading verification over several processes pays for their start-up only on a long chain.
PARALLEL_MIN_ENTRIES = 200_000


def _select(vendor: str) -> str:
    """The query for one window of rows, timestamps already in the canonical text on
    PostgreSQL (formatting them there runs in the database's process, beside ours)."""
    table = connection.ops.quote_name(AuditEntry._meta.db_table)

    def column(name: str) -> str:
        field = connection.ops.quote_name(AuditEntry._meta.get_field(name).column)  # type: ignore[union-attr, arg-type]  # concrete fields
        if vendor == "postgresql" and name in _STAMP_FIELDS:
            return f"""to_char({field} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')"""
        return field

    # Built only from the model's own table and column names, quoted; values are parameters.
    return (
        f"SELECT {', '.join(column(name) for name in CHAIN_FIELDS)} FROM {table} "  # noqa: S608
        f"WHERE seq >= %s AND seq <= %s ORDER BY seq LIMIT {_BATCH}"
    )


def _fetch(lo: int, hi: int) -> Iterator[tuple[Any, ...]]:
    """The chained rows with lo <= seq <= hi, in order, a window at a time."""
    sql = _select(connection.vendor)
    with connection.cursor() as cursor:
        while lo <= hi:
            cursor.execute(sql, [lo, hi])
            rows = cursor.fetchall()
            yield from rows
            if len(rows) < _BATCH:
                return
            lo = rows[-1][1] + 1


def _loads(text: Any) -> Any:
    if text is None or not isinstance(text, (str, bytes)):
        return text
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # what orjson refuses (NaN, huge integers) json may read
        return json.loads(text)


def _text_stamp(value: Any) -> str | None:
    """A timestamp as the canonical text, from whatever the database handed back: already
    text (PostgreSQL formats it), or a naive UTC datetime (SQLite), which must not be read as
    the machine's local time."""
    if value is None or isinstance(value, str):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return _stamp(value)


def _fast_content(row: tuple[Any, ...]) -> dict[str, Any]:
    hashed = dict(zip(HASHED_FIELDS, row[_HASHED_AT:_OPTIONAL_AT], strict=True))
    for name in _JSON_FIELDS:
        hashed[name] = _loads(hashed[name])
    for name in _STAMP_FIELDS:
        hashed[name] = _text_stamp(hashed[name])
    hashed["seq"] = row[1]
    for name, value in zip(OPTIONAL_HASHED_FIELDS, row[_OPTIONAL_AT:], strict=True):
        if value is not None and value != "":
            hashed[name] = value
    return hashed


def _hash_matches(prev_hash: str, row: tuple[Any, ...], hashed: dict[str, Any]) -> bool:
    try:
        text = orjson.dumps(hashed, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # e.g. an integer beyond 64 bits: only the reference can say
        text = None
    if text is not None:
        fast = hashlib.sha256(prev_hash.encode() + b"\n" + text).hexdigest()
        if fast == row[3]:
            return True
    values = AuditEntry.objects.values(*CHAIN_FIELDS).get(pk=row[0])
    return values["hash"] == row[3] and entry_hash(prev_hash, values, row[1]) == row[3]


@dataclass(slots=True)
class _Walk:
    """Where a walk along the chain has got to."""

    expected_seq: int
    prev_hash: str
    checked: int = 0
    tagged: int = 0
    last_tagged: int | None = None
    first_untagged: int | None = None
    # The first entry that breaks the chain: (seq, id, what is wrong).
    problem: tuple[int, int, str] | None = None


def _walk(rows: Iterable[tuple[Any, ...]], walk: _Walk, key: bytes | None) -> _Walk:
    """Check each row against the one before it; stop at the first problem."""
    for row in rows:
        row_id, seq, prev_stored, hash_, mac, touched = row[:6]
        problem = None
        if seq != walk.expected_seq:
            problem = (
                f"entry {walk.expected_seq} is missing (deleted?); the chain jumps to {seq}"
                if seq > walk.expected_seq
                else f"entry {seq} appears out of order"
            )
            seq = walk.expected_seq
        elif prev_stored != walk.prev_hash:
            problem = (
                f"entry {seq} does not follow entry {seq - 1}: an entry was inserted, removed "
                "or moved before it"
            )
        else:
            hashed = _fast_content(row)
            if not _hash_matches(walk.prev_hash, row, hashed):
                problem = (
                    f"entry {seq} was changed after it was written "
                    "(its content no longer matches its hash)"
                )
            elif mac and key and not tag_matches(key, hash_, mac):
                problem = (
                    f"entry {seq}: its chain-key tag does not match its hash: the entry was "
                    "rewritten (or the chain recomputed) by someone without the chain key"
                )
            elif not mac and walk.last_tagged is not None:
                problem = (
                    f"entry {seq} carries no chain-key tag, though entry {walk.last_tagged} "
                    "before it does: it was written without AUDIT_CHAIN_KEY, or by someone "
                    "without the key"
                )
            elif touched != touched_text(hashed["changed_fields"]):
                problem = f"entry {seq}: its searchable list of changed fields was altered"
            elif _actor_moved(row[6], hashed):
                problem = f"entry {seq}: its link to the acting user was changed"
        if problem:
            walk.problem = (seq, row_id, problem)
            return walk
        if mac:
            walk.tagged, walk.last_tagged = walk.tagged + 1, seq
        elif walk.first_untagged is None:
            walk.first_untagged = seq
        walk.checked += 1
        walk.expected_seq, walk.prev_hash = seq + 1, hash_
    return walk


@dataclass(frozen=True, slots=True)
class _Stretch:
    """What one process found in a stretch of the chain, judged on its own."""

    lo: int
    first_prev_hash: str | None  # None: the stretch holds no entry
    first_seq: int
    walk: _Walk


def walk_stretch(lo: int, hi: int, key: bytes | None) -> _Stretch:
    """Walk entries lo..hi starting from what the first of them claims to follow; the caller
    then checks that claim against the stretch before."""
    rows = _fetch(lo, hi)
    first = next(rows, None)
    if first is None:
        return _Stretch(lo, None, lo, _Walk(lo, GENESIS))
    walk = _walk(itertools.chain([first], rows), _Walk(first[1], first[2]), key)
    return _Stretch(lo, first[2], first[1], walk)


def _walk_parallel(lo: int, hi: int, walk: _Walk, key: bytes | None, processes: int) -> _Walk:
    """Walk stretches of the chain in several fresh processes (spawn: fork is unsafe in a
    threaded server), each on its own connection to the same database."""
    database = {**connection.settings_dict}
    with ProcessPoolExecutor(
        max_workers=processes,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=processes_.start,
        # Not settings.SETTINGS_MODULE: with settings overridden (the tests) it is None.
        initargs=(os.environ.get("DJANGO_SETTINGS_MODULE", "statusadmin.settings"), database),
    ) as pool:
        walk = join_stretches(lo, hi, walk, key, processes, pool.map)
        pool.shutdown(cancel_futures=True)  # after a break, the stretches not yet walked
    return walk


def join_stretches(
    lo: int,
    hi: int,
    walk: _Walk,
    key: bytes | None,
    processes: int,
    run: Callable[..., Iterable[_Stretch]],
) -> _Walk:
    """Walk entries lo..hi as stretches (``run`` maps walk_stretch over them, in
    several processes or in this one), then join them up.

    A stretch is accepted only when it was clean on its own and joins the one before (it
    starts where that one ended, from its last hash, and brings no untagged entry after a
    tagged one). From the first stretch that isn't, the walk goes on in this process, one
    entry after another, so a broken chain is reported exactly as a single walk reports it.
    """
    size = -(-(hi - lo + 1) // (processes * 4))
    bounds = [(start, min(start + size - 1, hi)) for start in range(lo, hi + 1, size)]
    los, his = zip(*bounds, strict=True)
    for stretch in run(walk_stretch, los, his, [key] * len(bounds)):
        part = stretch.walk
        joins = (
            part.problem is None
            and stretch.first_prev_hash == walk.prev_hash
            and stretch.first_seq == walk.expected_seq
            and not (walk.last_tagged is not None and part.first_untagged is not None)
        )
        if not joins:
            return _walk(_fetch(stretch.lo, hi), walk, key)
        walk.checked += part.checked
        walk.tagged += part.tagged
        walk.last_tagged = part.last_tagged or walk.last_tagged
        walk.expected_seq, walk.prev_hash = part.expected_seq, part.prev_hash
    return walk


def _shares_database() -> bool:
    """Other processes can see this database (not SQLite's in-memory test database)."""
    return connection.vendor == "postgresql"


def verify(
    checkpoints: Iterable[Checkpointed] = (), *, processes: int | None = None
) -> VerifyResult:
    """Recompute the whole chain (and the chain-key tags, given the key); report the first
    entry that breaks it.

    After a retention purge the oldest entries are gone: the chain then starts after a
    checkpointed entry (the anchor) and continues from that checkpoint's hash. A long chain on
    PostgreSQL is walked by several processes at once (``processes``, default
    AUDIT_VERIFY_PROCESSES), with the same verdict as one walk.
    """
    points = list(checkpoints)
    key = keys.chain_key()
    bounds = AuditEntry.objects.filter(seq__isnull=False).aggregate(lo=Min("seq"), hi=Max("seq"))
    lo, hi = bounds["lo"] or 1, bounds["hi"] or 0
    walk = _Walk(1, GENESIS)
    if lo > 1:
        anchor = next((p for p in points if p.vouches and p.seq == lo - 1), None)
        if anchor is not None:
            walk = _Walk(lo, anchor.hash)
    start_seq = walk.expected_seq
    processes = settings.AUDIT_VERIFY_PROCESSES if processes is None else processes
    if processes > 1 and hi - lo >= PARALLEL_MIN_ENTRIES and _shares_database():
        walk = _walk_parallel(lo, hi, walk, key, processes)
    else:
        walk = _walk(_fetch(lo, hi), walk, key)
    checked, tagged = walk.checked, walk.tagged
    if walk.problem is not None:
        seq, row_id, problem = walk.problem
        return VerifyResult(False, checked, seq - 1, seq, row_id, problem, tagged=tagged)
    head_seq = walk.expected_seq - 1

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


def _actor_moved(actor_id: int | None, hashed: Mapping[str, Any]) -> bool:
    """The actor link may only ever be cleared (when the user is deleted), never moved.

    Entries written before the user id was copied (actor_user_id NULL, a person's name) can't
    be checked: for them only the hashed username vouches for who acted.
    """
    actor_user_id = hashed.get("actor_user_id")
    if actor_id is None or actor_id == actor_user_id:
        return False
    return actor_user_id is not None or hashed["actor_username"] == OUTSIDE_ACTOR


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
    return Checkpointed(seq or 0, hash_, keyed=bool(mac))


def at(seq: int) -> Checkpointed:
    """The chain position of entry ``seq`` (for a retention anchor)."""
    hash_, mac = AuditEntry.objects.values_list("hash", "mac").get(seq=seq)
    return Checkpointed(seq, hash_, keyed=bool(mac))
