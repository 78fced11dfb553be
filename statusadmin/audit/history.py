"""The catalogue as of any moment, rebuilt from the audit log alone.

What every status said at a moment T, with the entry that gave each field its value: the
replay of the log's entries up to T (evidence_verifier.catalogue_replay, the same code an
auditor's verify.py runs on a bundle). History starts at the first copy of the catalogue the
dashboard recorded, or at a status's own first entry; before that a status is "unknown before
<first seen>", never guessed.

Replaying a million entries for every question would be slow, so the state is kept every
SNAPSHOT_EVERY entries that change something (CatalogueSnapshot): a cache, derived from the log
and checked against a full replay by the tests, never a source of truth. A question replays
only the entries after the nearest snapshot.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db.models import Min, Q

from statusadmin.convoso.status import EDITABLE_FIELDS

from .evidence_verifier import (
    API_NAMES,
    CATALOGUE,
    CATALOGUE_FIELDS,
    COPY,
    EVERYTHING,
    catalogue_replay,
    catalogue_rows,
)
from .models import Action, AuditEntry, CatalogueSnapshot

# The entries the replay can act on: anything else is skipped by the query already.
REPLAYED = (
    Action.CREATE, Action.UPDATE, Action.RESOLVE, Action.EXTERNAL_CREATE,
    Action.EXTERNAL_UPDATE, Action.EXTERNAL_REMOVE, Action.CATALOGUE_COPY,
)  # fmt: skip
# Entries that change something, between two snapshots. A question replays at most this many
# (about 170 ms for 10,000 on the bench machine); each snapshot of 5,000 statuses is ~2 MB of
# JSON before PostgreSQL compresses it, so 1M entries keep ~100 of them.
SNAPSHOT_EVERY = 10_000
BATCH = 5_000


def stamp(moment: datetime) -> str:
    """A moment as the entries' own timestamps are written (chain.content)."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True, slots=True)
class StatusAt:
    code: str
    fields: dict[str, Any]  # CATALOGUE_FIELDS; empty when unknown
    set_by: dict[str, int]  # field -> the seq of the entry that gave it its value
    last: int | None  # the latest entry it rests on
    known: bool
    # Why it isn't known: first seen later ("unknown before"), or a lost reply unsettled.
    first_seen: datetime | None = None
    uncertain: int | None = None


@dataclass(frozen=True, slots=True)
class CatalogueAt:
    account: str
    at: datetime
    statuses: list[StatusAt]

    def get(self, code: str) -> StatusAt | None:
        return next((s for s in self.statuses if s.code == code), None)


def _rows(account: str, after_seq: int, upto: datetime) -> Iterable[dict[str, Any]]:
    """The entries the replay needs, after ``after_seq`` and completed by ``upto``, in chain
    order, as the replay reads them."""
    # Entries complete in chain order (chain._link), so those done by ``upto`` end at the
    # last one done by then: bounding the scan there spares reading the rest of the log
    # (900,000 rows for a moment early in a log of a million). The time filter stays, as the
    # rule itself.
    last = (
        AuditEntry.objects.filter(seq__isnull=False, completed_at__lte=upto)
        .order_by("-completed_at", "-seq")
        .values_list("seq", flat=True)
        .first()
    )
    rows = (
        AuditEntry.objects.filter(
            account=account,
            action__in=REPLAYED,
            seq__gt=after_seq,
            seq__lte=last or 0,
            completed_at__lte=upto,
        )
        .order_by("seq")
        .values_list(*_COLUMNS)
        .iterator(chunk_size=BATCH)
    )
    return (_as_read(account, row) for row in rows)


_COLUMNS = ("seq", "action", "outcome", "status_code", "completed_at", "after")


def _as_read(account: str, row: tuple[Any, ...]) -> dict[str, Any]:
    """A row of _COLUMNS as the replay reads an entry (its hashed content's form)."""
    seq, action, outcome, code, completed_at, after = row
    return {
        "seq": seq, "action": action, "outcome": outcome, "status_code": code,
        "completed_at": stamp(completed_at), "after": after, "account": account,
    }  # fmt: skip


