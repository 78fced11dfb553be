"""Four eyes: a change to a field in settings.APPROVAL_FIELDS (DNC by default) waits for a
second person before anything is sent to Convoso.

A supervisor's change becomes a ChangeRequest (one per status at a time); an approver, never
the requester, approves it (the change is then sent through the one write service, exactly as
an ordinary change, naming both people) or rejects it; the requester may withdraw it; after
APPROVAL_TTL_HOURS it expires. Every step is an audit entry on the chain with the request's id.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from statusadmin.accounts.roles import editor_now
from statusadmin.audit import services as audit
from statusadmin.audit.models import Action, Outcome
from statusadmin.audit.services import NotSent, Origin
from statusadmin.convoso import errors, tenancy
from statusadmin.convoso.connection import get_client
from statusadmin.convoso.status import FLAGS, Status, describe_changes
from statusadmin.convoso.validation import (
    InvalidInput,
    clean_changes,
    clean_code,
    clean_color,
    clean_flag,
    clean_name,
    clean_reason,
)
from statusadmin.statuses import services
from statusadmin.statuses.mirror import mirror_store
from statusadmin.statuses.models import MirrorStatus
from statusadmin.statuses.selectors import status_version

from . import notifications
from .models import ChangeRequest, Notice
from .selectors import pending_for

State = ChangeRequest.State
# How a decided request is described in a sentence ("This request was ...").
DECIDED: dict[str, str] = {
    State.APPLIED: "already approved and sent",
    State.FAILED: "already approved, but Convoso did not take it",
    State.REJECTED: "already rejected",
    State.WITHDRAWN: "already withdrawn",
    State.EXPIRED: "already expired",
}


class ApprovalError(Exception):
    """A request, approval or decision the workflow refuses; nothing is sent or recorded."""

    def __init__(self, explanation: str) -> None:
        super().__init__(explanation)
        self.explanation = explanation


class StaleApproval(NotSent):
    """The status changed after the request was made: the approver must see it and confirm."""

    outcome = Outcome.TO_CONFIRM
    failure_kind = "stale_approval"

    def __init__(self, request: ChangeRequest, current: Status | None) -> None:
        before = request.before or {}
        now = asdict(current) if current else {}
        changed = [f for f in now if f != "code" and before.get(f) != now.get(f)]
        super().__init__(
            f"{request.status_code} changed after the request was made "
            f"({describe_changes(before, now, changed)}). Nothing was sent. Check what it "
            "holds now, and approve again to send the change anyway."
        )
        self.current = current
        self.version = status_version(current) if current else ""


class DecidedMeanwhile(NotSent):
    """Another approver (or an expiry) decided the request while this one was on its way."""

    failure_kind = "decided"


# --- asking ---------------------------------------------------------------------------------------


def change_or_request(
    *,
    actor: User,
    code: str,
    changes: Mapping[str, object],
    reason: str = "",
    expected_version: str | None = None,
    origin: Origin | None = None,
    reverts: int | None = None,
) -> services.WriteResult | ChangeRequest:
    """Send a change through the write service or, when it touches a field that needs a second
    person, ask for it instead. Raises what either raises."""
    asked = {
        "actor": actor, "code": code, "changes": changes, "reason": reason,
        "expected_version": expected_version, "origin": origin, "reverts": reverts,
    }  # fmt: skip
    try:
        return services.status_update(**asked)  # type: ignore[arg-type]
    except services.ApprovalNeeded:
        return request_update(**asked)  # type: ignore[arg-type]


def create_or_request(
    *,
    actor: User,
    code: str,
    name: str,
    color: str | None,
    flags: Mapping[str, object],
    reason: str = "",
    origin: Origin | None = None,
) -> services.WriteResult | ChangeRequest:
    """Create a status or, when it needs a second person (DNC on, by default), ask for it."""
    asked = {
        "actor": actor, "code": code, "name": name, "color": color, "flags": flags,
        "reason": reason, "origin": origin,
    }  # fmt: skip
    try:
        return services.status_create(**asked)  # type: ignore[arg-type]
    except services.ApprovalNeeded:
        return request_create(**asked)  # type: ignore[arg-type]


def request_update(
    *,
    actor: User,
    code: str,
    changes: Mapping[str, object],
    reason: str,
    expected_version: str | None = None,
    origin: Origin | None = None,
    reverts: int | None = None,
) -> ChangeRequest:
    """Ask for a change that needs a second person. The status is read from Convoso now, so
    the approver later sees whether it changed in between."""
    reason = services.checked_reason(reason, required=True)
    cleaned = clean_changes(changes)
    client = get_client()
    current = client.get(code)
    mirror_store(account=client.account, status=current)
    services.refuse_overwriting_unseen(
        code, cleaned, current, services.unseen_changes(expected_version, current)
    )
    if all(value is None or getattr(current, f) == value for f, value in cleaned.items()):
        raise ApprovalError(f"{code} already has these values: there is nothing to approve.")
    return _open(
        actor=actor, account=client.account, code=code, kind=ChangeRequest.Kind.UPDATE,
        changes=cleaned, before=current, reason=reason, origin=origin, reverts=reverts,
    )  # fmt: skip


def request_create(
    *,
    actor: User,
    code: str,
    name: str,
    color: str | None,
    flags: Mapping[str, object],
    reason: str,
    origin: Origin | None = None,
) -> ChangeRequest:
    """Ask for a new status that needs a second person (one with DNC on, by default)."""
    reason = services.checked_reason(reason, required=True)
    changes: dict[str, object] = {
        "code": clean_code(code),
        "name": clean_name(name),
        "color": clean_color(color),
        **{f: clean_flag(f, flags.get(f, False)) for f in FLAGS},
    }
    account = get_client().account
    if MirrorStatus.objects.filter(account=account, code=changes["code"]).exists():
        raise InvalidInput("code", "A status with this code already exists in Convoso.")
    return _open(
        actor=actor, account=account, code=str(changes["code"]), kind=ChangeRequest.Kind.CREATE,
        changes=changes, before=None, reason=reason, origin=origin,
    )  # fmt: skip


def _open(
    *,
    actor: User,
    account: str,
    code: str,
    kind: str,
    changes: dict[str, object],
    before: Status | None,
    reason: str,
    origin: Origin | None,
    reverts: int | None = None,
) -> ChangeRequest:
    now = timezone.now()
    try:
        with transaction.atomic():
            request = ChangeRequest.objects.create(
                account=account, status_code=code, kind=kind, changes=changes,
                before=asdict(before) if before else None, reason=reason,
                requested_by=actor, requested_by_username=actor.get_username(),
                requested_at=now, expires_at=now + timedelta(hours=settings.APPROVAL_TTL_HOURS),
                reverts_ref=reverts,
            )  # fmt: skip
            audit.record_step(
                actor=actor, action=Action.REQUEST, account=account, code=code,
                request_ref=request.pk, requested_by=actor.get_username(), reason=reason,
                requested=changes, before=before, origin=origin,
            )  # fmt: skip
    except IntegrityError:
        waiting = pending_for(account).get(code)
        who = f" by {waiting.requested_by_username}" if waiting else ""
        raise ApprovalError(
            f"A change to {code} is already waiting for approval{who}. It must be decided or "
            "withdrawn before another can be asked for."
        ) from None
    transaction.on_commit(lambda: notifications.request_arrived(request))
    return request


# --- deciding -------------------------------------------------------------------------------------


def approve(
    *,
    request_id: int,
    approver: User,
    note: str = "",
    confirmed_version: str = "",
    origin: Origin | None = None,
) -> services.WriteResult:
    """Send the requested change through the write service, in the approver's name and naming
    the requester. Raises ApprovalError (nothing recorded), StaleApproval or DecidedMeanwhile
    (recorded as a refused attempt), or whatever the write raises."""
    request = _decidable(request_id, approver)
    _requester_may_still_edit(request)
    note = " ".join(note.split())[: audit.TEXT_LIMIT]
    claimed: list[bool] = []

    def claim(current: Status | None) -> None:
        fresh = ChangeRequest.objects.get(pk=request.pk)
        if fresh.state != State.PENDING:
            by = f" by {fresh.decided_by_username}" if fresh.decided_by_username else ""
            raise DecidedMeanwhile(
                f"This request was {DECIDED[fresh.state]}{by}. Nothing was sent."
            )
        if request.kind == ChangeRequest.Kind.UPDATE:
            shown = status_version(Status(**request.before)) if request.before else ""
            now = status_version(current) if current else ""
            if now != shown and now != confirmed_version:
                raise StaleApproval(request, current)
        with transaction.atomic():
            if not _decide(request, State.APPLIED, approver, note):
                raise DecidedMeanwhile("This request was decided meanwhile. Nothing was sent.")
            audit.record_step(
                actor=approver, action=Action.APPROVE, account=request.account,
                code=request.status_code, request_ref=request.pk,
                requested_by=request.requested_by_username, reason=note, origin=origin,
                requested=request.changes, before=request.before,
            )  # fmt: skip
        claimed.append(True)

    approval = services.Approval(
        request_id=request.pk, requested_by=request.requested_by_username, note=note, claim=claim,
        approved_by=approver.get_username(),
    )  # fmt: skip
    changes = dict(request.changes)
    try:
        if request.kind == ChangeRequest.Kind.CREATE:
            result = services.status_create(
                actor=approver, code=str(changes.pop("code")), name=str(changes.pop("name")),
                color=changes.pop("color"), flags=changes, reason=request.reason,
                origin=origin, approval=approval,
            )  # fmt: skip
        else:
            result = services.status_update(
                actor=approver, code=request.status_code, changes=changes,
                reason=request.reason, origin=origin, approval=approval,
                reverts=request.reverts_ref,
            )  # fmt: skip
    except Exception as exc:
        # Approved but not taken, or there is nothing left to change: the request is over.
        if claimed or isinstance(exc, errors.StatusNotFound):
            ChangeRequest.objects.filter(pk=request.pk).update(
                state=State.FAILED, failure=getattr(exc, "explanation", type(exc).__name__)
            )
            transaction.on_commit(lambda: notifications.decided(request.pk))
        raise
    transaction.on_commit(lambda: notifications.decided(request.pk))
    return result


def reject(
    *, request_id: int, approver: User, note: str, origin: Origin | None = None
) -> ChangeRequest:
    """Close a request unsent, with the approver's reason (required, real words)."""
    request = _decidable(request_id, approver)
    try:
        note = clean_reason(note)
    except InvalidInput as exc:
        raise InvalidInput("note", exc.message.replace("why DNC is being changed", "why")) from None
    return _close(request, State.REJECTED, Action.REJECT, approver, note, origin)


