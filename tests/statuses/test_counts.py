"""How many statuses match: kept between keystrokes, never kept past a change of the mirror.

A one-character search counts every row of the catalogue; the count is kept until the
account's mirror changes (statuses/counts.py). Each test here changes the mirror the way the
dashboard does (a write, a refresh, a status Convoso no longer has) and checks that the very
next search says the new number.
"""

from __future__ import annotations

import re
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from statusadmin.convoso.models import SandboxStatus
from statusadmin.convoso.sandbox import seed
from statusadmin.statuses import counts, mirror, services
from statusadmin.statuses.selectors import PAGE_SIZE

pytestmark = pytest.mark.django_db

MORE = PAGE_SIZE + 15  # more than a page, so the search has to count


@pytest.fixture(autouse=True)
def _counts_kept(settings):  # type: ignore[no-untyped-def]
    settings.SEARCH_COUNTS_KEPT = True  # as with Redis; the tests' cache is the database's


@pytest.fixture(autouse=True)
def _catalogue(db):  # type: ignore[no-untyped-def]
    """The sandbox's statuses plus MORE named "Quokka n" in Convoso, mirrored."""
    seed()
    SandboxStatus.objects.bulk_create(
        SandboxStatus(code=f"QK{i:03}", name=f"Quokka {i}", custom=True) for i in range(MORE)
    )
    mirror.mirror_refresh(force=True)


def matches(client, query: str = "quokka") -> int:  # type: ignore[no-untyped-def]
    page = client.get("/", {"q": query}, HTTP_HX_REQUEST="true").content.decode()
    found = re.search(r"(\d+) status(?:es)? match", page)
    assert found, page
    return int(found.group(1))


def counted(client, query: str = "quokka") -> bool:  # type: ignore[no-untyped-def]
    """Whether this search counted its matches in the database (rather than keeping a count)."""
    with CaptureQueriesContext(connection) as queries:
        matches(client, query)
    return any("COUNT(*)" in q["sql"] for q in queries.captured_queries)


def test_a_count_is_kept_between_keystrokes(supervisor_client):
    assert counted(supervisor_client)
    assert not counted(supervisor_client)
    assert matches(supervisor_client) == MORE
    # Another query is another count.
    assert counted(supervisor_client, "qk0")


def test_a_status_created_here_is_counted_at_once(supervisor_client, supervisor):
    assert matches(supervisor_client) == MORE
    services.status_create(
        actor=supervisor, code="QKNEW", name="Quokka new", color=None, flags={"final": "Y"}
    )
    assert matches(supervisor_client) == MORE + 1


def test_a_renamed_status_leaves_the_count_at_once(supervisor_client, supervisor):
    assert matches(supervisor_client) == MORE
    services.status_update(actor=supervisor, code="QK000", changes={"name": "Wombat"})
    assert matches(supervisor_client) == MORE - 1
    assert matches(supervisor_client, "wombat") == 1


def test_a_refresh_that_finds_statuses_gone_or_added_is_counted_at_once(supervisor_client):
    assert matches(supervisor_client) == MORE
    SandboxStatus.objects.filter(code__in=["QK001", "QK002"]).delete()
    SandboxStatus.objects.create(code="QKX", name="Quokka extra", custom=True)
    mirror.mirror_refresh(force=True)
    assert matches(supervisor_client) == MORE - 1


def test_a_status_convoso_no_longer_has_leaves_the_count(supervisor_client, supervisor):
    assert matches(supervisor_client) == MORE
    SandboxStatus.objects.filter(code="QK003").delete()  # gone from Convoso, still mirrored
    with pytest.raises(services.errors.StatusNotFound):
        services.status_update(actor=supervisor, code="QK003", changes={"final": "Y"})
    assert matches(supervisor_client) == MORE - 1


def test_a_count_taken_while_a_change_commits_is_not_kept_past_it(
    supervisor_client, supervisor, django_capture_on_commit_callbacks
):
    """A search that runs while a write is under way counts the rows as they were, under the
    token the write set first; the write's commit replaces that token again, so the count
    taken meanwhile is never served after the commit."""
    assert matches(supervisor_client) == MORE
    with django_capture_on_commit_callbacks(execute=True):
        services.status_create(
            actor=supervisor, code="QKNEW", name="Quokka new", color=None, flags={}
        )
        # What a search in another process sees before the commit: the count without QKNEW,
        # kept under the token current now.
        what = "the same count as a search makes"
        assert counts.kept("sandbox", what, lambda: MORE) == MORE
        assert counts.kept("sandbox", what, lambda: -1) == MORE  # kept, for now
    assert counts.kept("sandbox", what, lambda: MORE + 1) == MORE + 1
    assert matches(supervisor_client) == MORE + 1


def test_without_redis_every_search_counts(supervisor_client, settings):
    settings.SEARCH_COUNTS_KEPT = False
    assert counted(supervisor_client)
    assert counted(supervisor_client)


def test_counts_are_kept_per_account():
    counts.kept("one", "q", lambda: 5)
    assert counts.kept("two", "q", lambda: 7) == 7
    assert counts.kept("one", "q", lambda: 0) == 5
    counts.mirror_changed("two")
    assert counts.kept("one", "q", lambda: 0) == 5
    assert counts.kept("two", "q", lambda: 8) == 8


def test_a_count_whose_change_went_unannounced_lags_at_most_count_timeout(monkeypatch):
    """Should a process stop between a commit and its token's replacement, the count it left
    is still served no longer than COUNT_TIMEOUT (the module's promise)."""
    monkeypatch.setattr(counts, "COUNT_TIMEOUT", 1)
    assert counts.kept("sandbox", "q", lambda: 5) == 5
    assert counts.kept("sandbox", "q", lambda: 6) == 5  # the change was never announced
    time.sleep(1.2)
    assert counts.kept("sandbox", "q", lambda: 6) == 6
