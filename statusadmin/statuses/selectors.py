"""Reads for the status screens. They touch only the local mirror, never Convoso."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from django.db import connection

from statusadmin.convoso.client import Status

from .models import MirrorStatus, MirrorSync

SEARCH_LIMIT = 200


@dataclass(frozen=True, slots=True)
class SearchResult:
    custom: list[Status]
    system: list[Status]
    total: int

    @property
    def shown(self) -> int:
        return len(self.custom) + len(self.system)

    @property
    def hidden(self) -> int:
        return self.total - self.shown


def status_search(*, account: str, query: str = "", limit: int = SEARCH_LIMIT) -> SearchResult:
    """Statuses whose code or name contains ``query`` (case-insensitive), custom first.

    Returns at most ``limit`` rows and the total number of matches. Two queries on purpose:
    the page walks the (account, -custom, code) index and stops after ``limit`` matches, while
    a window count over the same query would have to sort every match first (4x slower).
    Written in SQL because this runs on every keystroke, and building the same two queries
    through the ORM each time cost as much as running them.
    """
    table = MirrorStatus._meta.db_table
    where, params = "account = %s", [account]
    needle = query.strip().casefold()
    if needle:
        where += f" AND search_text {connection.operators['contains']}"
        params.append(f"%{connection.ops.prep_for_like_query(needle)}%")
    columns = ", ".join(connection.ops.quote_name(c) for c in MirrorStatus.STATUS_FIELDS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns} FROM {table} WHERE {where} ORDER BY custom DESC, code LIMIT %s",  # noqa: S608 - fixed names; values are parameters
            [*params, limit],
        )
        statuses = [MirrorStatus.status_from(tuple(row)) for row in cursor.fetchall()]
        total = len(statuses)
        if total == limit:
            cursor.execute(f"SELECT COUNT(*) FROM {table} WHERE {where}", params)  # noqa: S608
            total = cursor.fetchone()[0]
    return SearchResult(
        custom=[s for s in statuses if s.custom],
        system=[s for s in statuses if not s.custom],
        total=total,
    )


def status_get(*, account: str, code: str) -> MirrorStatus | None:
    return MirrorStatus.objects.filter(account=account, code=code).first()


def mirror_age_seconds(sync: MirrorSync | None, now: datetime) -> float | None:
    if sync is None or sync.synced_at is None:
        return None
    return (now - sync.synced_at).total_seconds()


def status_version(status: Status) -> str:
    """A short fingerprint of everything a supervisor sees in a row.

    Forms carry it back, so the service can tell that a status changed after the page loaded.
    """
    text = repr((status.code, status.name, status.color, *status.flags().values()))
    return hashlib.blake2b(text.encode(), digest_size=6).hexdigest()