def withdraw(*, request_id: int, actor: User, origin: Origin | None = None) -> ChangeRequest:
    """The requester takes their own request back, unsent."""
    request = _pending(request_id)
    if request.requested_by_id != actor.pk:
        raise ApprovalError("Only the person who asked can withdraw a request.")
    return _close(request, State.WITHDRAWN, Action.WITHDRAW, actor, "", origin)


def expire_overdue() -> int:
    """Close every request older than APPROVAL_TTL_HOURS, unsent. Returns how many."""
    overdue = ChangeRequest.objects.filter(state=State.PENDING, expires_at__lte=timezone.now())
    closed = 0
    for request in overdue:
        try:
            _close(request, State.EXPIRED, Action.EXPIRE, None, "", None)
        except ApprovalError:
            continue  # decided meanwhile
        closed += 1
    return closed


def _close(
    request: ChangeRequest,
    state: str,
    action: str,
    actor: User | None,
    note: str,
    origin: Origin | None,
) -> ChangeRequest:
    with transaction.atomic():
        if not _decide(request, state, actor, note):
            raise ApprovalError("This request was decided meanwhile.")
        audit.record_step(
            actor=actor, action=action, account=request.account, code=request.status_code,
            request_ref=request.pk, requested_by=request.requested_by_username, reason=note,
            origin=origin, requested=request.changes, before=request.before,
        )  # fmt: skip
    transaction.on_commit(lambda: notifications.decided(request.pk))
    request.refresh_from_db()
    return request


