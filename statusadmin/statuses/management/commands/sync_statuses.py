"""Refresh the status mirror from Convoso, audit every change made outside the dashboard, and
close change requests nobody decided in time.

Run it from cron (e.g. every 5 minutes); the dashboard's own refresh does the same.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from statusadmin.approvals.services import expire_overdue
from statusadmin.audit.models import AuditEntry
from statusadmin.statuses.mirror import mirror_refresh


def _outside_changes() -> int:
    return AuditEntry.objects.filter(action__startswith="external_").count()


class Command(BaseCommand):
    help = "Refresh the status mirror from Convoso, recording changes made outside the dashboard."

    def handle(self, *args: Any, **options: Any) -> None:
        expired = expire_overdue()
        before = _outside_changes()
        sync = mirror_refresh(force=True)
        if sync.last_error:
            raise CommandError(f"Convoso could not be read: {sync.last_error}")
        seen = _outside_changes() - before
        self.stdout.write(
            f"Synced account {sync.account} at {sync.synced_at:%Y-%m-%d %H:%M:%S %Z}; "
            f"{seen} change{'s' if seen != 1 else ''} made outside the dashboard recorded"
            + (
                f"; {expired} change request{'s' if expired != 1 else ''} expired."
                if expired
                else "."
            )
        )
