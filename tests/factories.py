"""Test data: users with roles, and audit entries as the services would write them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from statusadmin.audit import chain
from statusadmin.audit.models import Action, AuditEntry, Outcome
from statusadmin.convoso.connection import SANDBOX_ACCOUNT
from statusadmin.statuses.models import MirrorStatus


def make_user(username: str, role: str | None = None, **extra: object):  # type: ignore[no-untyped-def]
    from django.contrib.auth.models import Group, User

    from statusadmin.accounts.roles import ensure_roles

    ensure_roles()  # transactional tests flush the groups the migration made
    user = User.objects.create_user(username, password="pw-" + username, **extra)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


def snapshot(code: str = "XFER", **flags: bool) -> dict[str, Any]:
    base = {"code": code, "name": "Transferred", "color": "#6711D1", "final": False,
            "reached": True, "success": True, "dnc": False, "callback": False,
            "contact": True, "voicemail": False, "workflow": None, "custom": True}  # fmt: skip
    base.update(flags)
    return base


def add_entry(
    *,
    at: datetime | None = None,
    actor: str = "sue",
    code: str = "XFER",
    action: str = Action.UPDATE,
    outcome: str = Outcome.SUCCEEDED,
    changed: tuple[str, ...] = ("callback",),
    reason: str = "",
    account: str = "sandbox",
    **extra: Any,
) -> AuditEntry:
    """A completed entry appended to the chain, as the services would write it."""
    at = at or timezone.now()
    before = snapshot(code)
    after = snapshot(code, **{f: not before[f] for f in changed if isinstance(before.get(f), bool)})
    values = {
        "created_at": at,
        "completed_at": at + timedelta(milliseconds=5),
        "actor_username": actor,
        "account": account,
        "action": action,
        "status_code": code,
        "before": before,
        "requested": {f: after[f] for f in changed},
        "after": after,
        "changed_fields": list(changed),
        "reason": reason,
        "outcome": outcome,
        **extra,
    }
    return chain.append(**values)


def mirrored(code: str, account: str = SANDBOX_ACCOUNT) -> MirrorStatus:
    """The mirror's row for ``code``."""
    return MirrorStatus.objects.get(account=account, code=code)
