"""Every write to Convoso goes through this module, with the acting user.

Views call ``status_create`` and ``status_update`` only; nothing else in the project calls the
Convoso client's insert or update (tests/test_architecture.py keeps it so). Each attempt is
audited: a pending entry is committed before Convoso is called and completed with the outcome
afterwards. A successful write updates the local mirror (mirror.py) in the same transaction as
its audit entry, so search shows it at once and a refresh never mistakes it for a change made
outside the dashboard.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TypedDict

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction

from statusadmin.audit import services as audit
from statusadmin.audit.models import Action, AuditEntry, Outcome
from statusadmin.audit.services import NotSent, Origin
from statusadmin.convoso import errors, tenancy
from statusadmin.convoso.client import MAX_RETRY_AFTER_SECONDS, ConvosoClient
from statusadmin.convoso.connection import build_client, get_client
from statusadmin.convoso.status import EDITABLE_FIELDS, FLAG_LABELS, FLAGS, Status
from statusadmin.convoso.validation import REASON_MISSING, InvalidInput, clean_changes, clean_reason

from .locks import LockTimeout, status_write_lock
from .mirror import mirror_remove, mirror_store
from .selectors import changed_since

logger = logging.getLogger(__name__)

# The one extra read after a lost reply waits no longer than this (connect, read): the
# person is waiting, and if Convoso can't answer now the next refresh finds out.
RESOLVE_TIMEOUTS = (2.0, 3.0)
READ_BACK_FAILED = (
    "Convoso accepted the change but could not be read back; 'after' is what was sent."
)


class ReasonRequired(InvalidInput):
    """Changing DNC needs a written reason (for compliance review) before anything is sent.

    Not an attempt: the dashboard asks for the reason (again) and nothing is audited yet.
    """

    def __init__(self, message: str = REASON_MISSING) -> None:
        super().__init__("reason", message)


class EditConflict(NotSent):
    """The change would overwrite a change to the same field that the person never saw."""

    failure_kind = "conflict"

    def __init__(self, code: str, fields: list[str], current: Status) -> None:
        described = ", ".join(_describe(f, current) for f in fields)
        super().__init__(
            f"{code} was changed after your page loaded (now {described}), by someone else or "
            "in Convoso. Nothing was sent, so that change stands. The row now shows the current "
            "values: check them and try again if your change is still needed."
        )
        self.fields = fields
        self.current = current


class StatusBusy(NotSent):
    """Another write to the same status held it for longer than a request should wait."""

    outcome = Outcome.FAILED
    failure_kind = "busy"

    def __init__(self, code: str) -> None:
        super().__init__(
            f"Another change to {code} is still being sent to Convoso. Nothing was changed; "
            "try again in a moment."
        )


def _describe(field_name: str, status: Status) -> str:
    value = getattr(status, field_name)
    if field_name in FLAGS:
        return f"{FLAG_LABELS[field_name]} {'on' if value else 'off'}"
    if field_name == "color":
        return f"colour {value or 'none'}"
    return f"name “{value}”"


def explain(exc: Exception) -> str:
    """What went wrong, in the plain words each kind of refusal or failure carries."""
    return getattr(exc, "explanation", None) or getattr(exc, "message", None) or str(exc)


def checked_reason(reason: str, *, required: bool) -> str:
    """The reason as it will be stored: validation.clean_reason's rule whenever one is needed
    (a DNC change or a new status with DNC on) or given."""
    if not required and not reason.strip():
        return ""
    try:
        return clean_reason(reason)
    except InvalidInput as exc:
        raise ReasonRequired(exc.message) from None


class ApprovalNeeded(Exception):
    """The change touches fields that need a second person (settings.APPROVAL_FIELDS): it
    becomes a change request (approvals.py) instead of being sent."""

    def __init__(self, fields: list[str]) -> None:
        super().__init__(", ".join(fields))
        self.fields = fields


@dataclass(frozen=True, slots=True)
class Approval:
    """A second person's go-ahead for a change request, handed to the write service.

    ``claim`` runs under the status's write lock with what Convoso holds now (None for a code
    it doesn't have); it decides the request for good, or raises NotSent to stop the write.
    The entry that records the change names the requester and carries both texts.
    """

    request_id: int | None  # None: a change set, approved as a whole
    requested_by: str
    note: str
    claim: Callable[[Status | None], None]
    approved_by: str = ""


def approval_fields() -> tuple[str, ...]:
    return tuple(settings.APPROVAL_FIELDS)


def needs_approval(changes: Mapping[str, object], *, creating: bool = False) -> list[str]:
    """The fields of a change that need a second person. A create needs one for a gated flag
    turned on, or any other gated field it sets."""
    gated = []
    for name in approval_fields():
        value = changes.get(name)
        if name not in changes:
            continue
        if creating and name in FLAGS and not _truthy(value):
            continue
        gated.append(name)
    return gated


@dataclass(frozen=True, slots=True)
class WriteResult:
    status: Status  # as Convoso confirmed it
    before: Status | None = None
    changed: list[str] = field(default_factory=list)
    # The status had been changed (by someone else, or outside the dashboard) after the page
    # that sent this change was loaded.
    stale: bool = False
    # Convoso's reply was lost, and a read afterwards showed the change had been made.
    resolved: bool = False
    entry: int | None = None  # the audit entry of the attempt


# --- writes --------------------------------------------------------------------------------------


def _truthy(value: object) -> bool:
    """A flag as forms and callers give it: True, or "Y" in any case."""
    return value is True or (isinstance(value, str) and value.strip().upper() == "Y")


def _requested(changes: Mapping[str, object]) -> dict[str, object]:
    """What was asked for, in the audit log's terms (flags as booleans when they are valid)."""
    try:
        return clean_changes(changes)
    except InvalidInput:
        return {k: v if isinstance(v, bool | None) else str(v) for k, v in changes.items()}


