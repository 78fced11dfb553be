from __future__ import annotations

from collections.abc import Iterator

import hypothesis
import pytest
import responses

from statusadmin.convoso.sandbox import Sandbox
from tests.factories import make_user
from tests.helpers import REAL_API, RealConvoso, SandboxOverSocket
from tests.oidc.server import OidcProvider, ProviderNotInstalled
from tests.tokens import REAL_TOKEN

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


@pytest.fixture(scope="session")
def _sandbox_server_process(django_db_setup: None) -> Iterator[SandboxOverSocket]:
    # Depends on django_db_setup so it stops before the test database is dropped.
    server = SandboxOverSocket(Sandbox())
    yield server
    server.stop()


@pytest.fixture
def sandbox_server(
    _sandbox_server_process: SandboxOverSocket, transactional_db: None
) -> SandboxOverSocket:
    return _sandbox_server_process


@pytest.fixture(scope="session")
def _oidc_provider_process() -> Iterator[OidcProvider]:
    try:
        provider = OidcProvider().start()
    except ProviderNotInstalled as exc:
        raise pytest.fail.Exception(str(exc), pytrace=False) from None
    yield provider
    provider.stop()


@pytest.fixture
def oidc_provider(_oidc_provider_process: OidcProvider) -> OidcProvider:
    """The loopback OpenID Connect provider (tests/oidc/), its test switches reset."""
    _oidc_provider_process.reset()
    return _oidc_provider_process


# --- users and roles ------------------------------------------------------------------------------


@pytest.fixture
def supervisor(db):  # type: ignore[no-untyped-def]
    from statusadmin.accounts.roles import SUPERVISOR

    return make_user("sue", SUPERVISOR)


@pytest.fixture
def compliance_user(db):  # type: ignore[no-untyped-def]
    from statusadmin.accounts.roles import COMPLIANCE

    return make_user("carl", COMPLIANCE)


@pytest.fixture
def approver_user(db):  # type: ignore[no-untyped-def]
    from statusadmin.accounts.roles import APPROVER

    return make_user("april", APPROVER)


@pytest.fixture
def no_approvals(settings):  # type: ignore[no-untyped-def]
    """Four eyes switched off (APPROVAL_FIELDS empty): DNC changes go straight through."""
    settings.APPROVAL_FIELDS = []


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


@pytest.fixture
def real_convoso(settings) -> Iterator[RealConvoso]:  # type: ignore[no-untyped-def]
    settings.CONVOSO_SANDBOX = False
    settings.CONVOSO_AUTH_TOKEN = REAL_TOKEN
    settings.CONVOSO_API_URL = REAL_API
    settings.CONVOSO_RETRY_BACKOFF = 0
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield RealConvoso(mock)
