"""The recurring jobs and when they are due: so that no cron is needed.

Every worker calls ``tick`` every few seconds. A job is enqueued by whichever worker moves its
due time forward first (one conditional UPDATE), so with several workers on several machines
each job still runs once per interval.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.tasks import Task
from django.utils import timezone

from . import tasks
from .models import RecurringJob


@dataclass(frozen=True, slots=True)
class Job:
    name: str
    every: Callable[[], float]  # seconds, read from the settings when needed
    task: Task


JOBS = (
    Job("refresh_mirror", lambda: settings.MIRROR_MAX_AGE, tasks.refresh_mirror),
    Job("audit_checkpoint", lambda: settings.AUDIT_CHECKPOINT_EVERY, tasks.audit_checkpoint),
    Job("verify_audit", lambda: settings.VERIFY_AUDIT_EVERY, tasks.verify_audit),
    Job("catalogue_snapshots", lambda: settings.AUDIT_CHECKPOINT_EVERY, tasks.catalogue_snapshots),
)


def tick() -> list[str]:
    """Enqueue every job that is due, once. Returns the names enqueued by this call."""
    now = timezone.now()
    enqueued = []
    for job in JOBS:
        if _claim(job, now):
            job.task.enqueue()
            enqueued.append(job.name)
    from statusadmin.changesets.services import resume_stalled

    resume_stalled()
    return enqueued


def _claim(job: Job, now: datetime) -> bool:
    next_due = now + timedelta(seconds=job.every())
    try:
        with transaction.atomic():
            _, created = RecurringJob.objects.get_or_create(
                name=job.name, defaults={"due_at": next_due, "last_enqueued_at": now}
            )
    except IntegrityError:
        created = False  # another worker made it at the same moment
    if created:
        return True
    return bool(
        RecurringJob.objects.filter(name=job.name, due_at__lte=now).update(
            due_at=next_due, last_enqueued_at=now
        )
    )
