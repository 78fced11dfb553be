from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import hypothesis
import pytest
import requests
import responses
from urllib3.exceptions import NewConnectionError, ProtocolError

from statusadmin.convoso.client import ConvosoClient
from statusadmin.convoso.sandbox import SANDBOX_TOKEN, Sandbox, make_server

pytest_plugins = ["tests.secret_scan"]

# For `make mutation` (--hypothesis-profile=mutation): mutmut runs the tests again and again in
# one process, so a test class's property tests meet new instances of it (which Hypothesis
# warns about), and each mutant must get the same examples, not ones a previous mutant failed.
hypothesis.settings.register_profile(
    "mutation",
    derandomize=True,
    database=None,
    suppress_health_check=[hypothesis.HealthCheck.differing_executors],
)


@pytest.fixture(autouse=True)
def _checkpoints_in_tmp(settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.AUDIT_CHECKPOINT_FILE = str(tmp_path / "audit-checkpoints.jsonl")


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):  # type: ignore[no-untyped-def]
    # PBKDF2's deliberate slowness costs ~0.3 s per user created; tests need no such protection.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _uses_database(request: pytest.FixtureRequest) -> tuple[bool, bool]:
    """(uses the database, in transactional mode) for the requesting test."""
    names = set(request.fixturenames)
    marker = request.node.get_closest_marker("django_db")
    transactional = bool(names & {"transactional_db", "live_server"}) or bool(
        marker and (marker.kwargs.get("transaction") or (marker.args and marker.args[0]))
    )
    return bool(marker or names & {"db", "transactional_db", "live_server"}), transactional


