"""Background tasks of change sets (Django's Tasks framework)."""

from __future__ import annotations

from django.tasks import task
from django.utils import timezone

from . import runner


@task
def apply_change_set(change_set_id: int) -> str:
    summary = runner.run(change_set_id)
    if runner.another_round_due(change_set_id):
        later = timezone.now() + runner.RETRY_BUSY_AFTER
        apply_change_set.using(run_after=later).enqueue(change_set_id)
    return summary
