from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from statusadmin.audit import chain, triggers
from statusadmin.audit.models import Action, AuditEntry, Outcome


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


@pytest.fixture
def entries_table_unlocked():  # type: ignore[no-untyped-def]
    """Lift the append-only triggers, as an attacker with database rights could."""

    def unlock() -> None:
        if connection.vendor == "postgresql":
            # Replica mode skips ordinary triggers for this transaction (superuser only).
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL session_replication_role = replica")
        else:
            triggers.remove(connection)

    return unlock


def raw(sql: str, params: list[Any] | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
