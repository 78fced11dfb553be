"""Every Convoso fault, on every endpoint, through the dashboard, over a real socket.

The sandbox is served over HTTP and its fault switch (SandboxFault, as set by
`manage.py convoso_sandbox_fault`) makes it fail for real: replies that come too late, broken
connections, 5xx, HTML instead of JSON, undocumented errors, a rejected token. "refused"
switches the sandbox's server off, so nothing listens on its port. Each case must show a clear
message, never a server error, and leave the right outcome in the audit log.
"""

from __future__ import annotations

import re

import pytest

from statusadmin.audit.models import AuditEntry
from statusadmin.convoso.models import SandboxFault, SandboxStatus
from statusadmin.convoso.sandbox import SANDBOX_TOKEN, Sandbox, seed
from tests.helpers import SandboxOverSocket, age_mirror, attempts

HX = {"HTTP_HX_REQUEST": "true"}

# kind -> what the supervisor reads, per endpoint
MESSAGES = {
    "timeout": "did not answer in time",
    "disconnect": "broke before it answered",
    "http_500": "HTTP 500",
    "http_503": "HTTP 503",
    "malformed": "could not read",
    "unknown_code": "Sandbox fault: account suspended",
    "bad_token": "did not accept the dashboard",
    "refused": "could not be reached",
}
# kind -> the attempt's outcome, and what the check right after a lost reply found (the same
# for updates and inserts: the sandbox fails the same way on both)
OUTCOMES = {
    "timeout": ("unknown", "succeeded"),  # applied, reply lost; the check finds the change
    "disconnect": ("unknown", "failed"),  # dropped unread; the check shows nothing changed
    "http_500": ("unknown", "failed"),
    "http_503": ("failed", None),
    "malformed": ("unknown", "succeeded"),
    "unknown_code": ("rejected", None),
    "bad_token": ("rejected", None),
    "refused": ("failed", None),
}


@pytest.fixture
def convoso_server(transactional_db):  # type: ignore[no-untyped-def]
    """A sandbox server of this test's own, so that "refused" can simply switch it off."""
    server = SandboxOverSocket(Sandbox())
    yield server
    server.stop()


@pytest.fixture
def dashboard(settings, convoso_server, supervisor, client):  # type: ignore[no-untyped-def]
    """The dashboard configured against the sandbox over HTTP, as against a real Convoso."""
    seed()
    settings.CONVOSO_SANDBOX = False
    settings.CONVOSO_API_URL = convoso_server.url
    settings.CONVOSO_AUTH_TOKEN = SANDBOX_TOKEN
    settings.CONVOSO_READ_TIMEOUT = 0.5
    settings.CONVOSO_RETRIES = 1
    settings.CONVOSO_RETRY_BACKOFF = 0
    client.force_login(supervisor)
    assert client.get("/").status_code == 200  # first sync of this "account"
    return client


def switch_on(server: SandboxOverSocket, kind: str, endpoint: str) -> None:
    if kind == "refused":
        server.stop()  # nothing listens on its port any more
        return
    # Persistent, so that retries meet it too; short delay, longer than the read timeout.
    SandboxFault.objects.create(endpoint=endpoint, kind=kind, remaining=None, delay_seconds=1.0)


@pytest.mark.parametrize("kind", MESSAGES)
def test_search(dashboard, convoso_server, kind):
    switch_on(convoso_server, kind, "search")
    age_mirror(10**6)
    response = dashboard.post("/refresh/", {"q": ""}, **HX)
    assert response.status_code == 200
    html = response.content.decode()
    assert MESSAGES[kind] in html
    assert 'id="row-XFER"' in html  # still reading from the mirror


def attempt_and_resolution(kind: str) -> AuditEntry:
    """The attempt, after checking its outcome and that of its resolution, if any."""
    attempt = attempts().exclude(action="resolve").get()
    assert attempt.error_message
    outcome, resolved = OUTCOMES[kind]
    assert attempt.outcome == outcome
    assert [r.outcome for r in AuditEntry.objects.filter(resolves=attempt)] == (
        [resolved] if resolved else []
    )
    return attempt


@pytest.mark.parametrize("kind", MESSAGES)
def test_update(dashboard, convoso_server, kind):
    switch_on(convoso_server, kind, "update")
    response = dashboard.post("/statuses/XFER/flag/", {"callback": "Y"}, **HX)
    assert response.status_code == 200
    html = response.content.decode()
    attempt_and_resolution(kind)
    if OUTCOMES[kind][1] == "succeeded":
        assert "Saved XFER: Callback No → Yes." in html
        assert "a check afterwards shows the change was made" in html
        assert SandboxStatus.objects.get(code="XFER").callback is True
    else:
        assert MESSAGES[kind] in html
        assert 'role="alert"' in html
        assert SandboxStatus.objects.get(code="XFER").callback is False
    if OUTCOMES[kind][1] == "failed":
        assert "the change was not made, so it is safe to try again" in html


@pytest.mark.parametrize("kind", MESSAGES)
def test_insert(dashboard, convoso_server, kind):
    switch_on(convoso_server, kind, "insert")
    response = dashboard.post(
        "/statuses/new/", {"code": "NEW1", "name": "New", "color": "#123456"}, **HX
    )
    assert response.status_code == 200
    attempt_and_resolution(kind)
    created = SandboxStatus.objects.filter(code="NEW1").exists()
    if OUTCOMES[kind][1] == "succeeded":
        assert response["HX-Redirect"] == "/?created=NEW1#row-NEW1"
        assert created
    else:
        assert MESSAGES[kind] in response.content.decode()
        assert not created
        assert re.search(r'class="error-summary"|id="id_code_error"', response.content.decode())


def test_a_503_that_clears_is_retried_transparently(dashboard):
    SandboxFault.objects.create(endpoint="update", kind="http_503", remaining=1)
    response = dashboard.post("/statuses/XFER/flag/", {"callback": "Y"}, **HX)
    assert "Saved XFER: Callback No → Yes." in response.content.decode()
    assert attempts().get().outcome == "succeeded"
    assert not SandboxFault.objects.exists()
