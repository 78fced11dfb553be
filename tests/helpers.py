"""Plain helpers for tests: not fixtures, so any test can call them directly."""

from __future__ import annotations

import io
import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
import responses
from django.core.management import CommandError, call_command
from django.db import connection, connections
from urllib3.exceptions import NewConnectionError, ProtocolError

from statusadmin.convoso.client import ConvosoClient
from statusadmin.convoso.sandbox import SANDBOX_TOKEN, Sandbox, make_server
from statusadmin.convoso.status import FLAGS

ROOT = Path(__file__).resolve().parents[1]


def signed_in(user: Any) -> Any:
    """A test client of its own, signed in as ``user`` (for tests with several people)."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


def database_url() -> str:
    """The test database, for a command or worker in another process."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


def subprocess_environment(**extra: str) -> dict[str, str]:
    """The environment for another process of this project, on the test database."""
    return {**os.environ, "DATABASE_URL": database_url(), **extra}


class SandboxOverSocket:
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


@contextmanager
def status_held_by_another_writer(code: str) -> Iterator[None]:
    """Another worker holds ``code``'s write lock (as while its change is on its way to
    Convoso) until the block ends."""
    from statusadmin.convoso.connection import SANDBOX_ACCOUNT
    from statusadmin.statuses import services

    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with services._one_writer(SANDBOX_ACCOUNT, code):
                holding.set()
                release.wait(20)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(10)
        yield
    finally:
        release.set()
        holder.join(10)


def verify_exit(*args: str) -> tuple[int, str]:
    """verify_audit's exit status and what it said."""
    out = io.StringIO()
    try:
        call_command("verify_audit", *args, stdout=out)
    except CommandError as exc:
        return exc.returncode, str(exc)
    return 0, out.getvalue()


def raw(sql: str, params: list[Any] | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])


# --- a "real" Convoso, mocked with responses ------------------------------------------------

REAL_API = "https://convoso.test/v1"


def status_item(code: str, name: str, *, custom: bool = True, **flags: str) -> dict[str, object]:
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


# --- a second factor, set up and passed as a person would ----------------------------------------


def totp_code(user: Any) -> str:
    """The code the person's authenticator app shows now (their TOTP authenticator's secret)."""
    from allauth.mfa.models import Authenticator
    from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
    from allauth.mfa.utils import decrypt

    authenticator = Authenticator.objects.get(user=user, type=Authenticator.Type.TOTP)
    counter = int(time.time()) // 30
    return format_hotp_value(hotp_value(decrypt(authenticator.data["secret"]), counter))


def enrol_totp(user: Any) -> None:
    """An authenticator app set up for ``user`` (what the enrolment page leaves behind)."""
    from allauth.mfa.models import Authenticator
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    if not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
        TOTP.activate(user, generate_totp_secret())


def pass_second_factor(client: Any, user: Any) -> None:
    """``client``, signed in as ``user``, passes a second factor through the real verification
    page (setting up an authenticator app first if they have none)."""
    from allauth.mfa.models import Authenticator
    from allauth.mfa.totp.internal.auth import TOTP
    from django.core.cache import cache

    enrol_totp(user)
    # A code is good for its own 30 s window only (no tolerance): near the window's end, wait for
    # the next one, as a person would, so the code is not stale by the time it is posted.
    left = 30 - time.time() % 30
    if left < 3:
        time.sleep(left + 0.05)
    code = totp_code(user)
    # A code is refused if used before within its 30 s (replay): this helper may run twice in
    # one window, where a person would wait for the next code.
    totp = TOTP(Authenticator.objects.get(user=user, type=Authenticator.Type.TOTP))
    cache.delete(totp._get_used_cache_key(code))
    client.get("/accounts/2fa/reauthenticate/")  # the page sets the CSRF cookie
    token = client.cookies.get("csrftoken")
    form = {"code": code, "csrfmiddlewaretoken": token.value if token else ""}
    response = client.post("/accounts/2fa/reauthenticate/", form)
    assert response.status_code == 302, response.content.decode()[:2000]


def attempts() -> Any:
    """The audit log without the catalogue copy that the first sync of an account records
    (audit/history.py): the entries about what people and Convoso did."""
    from statusadmin.audit.models import Action, AuditEntry

    return AuditEntry.objects.exclude(action=Action.CATALOGUE_COPY)
