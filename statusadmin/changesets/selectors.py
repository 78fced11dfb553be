"""Reads of change sets, and of the catalogue they export."""

from __future__ import annotations

from collections.abc import Iterator

from statusadmin.convoso import tenancy
from statusadmin.convoso.status import FLAGS, Status
from statusadmin.statuses.models import MirrorStatus

from .models import ChangeSet, ChangeSetItem

Plan, ItemState = ChangeSetItem.Plan, ChangeSetItem.State
# The most statuses one export holds.
EXPORT_LIMIT = 100_000


def needs_reason(change_set: ChangeSet) -> bool:
    """A reason is asked for as for a single change: when DNC changes (or a new status has it
    on), and whenever a second person must approve."""
    if change_set.needs_approval:
        return True
    writes = change_set.items.filter(plan__in=[Plan.CREATE, Plan.UPDATE])
    return any(
        "dnc" in (set(i.changes) if i.plan == Plan.UPDATE else {f for f in FLAGS if i.changes[f]})
        for i in writes
    )


def counts(change_set: ChangeSet) -> dict[str, int]:
    """How many items of each plan and of each state."""
    result = {key: 0 for key in (*Plan.values, *ItemState.values)}
    for plan, state in change_set.items.values_list("plan", "state"):
        result[plan] += 1
        result[state] += 1
    return result


def waiting_for_approval(account: str) -> list[ChangeSet]:
    """Sets of an account waiting for a second person, newest first."""
    return list(ChangeSet.objects.filter(state=ChangeSet.State.AWAITING_APPROVAL, account=account))


def waiting_count() -> int:
    """Change sets waiting for a second person, in the account in use."""
    waiting = ChangeSet.objects.filter(state=ChangeSet.State.AWAITING_APPROVAL)
    return tenancy.scoped(waiting).count()


def catalogue(*, account: str, query: str = "") -> Iterator[Status]:
    """The mirror's statuses (matching ``query``, if given), custom first, for an export:
    streamed, so a large catalogue never sits in memory whole."""
    rows = MirrorStatus.objects.filter(account=account)
    if query:
        rows = rows.filter(search_text__contains=query.casefold())
    for values in (
        rows.order_by("-custom", "code")
        .values_list(*MirrorStatus.STATUS_FIELDS)[:EXPORT_LIMIT]
        .iterator()
    ):
        yield MirrorStatus.status_from(values)
