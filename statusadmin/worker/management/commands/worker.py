"""Run background work: the task backend's own worker, plus the schedule of recurring jobs.

    python manage.py worker           # until stopped (Ctrl+C, SIGTERM)
    python manage.py worker --batch   # enqueue what is due, run everything queued, then exit

With TASKS_BACKEND=database this is django-tasks-db's db_worker; with TASKS_BACKEND=redis it
is RQ's worker (django-tasks-rq's job class). Run as many as you like: each recurring job is
still enqueued once per interval (schedule.py).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import close_old_connections, connections

from statusadmin.audit import keys
from statusadmin.worker import schedule

logger = logging.getLogger(__name__)
TICK_SECONDS = 5.0


class Command(BaseCommand):
    help = "Run background tasks and the recurring jobs (mirror refresh, checkpoints, checks)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch", action="store_true", help="run what is queued or due, then exit"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            keys.checkpoint_signer()  # it writes the checkpoints: refuse now, not in an hour
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from None
        if options["batch"]:
            schedule.tick()
            connections.close_all()
            self._work(batch=True)
            return
        stop = threading.Event()
        ticker = threading.Thread(target=self._tick_forever, args=(stop,), daemon=True)
        ticker.start()
        try:
            self._work(batch=False)
        finally:
            stop.set()

    def _tick_forever(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                close_old_connections()
                schedule.tick()
            except Exception:  # a database hiccup must not stop the schedule for good
                logger.exception("scheduler tick failed")
            finally:
                connections.close_all()
            stop.wait(TICK_SECONDS)

    def _work(self, *, batch: bool) -> None:
        if settings.TASKS_BACKEND == "redis":
            extra = ["--burst"] if batch else []
            call_command("rqworker", "default", "--job-class", "django_tasks_rq.Job", *extra)
        else:
            extra = ["--batch"] if batch else []
            # No autoreload: in DEBUG db_worker would run in a child process that outlives us.
            call_command("db_worker", "--no-startup-delay", "--no-reload", *extra)