def _decide(request: ChangeRequest, state: str, actor: User | None, note: str) -> bool:
    """Move a pending request to ``state``, if nobody else did first (one conditional UPDATE:
    two approvers at once can't both win)."""
    return bool(
        ChangeRequest.objects.filter(pk=request.pk, state=State.PENDING).update(
            state=state,
            decided_by=actor if actor is not None and actor.pk else None,
            decided_by_username=actor.get_username() if actor else "",
            decided_at=timezone.now(),
            decision_note=note,
        )
    )


def _pending(request_id: int) -> ChangeRequest:
    request = tenancy.scoped(ChangeRequest.objects.all()).filter(pk=request_id).first()
    if request is None:
        raise ApprovalError("There is no such request.")
    if request.state == State.PENDING and request.expires_at <= timezone.now():
        expire_overdue()
        request.refresh_from_db()
    if request.state != State.PENDING:
        by = f" by {request.decided_by_username}" if request.decided_by_username else ""
        raise ApprovalError(f"This request was {DECIDED[request.state]}{by}.")
    return request


def _requester_may_still_edit(request: ChangeRequest) -> None:
    """Approving sends the requester's change in their name: not once they may no longer
    change statuses themselves (role taken away, account deactivated or deleted)."""
    if editor_now(request.requested_by_id) is None:
        raise ApprovalError(
            f"{request.requested_by_username} may no longer change statuses (their role or "
            "account was taken away after they asked), so their change can't be sent for "
            "them. Reject the request; someone who may change statuses can ask again."
        )


def _decidable(request_id: int, approver: User) -> ChangeRequest:
    """A pending request this person may decide: never their own, whatever their groups."""
    request = _pending(request_id)
    if request.requested_by_id == approver.pk:
        raise ApprovalError(
            "You asked for this change, so another approver must decide it (four eyes)."
        )
    return request


def read_notices(*, user_id: int) -> int:
    """Marks ``user_id``'s unread notices in the account in use as read."""
    unread = tenancy.scoped(Notice.objects.filter(user_id=user_id, read_at=None))
    return unread.update(read_at=timezone.now())
