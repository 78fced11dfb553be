"""Reads for the status screens. They touch only the local mirror, never Convoso."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from statusadmin.convoso.client import Status

from .models import MirrorStatus, MirrorSync

SEARCH_LIMIT = 200


@dataclass(frozen=True, slots=True)
class SearchResult:
    custom: list[MirrorStatus]
    system: list[MirrorStatus]
    total: int

    @property
    def shown(self) -> int:
        return len(self.custom) + len(self.system)

    @property
    def hidden(self) -> int:
        return self.total - self.shown


def status_search(*, account: str, query: str = "", limit: int = SEARCH_LIMIT) -> SearchResult:
    """Statuses whose code or name contains ``query`` (case-insensitive), custom first.

    Returns at most ``limit`` rows and the total number of matches.
    """
    rows = MirrorStatus.objects.filter(account=account)
    needle = query.strip().casefold()
    if needle:
        rows = rows.filter(search_text__contains=needle)
    total = rows.count()
    page = list(rows.order_by("-custom", "code")[:limit])
    return SearchResult(
        custom=[r for r in page if r.custom],
        system=[r for r in page if not r.custom],
        total=total,
    )


def status_get(*, account: str, code: str) -> MirrorStatus | None:
    return MirrorStatus.objects.filter(account=account, code=code).first()


def mirror_sync_get(*, account: str) -> MirrorSync | None:
    return MirrorSync.objects.filter(account=account).first()


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
