"""The worker for real: the recurring jobs, both task backends, and a worker killed mid-set."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest
import redis
from django.core.management import call_command
from django.utils import timezone

from statusadmin.audit.models import Checkpoint, Verification
from statusadmin.changesets import runner
from statusadmin.changesets import services as changesets
from statusadmin.changesets.models import ChangeSet
from statusadmin.convoso.models import SandboxStatus
from statusadmin.convoso.sandbox import SANDBOX_TOKEN, Sandbox, seed
from statusadmin.statuses.models import StatusWriteLease
from statusadmin.worker import schedule
from statusadmin.worker.models import RecurringJob
from tests.helpers import ROOT, SandboxOverSocket, subprocess_environment

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/13")


def environment(**extra: str) -> dict[str, str]:
    return subprocess_environment(CACHE_URL="", **extra)


class ScheduleTests:
    @pytest.mark.django_db
    def test_each_job_is_enqueued_once_per_interval_whoever_ticks(self, settings):
        settings.MIRROR_MAX_AGE = 60
        assert schedule.tick() == [
            "refresh_mirror", "audit_checkpoint", "verify_audit", "catalogue_snapshots",
        ]  # fmt: skip
        assert schedule.tick() == []  # a second worker, a moment later
        RecurringJob.objects.filter(name="refresh_mirror").update(due_at=timezone.now())
        assert schedule.tick() == ["refresh_mirror"]

    @pytest.mark.django_db(transaction=True)
    def test_two_workers_at_the_same_moment_enqueue_once(self):
        seen: list[list[str]] = []
        start = threading.Barrier(2)

        def tick() -> None:
            from django.db import connections

            try:
                start.wait()
                seen.append(schedule.tick())
            finally:
                connections.close_all()

        threads = [threading.Thread(target=tick) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert Counter(name for names in seen for name in names) == {
            "refresh_mirror": 1, "audit_checkpoint": 1, "verify_audit": 1, "catalogue_snapshots": 1,
        }  # fmt: skip

    @pytest.mark.django_db(transaction=True)
    def test_the_worker_runs_them(self):
        call_command("worker", "--batch", stdout=io.StringIO(), stderr=io.StringIO())
        assert Checkpoint.objects.count() == 1
        assert Verification.objects.get().ran_by == "worker"


def plan(supervisor, codes: list[str]) -> ChangeSet:  # type: ignore[no-untyped-def]
    change_set = changesets.plan_bulk(
        actor=supervisor, codes=codes, changes={"final": True}, title="Final on"
    )
    changesets.apply(change_set_id=change_set.pk, actor=supervisor)
    return change_set


@pytest.mark.django_db(transaction=True)
def test_the_redis_backend_runs_a_change_set(supervisor):
    connection_ = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        connection_.flushdb()
    except redis.ConnectionError as exc:
        pytest.skip(f"no Redis at {REDIS_URL}: {exc}")
    seed()
    change_set = changesets.plan_bulk(
        actor=supervisor, codes=["XFER", "HOT"], changes={"final": True}, title="Final on"
    )
    redis_env = environment(TASKS_BACKEND="redis", TASKS_REDIS_URL=REDIS_URL)
    apply = (
        "import django, os;"
        "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'statusadmin.settings');"
        "django.setup();"
        "from django.contrib.auth.models import User;"
        "from statusadmin.changesets import services as changesets;"
        f"changesets.apply(change_set_id={change_set.pk}, actor=User.objects.get(username='sue'))"
    )
    for command in ([sys.executable, "-c", apply],
                    [sys.executable, "manage.py", "worker", "--batch"]):  # fmt: skip
        done = subprocess.run(
            command, cwd=ROOT, env=redis_env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr[-3000:]
    assert connection_.llen("rq:queue:default") == 0
    change_set.refresh_from_db()
    assert change_set.state == "finished"
    assert SandboxStatus.objects.filter(code__in=["XFER", "HOT"], final=True).count() == 2


class CountingSandbox(Sandbox):
    """The sandbox, remembering every update it was sent (in this process)."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.updates: list[str] = []

    def respond(self, path, form):  # type: ignore[no-untyped-def]
        if path.endswith("/status/update"):
            self.updates.append(form.get("status", ""))
        return super().respond(path, form)


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_set_resumes_without_sending_anything_twice(supervisor, settings):
    seed()
    sandbox = CountingSandbox(latency_ms=150)
    server = SandboxOverSocket(sandbox)
    settings.CONVOSO_SANDBOX = False
    settings.CONVOSO_API_URL = server.url
    settings.CONVOSO_AUTH_TOKEN = SANDBOX_TOKEN
    codes = ["XFER", "HOT", "CBHOLD", "LVM"]  # every custom status with Final off
    try:
        change_set = plan(supervisor, codes)
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "worker"],
            cwd=ROOT,
            env=environment(
                CONVOSO_API_URL=server.url,
                CONVOSO_AUTH_TOKEN=SANDBOX_TOKEN,
                CHANGE_SET_CONCURRENCY="1",
                LOG_LEVEL="WARNING",
            ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # so the kill below reaches everything it started
        )
        try:
            deadline = time.monotonic() + 60
            while change_set.items.filter(state="done").count() < 2:
                assert time.monotonic() < deadline, "the worker never got going"
                assert worker.poll() is None, "the worker stopped by itself"
                time.sleep(0.05)
        finally:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(10)
        states = Counter(change_set.items.values_list("state", flat=True))
        assert states["done"] >= 2
        assert states["planned"] + states["sending"] >= 1  # it really died mid-set
        # Minutes pass: the dead worker's heartbeat goes stale and its write lease (SQLite)
        # expires; the scheduler notices and a new worker resumes.
        ChangeSet.objects.filter(pk=change_set.pk).update(
            heartbeat_at=timezone.now() - runner.STALE_AFTER * 2
        )
        StatusWriteLease.objects.update(expires_at=timezone.now())
        call_command("worker", "--batch", stdout=io.StringIO(), stderr=io.StringIO())
    finally:
        server.stop()
    change_set.refresh_from_db()
    assert change_set.state == "finished"
    assert set(change_set.items.values_list("state", flat=True)) == {"done"}
    assert SandboxStatus.objects.filter(code__in=codes, final=True).count() == len(codes)
    sent = Counter(sandbox.updates)
    assert all(n == 1 for n in sent.values()), sent
    assert set(sent) <= set(codes)


