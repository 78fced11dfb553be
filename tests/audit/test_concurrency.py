"""Many writers at once leave one unbroken chain (PostgreSQL: real parallel transactions)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.contrib.auth.models import User
from django.db import connection, connections

from statusadmin.audit import chain
from statusadmin.audit.models import Action, AuditEntry, Outcome
from statusadmin.audit.services import begin, finish_with_error
from statusadmin.convoso import errors
from tests.factories import add_entry

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

WRITERS = 12
EACH = 10


@pytest.fixture(autouse=True)
def _postgresql_only():  # type: ignore[no-untyped-def]
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite runs one writer at a time, so there is no race")


def run_writers(work) -> None:  # type: ignore[no-untyped-def]
    start = threading.Barrier(WRITERS)

    def writer(n: int) -> None:
        try:
            start.wait()
            for i in range(EACH):
                work(n, i)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(WRITERS) as pool:
        for future in [pool.submit(writer, n) for n in range(WRITERS)]:
            future.result()


def test_concurrent_appends_form_one_chain():
    run_writers(lambda n, i: add_entry(actor=f"writer{n}", reason=f"{n}-{i}"))
    seqs = sorted(AuditEntry.objects.values_list("seq", flat=True))
    assert seqs == list(range(1, WRITERS * EACH + 1))
    result = chain.verify()
    assert result.ok, result.message
    assert result.checked == WRITERS * EACH


def test_concurrent_pending_completions_form_one_chain():
    user = User.objects.create_user("racer")
    failure = errors.ConvosoUnavailable("x", kind="timeout")

    def attempt(n: int, i: int) -> None:
        entry = begin(
            actor=user, origin=None, action=Action.UPDATE, code=f"C{n}", account="a",
            requested={"final": True}, reason=str(i),
        )  # fmt: skip
        finish_with_error(entry, failure)

    run_writers(attempt)
    assert not AuditEntry.objects.filter(outcome=Outcome.PENDING).exists()
    assert chain.verify().ok
    seqs = sorted(AuditEntry.objects.values_list("seq", flat=True))
    assert seqs == list(range(1, WRITERS * EACH + 1))
