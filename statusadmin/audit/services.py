"""Writing the audit log. The statuses service calls ``begin`` before it talks to Convoso and
``finish`` (or ``finish_with_error``) after; the mirror refresh calls ``record_external``."""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import User
from django.utils import timezone

from statusadmin.convoso import errors
from statusadmin.convoso.status import EDITABLE_FIELDS, Status
from statusadmin.convoso.validation import InvalidInput

from . import chain
from .evidence_verifier import CATALOGUE
from .models import DASHBOARD_ACTOR, OUTSIDE_ACTOR, Action, AuditEntry, Outcome

TEXT_LIMIT = 2000
# An attempt still pending after this long was interrupted (its process died mid-call).
IN_FLIGHT_WINDOW = timedelta(minutes=5)


class NotSent(Exception):
    """The dashboard itself declined to send a write (a conflict, a busy status).

    ``explanation`` is shown to the person; ``outcome`` and ``failure_kind`` classify the
    attempt in the audit log.
    """

    outcome: str = Outcome.REJECTED
    failure_kind: str = "not_sent"

    def __init__(self, explanation: str) -> None:
        super().__init__(explanation)
        self.explanation = explanation


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a request came from, as recorded with every attempt."""

    ip: str | None = None
    user_agent: str = ""
    request_id: str = ""
    # How the person proved who they are (accounts/identity.py): "password" or "oidc", the
    # identity provider's issuer and subject, and whether a second factor was passed.
    auth_method: str = ""
    auth_issuer: str = ""
    auth_subject: str = ""
    second_factor: bool | None = None


def _clean_text(value: object, limit: int = TEXT_LIMIT) -> str:
    # NUL can't be stored by PostgreSQL; anything else is kept as given, up to a sane length.
    return str(value).replace("\x00", "")[:limit]


def _clean_json(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {_clean_text(k, 100): _clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean_json(v) for v in value]
    if value is None or isinstance(value, bool | int):
        return value
    return _clean_text(value)


def _clean_ip(value: str | None) -> str | None:
    try:
        return ipaddress.ip_address(value).compressed if value else None
    except ValueError:
        return None


def status_snapshot(status: Status | None) -> dict[str, Any] | None:
    """A status as the audit log keeps it: every field Convoso reported."""
    return None if status is None else dataclasses.asdict(status)


def _who_and_where(actor: User | None, origin: Origin | None) -> dict[str, Any]:
    """The person (None: the dashboard itself) and where the request came from, as every entry
    records them."""
    origin = origin or Origin()
    return {
        "actor": actor if actor is not None and actor.pk else None,
        "actor_user_id": actor.pk if actor is not None else None,
        "actor_username": _clean_text(actor.get_username(), 150) if actor else DASHBOARD_ACTOR,
        "remote_ip": _clean_ip(origin.ip),
        "user_agent": _clean_text(origin.user_agent, 512),
        "request_id": _clean_text(origin.request_id, 64),
        "auth_method": _clean_text(origin.auth_method, 20),
        "auth_issuer": _clean_text(origin.auth_issuer, 255),
        "auth_subject": _clean_text(origin.auth_subject, 255),
        "second_factor": {None: "", True: "passed", False: "not passed"}[origin.second_factor],
    }


def begin(
    *,
    actor: User,
    origin: Origin | None,
    action: str,
    code: str,
    account: str,
    requested: Mapping[str, object],
    reason: str = "",
    request_ref: int | None = None,
    requested_by: str = "",
    approval_note: str = "",
    approved_by: str = "",
    reverts_ref: int | None = None,
    change_set_ref: int | None = None,
) -> AuditEntry:
    """Record an attempt as pending, committed, before anything is sent to Convoso.

    If the process dies before ``finish``, the pending entry stays visible: never silence.
    """
    return AuditEntry.objects.create(
        created_at=timezone.now(),
        **_who_and_where(actor, origin),
        account=account,
        action=action,
        status_code=_clean_text(code, 64),
        requested=_clean_json(dict(requested)),
        reason=_clean_text(reason),
        request_ref=request_ref,
        requested_by=_clean_text(requested_by, 150),
        approval_note=_clean_text(approval_note),
        approved_by=_clean_text(approved_by, 150),
        reverts_ref=reverts_ref,
        change_set_ref=change_set_ref,
        outcome=Outcome.PENDING,
    )


def finish(
    entry: AuditEntry,
    *,
    before: Status | None,
    after: Status,
    changed: list[str],
    note: str = "",
) -> AuditEntry:
    return chain.complete(
        entry,
        completed_at=timezone.now(),
        outcome=Outcome.SUCCEEDED,
        before=status_snapshot(before),
        after=status_snapshot(after),
        changed_fields=list(changed),
        note=_clean_text(note),
    )


def finish_unchanged(entry: AuditEntry, *, before: Status) -> AuditEntry:
    """A save whose values Convoso already held: nothing was sent, nothing changed."""
    return chain.complete(
        entry,
        completed_at=timezone.now(),
        outcome=Outcome.UNCHANGED,
        before=status_snapshot(before),
        after=None,
        changed_fields=[],
        note=NOTHING_SENT,
    )


NOTHING_SENT = "Convoso already held these values, so nothing was sent."


def finish_with_error(
    entry: AuditEntry, error: Exception, *, before: Status | None = None
) -> AuditEntry:
    """Record why an attempt did not succeed, in the terms the audit log uses."""
    fields: dict[str, Any] = {
        "completed_at": timezone.now(),
        "before": status_snapshot(before),
        "changed_fields": [],
    }
    if isinstance(error, errors.ConvosoUnavailable):
        fields.update(
            outcome=Outcome.UNKNOWN if error.may_have_applied else Outcome.FAILED,
            failure_kind=error.kind,
            error_message=_clean_text(error.explanation),
        )
    elif isinstance(error, errors.ConvosoRejected):
        fields.update(
            outcome=Outcome.REJECTED,
            error_code=error.code,
            error_message=_clean_text(error.upstream_message or error.explanation),
            failure_kind="token" if isinstance(error, errors.TokenRejected) else "",
        )
    elif isinstance(error, errors.ConvosoError):
        fields.update(outcome=Outcome.FAILED, error_message=_clean_text(error.explanation))
    elif isinstance(error, NotSent):
        fields.update(
            outcome=error.outcome,
            failure_kind=error.failure_kind,
            error_message=_clean_text(f"Not sent by the dashboard: {error.explanation}"),
        )
    elif isinstance(error, InvalidInput):
        # Convoso's rules, checked here first: nothing was sent.
        fields.update(
            outcome=Outcome.REJECTED,
            failure_kind="invalid_input",
            error_message=_clean_text(f"Refused by the dashboard, not sent: {error}"),
        )
    else:
        fields.update(
            outcome=Outcome.FAILED,
            failure_kind="internal",
            error_message=_clean_text(f"The dashboard failed: {type(error).__name__}"),
        )
    return chain.complete(entry, **fields)


def record_external(
    *, account: str, action: str, before: Status | None, after: Status | None
) -> AuditEntry:
    """A change made outside the dashboard (Convoso's own UI, another tool), seen at a sync.
    The status is the one the snapshots name (after, or before for a removal)."""
    now = timezone.now()
    changed = before.changed_fields(after) if before and after else []
    return chain.append(
        created_at=now,
        completed_at=now,
        actor=None,
        actor_username=OUTSIDE_ACTOR,
        account=account,
        action=action,
        status_code=_clean_text((after or before).code, 64),  # type: ignore[union-attr]
        before=status_snapshot(before),
        after=status_snapshot(after),
        changed_fields=changed,
        outcome=Outcome.OBSERVED,
    )


def record_resolution(attempt: AuditEntry, current: Status | None) -> AuditEntry:
    """What a later read of Convoso showed about an attempt whose reply was lost.

    Appended to the chain and linked to the attempt, in the name of the person who made it
    (it was their change), with the fields it changed: so the row, a filter by person and a
    filter by changed field all show the change for what it was. ``current`` is the status
    as read now (None: Convoso has no such code).
    """
    requested = attempt.requested or {}
    before = attempt.before or {}
    if attempt.action == Action.CREATE:
        applied = current is not None
        changed = list(EDITABLE_FIELDS) if applied else []
    else:
        wanted = {f: v for f, v in requested.items() if f in EDITABLE_FIELDS and v is not None}
        applied = current is not None and all(getattr(current, f) == v for f, v in wanted.items())
        # Fields already as asked before the attempt were not changed by it.
        changed = [f for f in EDITABLE_FIELDS if f in wanted and before.get(f) != wanted[f]]
        changed = changed if applied else []
    now = timezone.now()
    when = now.strftime("%Y-%m-%d %H:%M:%S %Z")
    if applied:
        verdict = "shows the change was made"
    elif current is None:
        verdict = f"shows no status {attempt.status_code}: the change was not made"
    else:
        verdict = "shows the change was not made"
    return chain.append(
        created_at=now,
        completed_at=now,
        actor_id=attempt.actor_id,
        actor_user_id=attempt.actor_user_id,
        actor_username=attempt.actor_username,
        account=attempt.account,
        action=Action.RESOLVE,
        status_code=attempt.status_code,
        before=attempt.before,
        requested=requested,
        after=status_snapshot(current),
        changed_fields=changed,
        outcome=Outcome.SUCCEEDED if applied else Outcome.FAILED,
        note=f"Convoso's reply to entry {attempt.seq} was lost; a read of Convoso at {when} "
        f"{verdict}.",
        resolves=attempt,
    )


def record_step(
    *,
    actor: User | None,
    action: str,
    account: str,
    code: str,
    request_ref: int | None,
    requested_by: str,
    reason: str = "",
    change_set_ref: int | None = None,
    requested: Mapping[str, object] | None = None,
    before: Status | Mapping[str, Any] | None = None,
    origin: Origin | None = None,
) -> AuditEntry:
    """A step of the four-eyes workflow (a request or a decision), complete at once: nothing
    was sent to Convoso. ``actor`` None is the dashboard itself (an expiry). A decision carries
    the request's change and the status it was asked against, so it reads on its own."""
    now = timezone.now()
    return chain.append(
        created_at=now,
        completed_at=now,
        **_who_and_where(actor, origin),
        account=account,
        action=action,
        status_code=_clean_text(code, 64),
        before=status_snapshot(before)
        if isinstance(before, Status) or before is None
        else _clean_json(dict(before)),
        requested=_clean_json(dict(requested or {})),
        after=None,
        changed_fields=[],
        reason=_clean_text(reason),
        outcome=Outcome.RECORDED,
        request_ref=request_ref,
        requested_by=_clean_text(requested_by, 150),
        change_set_ref=change_set_ref,
    )


def record_access(
    *,
    actor: User | None,
    action: str,
    origin: Origin | None,
    username: str = "",
    detail: Mapping[str, object] | None = None,
    failure: str = "",
    failure_kind: str = "",
) -> AuditEntry:
    """Who came and went, and how they proved it: a sign-in, a sign-out, a failed sign-in
    (``failure`` says why, in plain words), a second factor set up, removed or failed. Nothing
    was sent to Convoso. ``username`` names someone who isn't (or isn't yet) a person here:
    the name typed into a failed sign-in."""
    now = timezone.now()
    who = _who_and_where(actor, origin)
    if actor is None and username:
        who["actor_username"] = _clean_text(username, 150)
    return chain.append(
        created_at=now,
        completed_at=now,
        **who,
        account="",
        action=action,
        status_code="",
        before=None,
        requested=_clean_json(dict(detail or {})),
        after=None,
        changed_fields=[],
        reason="",
        outcome=Outcome.FAILED if failure else Outcome.RECORDED,
        error_message=_clean_text(failure),
        failure_kind=_clean_text(failure_kind, 20),
    )


def record_catalogue_copy(*, account: str, statuses: Iterable[Status]) -> AuditEntry:
    """The whole catalogue of an account as the dashboard copied it: the history of every status
    starts here (audit/history.py), or at the first change the log holds of it."""
    now = timezone.now()
    copied = [status_snapshot(s) for s in sorted(statuses, key=lambda s: s.code)]
    return chain.append(
        created_at=now,
        completed_at=now,
        **_who_and_where(None, None),
        account=account,
        action=Action.CATALOGUE_COPY,
        status_code="",
        before=None,
        requested={},
        after={CATALOGUE: copied},
        changed_fields=[],
        reason="",
        outcome=Outcome.RECORDED,
    )
