"""Reads of the four-eyes workflow: what waits, for the screens and the status search."""

from __future__ import annotations

from collections.abc import Iterable

from django.utils import timezone

from statusadmin.convoso import tenancy
from statusadmin.statuses.selectors import SqlCondition

from .models import ChangeRequest, Notice

State = ChangeRequest.State


def pending_for(account: str, codes: Iterable[str] | None = None) -> dict[str, ChangeRequest]:
    """The requests waiting in an account (for ``codes`` only, if given), by status code.
    Expired ones are not waiting. No codes, no query: a search that matched nothing custom
    costs nothing here."""
    if codes is not None:
        codes = list(codes)
        if not codes:
            return {}
    waiting = ChangeRequest.objects.filter(
        account=account, state=State.PENDING, expires_at__gt=timezone.now()
    )
    if codes is not None:
        waiting = waiting.filter(status_code__in=codes)
    return {r.status_code: r for r in waiting}


def waiting_condition(account: str) -> SqlCondition:
    """ "This status has a change waiting", as a condition on a mirror row's ``code``: the
    status search asks it in the same query as the rows (one hashed lookup per keystroke,
    not a second query)."""
    return (
        f"code IN (SELECT status_code FROM {ChangeRequest._meta.db_table} "  # noqa: S608
        "WHERE account = %s AND state = %s AND expires_at > %s)",
        [account, State.PENDING.value, timezone.now()],
    )


def waiting_count() -> int:
    """Requests waiting for a second person, in the account in use."""
    waiting = ChangeRequest.objects.filter(state=State.PENDING, expires_at__gt=timezone.now())
    return tenancy.scoped(waiting).count()


def waiting_list(account: str) -> list[ChangeRequest]:
    return list(ChangeRequest.objects.filter(state=State.PENDING, account=account))


def asked_by(user_id: int, limit: int = 200) -> list[ChangeRequest]:
    """The person's own requests in the account in use, newest first (their "my requests")."""
    mine = ChangeRequest.objects.filter(requested_by_id=user_id).order_by("-requested_at", "-id")
    return list(tenancy.scoped(mine)[:limit])


def notices(user_id: int, limit: int = 100) -> list[Notice]:
    """The person's notices in the account in use, newest first."""
    return list(tenancy.scoped(Notice.objects.filter(user_id=user_id))[:limit])


def unread_notices(user_id: int) -> int:
    return tenancy.scoped(Notice.objects.filter(user_id=user_id, read_at=None)).count()