class InFlightSandbox(Sandbox):
    """The sandbox, counting how many requests it is answering at once."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.now = self.most = 0
        self.lock = threading.Lock()

    def respond(self, path, form):  # type: ignore[no-untyped-def]
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            return super().respond(path, form)
        finally:
            with self.lock:
                self.now -= 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("concurrency", [1, 2])
def test_at_most_so_many_changes_go_to_convoso_at_once(supervisor, settings, concurrency):
    seed()
    sandbox = InFlightSandbox(latency_ms=80)
    server = SandboxOverSocket(sandbox)
    settings.CONVOSO_SANDBOX = False
    settings.CONVOSO_API_URL = server.url
    settings.CONVOSO_AUTH_TOKEN = SANDBOX_TOKEN
    settings.CHANGE_SET_CONCURRENCY = concurrency
    try:
        change_set = plan(supervisor, ["XFER", "HOT", "CBHOLD", "LVM"])
        assert runner.run(change_set.pk) == "4 done, 0 failed"
    finally:
        server.stop()
    assert sandbox.most == concurrency


@pytest.mark.django_db
def test_the_worker_keeps_the_catalogues_snapshots(monkeypatch):
    from statusadmin.audit import history
    from statusadmin.audit.models import CatalogueSnapshot
    from statusadmin.statuses import mirror
    from statusadmin.worker import tasks

    seed()
    mirror.mirror_refresh()
    monkeypatch.setattr(history, "SNAPSHOT_EVERY", 1)
    assert tasks.catalogue_snapshots.call() == "1 snapshot(s) of the catalogue"
    assert CatalogueSnapshot.objects.count() == 1