@pytest.fixture(autouse=True)
def _database_test_state(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every database test starts with an empty cache and the audit triggers in place, and
    leaves its audit rows to the secret scan.

    The triggers must be there because `migrate` put them there: this fixture never installs
    them, it only checks. A transactional test ends with a flush (DELETE on SQLite, TRUNCATE
    on PostgreSQL), which the triggers rightly refuse; so they are lifted for the flush, and
    the flush's own post_migrate signal (the production code that `migrate` runs) puts them
    back. If it didn't, the next database test fails here.
    """
    uses_db, transactional = _uses_database(request)
    if not uses_db:
        yield
        return
    request.getfixturevalue("transactional_db" if transactional else "db")
    from django.core.cache import cache
    from django.db import connection

    from statusadmin.audit import triggers
    from tests.secret_scan import dump_audit_rows

    missing = triggers.missing(connection)
    assert not missing, f"the audit table's append-only triggers are missing: {missing}"
    # The cache table outlives a transactional test's flush; what it holds (sessions' users,
    # the mirror's freshness) describes rows that no longer exist.
    cache.clear()
    yield
    dump_audit_rows()
    if transactional:
        triggers.remove(connection)


class SandboxServer:
    """The Convoso sandbox served over a real socket on 127.0.0.1.

    Each request runs in its own thread with its own database connection (tests use a database
    file, not SQLite's per-connection in-memory one), so tests that use it need transactional_db.
    """

    def __init__(self, sandbox: Sandbox) -> None:
        self.httpd = make_server("127.0.0.1", 0, sandbox, quiet=True)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/v1"
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def client(self, token: str = SANDBOX_TOKEN, **kwargs: object) -> ConvosoClient:
        kwargs.setdefault("read_timeout", 5)
        kwargs.setdefault("backoff", 0)
        return ConvosoClient(api_url=self.url, token=token, **kwargs)  # type: ignore[arg-type]

    def stop(self) -> None:
        if self._thread.is_alive():
            self.httpd.shutdown()
            self.httpd.server_close()
            self._thread.join(5)


@pytest.fixture(scope="session")
def _sandbox_server_process(django_db_setup: None) -> Iterator[SandboxServer]:
    # Depends on django_db_setup so it stops before the test database is dropped.
    server = SandboxServer(Sandbox())
    yield server
    server.stop()


@pytest.fixture
def sandbox_server(_sandbox_server_process: SandboxServer, transactional_db: None) -> SandboxServer:
    return _sandbox_server_process


# --- users and roles ------------------------------------------------------------------------------


def make_user(username: str, role: str | None = None, **extra: object):  # type: ignore[no-untyped-def]
    from django.contrib.auth.models import Group, User

    from statusadmin.accounts.roles import ensure_roles

    ensure_roles()  # transactional tests flush the groups the migration made
    user = User.objects.create_user(username, password="pw-" + username, **extra)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def supervisor(db):  # type: ignore[no-untyped-def]
    from statusadmin.accounts.roles import SUPERVISOR

    return make_user("sue", SUPERVISOR)


@pytest.fixture
def compliance_user(db):  # type: ignore[no-untyped-def]
    from statusadmin.accounts.roles import COMPLIANCE

    return make_user("carl", COMPLIANCE)


@pytest.fixture
def admin_user(db):  # type: ignore[no-untyped-def]
    return make_user("ada", is_staff=True, is_superuser=True)


@pytest.fixture
def supervisor_client(client, supervisor):  # type: ignore[no-untyped-def]
    client.force_login(supervisor)
    return client


@pytest.fixture
def compliance_client(client, compliance_user):  # type: ignore[no-untyped-def]
    client.force_login(compliance_user)
    return client


def age_mirror(seconds: float) -> None:
    """Pretend the mirror's last sync attempt was `seconds` ago (and that no worker has the
    fresh state cached)."""
    from datetime import timedelta

    from django.core.cache import cache
    from django.utils import timezone

    from statusadmin.statuses.models import MirrorSync

    MirrorSync.objects.update(attempted_at=timezone.now() - timedelta(seconds=seconds))
    cache.clear()


def refused(detail: str = "Connection refused") -> requests.ConnectionError:
    """What requests raises when nothing answers the TCP connection: nothing was sent."""
    return requests.ConnectionError(NewConnectionError(None, detail))  # type: ignore[arg-type]


def dropped() -> requests.ConnectionError:
    """What requests raises when the connection breaks after the request went out."""
    return requests.ConnectionError(ProtocolError("Connection aborted.", ConnectionResetError()))


# --- a "real" Convoso, mocked with responses ------------------------------------------------

REAL_API = "https://convoso.test/v1"
from tests.tokens import REAL_TOKEN  # noqa: E402  (re-exported for tests)


def status_item(code: str, name: str, *, custom: bool = True, **flags: str) -> dict[str, object]:
    from statusadmin.convoso.validation import FLAGS

    item: dict[str, object] = {"status": code, "name": name, "custom_status": custom}
    item.update({flag: flags.get(flag, "N") for flag in FLAGS})
    item["hex_color"] = "#00AA00"
    item["workflow_disposition_event_option"] = ""
    return item


class RealConvoso:
    """Settings for a real token, with Convoso's replies scripted through `responses`."""

    def __init__(self, mock: responses.RequestsMock) -> None:
        self.mock = mock
        self.catalogue = [
            status_item("XFER", "Transferred", reached="Y"),
            status_item("COMP", "Completed", custom=False, final="Y"),
        ]

    def url(self, endpoint: str) -> str:
        return f"{REAL_API}/status/{endpoint}"

    def serve_catalogue(self) -> None:
        """Answer every search with the catalogue (filtered like Convoso would)."""

        def reply(request):  # type: ignore[no-untyped-def]
            from urllib.parse import parse_qs

            query = parse_qs(request.body or "").get("query", [""])[0].lower()
            items = [
                i
                for i in self.catalogue
                if not query
                or (
                    isinstance(i, dict)
                    and (query in str(i["status"]).lower() or query in str(i["name"]).lower())
                )
            ]
            return 200, {}, json.dumps({"data": items})

        self.mock.add_callback(responses.POST, self.url("search"), callback=reply)

    def calls_to(self, endpoint: str) -> int:
        return sum(1 for c in self.mock.calls if c.request.url == self.url(endpoint))


@pytest.fixture
def real_convoso(settings) -> Iterator[RealConvoso]:  # type: ignore[no-untyped-def]
    settings.CONVOSO_SANDBOX = False
    settings.CONVOSO_AUTH_TOKEN = REAL_TOKEN
    settings.CONVOSO_API_URL = REAL_API
    settings.CONVOSO_RETRY_BACKOFF = 0
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield RealConvoso(mock)
