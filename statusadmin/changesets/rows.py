"""How a change set's lines read on its page: in the audit log's wording ("DNC No → Yes"),
DNC lines marked, and an outcome that says only what happened."""

from __future__ import annotations

from dataclasses import dataclass

from statusadmin.convoso.status import describe_changes

from .models import ChangeSet, ChangeSetItem

Plan, ItemState, SetState = ChangeSetItem.Plan, ChangeSetItem.State, ChangeSet.State
# Sets whose lines have been handed to the worker: before that, nothing was sent.
HANDED_OVER = {SetState.QUEUED, SetState.RUNNING, SetState.FINISHED}


@dataclass(frozen=True)
class Line:
    item: ChangeSetItem
    what: str
    dnc: bool
    outcome: str


def lines(change_set: ChangeSet, items: list[ChangeSetItem]) -> list[Line]:
    return [
        Line(item, _what(item), "dnc" in _touched(item), _outcome(change_set, item))
        for item in items
    ]


def _touched(item: ChangeSetItem) -> set[str]:
    if item.plan == Plan.CREATE:
        return {name for name, value in item.changes.items() if value is True}
    return set(item.changes)


def _what(item: ChangeSetItem) -> str:
    if item.problem:
        return item.problem
    if item.plan == Plan.CREATE:
        return describe_changes(None, item.changes, [])
    before = item.before or {}
    return describe_changes(before, {**before, **item.changes}, list(item.changes))


def _outcome(change_set: ChangeSet, item: ChangeSetItem) -> str:
    if item.plan == Plan.INVALID:
        return "Not sent"
    if change_set.state in (SetState.REJECTED, SetState.DISCARDED):
        return "Not sent"
    if change_set.state not in HANDED_OVER:
        return "Not sent yet"
    if item.state == ItemState.DONE:
        # "Done." is the worker's plain success; anything else (found already applied) is news.
        return "Sent" if item.outcome in ("", "Done.") else f"Sent: {item.outcome}"
    if item.state == ItemState.FAILED:
        return f"Failed: {item.outcome}" if item.outcome else "Failed"
    if item.state == ItemState.SKIPPED:
        return "Nothing to send"
    if item.state == ItemState.SENDING:
        return "Being sent"
    return item.outcome or "Waiting its turn"
