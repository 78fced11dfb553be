"""Background tasks of the statuses app (Django's Tasks framework)."""

from __future__ import annotations

from django.tasks import task


@task
def apply_change_set(change_set_id: int) -> str:
    from .changesets import run

    return run(change_set_id)