@dataclass
class _Progress:
    """How far a replay went: how many entries, the last of them, their latest completion."""

    count: int = 0
    seq: int | None = None
    at: str = ""

    def track(self, rows: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for row in rows:
            self.count += 1
            self.seq = row["seq"]
            self.at = max(self.at, row["completed_at"])
            yield row


def _replay(state: dict[str, Any], account: str, after_seq: int, upto: datetime) -> _Progress:
    progress = _Progress()
    rows = progress.track(_rows(account, after_seq, upto))
    catalogue_replay(state, rows, account=account, upto=stamp(upto))
    return progress


def _keep(account: str, state: dict[str, Any], progress: _Progress, floor: datetime | None) -> None:
    """A snapshot of ``state`` after the replay's last entry, valid from the latest completion
    it rests on (an entry of a lower seq never completes after it: appends are serialised)."""
    if progress.seq is None:
        return
    upto_at = datetime.fromisoformat(progress.at)
    if floor is not None:
        upto_at = max(upto_at, floor)
    CatalogueSnapshot.objects.get_or_create(
        account=account, seq=progress.seq, defaults={"upto_at": upto_at, "state": state}
    )


def state_at(account: str, at: datetime) -> dict[str, Any]:
    """The replay's state at ``at``: from the nearest snapshot, then the entries after it."""
    snapshot = (
        CatalogueSnapshot.objects.filter(account=account, upto_at__lte=at).order_by("-seq").first()
    )
    state: dict[str, Any] = dict(snapshot.state) if snapshot else {}
    progress = _replay(state, account, snapshot.seq if snapshot else 0, at)
    if progress.count >= SNAPSHOT_EVERY:  # next time, start from here
        _keep(account, state, progress, snapshot.upto_at if snapshot else None)
    return state


def _replay_through(state: dict[str, Any], account: str, after_seq: int, seq: int) -> None:
    """Apply to ``state`` the entries after ``after_seq`` up to ``seq``, whenever completed."""
    rows = (
        AuditEntry.objects.filter(
            account=account, action__in=REPLAYED, seq__gt=after_seq, seq__lte=seq
        )
        .order_by("seq")
        .values_list(*_COLUMNS)
        .iterator(chunk_size=BATCH)
    )
    catalogue_replay(
        state, (_as_read(account, row) for row in rows), account=account, upto=EVERYTHING
    )


def state_after(account: str, seq: int) -> dict[str, Any]:
    """The replay's state after entry ``seq`` and every entry before it, whenever they
    completed: where an evidence bundle's own replay starts."""
    snapshot = (
        CatalogueSnapshot.objects.filter(account=account, seq__lte=seq).order_by("-seq").first()
    )
    state: dict[str, Any] = dict(snapshot.state) if snapshot else {}
    _replay_through(state, account, snapshot.seq if snapshot else 0, seq)
    return state


def keep_base(seq: int) -> list[str]:
    """Before entries up to ``seq`` are purged (the README's retention procedure, at its
    anchor checkpoint): keep the catalogue of every account as it stood after entry ``seq``,
    where the replay starts once they are gone. Returns the accounts."""
    entry = AuditEntry.objects.get(seq=seq)
    assert entry.completed_at is not None  # an entry with a seq is complete
    kept = []
    for account in accounts():
        CatalogueSnapshot.objects.update_or_create(
            account=account, seq=seq,
            defaults={"upto_at": entry.completed_at, "state": state_after(account, seq)},
        )  # fmt: skip
        kept.append(account)
    return kept


@dataclass(frozen=True)
class SnapshotCheck:
    checked: int  # snapshots recomputed from the log and found equal
    problem: str = ""  # the first that differs, in words
    # After a purge: the first entry left, when a catalogue kept at the cut is the replay's
    # start (the entries that could prove it are gone).
    based_before: int | None = None


def check_snapshots() -> SnapshotCheck:
    """Recompute every snapshot from the log (verification's part: a snapshot is a cache,
    and one altered in the database would make the screen show a past that never was). The
    first that differs is dropped with every later one of its account (they may rest on it),
    to be rebuilt from the log by the next question. One replay of the whole log per account.

    After a retention purge the replay starts from the catalogue kept at the cut (keep_base):
    the entries that could prove it are gone, which the verdict says."""
    checked, based_before = 0, None
    first_left = AuditEntry.objects.filter(seq__isnull=False).aggregate(lo=Min("seq"))["lo"]
    cut_at = first_left if first_left is not None and first_left > 1 else None
    for account in CatalogueSnapshot.objects.values_list("account", flat=True).distinct():
        kept = CatalogueSnapshot.objects.filter(account=account).order_by("seq")
        base = kept.filter(seq__lt=cut_at).last() if cut_at is not None else None
        state: dict[str, Any] = dict(base.state) if base is not None else {}
        after_seq = base.seq if base is not None else 0
        if base is not None:
            based_before = cut_at
        for seq in list(kept.filter(seq__gt=after_seq).values_list("seq", flat=True)):
            _replay_through(state, account, after_seq, seq)
            after_seq = seq
            # Compared as stored: JSON, whose keys are strings and whose numbers are numbers.
            if json.loads(json.dumps(state)) != kept.get(seq=seq).state:
                kept.filter(seq__gte=seq).delete()
                return SnapshotCheck(checked, (
                    f"the catalogue snapshot after entry {seq} differs from the log's own "
                    "replay: it was altered in the database (it and the later ones were "
                    "dropped; the catalogue at a moment is rebuilt from the log)"
                ), based_before)  # fmt: skip
            checked += 1
    return SnapshotCheck(checked, "", based_before)


def accounts() -> list[str]:
    """The accounts whose history the log holds (each starts with a copy of its catalogue)."""
    return sorted(
        set(AuditEntry.objects.filter(action=COPY).values_list("account", flat=True).distinct())
    )


def keep_snapshots(account: str) -> int:
    """Bring the snapshots of ``account`` up to the log's head (the worker's recurring job):
    a question about the present then replays at most SNAPSHOT_EVERY entries. Returns how many
    snapshots it made."""
    made = 0
    while True:
        latest = CatalogueSnapshot.objects.filter(account=account).order_by("-seq").first()
        state: dict[str, Any] = dict(latest.state) if latest else {}
        after_seq = latest.seq if latest else 0
        head = AuditEntry.objects.filter(account=account, action__in=REPLAYED, seq__gt=after_seq)
        window = list(head.order_by("seq").values_list("seq", flat=True)[SNAPSHOT_EVERY - 1 :][:1])
        if not window:
            return made
        far = AuditEntry.objects.get(seq=window[0]).completed_at
        assert far is not None  # an entry with a seq is complete
        floor = latest.upto_at if latest else None
        _keep(account, state, _replay(state, account, after_seq, far), floor)
        made += 1


def _first_seen(account: str, codes: Collection[str]) -> dict[str, datetime]:
    """When each code first appears in the log: in a copy of the catalogue, or its own
    first entry that set it."""
    found: dict[str, datetime] = dict(
        AuditEntry.objects.filter(account=account, status_code__in=list(codes), action__in=REPLAYED)
        .values("status_code")
        .annotate(first=Min("completed_at"))
        .values_list("status_code", "first")
    )
    copy = (
        AuditEntry.objects.filter(account=account, action=COPY)
        .order_by("seq")
        .values_list("completed_at", "after")
        .first()
    )
    if copy is not None and (copied_at := copy[0]) is not None:
        for record in (copy[1] or {}).get(CATALOGUE, []):
            code = str(record.get("code"))
            if code in codes and (code not in found or copied_at < found[code]):
                found[code] = copied_at
    return found


def catalogue_at(
    *, account: str, at: datetime, codes: Collection[str] | None = None, later: Collection[str] = ()
) -> CatalogueAt:
    """Every status of ``account`` as it stood at ``at`` (only ``codes``, if given). ``later``
    names statuses known now: those the log didn't know at ``at`` are listed as unknown before
    their first sight, rather than left out or guessed."""
    state = state_at(account, at)
    statuses = [
        StatusAt(
            code=code,
            fields=dict(entry["fields"]),
            set_by=dict(entry["set_by"]),
            last=entry["last"],
            known=entry["uncertain"] is None,
            uncertain=entry["uncertain"],
        )
        for code, entry in state.items()
        if codes is None or code in codes
    ]
    unseen = {c for c in later if c not in state and (codes is None or c in codes)}
    if unseen:
        first = _first_seen(account, unseen)
        statuses += [
            StatusAt(code=c, fields={}, set_by={}, last=None, known=False, first_seen=first.get(c))
            for c in unseen
            if first.get(c) is None or first[c] > at
        ]
    statuses.sort(key=lambda s: s.code)
    return CatalogueAt(account=account, at=at, statuses=statuses)


@dataclass(frozen=True, slots=True)
class Difference:
    code: str
    field: str  # a field, or "" for a status present at one moment only
    before: object
    after: object


def compare(first: CatalogueAt, second: CatalogueAt) -> list[Difference]:
    """What differs between two moments, field by field (only known statuses compare)."""
    a = {s.code: s for s in first.statuses if s.fields}
    b = {s.code: s for s in second.statuses if s.fields}
    differences = []
    for code in sorted(set(a) | set(b)):
        if code not in a or code not in b:
            differences.append(Difference(code, "", code in a, code in b))
            continue
        for name in CATALOGUE_FIELDS:
            if a[code].fields.get(name) != b[code].fields.get(name):
                differences.append(
                    Difference(code, name, a[code].fields.get(name), b[code].fields.get(name))
                )
    return differences


@dataclass(frozen=True, slots=True)
class Period:
    """A field's value from one entry until the next that changed it (None: still)."""

    value: object
    since: datetime
    until: datetime | None
    entry: int  # seq


def timelines(*, account: str, code: str) -> dict[str, list[Period]]:
    """Each value every field of status ``code`` had, from the log's first knowledge of it (the
    copies of the catalogue and the status's own entries), by field."""
    periods: dict[str, list[Period]] = {name: [] for name in EDITABLE_FIELDS}
    state: dict[str, Any] = {}
    about = AuditEntry.objects.filter(account=account, action__in=REPLAYED).filter(
        Q(status_code=code) | Q(action=COPY)
    )
    for values in about.exclude(completed_at=None).order_by("seq").values_list(*_COLUMNS):
        row = _as_read(account, values)
        catalogue_replay(state, [row], account=account, upto=row["completed_at"])
        now, completed_at = state.get(code), values[4]
        for name, kept in periods.items():
            last = kept[-1] if kept and kept[-1].until is None else None
            if last is not None and (now is None or now["fields"][name] != last.value):
                kept[-1] = Period(last.value, last.since, completed_at, last.entry)
                last = None
            if now is not None and last is None:
                kept.append(Period(now["fields"][name], completed_at, None, now["set_by"][name]))
    return periods


# The columns of as_rows, for CSV.
CSV_COLUMNS = (
    *API_NAMES.values(), "as_of_entry", "known", "unknown_before", "unsettled_entry",
)  # fmt: skip


def as_rows(catalogue: CatalogueAt) -> list[dict[str, Any]]:
    """The catalogue as Convoso's Status API would list it (flags Y/N), each status with the
    entry it rests on and whether it is known: the command's JSON and CSV, the screen's CSV."""
    rows = []
    for status in catalogue.statuses:
        if status.fields:
            (row,) = catalogue_rows(
                {
                    status.code: {
                        "fields": status.fields, "last": status.last,
                        "uncertain": status.uncertain,
                    }
                }
            )  # fmt: skip
        else:
            row = {"status": status.code, **dict.fromkeys(API_NAMES.values(), None)}
            row |= {"status": status.code, "as_of_entry": None, "known": False}
        if status.first_seen is not None:
            row["unknown_before"] = stamp(status.first_seen)
        if status.uncertain is not None:
            row["unsettled_entry"] = status.uncertain
        rows.append(row)
    return rows
