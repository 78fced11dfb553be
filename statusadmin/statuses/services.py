"""Every write to Convoso goes through this module, with the acting user.

Views and forms call ``status_create`` and ``status_update`` only; nothing else in the project
calls the Convoso client's insert or update. Each successful write updates the local mirror at
once, so search shows it without waiting for the next refresh.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from statusadmin.convoso import errors
from statusadmin.convoso.client import Status
from statusadmin.convoso.connection import get_client
from statusadmin.convoso.validation import InvalidInput, clean_changes

from .models import MirrorStatus, MirrorSync
from .selectors import status_version

logger = logging.getLogger(__name__)

REASON_MAX_LENGTH = 500


class ReasonRequired(InvalidInput):
    """Changing DNC needs a written reason (for compliance review) before anything is sent."""

    def __init__(self) -> None:
        super().__init__(
            "reason", "Say briefly why DNC is being changed. It goes in the audit log."
        )


@dataclass(frozen=True, slots=True)
class WriteResult:
    status: Status  # as Convoso confirmed it
    before: Status | None = None
    changed: list[str] = field(default_factory=list)
    # The status had been changed (by someone else, or outside the dashboard) after the page
    # that sent this change was loaded.
    stale: bool = False
    # The reply was lost, and a search afterwards showed the status had been created.
    reconciled: bool = False


# --- the mirror -----------------------------------------------------------------------------------


def mirror_store(*, account: str, status: Status) -> None:
    values = MirrorStatus.values_from(status)
    MirrorStatus.objects.update_or_create(
        account=account, code=status.code, defaults={**values, "synced_at": timezone.now()}
    )


def mirror_refresh(*, force: bool = False) -> MirrorSync:
    """Replace the mirror with Convoso's catalogue when it is older than MIRROR_MAX_AGE.

    At most one worker refreshes at a time (a lease on the sync row), and after a failure the
    next attempt waits a full MIRROR_MAX_AGE too, so an outage doesn't turn every page view into
    a slow call to Convoso. Failures are recorded, not raised: readers carry on from the mirror.
    """
    client = get_client()
    account = client.account
    now = timezone.now()
    max_age = timedelta(seconds=settings.MIRROR_MAX_AGE)
    sync, _ = MirrorSync.objects.get_or_create(account=account)
    if not force and sync.attempted_at and now - sync.attempted_at < max_age:
        return sync
    # Take the lease with one conditional UPDATE: whichever worker matches the old state wins.
    lease_until = now + timedelta(seconds=settings.CONVOSO_READ_TIMEOUT * 3 + 5)
    claimed = (
        MirrorSync.objects.filter(account=account)
        .exclude(lease_until__gt=now)
        .update(lease_until=lease_until, attempted_at=now)
    )
    if not claimed:
        sync.refresh_from_db()
        return sync
    try:
        statuses = client.search("")
    except errors.ConvosoError as exc:
        MirrorSync.objects.filter(account=account).update(
            last_error=exc.explanation, lease_until=None
        )
        sync.refresh_from_db()
        return sync
    _replace_mirror(account, statuses)
    sync.refresh_from_db()
    return sync


def _replace_mirror(account: str, statuses: list[Status]) -> None:
    now = timezone.now()
    rows = [
        MirrorStatus(account=account, code=s.code, synced_at=now, **MirrorStatus.values_from(s))
        for s in {s.code: s for s in statuses}.values()
    ]
    with transaction.atomic():
        if rows:
            MirrorStatus.objects.bulk_create(
                rows,
                update_conflicts=True,
                unique_fields=["account", "code"],
                update_fields=[*MirrorStatus.VALUE_FIELDS, "synced_at"],
                batch_size=500,
            )
        MirrorStatus.objects.filter(account=account).exclude(
            code__in=[r.code for r in rows]
        ).delete()
        MirrorSync.objects.filter(account=account).update(
            synced_at=now, last_error="", lease_until=None
        )


# --- writes --------------------------------------------------------------------------------------


def status_create(
    *,
    actor: AbstractBaseUser,
    code: str,
    name: str,
    color: str | None,
    flags: Mapping[str, object],
) -> WriteResult:
    """Create a custom status in Convoso. Raises InvalidInput or a ConvosoError."""
    client = get_client()
    result = client.insert(code=code, name=name, color=color, flags=flags)
    mirror_store(account=client.account, status=result.status)
    return WriteResult(
        status=result.status,
        changed=["name", *result.status.flags(), "color"],
        reconciled=result.reconciled,
    )


def status_update(
    *,
    actor: AbstractBaseUser,
    code: str,
    changes: Mapping[str, object],
    reason: str = "",
    expected_version: str | None = None,
) -> WriteResult:
    """Change a custom status. The current values are read fresh from Convoso first.

    Raises InvalidInput (ReasonRequired for DNC without a reason) before anything is sent, or a
    ConvosoError. Either way the mirror ends up holding the freshest state that was read.
    """
    cleaned = clean_changes(changes)
    reason = reason.strip()
    if "dnc" in cleaned and not reason:
        raise ReasonRequired
    if len(reason) > REASON_MAX_LENGTH:
        raise InvalidInput("reason", f"Keep the reason under {REASON_MAX_LENGTH} characters.")
    client = get_client()
    try:
        before = client.get(code)
    except errors.StatusNotFound:
        MirrorStatus.objects.filter(account=client.account, code=code).delete()
        raise
    try:
        result = client.update(code, cleaned, before=before)
    except errors.ConvosoError:
        mirror_store(account=client.account, status=before)
        raise
    mirror_store(account=client.account, status=result.after)
    return WriteResult(
        status=result.after,
        before=before,
        changed=result.changed,
        stale=expected_version is not None and expected_version != status_version(before),
    )