def _one_writer(account: str, code: str) -> AbstractContextManager[None]:
    """The write lock of one status (locks.py), with bounds derived from Convoso's timeouts.

    A second writer waits about as long as one Convoso call may take; a lease outlives a dead
    holder for at most as long as a whole write (three calls, with retries) could take.
    """
    call = settings.CONVOSO_CONNECT_TIMEOUT + settings.CONVOSO_READ_TIMEOUT
    attempts = settings.CONVOSO_RETRIES + 1
    return status_write_lock(
        account,
        code,
        wait=call + 2,
        lease=3 * attempts * (call + MAX_RETRY_AFTER_SECONDS) + 10,
    )


def _guarded(
    client: ConvosoClient, entry: AuditEntry, code: str, write: Callable[[], WriteResult]
) -> WriteResult:
    """Run ``write`` holding the status's write lock; audit any failure that ``write`` did
    not record itself (invalid input, a lock that never came free, a bug)."""
    try:
        with _one_writer(client.account, code):
            return write()
    except LockTimeout:
        busy = StatusBusy(code)
        audit.finish_with_error(entry, busy)
        raise busy from None
    except Exception as exc:
        if entry.outcome == Outcome.PENDING:
            audit.finish_with_error(entry, exc)
        raise


def status_create(
    *,
    actor: User,
    code: str,
    name: str,
    color: str | None,
    flags: Mapping[str, object],
    reason: str = "",
    origin: Origin | None = None,
    approval: Approval | None = None,
    change_set: int | None = None,
) -> WriteResult:
    """Create a custom status in Convoso. Raises InvalidInput, NotSent or a ConvosoError.

    A status created with DNC on needs a reason, exactly as turning DNC on does, and (by
    default) a second person's approval: without one, ApprovalNeeded.
    """
    reason = checked_reason(reason, required=_truthy(flags.get("dnc")))
    upper = str(code).strip().upper()
    requested: dict[str, object] = {"code": upper, "name": name, "color": color}
    requested.update({f: _truthy(flags.get(f)) for f in FLAGS})
    if approval is None and (gated := needs_approval(requested, creating=True)):
        raise ApprovalNeeded(gated)
    client = get_client()
    entry = audit.begin(
        actor=actor, origin=origin, action=Action.CREATE, code=upper,
        account=client.account, requested=requested, reason=reason,
        change_set_ref=change_set, **_approval_facts(approval),
    )  # fmt: skip

    def write() -> WriteResult:
        if approval is not None:
            try:
                approval.claim(None)
            except Exception as exc:
                audit.finish_with_error(entry, exc)
                raise
        try:
            created = client.insert(code=code, name=name, color=color, flags=flags)
        except Exception as exc:
            audit.finish_with_error(entry, exc)
            if _reply_lost(exc):
                return _after_lost_reply(entry, exc, None)  # type: ignore[arg-type]
            raise
        with transaction.atomic():
            audit.finish(entry, before=None, after=created, changed=list(EDITABLE_FIELDS))
            mirror_store(account=client.account, status=created)
        return WriteResult(status=created, changed=list(EDITABLE_FIELDS), entry=entry.pk)

    return _guarded(client, entry, upper, write)


