"""The local mirror of Convoso's catalogue: refreshing it, and auditing what changed outside.

Search reads only the mirror, so typing never calls Convoso. A refresh replaces it with the
catalogue when it is older than MIRROR_MAX_AGE; differences the dashboard did not make are
audited as changes made outside it, and attempts whose reply was lost are resolved against it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from statusadmin.audit import services as audit
from statusadmin.audit.models import Action, AuditEntry, Outcome
from statusadmin.audit.services import IN_FLIGHT_WINDOW
from statusadmin.convoso import errors
from statusadmin.convoso.connection import get_client
from statusadmin.convoso.status import Status

from . import counts
from .models import MirrorStatus, MirrorSync

logger = logging.getLogger(__name__)

INTERRUPTED = "The dashboard stopped before Convoso's reply was recorded (it was interrupted)."


def mirror_store(*, account: str, status: Status) -> None:
    values = MirrorStatus.values_from(status)
    MirrorStatus.objects.update_or_create(
        account=account, code=status.code, defaults={**values, "synced_at": timezone.now()}
    )
    counts.mirror_changed(account)


def mirror_remove(*, account: str, code: str) -> None:
    """Convoso has no status ``code`` (any more): the mirror neither."""
    MirrorStatus.objects.filter(account=account, code=code).delete()
    counts.mirror_changed(account)


def mirror_refresh(*, force: bool = False) -> MirrorSync:
    """Replace the mirror with Convoso's catalogue when it is older than MIRROR_MAX_AGE.

    At most one worker refreshes at a time (a lease on the sync row), and after a failure the
    next attempt waits a full MIRROR_MAX_AGE too, so an outage doesn't turn every page view into
    a slow call to Convoso. Failures are recorded, not raised: readers carry on from the mirror.
    Differences that the dashboard did not make are audited as changes made outside it.
    """
    client = get_client()
    account = client.account
    now = timezone.now()
    max_age = timedelta(seconds=settings.MIRROR_MAX_AGE)
    if not force and (known := cache.get(_sync_key(account))) is not None:
        return known  # still fresh: no need to ask the database on every keystroke
    sync, _ = MirrorSync.objects.get_or_create(account=account)
    if not force and sync.attempted_at and now - sync.attempted_at < max_age:
        return _remember(sync)
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
    else:
        try:
            _replace_mirror(account, statuses, fetched_at=now)
        finally:
            # Whatever happened, the next refresh needn't wait for this lease to expire.
            MirrorSync.objects.filter(account=account).update(lease_until=None)
    sync.refresh_from_db()
    return _remember(sync)


def _sync_key(account: str) -> str:
    return f"mirror-sync:{account}"


def _remember(sync: MirrorSync) -> MirrorSync:
    """Share a sync state that needs no refresh with every worker, until it needs one."""
    if sync.attempted_at is not None:
        fresh_for = settings.MIRROR_MAX_AGE - (timezone.now() - sync.attempted_at).total_seconds()
        if fresh_for > 1:
            cache.set(_sync_key(sync.account), sync, fresh_for)
    return sync


def _replace_mirror(account: str, statuses: list[Status], *, fetched_at: datetime) -> None:
    """Bring the mirror in line with a catalogue fetched at ``fetched_at``, auditing drift."""
    fetched = {s.code: s for s in statuses if len(s.code) <= MirrorStatus.CODE_MAX_LENGTH}
    if len(fetched) < len(statuses):
        logger.warning(
            "Convoso listed %d status(es) with a code longer than %d characters; not mirrored",
            len(statuses) - len(fetched),
            MirrorStatus.CODE_MAX_LENGTH,
        )
    with transaction.atomic():
        sync = MirrorSync.objects.select_for_update().get(account=account)
        baseline = sync.synced_at is None  # the first copy of an account is not drift
        if not AuditEntry.objects.filter(account=account, action=Action.CATALOGUE_COPY).exists():
            # Where the history of every status begins (audit/history.py): the first copy,
            # or, for a log older than this entry, the first copy since.
            audit.record_catalogue_copy(account=account, statuses=fetched.values())
        known = {m.code: m for m in MirrorStatus.objects.filter(account=account)}
        busy = _codes_in_flight(account)
        # Changes the dashboard itself made, learnt only now (their reply was lost).
        explained = _resolve_lost_replies(account, fetched, busy, fetched_at=fetched_at)
        now = timezone.now()
        upserts: list[MirrorStatus] = []
        for code, status in fetched.items():
            mirrored = known.get(code)
            if mirrored is not None and (mirrored.synced_at > fetched_at or code in busy):
                continue  # a dashboard write landed after this catalogue was read, or is landing
            if mirrored is None:
                if not baseline and code not in explained:
                    audit.record_external(
                        account=account, action=Action.EXTERNAL_CREATE, before=None, after=status,
                    )  # fmt: skip
            elif mirrored.to_status() != status:
                before = mirrored.to_status()
                if code not in explained:
                    audit.record_external(
                        account=account, action=Action.EXTERNAL_UPDATE, before=before, after=status,
                    )  # fmt: skip
            else:
                continue
            upserts.append(
                MirrorStatus(
                    account=account, code=code, synced_at=now, **MirrorStatus.values_from(status)
                )
            )
        gone = [
            m
            for code, m in known.items()
            if code not in fetched and m.synced_at <= fetched_at and code not in busy
        ]
        for mirrored in gone:
            audit.record_external(
                account=account, action=Action.EXTERNAL_REMOVE, before=mirrored.to_status(),
                after=None,
            )  # fmt: skip
        if upserts:
            MirrorStatus.objects.bulk_create(
                upserts,
                update_conflicts=True,
                unique_fields=["account", "code"],
                update_fields=[*MirrorStatus.VALUE_FIELDS, "synced_at"],
                batch_size=500,
            )
        MirrorStatus.objects.filter(pk__in=[m.pk for m in gone]).delete()
        if upserts or gone:
            counts.mirror_changed(account)
        MirrorSync.objects.filter(account=account).update(
            synced_at=now, last_error="", lease_until=None
        )


def _codes_in_flight(account: str) -> set[str]:
    """Codes with a dashboard write under way: their state is the dashboard's to report."""
    since = timezone.now() - IN_FLIGHT_WINDOW
    return set(
        AuditEntry.objects.filter(
            account=account, outcome=Outcome.PENDING, created_at__gte=since
        ).values_list("status_code", flat=True)
    )


