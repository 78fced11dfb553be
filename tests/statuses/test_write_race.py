"""Two people (or two workers) writing the same status at once: nothing is lost, ever.

Real threads, each with its own database connection, talk to the Convoso sandbox served over
a real socket with added latency, on whichever database the suite runs against (SQLite and
PostgreSQL in CI). The invariants checked after every race:
- for every status, each succeeded entry's ``before`` equals the previous succeeded entry's
  ``after``, unless a change seen outside the dashboard sits between them;
- every change reported as saved is in Convoso at the end (unless a later saved change to
  the same field, made by someone who had seen it, replaced it).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict

import pytest
from django.db import connections

from statusadmin.audit.models import Action, AuditEntry, Outcome
from statusadmin.convoso.connection import get_client
from statusadmin.convoso.sandbox import SANDBOX_TOKEN, Sandbox
from statusadmin.statuses import mirror, services
from statusadmin.statuses.models import MirrorStatus
from statusadmin.statuses.selectors import status_version
from tests.factories import make_user
from tests.helpers import SandboxOverSocket

# Four eyes off: these are about the lock under every write; the approval flow has its own tests.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("no_approvals")]


@pytest.fixture
def slow_convoso(settings) -> Iterator[Callable[[float], None]]:  # type: ignore[no-untyped-def]
    """Point the dashboard at a sandbox over a socket that answers after ``latency`` seconds."""
    servers: list[SandboxOverSocket] = []

    def start(latency: float) -> None:
        server = SandboxOverSocket(Sandbox(latency_ms=latency * 1000))
        servers.append(server)
        settings.CONVOSO_SANDBOX = False
        settings.CONVOSO_API_URL = server.url
        settings.CONVOSO_AUTH_TOKEN = SANDBOX_TOKEN
        settings.CONVOSO_READ_TIMEOUT = 10
        settings.CONVOSO_RETRY_BACKOFF = 0

    yield start
    for server in servers:
        server.stop()


def in_threads(*work: Callable[[], object]) -> list[object]:
    """Run each callable in its own thread (own database connection); return what each
    returned or raised."""
    results: list[object] = [None] * len(work)

    def run(i: int) -> None:
        try:
            results[i] = work[i]()
        except Exception as exc:
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(work))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(t.is_alive() for t in threads), "a writer never finished"
    return results


def convoso_now(code: str) -> dict[str, object]:
    """What Convoso (the sandbox, over its socket) holds now."""
    return asdict(get_client().get(code))


def assert_nothing_lost(code: str) -> None:
    entries = list(
        AuditEntry.objects.filter(
            status_code=code, outcome__in=[Outcome.SUCCEEDED, Outcome.OBSERVED]
        ).order_by("seq")
    )
    previous = None
    for entry in entries:
        if entry.action == Action.UPDATE and previous is not None:
            assert entry.before == previous.after, (
                f"entry {entry.seq} by {entry.actor_username} started from a state that "
                f"entry {previous.seq} had not left"
            )
        previous = entry
    final = convoso_now(code)
    for i, entry in enumerate(entries):
        later = {f for e in entries[i + 1 :] for f in e.changed_fields}
        for field in entry.changed_fields:
            if field not in later:
                assert final[field] == entry.after[field], (
                    f"{entry.actor_username}'s saved change of {field} is not in Convoso"
                )
    if entries:
        assert entries[-1].after == final
    mirrored = MirrorStatus.objects.get(code=code).to_status()
    assert asdict(mirrored) == final


def page_version(code: str) -> str:
    mirror.mirror_refresh(force=True)
    return status_version(MirrorStatus.objects.get(code=code).to_status())


class LostUpdateTests:
    def test_dnc_on_and_a_colour_change_a_moment_apart(self, slow_convoso):
        """The review's case: Convoso answering in 0.4 s, the second edit 0.2 s after the first."""
        slow_convoso(0.4)
        anna, ben = make_user("anna", "Supervisor"), make_user("ben", "Supervisor")
        version = page_version("XFER")

        def turn_dnc_on() -> object:
            return services.status_update(
                actor=anna, code="XFER", changes={"dnc": "Y"}, reason="Opt-outs by text",
                expected_version=version,
            )  # fmt: skip

        def change_colour() -> object:
            time.sleep(0.2)
            return services.status_update(
                actor=ben, code="XFER", changes={"color": "#123456"}, expected_version=version
            )

        dnc, colour = in_threads(turn_dnc_on, change_colour)
        assert isinstance(dnc, services.WriteResult), dnc
        assert isinstance(colour, services.WriteResult), colour
        final = convoso_now("XFER")
        assert (final["dnc"], final["color"]) == (True, "#123456")
        assert colour.stale is True  # Ben is told the status had changed; his change merged
        assert colour.before.dnc is True
        assert_nothing_lost("XFER")

    def test_the_same_field_changed_twice_from_one_page_is_a_conflict(self, slow_convoso):
        slow_convoso(0.2)
        anna, ben = make_user("anna", "Supervisor"), make_user("ben", "Supervisor")
        version = page_version("XFER")

        def recolour(user, color: str, delay: float) -> Callable[[], object]:  # type: ignore[no-untyped-def]
            def go() -> object:
                time.sleep(delay)
                return services.status_update(
                    actor=user, code="XFER", changes={"color": color}, expected_version=version
                )

            return go

        first, second = in_threads(recolour(anna, "#111111", 0), recolour(ben, "#222222", 0.1))
        assert isinstance(first, services.WriteResult), first
        assert isinstance(second, services.EditConflict), second
        assert "was changed after your page loaded (now colour #111111)" in second.explanation
        assert convoso_now("XFER")["color"] == "#111111"
        refused = AuditEntry.objects.get(actor_username="ben")
        assert (refused.outcome, refused.failure_kind) == ("rejected", "conflict")
        assert "Not sent by the dashboard" in refused.error_message
        assert_nothing_lost("XFER")

    @pytest.mark.parametrize("seed", [1, 2, 3])
    def test_many_people_at_once(self, slow_convoso, seed):
        slow_convoso(0.05)
        rng = random.Random(seed)
        version = page_version("HOT")
        other_version = page_version("LVM")
        changes = [
            {"callback": "N"}, {"contact": "N"}, {"voicemail": "Y"}, {"final": "Y"},
            {"color": "#ABCDEF"}, {"name": "Hot lead (raced)"},
        ]  # fmt: skip
        users = [make_user(f"racer{i}", "Supervisor") for i in range(len(changes) + 1)]

        def writer(user, code: str, change: dict, seen: str) -> Callable[[], object]:  # type: ignore[no-untyped-def]
            delay = rng.uniform(0, 0.15)

            def go() -> object:
                time.sleep(delay)
                return services.status_update(
                    actor=user, code=code, changes=change, expected_version=seen
                )

            return go

        work = [writer(u, "HOT", c, version) for u, c in zip(users, changes, strict=False)]
        work.append(writer(users[-1], "LVM", {"final": "Y"}, other_version))
        results = in_threads(*work)
        assert all(isinstance(r, services.WriteResult) for r in results), results
        final = convoso_now("HOT")
        assert (final["callback"], final["contact"], final["voicemail"], final["final"]) == (
            False, False, True, True,
        )  # fmt: skip
        assert (final["color"], final["name"]) == ("#ABCDEF", "Hot lead (raced)")
        assert convoso_now("LVM")["final"] is True
        assert_nothing_lost("HOT")
        assert_nothing_lost("LVM")
