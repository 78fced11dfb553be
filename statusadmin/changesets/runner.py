"""Applying a change set, in the worker: each change through the one write service.

At most CHANGE_SET_CONCURRENCY changes of a set go to Convoso at once, each audited with the
set's id. Nothing is ever sent twice: an item is marked "sending" (committed) before its
write, and a worker that finds one so marked (its predecessor died mid-write) reads Convoso
first and sends only what isn't there yet. One worker holds a set at a time (its token), and
proves it is alive with a heartbeat; a set whose worker stopped beating is resumed
(services.resume_stalled, from the scheduler).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.db import close_old_connections, connections
from django.utils import timezone

from statusadmin.accounts.roles import editor_now
from statusadmin.audit.services import NotSent
from statusadmin.convoso import errors, tenancy
from statusadmin.convoso.connection import get_client
from statusadmin.convoso.validation import InvalidInput
from statusadmin.statuses import services

from . import selectors
from .models import ChangeSet, ChangeSetItem

logger = logging.getLogger(__name__)
Plan, ItemState, SetState = ChangeSetItem.Plan, ChangeSetItem.State, ChangeSet.State
# A running set whose worker hasn't beaten for this long is taken to be dead and resumed.
STALE_AFTER = timedelta(minutes=2)
HEARTBEAT_SECONDS = 15.0
# Why a change of a planner who lost their rights was not sent.
STOPPED = "may no longer change statuses (their role or account was taken away)."
# A status busy with another write is tried again this much later.
RETRY_BUSY_AFTER = timedelta(seconds=30)


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
    # Its own account's client and its people's rights there, in every thread of the pool
    # (a thread starts with no account in use: it would be the default one's).
    account = tenancy.by_key(change_set.account)
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
            list(pool.map(lambda pk: _in_thread(account, _apply_item, change_set, pk), todo))
    finally:
        stop.set()
        beat.join(5)
    if change_set.items.filter(state=ItemState.PLANNED).exists():
        # Some statuses were busy: hand the set to a later run instead of holding a worker.
        # The task that called this enqueues the next round (tasks.py).
        ChangeSet.objects.filter(pk=change_set_id, worker_token=token).update(
            state=SetState.QUEUED, worker_token=""
        )
        return "some statuses were busy; continuing later"
    ChangeSet.objects.filter(pk=change_set_id, worker_token=token).update(
        state=SetState.FINISHED, finished_at=timezone.now()
    )
    done = selectors.counts(change_set)
    return f"{done[ItemState.DONE]} done, {done[ItemState.FAILED]} failed"


def _heartbeat(change_set_id: int, token: str, stop: threading.Event) -> None:
    try:
        while not stop.wait(HEARTBEAT_SECONDS):
            ChangeSet.objects.filter(pk=change_set_id, worker_token=token).update(
                heartbeat_at=timezone.now()
            )
    finally:
        connections.close_all()


def _in_thread(account: tenancy.Account | None, work: Callable[..., None], *args: object) -> None:
    """Each pool thread has its own database connection; give it back when done. It works
    on ``account`` (None: the set's account is no longer served)."""
    try:
        close_old_connections()
        if account is None:
            return work(*args)
        with tenancy.use(account):
            return work(*args)
    except Exception:  # one status's failure never stops the rest
        logger.exception("change set item failed")
        return None
    finally:
        connections.close_all()


def _apply_item(change_set: ChangeSet, pk: int) -> None:
    item = ChangeSetItem.objects.get(pk=pk)
    if tenancy.current().key != change_set.account:
        _finish(item, ItemState.FAILED, "Not sent: its Convoso account was disabled.")
        return
    if item.state == ItemState.SENDING and _already_there(item):
        _finish(item, ItemState.DONE, "Found already applied after the worker restarted.")
        return
    ChangeSetItem.objects.filter(pk=pk).update(state=ItemState.SENDING)
    if change_set.created_by_id is None:
        _finish(item, ItemState.FAILED, "The person who planned it no longer exists.")
        return
    # Read afresh for every change: rights taken away mid-set stop the rest of it.
    actor = editor_now(change_set.created_by_id)
    if actor is None:
        _finish(item, ItemState.FAILED, f"Not sent: {change_set.created_by_username} {STOPPED}")
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


def _write(change_set: ChangeSet, item: ChangeSetItem, actor: User) -> services.WriteResult:
    approval = None
    if change_set.needs_approval:
        approval = services.Approval(
            request_id=None,
            requested_by="",
            note=f"Change set {change_set.pk} approved by {change_set.decided_by_username}"
            + (f": {change_set.decision_note}" if change_set.decision_note else ""),
            claim=lambda current: None,  # the set was approved as a whole before it started
            approved_by=change_set.decided_by_username,
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


def another_round_due(change_set_id: int) -> bool:
    """Whether a run handed the set back for a later round (some statuses were busy)."""
    return ChangeSet.objects.filter(pk=change_set_id, state=SetState.QUEUED).exists()