def status_update(
    *,
    actor: User,
    code: str,
    changes: Mapping[str, object],
    reason: str = "",
    expected_version: str | None = None,
    origin: Origin | None = None,
    approval: Approval | None = None,
    reverts: int | None = None,
    change_set: int | None = None,
) -> WriteResult:
    """Change a custom status, one writer at a time; the values are read fresh from Convoso.

    A change to a field in APPROVAL_FIELDS needs ``approval`` (approvals.py); without one it
    raises ApprovalNeeded, before anything is recorded or sent. ``reverts`` names the audit
    entry whose earlier values this change puts back.

    A DNC change without a reason raises ReasonRequired and is not an attempt (the dashboard
    asks for the reason first). Otherwise every call is audited: input that breaks Convoso's
    rules (InvalidInput), a change that would overwrite one the person never saw (EditConflict,
    judged against ``expected_version``, the version their page showed), a status busy with
    another write (StatusBusy), and every ConvosoError. After a successful update Convoso is
    read again, and what it holds is what the audit log and the mirror record as "after".
    """
    reason = checked_reason(reason, required="dnc" in changes)
    if approval is None and (gated := needs_approval(changes)):
        raise ApprovalNeeded(gated)
    client = get_client()
    entry = audit.begin(
        actor=actor, origin=origin, action=Action.UPDATE, code=code,
        account=client.account, requested=_requested(changes), reason=reason,
        reverts_ref=reverts, change_set_ref=change_set, **_approval_facts(approval),
    )  # fmt: skip
    cleaned = _validated(entry, changes)

    def write() -> WriteResult:
        before: Status | None = None
        try:
            before = client.get(code)
            if approval is not None:
                approval.claim(before)
            unseen = unseen_changes(expected_version, before)
            refuse_overwriting_unseen(code, cleaned, before, unseen)
            if all(value is None or getattr(before, f) == value for f, value in cleaned.items()):
                # Nothing to send: the entry says so ("No change"), never "Succeeded".
                with transaction.atomic():
                    audit.finish_unchanged(entry, before=before)
                    mirror_store(account=client.account, status=before)
                return WriteResult(
                    status=before, before=before, changed=[], stale=bool(unseen), entry=entry.pk
                )
            sent = client.update(code, cleaned, before=before).after
        except Exception as exc:
            audit.finish_with_error(entry, exc, before=before)
            if isinstance(exc, errors.StatusNotFound):
                mirror_remove(account=client.account, code=code)
            elif before is not None:
                mirror_store(account=client.account, status=before)
            if _reply_lost(exc):
                return _after_lost_reply(entry, exc, before)  # type: ignore[arg-type]
            raise
        after, confirmed = _read_back(client, code, sent)
        changed = before.changed_fields(after)
        notes = []
        if unseen:
            notes.append("The status had changed since the page was loaded.")
        if not confirmed:
            notes.append(READ_BACK_FAILED)
        elif unasked := [f for f in changed if f not in cleaned]:
            notes.append(
                f"Convoso also reports changes that were not asked for: {', '.join(unasked)}."
            )
        with transaction.atomic():
            audit.finish(entry, before=before, after=after, changed=changed, note=" ".join(notes))
            mirror_store(account=client.account, status=after)
        return WriteResult(
            status=after, before=before, changed=changed, stale=bool(unseen), entry=entry.pk
        )

    return _guarded(client, entry, code, write)


