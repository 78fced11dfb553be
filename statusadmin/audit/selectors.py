"""Reads of the audit log. Listing is keyset-paginated on (created_at, id): no OFFSET and no
COUNT(*), so any page of millions of entries costs about the same as the first."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db.models import Count, Max, QuerySet
from django.db.models.functions import TruncDay, TruncMonth, TruncWeek
from django.utils import timezone

from statusadmin.convoso import tenancy

from .models import DASHBOARD_ACTOR, OUTSIDE_ACTOR, AuditEntry, AuditEntryQuerySet, Outcome

PAGE_SIZE = 50
# Ids are 64-bit signed integers (BigAutoField); a larger one can't even be compared with them.
MAX_ID = 2**63 - 1


def account_keys() -> tuple[str, ...]:
    """The ``account`` values of the entries the Convoso account in use may see: its own,
    and in the default account also those of no account (sign-ins, user administration,
    verifications), as before there were several."""
    account = tenancy.current()
    return (account.key, "") if account.is_default else (account.key,)


def in_account[Q: QuerySet[AuditEntry]](entries: Q, keys: tuple[str, ...] = ()) -> Q:
    """The entries of ``keys`` (default: the account in use's). Every read of the log for a
    screen or an export starts here."""
    return entries.filter(account__in=keys or account_keys())


# At most this many people match a part of a name (a filter on "a" is no filter).
PEOPLE_MATCHED = 200


def people_named(text: str) -> list[str]:
    """The names a people filter means: ``text`` as typed (a person since deleted is still in
    the log by name), and every user, and the dashboard's own actors, whose name contains it
    in any case. A list of names, so the log is still read through its actor index."""
    needle = text.casefold()
    users = get_user_model().objects.filter(username__icontains=text)
    names = {text, *users.values_list("username", flat=True)[:PEOPLE_MATCHED]}
    names |= {actor for actor in (OUTSIDE_ACTOR, DASHBOARD_ACTOR) if needle in actor}
    return sorted(names)


def people() -> list[str]:
    """Everyone a people filter may suggest (the form's list)."""
    return list(
        get_user_model().objects.order_by("username").values_list("username", flat=True)[:500]
    )


@dataclass(frozen=True, slots=True)
class Filters:
    date_from: date | None = None
    date_to: date | None = None
    actor: str = ""
    code: str = ""
    action: str = ""
    outcome: str = ""
    field: str = ""
    text: str = ""
    account: str = ""
    approved_by: str = ""
    awaiting: bool = False  # change requests nobody has decided yet
    request: int | None = None  # one change request's trail: its steps and its change
    # Whose entries: the account in use when the filters were made. Fixed then, because an
    # export streams after the request's own code has returned (and its account with it).
    accounts: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.accounts:
            object.__setattr__(self, "accounts", account_keys())

    def apply(self, entries: AuditEntryQuerySet) -> AuditEntryQuerySet:
        entries = in_account(entries, self.accounts)
        tz = timezone.get_current_timezone()
        if self.date_from:
            entries = entries.filter(created_at__gte=datetime.combine(self.date_from, time(), tz))
        if self.date_to:
            end = datetime.combine(self.date_to + timedelta(days=1), time(), tz)
            entries = entries.filter(created_at__lt=end)
        if self.actor:
            entries = entries.filter(actor_username__in=people_named(self.actor))
        if self.code:
            # As typed, or in capitals as the dashboard makes codes: a code made outside it
            # may be in lower case, and "xfer" should still find XFER. Both use the index.
            entries = entries.filter(status_code__in={self.code, self.code.upper()})
        if self.action:
            entries = entries.filter(action=self.action)
        if self.outcome:
            entries = entries.filter(outcome=self.outcome)
        if self.field:
            entries = entries.touching(self.field)
        if self.text:
            entries = entries.filter(reason__icontains=self.text)
        if self.account:
            entries = entries.filter(account=self.account)
        if self.approved_by:
            entries = entries.approved_by(people_named(self.approved_by))
        if self.awaiting:
            entries = entries.awaiting_approval()
        if self.request:
            entries = entries.filter(request_ref=self.request)
        return entries


@dataclass(frozen=True, slots=True)
class Cursor:
    created_at: datetime
    id: int

    def encode(self) -> str:
        return f"{self.created_at.isoformat()}_{self.id}"

    @classmethod
    def decode(cls, text: str) -> Cursor | None:
        """The cursor ``text`` encodes, or None for anything no page of ours could have made."""
        stamp, _, ident = text.rpartition("_")
        try:
            created_at = datetime.fromisoformat(stamp)
            pk = int(ident)
            if created_at.tzinfo is None or not 0 < pk <= MAX_ID:
                return None
            # In UTC, as the log is stored: PostgreSQL refuses offsets beyond 15:59, and near
            # year 1 or 9999 an offset overflows.
            return cls(created_at.astimezone(UTC), pk)
        except (ValueError, OverflowError):
            return None


@dataclass(frozen=True, slots=True)
class Page:
    entries: list[AuditEntry]
    next_cursor: Cursor | None


def entry_page(*, filters: Filters, after: Cursor | None = None, size: int = PAGE_SIZE) -> Page:
    """Newest first; ``after`` continues below the last entry of the previous page."""
    entries = filters.apply(AuditEntry.objects.all())
    if after is not None:
        # `<=` gives the database an index range to start from; the exclude drops the few
        # entries that share the cursor's timestamp but were already shown.
        entries = entries.filter(created_at__lte=after.created_at).exclude(
            created_at=after.created_at, id__gte=after.id
        )
    rows = list(entries.order_by("-created_at", "-id")[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return Page(rows, Cursor(rows[-1].created_at, rows[-1].id) if more else None)


def filtered(filters: Filters) -> QuerySet[AuditEntry]:
    return filters.apply(AuditEntry.objects.all())


@dataclass(frozen=True, slots=True)
class ActivityBucket:
    start: date
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True, slots=True)
class Activity:
    unit: str  # "day", "week" or "month"
    start: date
    end: date
    buckets: list[ActivityBucket]

    @property
    def total(self) -> int:
        return sum(b.total for b in self.buckets)

    def totals(self) -> dict[str, int]:
        result: dict[str, int] = {}
        for bucket in self.buckets:
            for outcome, n in bucket.counts.items():
                result[outcome] = result.get(outcome, 0) + n
        return result


DEFAULT_ACTIVITY_DAYS = 30
# Only bounds memory: an entry appended or completed changes the key (see activity()).
ACTIVITY_CACHE_SECONDS = 3600
# The chart never covers more than this: five years of months is 60 bars.
MAX_ACTIVITY_DAYS = 5 * 366


def activity(*, filters: Filters, today: date | None = None) -> Activity:
    """Entries per day (or week, or month for long ranges) in the filtered range, by outcome.

    Without a date range this covers the last 30 days, so the chart never scans all history.
    """
    today = today or timezone.localdate()
    end = filters.date_to or today
    start = filters.date_from or end - timedelta(days=DEFAULT_ACTIVITY_DAYS - 1)
    start = max(start, end - timedelta(days=MAX_ACTIVITY_DAYS))
    span = (end - start).days + 1
    trunc: type[TruncDay | TruncWeek | TruncMonth]
    if span <= 92:
        unit, trunc = "day", TruncDay
    elif span <= 2 * 366:
        unit, trunc = "week", TruncWeek
    else:
        unit, trunc = "month", TruncMonth
    ranged = replace(filters, date_from=start, date_to=end)
    # The log only grows: entries are appended, and pending ones complete once (and so take
    # the next sequence number). The newest id and sequence number therefore say exactly
    # whether these counts can have changed, and a review session asking again (another
    # page, the same filter) is answered without counting again.
    # The days are the person's own (their time zone), so the zone is part of the key too.
    newest = AuditEntry.objects.aggregate(id=Max("id"), seq=Max("seq"))
    zone = timezone.get_current_timezone_name()
    state = f"{ranged!r}:{unit}:{zone}:{newest['id']}:{newest['seq']}"
    key = "audit-activity:" + hashlib.sha256(state.encode()).hexdigest()
    if (cached := cache.get(key)) is not None:
        return cached
    rows = (
        ranged.apply(AuditEntry.objects.all())
        .annotate(bucket=trunc("created_at"))
        .values("bucket", "outcome")
        .annotate(n=Count("id"))
        .order_by()
    )
    by_bucket: dict[date, dict[str, int]] = {}
    for row in rows:
        day = timezone.localtime(row["bucket"]).date()
        by_bucket.setdefault(day, {})[row["outcome"]] = row["n"]
    starts = _bucket_starts(unit, start, end)
    result = Activity(unit, start, end, [ActivityBucket(d, by_bucket.get(d, {})) for d in starts])
    cache.set(key, result, ACTIVITY_CACHE_SECONDS)
    return result


def _bucket_starts(unit: str, start: date, end: date) -> list[date]:
    """The first day of every bucket from the one holding ``start`` to the one holding ``end``."""
    if unit == "day":
        current = start
    elif unit == "week":
        current = start - timedelta(days=start.weekday())
    else:
        current = start.replace(day=1)
    starts = []
    while current <= end:
        starts.append(current)
        if unit == "day":
            current += timedelta(days=1)
        elif unit == "week":
            current += timedelta(days=7)
        else:
            current = (current.replace(day=28) + timedelta(days=4)).replace(day=1)
    return starts


def stale_pending_count(*, older_than: timedelta) -> int:
    return AuditEntry.objects.filter(
        outcome=Outcome.PENDING, created_at__lt=timezone.now() - older_than
    ).count()


def code_history(*, account: str, code: str, after: Cursor | None = None) -> Page:
    return entry_page(filters=Filters(code=code, account=account), after=after)
