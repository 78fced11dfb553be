"""Change sets: a group of changes planned first, reviewed, then applied in the background.

A plan compares what is asked for (a bulk edit, a catalogue file, or another account's statuses)
with the mirror and says,
for each status, create, update, unchanged or can't be applied (and why, with the file's line).
Applying enqueues a task (tasks.py) that runs the set in the worker (runner.py). A set that
touches a field under APPROVAL_FIELDS waits for one approval by a second person first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from statusadmin.accounts.roles import editor_now, may_use
from statusadmin.approvals import notifications
from statusadmin.audit import services as audit
from statusadmin.audit.models import Action
from statusadmin.audit.services import Origin
from statusadmin.convoso import tenancy
from statusadmin.convoso.connection import get_client
from statusadmin.convoso.status import EDITABLE_FIELDS, FLAGS, Status, addressable
from statusadmin.convoso.validation import InvalidInput, clean_code, clean_color, clean_name
from statusadmin.statuses import services
from statusadmin.statuses.mirror import mirror_refresh
from statusadmin.statuses.models import MirrorStatus

from . import catalogue, selectors
from .models import ChangeSet, ChangeSetItem
from .runner import STALE_AFTER
from .selectors import needs_reason
from .tasks import apply_change_set

Plan, ItemState, SetState = ChangeSetItem.Plan, ChangeSetItem.State, ChangeSet.State
NO_LONGER_EDITS = (
    "may no longer change statuses (their role or account was taken away after they planned "
    "it), so its changes can't be sent in their name. Reject it; someone who may change "
    "statuses can plan it again."
)


class ChangeSetError(Exception):
    def __init__(self, explanation: str) -> None:
        super().__init__(explanation)
        self.explanation = explanation


# --- planning -------------------------------------------------------------------------------------


def _mirror() -> tuple[str, dict[str, Status]]:
    mirror_refresh()
    account = get_client().account
    rows = MirrorStatus.objects.filter(account=account)
    return account, {m.code: m.to_status() for m in rows}


def plan_bulk(
    *, actor: User, codes: Iterable[str], changes: dict[str, object], title: str
) -> ChangeSet:
    """The same change (a flag on or off, or a colour) for several custom statuses."""
    account, known = _mirror()
    items = []
    for code in dict.fromkeys(codes):
        current = known.get(code)
        if current is None:
            items.append(_invalid(None, code, "is not in the catalogue (refresh and try again)"))
        elif not current.custom:
            items.append(_invalid(None, code, "is a system status: Convoso can't change it"))
        else:
            items.append(_update_item(None, current, changes))
    return _save(account, actor, ChangeSet.Kind.BULK, title, items)


def plan_import(*, actor: User, data: bytes, filename: str) -> ChangeSet:
    """What importing a catalogue file would do; raises catalogue.UnreadableFile."""
    lines = catalogue.read(data, filename)
    account, known = _mirror()
    seen: dict[str, int] = {}
    items = []
    for line in lines:
        key = line.code.upper()
        # Every problem of a line is reported at once, so the file is fixed in one go.
        problems = list(line.problems)
        if key and key in seen:
            problems.append(f"repeats line {seen[key]}")
        elif key and not line.problems:
            seen[key] = line.number
        items.append(_plan_line(line, known.get(line.code) or known.get(key), problems))
    return _save(account, actor, ChangeSet.Kind.IMPORT, f"Import of {filename or 'a file'}", items)


def _plan_line(line: catalogue.Line, current: Status | None, problems: list[str]) -> ChangeSetItem:
    values = dict(line.values)
    return _plan_values(
        line.number, line.code, values, current, system=line.system, problems=problems
    )


def _plan_values(
    line: int | None,
    code: str,
    values: dict[str, object],
    current: Status | None,
    *,
    system: bool | None,
    problems: list[str] | None = None,
) -> ChangeSetItem:
    """What setting ``values`` on ``code`` would do, given what the mirror holds: an import's
    line, or a status copied from another account. Every problem is reported at once (with
    any the file's reading found), so a line is fixed in one go."""
    problems = list(problems or [])
    for field, clean in (("color", clean_color), ("name", clean_name)):
        if field in values:
            try:
                values[field] = clean(values[field])
            except InvalidInput as exc:
                problems.append(f"{exc.field}: {exc.message}")
    if current is None:
        if system:
            problems.append("is a system status Convoso doesn't have")
        elif code:
            try:
                code = clean_code(code)
            except InvalidInput as exc:
                problems.append(exc.message)
        if "name" not in values:
            problems.append("a new status needs a name")
    if problems:
        return _invalid(line, code, "; ".join(problems))
    if current is None:
        changes = {"code": code, "color": values.get("color"), "name": values["name"]}
        changes.update({f: bool(values.get(f, False)) for f in FLAGS})
        return ChangeSetItem(line=line, code=code, plan=Plan.CREATE, changes=changes)
    item = _update_item(line, current, values)
    if item.plan == Plan.UPDATE and (not current.custom or not addressable(current.code)):
        return _invalid(line, current.code, "is a system status: Convoso can't change it")
    return item


def plan_copy(
    *, actor: User, source: tenancy.Account, codes: Iterable[str], reason: str = ""
) -> ChangeSet:
    """Copying the source account's ``codes`` to the account in use, planned exactly as an
    import of them would be. The source is only read (its mirror): nothing is sent to it, and
    only someone with a role there may read it."""
    target = tenancy.current()
    if source.key == target.key:
        raise ChangeSetError("Choose another account to copy from.")
    if not may_use(actor, source):
        raise ChangeSetError("There is no such account to copy from.")
    own = services.checked_reason(reason, required=False)
    with tenancy.use(source):
        _, theirs = _mirror()
    account, known = _mirror()
    items = []
    for code in dict.fromkeys(codes):
        status = theirs.get(code)
        if status is None:
            items.append(_invalid(None, code, f"is not in {source.name}'s catalogue"))
            continue
        values = selectors.copy_values(status)
        items.append(_plan_values(None, code, values, known.get(code), system=not status.custom))
    return _save(
        account, actor, ChangeSet.Kind.COPY, f"Copy from {source.name}", items,
        source=source.key, reason=_with_reason(copied_from(source.key), own),
    )  # fmt: skip


def copied_from(key: str) -> str:
    """How a copy's audit entries name its source: "Copied from East office (east)"."""
    name = tenancy.names().get(key, key)
    return f"Copied from {name}" if key == tenancy.default_account().key else (
        f"Copied from {name} ({key})"
    )  # fmt: skip


def _with_reason(head: str, own: str) -> str:
    return f"{head}: {own}" if own else head


def _update_item(line: int | None, current: Status, wanted: dict[str, object]) -> ChangeSetItem:
    changes = {
        f: v
        for f, v in wanted.items()
        if f in EDITABLE_FIELDS and v is not None and getattr(current, f) != v
    }
    return ChangeSetItem(
        line=line,
        code=current.code,
        plan=Plan.UPDATE if changes else Plan.UNCHANGED,
        state=ItemState.PLANNED if changes else ItemState.SKIPPED,
        changes=changes,
        before=asdict(current),
    )


def _invalid(line: int | None, code: str, problem: str) -> ChangeSetItem:
    return ChangeSetItem(
        line=line, code=code[:64], plan=Plan.INVALID, state=ItemState.SKIPPED, problem=problem
    )


def _save(
    account: str,
    actor: User,
    kind: str,
    title: str,
    items: list[ChangeSetItem],
    *,
    source: str = "",
    reason: str = "",
) -> ChangeSet:
    gated = set(settings.APPROVAL_FIELDS)
    with transaction.atomic():
        change_set = ChangeSet.objects.create(
            account=account, kind=kind, title=title[:200], created_by=actor,
            created_by_username=actor.get_username(), source_account=source, reason=reason,
            needs_approval=any(
                gated & _gated_fields(i) for i in items if i.plan in (Plan.CREATE, Plan.UPDATE)
            ),
        )  # fmt: skip
        for item in items:
            item.change_set = change_set
        ChangeSetItem.objects.bulk_create(items, batch_size=500)
    return change_set


def _gated_fields(item: ChangeSetItem) -> set[str]:
    """The fields an item changes, in the sense of the approval policy (services.needs_approval:
    a new status counts only the flags it turns on)."""
    creating = item.plan == Plan.CREATE
    return set(services.needs_approval(item.changes, creating=creating))


# --- asking to apply, and the one approval --------------------------------------------------------


def apply(
    *, change_set_id: int, actor: User, reason: str = "", origin: Origin | None = None
) -> ChangeSet:
    """Press "Apply": enqueue it, or, if it needs approval, ask for that first."""
    change_set = tenancy.scoped(ChangeSet.objects.all()).get(pk=change_set_id)
    if change_set.created_by_id != actor.pk:
        raise ChangeSetError("Only the person who planned this change set can apply it.")
    if change_set.state != SetState.PLANNED:
        raise ChangeSetError(f"This change set is already {change_set.get_state_display()}.")
    reason = _reason_to_apply(change_set, reason)
    ChangeSet.objects.filter(pk=change_set.pk).update(reason=reason)
    if change_set.needs_approval:
        with transaction.atomic():
            if not _move(change_set, SetState.PLANNED, SetState.AWAITING_APPROVAL, reason=reason):
                raise ChangeSetError("This change set was applied meanwhile.")
            audit.record_step(
                actor=actor, action=Action.REQUEST, account=change_set.account,
                code=f"change set {change_set.pk}", request_ref=None,
                requested_by=actor.get_username(), reason=reason, origin=origin,
                change_set_ref=change_set.pk,
            )  # fmt: skip
            waiting = ChangeSet.objects.get(pk=change_set.pk)
            transaction.on_commit(lambda: notifications.change_set_waits(waiting))
    else:
        if not _move(change_set, SetState.PLANNED, SetState.QUEUED, applied_at=timezone.now()):
            raise ChangeSetError("This change set was applied meanwhile.")
        _enqueue(change_set.pk)
    change_set.refresh_from_db()
    return change_set


def _reason_to_apply(change_set: ChangeSet, typed: str) -> str:
    """The reason its changes are audited with. A copy's names its source first, then the
    planner's reason, given when planning or now; one is still asked for where a single
    change would ask (naming the source is not a reason for a DNC change)."""
    required = reason_still_needed(change_set)
    if not change_set.source_account:
        return services.checked_reason(typed, required=required)
    typed = services.checked_reason(typed, required=required)
    if not typed:
        return change_set.reason
    head = copied_from(change_set.source_account)
    return _with_reason(head, typed) if change_set.reason == head else (
        f"{change_set.reason}; {typed}"
    )  # fmt: skip


def reason_still_needed(change_set: ChangeSet) -> bool:
    """Whether "Apply" must be given a reason: as for a single change (selectors.needs_reason),
    unless the planner of a copy already gave one when planning it."""
    if not needs_reason(change_set):
        return False
    return not change_set.source_account or change_set.reason == copied_from(
        change_set.source_account
    )


def decide(
    *,
    change_set_id: int,
    approver: User,
    approve: bool,
    note: str = "",
    origin: Origin | None = None,
) -> ChangeSet:
    """A second person approves (and so starts) or rejects a change set that needs it."""
    change_set = tenancy.scoped(ChangeSet.objects.all()).get(pk=change_set_id)
    if change_set.created_by_id == approver.pk:
        raise ChangeSetError("You planned this change set, so another approver must decide it.")
    if approve and editor_now(change_set.created_by_id) is None:
        raise ChangeSetError(f"{change_set.created_by_username} {NO_LONGER_EDITS}")
    if not approve:
        note = services.checked_reason(note, required=True)
    target = SetState.QUEUED if approve else SetState.REJECTED
    with transaction.atomic():
        moved = _move(
            change_set, SetState.AWAITING_APPROVAL, target,
            decided_by_username=approver.get_username(), decided_at=timezone.now(),
            decision_note=" ".join(note.split()), applied_at=timezone.now() if approve else None,
        )  # fmt: skip
        if not moved:
            raise ChangeSetError("This change set is not waiting for approval any more.")
        audit.record_step(
            actor=approver, action=Action.APPROVE if approve else Action.REJECT,
            account=change_set.account, code=f"change set {change_set.pk}", request_ref=None,
            requested_by=change_set.created_by_username, reason=note, origin=origin,
            change_set_ref=change_set.pk,
        )  # fmt: skip
        decided = ChangeSet.objects.get(pk=change_set.pk)
        transaction.on_commit(lambda: notifications.change_set_decided(decided))
    if approve:
        _enqueue(change_set.pk)
    change_set.refresh_from_db()
    return change_set


def discard(*, change_set_id: int, actor: User) -> None:
    change_set = tenancy.scoped(ChangeSet.objects.all()).get(pk=change_set_id)
    if change_set.created_by_id != actor.pk:
        raise ChangeSetError("Only the person who planned this change set can discard it.")
    if not _move(change_set, SetState.PLANNED, SetState.DISCARDED):
        raise ChangeSetError("Only a change set that hasn't been applied can be discarded.")


def _move(change_set: ChangeSet, old: str, new: str, **fields: object) -> bool:
    return bool(ChangeSet.objects.filter(pk=change_set.pk, state=old).update(state=new, **fields))


def _enqueue(change_set_id: int) -> None:
    transaction.on_commit(lambda: apply_change_set.enqueue(change_set_id))


def resume_stalled() -> int:
    """Re-enqueue every set whose worker stopped beating (it died mid-run). Called by the
    scheduler's tick; run() itself makes sure only one worker picks each up."""
    stale = ChangeSet.objects.filter(
        state=SetState.RUNNING, heartbeat_at__lt=timezone.now() - STALE_AFTER
    ).values_list("pk", flat=True)
    for pk in stale:
        apply_change_set.enqueue(pk)
    return len(stale)