def _resolve_lost_replies(
    account: str, fetched: Mapping[str, Status], busy: set[str], *, fetched_at: datetime
) -> set[str]:
    """Record what a catalogue shows about attempts whose outcome is still unknown.

    First, attempts left pending longer than IN_FLIGHT_WINDOW were interrupted (the process
    died mid-call): they are completed as unknown. Then every unknown attempt finished before
    the catalogue was read gets a resolution entry (audit.record_resolution). Returns the
    codes whose difference from the mirror those resolutions explain (the change was made).
    """
    stale = AuditEntry.objects.filter(
        account=account, outcome=Outcome.PENDING, created_at__lt=timezone.now() - IN_FLIGHT_WINDOW
    )
    for entry in stale:
        interrupted = errors.ConvosoUnavailable(
            INTERRUPTED, kind="interrupted", may_have_applied=True
        )
        audit.finish_with_error(entry, interrupted)
    # Only attempts whose call was over before the catalogue was read can be judged by it; an
    # interrupted one was over when its process died, long before.
    unresolved = (
        AuditEntry.objects.filter(
            account=account,
            outcome=Outcome.UNKNOWN,
            action__in=[Action.CREATE, Action.UPDATE],
            resolutions__isnull=True,
        )
        .filter(Q(completed_at__lt=fetched_at) | Q(failure_kind="interrupted"))
        .exclude(status_code__in=busy)
    )
    explained = set()
    for attempt in unresolved.order_by("seq"):
        resolution = audit.record_resolution(attempt, fetched.get(attempt.status_code))
        if resolution.outcome == Outcome.SUCCEEDED:
            explained.add(attempt.status_code)
    return explained
