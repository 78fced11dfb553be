"""Reads of change sets, of the catalogue they export, and of two accounts' differences."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from django.db.models import Count, Q, QuerySet

from statusadmin.convoso import tenancy
from statusadmin.convoso.status import (
    EDITABLE_FIELDS,
    FIELD_LABELS,
    FLAGS,
    Status,
    describe_value,
)
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


def listed(user_id: int | None = None) -> QuerySet[ChangeSet]:
    """The account's change sets, newest first (only ``user_id``'s, if given), with how many
    statuses each touches."""
    sets = tenancy.scoped(ChangeSet.objects.all())
    if user_id is not None:
        sets = sets.filter(created_by_id=user_id)
    changing = Count("items", filter=Q(items__plan__in=[Plan.CREATE, Plan.UPDATE]))
    return sets.annotate(changing=changing).order_by("-created_at", "-id")


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


# --- comparing two accounts, for a copy -----------------------------------------------------------


def copy_values(status: Status) -> dict[str, object]:
    """What copying ``status`` to another account sets there, in display order: its name,
    its colour and its flags. A status without a colour leaves the target's as it is:
    Convoso has no way to remove one."""
    values = {f: getattr(status, f) for f in EDITABLE_FIELDS}
    if status.color is None:
        del values["color"]
    return values


def copy_changes(source: Status, target: Status) -> dict[str, object]:
    """What a copy of ``source`` would change in ``target``: the one rule for the comparison
    screen and the plan (services.plan_copy), so both always agree."""
    return {f: v for f, v in copy_values(source).items() if getattr(target, f) != v}


@dataclass(frozen=True, slots=True)
class Difference:
    """One of the source's statuses that the target lacks or holds otherwise."""

    code: str
    source: Status
    target: Status | None
    changes: dict[str, object]  # what a copy would set on the target
    # Field by field, in the audit diff's labels and wording: (label, target's, source's);
    # the target's is "" for a status it lacks.
    fields: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def missing(self) -> bool:
        return self.target is None

    @property
    def copyable(self) -> bool:
        """Whether a copy can change it: not where the target holds it as a system status,
        which Convoso can't change."""
        return self.target is None or self.target.custom


@dataclass(frozen=True, slots=True)
class Comparison:
    differences: list[Difference]
    identical: int  # custom statuses the target already holds exactly as the source does
    system: int  # the source's system statuses: Convoso can't change those, so not compared
    only_on_target: int  # the target's custom statuses the source doesn't have


def _mirrored(account: tenancy.Account) -> dict[str, Status]:
    rows = MirrorStatus.objects.filter(account=account.key)
    return {m.code: m.to_status() for m in rows}


def _fields(current: Status | None, changes: dict[str, object]) -> list[tuple[str, str, str]]:
    rows = []
    for name, value in changes.items():
        if current is None:
            # A new status is told by its name, its colour and the flags it has on.
            if name not in FLAGS or value:
                rows.append((FIELD_LABELS[name], "", describe_value(name, value)))
        else:
            here = describe_value(name, getattr(current, name))
            rows.append((FIELD_LABELS[name], here, describe_value(name, value)))
    return rows


def copy_compare(*, source: tenancy.Account, target: tenancy.Account) -> Comparison:
    """How the source's custom statuses differ from the target's, from both mirrors (the
    caller refreshes them)."""
    theirs, ours = _mirrored(source), _mirrored(target)
    differences, identical, system = [], 0, 0
    for code, status in sorted(theirs.items()):
        if not status.custom:
            system += 1
            continue
        current = ours.get(code)
        changes = copy_values(status) if current is None else copy_changes(status, current)
        if not changes:
            identical += 1
            continue
        differences.append(Difference(code, status, current, changes, _fields(current, changes)))
    only_on_target = sum(1 for code, s in ours.items() if s.custom and code not in theirs)
    return Comparison(differences, identical, system, only_on_target)