class _ApprovalFacts(TypedDict, total=False):
    request_ref: int | None
    requested_by: str
    approval_note: str
    approved_by: str


def _approval_facts(approval: Approval | None) -> _ApprovalFacts:
    """What an entry records of the approval a write carries (nothing, for none)."""
    if approval is None:
        return {}
    return {
        "request_ref": approval.request_id,
        "requested_by": approval.requested_by,
        "approval_note": approval.note,
        "approved_by": approval.approved_by,
    }


def _reply_lost(exc: Exception) -> bool:
    return isinstance(exc, errors.ConvosoUnavailable) and exc.may_have_applied


def _after_lost_reply(
    entry: AuditEntry, exc: errors.ConvosoUnavailable, before: Status | None
) -> WriteResult:
    """A write whose reply was lost: read the status once more (short timeouts) and record
    what it shows. Still holding the status's write lock, so nothing else changed it since.

    Made: the write counts as saved. Not made: it is safe to try again, and the person is told
    so. Convoso still unreachable: the original error stands, and the next refresh resolves it.
    """
    connect, read = RESOLVE_TIMEOUTS
    account = tenancy.by_key(entry.account, enabled_only=False) or tenancy.current()
    client = build_client(account, connect_timeout=connect, read_timeout=read, retries=0)
    try:
        current: Status | None = client.get(entry.status_code)
    except errors.StatusNotFound:
        current = None
    except errors.ConvosoError:
        raise exc from None
    resolution = audit.record_resolution(entry, current)
    if current is None:
        mirror_remove(account=client.account, code=entry.status_code)
    else:
        mirror_store(account=client.account, status=current)
    if current is not None and resolution.outcome == Outcome.SUCCEEDED:
        return WriteResult(
            status=current, before=before, changed=resolution.changed_fields, resolved=True,
            entry=entry.pk,
        )  # fmt: skip
    raise errors.ConvosoUnavailable(
        f"{exc.summary} A check afterwards shows the change was not made, so it is safe to "
        "try again.",
        kind=exc.kind,
        endpoint=exc.endpoint,
    ) from None


def _validated(entry: AuditEntry, changes: Mapping[str, object]) -> dict[str, object]:
    """Convoso's input rules, checked before anything is sent (and audited when broken)."""
    try:
        return clean_changes(changes)
    except InvalidInput as exc:
        audit.finish_with_error(entry, exc)
        raise


def unseen_changes(expected_version: str | None, current: Status) -> set[str]:
    """Fields that changed after the person's page was loaded (all of them if unknowable)."""
    if expected_version is None:
        return set()
    changed = changed_since(expected_version, current)
    return set(EDITABLE_FIELDS) if changed is None else changed


def refuse_overwriting_unseen(
    code: str, cleaned: Mapping[str, object], current: Status, unseen: set[str]
) -> None:
    """A change to a field that someone else changed after this person's page loaded would
    silently undo their change. Changes to other fields merge safely (all fields are sent,
    read fresh), and asking for the value the field already has overwrites nothing."""
    overwritten = [
        f
        for f in EDITABLE_FIELDS
        if f in unseen and cleaned.get(f) is not None and cleaned[f] != getattr(current, f)
    ]
    if overwritten:
        raise EditConflict(code, overwritten, current)


def _read_back(client: ConvosoClient, code: str, sent: Status) -> tuple[Status, bool]:
    """What Convoso holds after an accepted update, and whether it could be read at all."""
    try:
        return client.get(code), True
    except errors.ConvosoError:
        return sent, False


def changes_to_restore(before: Mapping[str, object], current: Status) -> dict[str, object]:
    """The values an earlier change replaced (``before``, as its audit entry recorded them)
    that differ from what the status holds now, in the form the write service takes (flags
    as Y/N): what reverting that change sends."""
    changes: dict[str, object] = {}
    for name in EDITABLE_FIELDS:
        if name not in before or before[name] == getattr(current, name):
            continue
        value = before[name]
        changes[name] = ("Y" if value else "N") if name in FLAGS else (value or "")
    return changes
