"""Reads for the status screens. They touch only the local mirror, never Convoso."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection

from statusadmin.convoso.status import FLAGS, Status

from . import counts
from .models import MirrorStatus, MirrorSync

# A condition on a mirror row's ``code`` in SQL, with its parameters: a higher layer (the
# approvals app) marks rows through it without this module knowing what it asks.
type SqlCondition = tuple[str, list[Any]]

# Rows per table in one response: a one-character search stays far under 100 KB of HTML, and
# the rest of the matches come a page at a time as the user scrolls (or asks for them).
PAGE_SIZE = 25


@dataclass(frozen=True, slots=True)
class Page:
    """Matching statuses of one kind (custom or system), in code order, from a position."""

    statuses: list[Status]
    # Matches of this kind after the ones in this page.
    remaining: int
    # Codes in this page that meet the search's ``waiting`` condition (a change waits).
    waiting: frozenset[str] = frozenset()

    @property
    def after(self) -> str:
        """Where the next page starts (the last code shown)."""
        return self.statuses[-1].code if self.statuses else ""


@dataclass(frozen=True, slots=True)
class SearchResult:
    custom_page: Page
    system_page: Page
    # Matches of each kind, in all.
    custom_total: int
    system_total: int

    @property
    def custom(self) -> list[Status]:
        return self.custom_page.statuses

    @property
    def system(self) -> list[Status]:
        return self.system_page.statuses

    @property
    def total(self) -> int:
        return self.custom_total + self.system_total

    @property
    def shown(self) -> int:
        return len(self.custom) + len(self.system)


def status_search(
    *,
    account: str,
    query: str,
    limit: int = PAGE_SIZE,
    waiting: SqlCondition | None = None,
) -> SearchResult:
    """Statuses whose code or name contains ``query`` (case-insensitive): the first page of
    each kind, and how many match of each."""
    custom = status_page(account=account, query=query, custom=True, limit=limit, waiting=waiting)
    system = status_page(account=account, query=query, custom=False, limit=limit, waiting=waiting)
    return SearchResult(
        custom_page=custom,
        system_page=system,
        custom_total=len(custom.statuses) + custom.remaining,
        system_total=len(system.statuses) + system.remaining,
    )


def status_page(
    *,
    account: str,
    query: str = "",
    custom: bool,
    after: str = "",
    limit: int = PAGE_SIZE,
    waiting: SqlCondition | None = None,
) -> Page:
    """Up to ``limit`` matching statuses of one kind whose code sorts after ``after``.

    Plain SQL, because it runs on every keystroke and building it through the ORM costs as
    much as running it (bench: "search partial, a code"; see bench/README.md). It walks the
    (account, custom, code) index and stops after one row more than a page; only then does
    it count the rest, a count kept until the mirror changes (counts.py). Whether a change
    waits (``waiting``) rides along in the same query (one hashed lookup, not a second query
    per keystroke), so the requests are read only when one does.
    """
    table = MirrorStatus._meta.db_table
    where = "account = %s AND custom = %s"
    params: list[Any] = [account, custom]
    needle = query.strip().casefold()
    if needle:
        # The backend's own LIKE (case-sensitive on SQLite too: search_text is casefolded).
        where += f" AND search_text {connection.operators['contains']}"  # type: ignore[attr-defined]
        params.append(f"%{connection.ops.prep_for_like_query(needle)}%")
    if after:
        where += " AND code > %s"
        params.append(after)
    columns = ", ".join(connection.ops.quote_name(c) for c in MirrorStatus.STATUS_FIELDS)
    marked, marked_params = waiting or ("1 = 0", [])
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns}, {marked} FROM {table} WHERE {where} "  # noqa: S608 - fixed names; values are parameters
            "ORDER BY code LIMIT %s",
            [*marked_params, *params, limit + 1],
        )
        fetched = cursor.fetchall()
        rows, remaining = fetched[:limit], 0
        if len(fetched) > limit:
            counting = f"SELECT COUNT(*) FROM {table} WHERE {where}"  # noqa: S608

            def count() -> int:
                cursor.execute(counting, params)
                return int(cursor.fetchone()[0])

            remaining = counts.kept(account, repr([counting, params]), count) - limit
        statuses = [MirrorStatus.status_from(tuple(row[:-1])) for row in rows]
    return Page(
        statuses=statuses,
        remaining=remaining,
        waiting=frozenset(s.code for s, row in zip(statuses, rows, strict=True) if row[-1]),
    )


def status_get(*, account: str, code: str) -> MirrorStatus | None:
    return MirrorStatus.objects.filter(account=account, code=code).first()


def statuses_get(*, account: str, codes: Iterable[str]) -> dict[str, MirrorStatus]:
    """The mirror's rows for these codes, by code, in one query (absent codes are missing)."""
    rows = MirrorStatus.objects.filter(account=account, code__in=list(codes))
    return {row.code: row for row in rows}


def mirror_age_seconds(sync: MirrorSync | None, now: datetime) -> float | None:
    if sync is None or sync.synced_at is None:
        return None
    return (now - sync.synced_at).total_seconds()


def _name_digest(name: str) -> str:
    return hashlib.blake2b(name.encode(), digest_size=4).hexdigest()


def status_version(status: Status) -> str:
    """What a supervisor sees in a row, compactly: the seven flags as Y/N, the colour (six hex
    digits, or "n" for none) and a digest of the name, e.g. "NYYNNYN6711D1" + "3fa2b0c1".

    Forms carry it back (?v=), so the service can tell exactly which fields changed after the
    page was loaded, and refuse a change that would overwrite one the person never saw.
    """
    flags = "".join("Y" if on else "N" for on in status.flags().values())
    color = status.color.removeprefix("#") if status.color else "n"
    return f"{flags}{color}{_name_digest(status.name)}"


_VERSION = re.compile(rf"([YN]{{{len(FLAGS)}}})([0-9A-F]{{6}}|n)([0-9a-f]{{8}})")


def changed_since(version: str, status: Status) -> set[str] | None:
    """The fields of ``status`` that differ from what the page with ``version`` showed.

    None when the version can't be read (a hand-made or truncated URL): then nothing is known
    about what the person saw.
    """
    match = _VERSION.fullmatch(version)
    if match is None:
        return None
    flags, color, name = match.groups()
    changed = {
        f for f, seen in zip(FLAGS, flags, strict=True) if getattr(status, f) != (seen == "Y")
    }
    if (None if color == "n" else f"#{color}") != status.color:
        changed.add("color")
    if name != _name_digest(status.name):
        changed.add("name")
    return changed
