"""Change sets: a group of changes planned first, reviewed, then applied in the background.

A plan compares what is asked for (a bulk edit, or a catalogue file) with the mirror and says,
for each status, create, update, unchanged or can't be applied (and why, with the file's line).
Applying enqueues a task (tasks.py) that sends each change through the one write service, at
most CHANGE_SET_CONCURRENCY at a time, each audited with the set's id. A set that touches a
field under APPROVAL_FIELDS waits for one approval by a second person first.

Nothing is ever sent twice: an item is marked "sending" (committed) before its write, and a
worker that finds one so marked (its predecessor died mid-write) reads Convoso first and
sends only what isn't there yet. A set whose worker stopped beating is resumed by the
scheduler (worker/schedule.py).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import close_old_connections, connections, transaction
from django.utils import timezone

from statusadmin.audit import services as audit
from statusadmin.audit.models import Action
from statusadmin.audit.services import NotSent, Origin
from statusadmin.convoso import errors
from statusadmin.convoso.connection import get_client
from statusadmin.convoso.status import EDITABLE_FIELDS, FLAGS, Status, addressable
from statusadmin.convoso.validation import InvalidInput, clean_code, clean_color, clean_name

from . import catalogue, services
from .mirror import mirror_refresh
from .models import ChangeSet, ChangeSetItem, MirrorStatus

logger = logging.getLogger(__name__)
Plan, ItemState, SetState = ChangeSetItem.Plan, ChangeSetItem.State, ChangeSet.State
# A running set whose worker hasn't beaten for this long is taken to be dead and resumed.
STALE_AFTER = timedelta(minutes=2)
HEARTBEAT_SECONDS = 15.0
# A status busy with another write is tried again this much later.
RETRY_BUSY_AFTER = timedelta(seconds=30)


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
    *, actor: AbstractBaseUser, codes: Iterable[str], changes: dict[str, object], title: str
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


def plan_import(*, actor: AbstractBaseUser, data: bytes, filename: str) -> ChangeSet:
    """What importing a catalogue file would do; raises catalogue.UnreadableFile."""
    lines = catalogue.read(data, filename)
    account, known = _mirror()
    seen: dict[str, int] = {}
    items = []
    for line in lines:
        key = line.code.upper()
        if line.problems:
            items.append(_invalid(line.number, line.code, "; ".join(line.problems)))
        elif key in seen:
            items.append(_invalid(line.number, line.code, f"repeats line {seen[key]}"))
        else:
            seen[key] = line.number
            items.append(_plan_line(line, known.get(line.code) or known.get(key)))
    return _save(account, actor, ChangeSet.Kind.IMPORT, f"Import of {filename or 'a file'}", items)


def _plan_line(line: catalogue.Line, current: Status | None) -> ChangeSetItem:
    values = dict(line.values)
    try:
        if "color" in values:
            values["color"] = clean_color(values["color"])
        if "name" in values:
            values["name"] = clean_name(values["name"])
    except InvalidInput as exc:
        return _invalid(line.number, line.code, f"{exc.field}: {exc.message}")
    if current is None:
        if line.system:
            return _invalid(line.number, line.code, "is a system status Convoso doesn't have")
        try:
            code = clean_code(line.code)
        except InvalidInput as exc:
            return _invalid(line.number, line.code, exc.message)
        if "name" not in values:
            return _invalid(line.number, code, "a new status needs a name")
        changes = {"code": code, "color": values.get("color"), "name": values["name"]}
        changes.update({f: bool(values.get(f, False)) for f in FLAGS})
        return ChangeSetItem(line=line.number, code=code, plan=Plan.CREATE, changes=changes)
    item = _update_item(line.number, current, values)
    if item.plan == Plan.UPDATE and (not current.custom or not addressable(current.code)):
        return _invalid(line.number, current.code, "is a system status: Convoso can't change it")
    return item


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
    account: str, actor: AbstractBaseUser, kind: str, title: str, items: list[ChangeSetItem]
) -> ChangeSet:
    gated = set(settings.APPROVAL_FIELDS)
    with transaction.atomic():
        change_set = ChangeSet.objects.create(
            account=account, kind=kind, title=title[:200], created_by=actor,
            created_by_username=actor.get_username(),
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


# --- asking to apply, and the one approval --------------------------------------------------------


def apply(
    *, change_set_id: int, actor: AbstractBaseUser, reason: str = "", origin: Origin | None = None
) -> ChangeSet:
    """Press "Apply": enqueue it, or, if it needs approval, ask for that first."""
    change_set = ChangeSet.objects.get(pk=change_set_id)
    if change_set.created_by_id != actor.pk:
        raise ChangeSetError("Only the person who planned this change set can apply it.")
    if change_set.state != SetState.PLANNED:
        raise ChangeSetError(f"This change set is already {change_set.get_state_display()}.")
    reason = services.checked_reason(reason, required=needs_reason(change_set))
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
    else:
        if not _move(change_set, SetState.PLANNED, SetState.QUEUED, applied_at=timezone.now()):
            raise ChangeSetError("This change set was applied meanwhile.")
        _enqueue(change_set.pk)
    change_set.refresh_from_db()
    return change_set


def decide(
    *,
    change_set_id: int,
    approver: AbstractBaseUser,
    approve: bool,
    note: str = "",
    origin: Origin | None = None,
) -> ChangeSet:
    """A second person approves (and so starts) or rejects a change set that needs it."""
    change_set = ChangeSet.objects.get(pk=change_set_id)
    if change_set.created_by_id == approver.pk:
        raise ChangeSetError("You planned this change set, so another approver must decide it.")
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
    if approve:
        _enqueue(change_set.pk)
    change_set.refresh_from_db()
    return change_set


def discard(*, change_set_id: int, actor: AbstractBaseUser) -> None:
    change_set = ChangeSet.objects.get(pk=change_set_id)
    if change_set.created_by_id != actor.pk:
        raise ChangeSetError("Only the person who planned this change set can discard it.")
    if not _move(change_set, SetState.PLANNED, SetState.DISCARDED):
        raise ChangeSetError("Only a change set that hasn't been applied can be discarded.")


def _move(change_set: ChangeSet, old: str, new: str, **fields: object) -> bool:
    return bool(ChangeSet.objects.filter(pk=change_set.pk, state=old).update(state=new, **fields))


def _enqueue(change_set_id: int) -> None:
    from .tasks import apply_change_set

    transaction.on_commit(lambda: apply_change_set.enqueue(change_set_id))


def waiting_for_approval() -> list[ChangeSet]:
    return list(ChangeSet.objects.filter(state=SetState.AWAITING_APPROVAL).order_by("created_at"))


# --- applying (in the worker) ---------------------------------------------------------------------


def run(change_set_id: int) -> str:
    """Apply a queued change set, or resume one whose worker died. Safe to call twice at once:
    only one worker holds a set (its token), and only while its heartbeat is fresh."""
    token = uuid.uuid4().hex
    now = timezone.now()
    claimed = (
        ChangeSet.objects.filter(pk=change_set_id, state__in=[SetState.QUEUED, SetState.RUNNING])
        .exclude(state=SetState.RUNNING, heartbeat_at__gt=now - STALE_AFTER)
        .update(state=SetState.RUNNING, worker_token=token, heartbeat_at=now)
    )
    if not claimed:
        return "not queued, or another worker is applying it"
    change_set = ChangeSet.objects.get(pk=change_set_id)
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat, args=(change_set_id, token, stop), daemon=True)
    beat.start()
    try:
        todo = list(
            change_set.items.filter(state__in=[ItemState.PLANNED, ItemState.SENDING]).values_list(
                "pk", flat=True
            )
        )
        with ThreadPoolExecutor(max_workers=max(1, settings.CHANGE_SET_CONCURRENCY)) as pool:
            list(pool.map(lambda pk: _in_thread(_apply_item, change_set, pk), todo))
    finally:
        stop.set()
        beat.join(5)
    if change_set.items.filter(state=ItemState.PLANNED).exists():
        # Some statuses were busy: hand the set to a later run instead of holding a worker.
        ChangeSet.objects.filter(pk=change_set_id, worker_token=token).update(
            state=SetState.QUEUED, worker_token=""
        )
        from .tasks import apply_change_set

        apply_change_set.using(run_after=timezone.now() + RETRY_BUSY_AFTER).enqueue(change_set_id)
        return "some statuses were busy; continuing later"
    ChangeSet.objects.filter(pk=change_set_id, worker_token=token).update(
        state=SetState.FINISHED, finished_at=timezone.now()
    )
    done = counts(change_set)
    return f"{done[ItemState.DONE]} done, {done[ItemState.FAILED]} failed"


def _heartbeat(change_set_id: int, token: str, stop: threading.Event) -> None:
    try:
        while not stop.wait(HEARTBEAT_SECONDS):
            ChangeSet.objects.filter(pk=change_set_id, worker_token=token).update(
                heartbeat_at=timezone.now()
            )
    finally:
        connections.close_all()


def _in_thread(work, *args):  # type: ignore[no-untyped-def]
    """Each pool thread has its own database connection; give it back when done."""
    try:
        close_old_connections()
        return work(*args)
    except Exception:  # one status's failure never stops the rest
        logger.exception("change set item failed")
        return None
    finally:
        connections.close_all()


def _apply_item(change_set: ChangeSet, pk: int) -> None:
    item = ChangeSetItem.objects.get(pk=pk)
    if item.state == ItemState.SENDING and _already_there(item):
        _finish(item, ItemState.DONE, "Found already applied after the worker restarted.")
        return
    ChangeSetItem.objects.filter(pk=pk).update(state=ItemState.SENDING)
    actor = change_set.created_by
    if actor is None:
        _finish(item, ItemState.FAILED, "The person who planned it no longer exists.")
        return
    try:
        result = _write(change_set, item, actor)
    except services.StatusBusy as exc:
        # Not a failure: another write holds the status (or a dead worker's lease not yet
        # expired). The item waits for the next round.
        _finish(item, ItemState.PLANNED, f"Waiting: {exc.explanation}")
    except services.ReasonRequired:
        _finish(item, ItemState.FAILED, "DNC changes need a reason; none was given.")
    except services.ApprovalNeeded:
        _finish(item, ItemState.FAILED, "This change needs approval (the policy changed).")
    except (InvalidInput, NotSent, errors.ConvosoError) as exc:
        _finish(item, ItemState.FAILED, getattr(exc, "explanation", None) or str(exc))
    else:
        _finish(item, ItemState.DONE, "Done.", entry=result.entry)


def _write(change_set: ChangeSet, item: ChangeSetItem, actor: AbstractBaseUser):  # type: ignore[no-untyped-def]
    approval = None
    if change_set.needs_approval:
        approval = services.Approval(
            request_id=None,
            requested_by="",
            note=f"Change set {change_set.pk} approved by {change_set.decided_by_username}"
            + (f": {change_set.decision_note}" if change_set.decision_note else ""),
            claim=lambda current: None,  # the set was approved as a whole before it started
        )
    reason = change_set.reason or (f"{change_set.title} (change set {change_set.pk})")
    changes = dict(item.changes)
    if item.plan == Plan.CREATE:
        return services.status_create(
            actor=actor, code=str(changes.pop("code")), name=str(changes.pop("name")),
            color=changes.pop("color"), flags=changes, reason=reason,
            approval=approval, change_set=change_set.pk,
        )  # fmt: skip
    return services.status_update(
        actor=actor, code=item.code, changes=changes, reason=reason,
        approval=approval, change_set=change_set.pk,
    )  # fmt: skip


def _already_there(item: ChangeSetItem) -> bool:
    """Whether Convoso already holds what the item asks for: its write may have been sent by
    a worker that died before it could record the outcome, and must not be sent again."""
    try:
        current = get_client().get(item.code)
    except errors.StatusNotFound:
        return False
    if item.plan == Plan.CREATE:
        return True  # created; whatever differs is for an update, not a second insert
    return all(getattr(current, f) == v for f, v in item.changes.items() if v is not None)


def _finish(item: ChangeSetItem, state: str, outcome: str, entry: int | None = None) -> None:
    ChangeSetItem.objects.filter(pk=item.pk).update(state=state, outcome=outcome, entry_id=entry)


def resume_stalled() -> int:
    """Re-enqueue every set whose worker stopped beating (it died mid-run). Called by the
    scheduler's tick; run() itself makes sure only one worker picks each up."""
    stale = ChangeSet.objects.filter(
        state=SetState.RUNNING, heartbeat_at__lt=timezone.now() - STALE_AFTER
    ).values_list("pk", flat=True)
    from .tasks import apply_change_set

    for pk in stale:
        apply_change_set.enqueue(pk)
    return len(stale)
