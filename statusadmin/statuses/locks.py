"""One write at a time per status, across threads, processes, workers and hosts.

A write reads the status from Convoso, merges the change and sends every field back (Convoso
treats an omitted flag as empty). Two such writes to one status at once would each send what
they read, and the later one would silently undo the earlier. So the read, the write, the
read-back and the audit entry all happen while holding this lock.

PostgreSQL: a session-level advisory lock, released by the server if the process dies.
SQLite: a lease row (StatusWriteLease) with an expiry, for the same reason. Both wait a bounded
time and then give up with ``LockTimeout`` rather than hold a person's request indefinitely.
"""

from __future__ import annotations

import hashlib
import random
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

from .models import StatusWriteLease

# PostgreSQL's two-key advisory lock space, first key: keeps these locks apart from the
# one-key lock that orders the audit chain.
_ADVISORY_NAMESPACE = 0x5A7A
_POLL_SECONDS = (0.02, 0.08)


class LockTimeout(Exception):
    """Another write to the same status held the lock for longer than we were willing to wait."""


def _key(account: str, code: str) -> int:
    digest = hashlib.blake2b(f"{account}\n{code}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big", signed=True)


@contextmanager
def status_write_lock(account: str, code: str, *, wait: float, lease: float) -> Iterator[None]:
    """Hold the write lock of one status; raise LockTimeout after ``wait`` seconds.

    ``lease`` bounds how long a lease row outlives a process that died holding it (SQLite).
    """
    if connection.vendor == "postgresql":
        with _advisory_lock(_key(account, code), wait):
            yield
    else:
        with _lease(account, code, wait, lease):
            yield


def _wait_until(deadline: float) -> None:
    if time.monotonic() >= deadline:
        raise LockTimeout
    time.sleep(random.uniform(*_POLL_SECONDS))  # noqa: S311 - jitter, not security


@contextmanager
def _advisory_lock(key: int, wait: float) -> Iterator[None]:
    deadline = time.monotonic() + wait
    with connection.cursor() as cursor:
        while True:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [_ADVISORY_NAMESPACE, key])
            if cursor.fetchone()[0]:
                break
            _wait_until(deadline)
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [_ADVISORY_NAMESPACE, key])


@contextmanager
def _lease(account: str, code: str, wait: float, lease: float) -> Iterator[None]:
    holder = uuid.uuid4().hex
    deadline = time.monotonic() + wait
    while True:
        now = timezone.now()
        with transaction.atomic():
            # A lease whose holder died (it would have removed it) ends at its expiry.
            StatusWriteLease.objects.filter(account=account, code=code, expires_at__lt=now).delete()
            _, taken = StatusWriteLease.objects.get_or_create(
                account=account,
                code=code,
                defaults={"holder": holder, "expires_at": now + timedelta(seconds=lease)},
            )
        if taken:
            break
        _wait_until(deadline)
    try:
        yield
    finally:
        StatusWriteLease.objects.filter(account=account, code=code, holder=holder).delete()
