"""An account's token, once saved, is nowhere in plain text: not in the database's file or a
dump of it, not in `dumpdata`, the logs, the admin's pages or the audit exports. Each test
also finds something it should (the account's name, the ciphertext), so a test that read the
wrong thing can't pass by finding nothing.

ACCOUNT_TOKEN is also in tests/tokens.ALL, so the run's secret scan looks for it in every
response, log record and audit row of every test."""

from __future__ import annotations

import io
import logging
import shutil
import subprocess
from pathlib import Path

import pytest
import responses
from django.core.management import call_command
from django.db import connection
from django.test import Client

from statusadmin.convoso import tenancy
from statusadmin.convoso.models import ConvosoAccount
from statusadmin.statuses import mirror
from tests.factories import make_user
from tests.helpers import REAL_API, RealConvoso, pass_second_factor
from tests.tokens import ACCOUNT_TOKEN

TOKEN = ACCOUNT_TOKEN.encode()


@pytest.fixture
def convoso(settings):  # type: ignore[no-untyped-def]
    settings.CONVOSO_RETRY_BACKOFF = 0
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        real = RealConvoso(mock)
        real.serve_catalogue()
        yield real


def add_with_the_command() -> ConvosoAccount:
    out = io.StringIO()
    call_command(
        "convoso_account", "add", "Secret office", "--api-url", REAL_API, "--slug", "secret",
        stdin=io.StringIO(ACCOUNT_TOKEN + "\n"), stdout=out,
    )  # fmt: skip
    assert ACCOUNT_TOKEN not in out.getvalue()
    return ConvosoAccount.objects.get(slug="secret")


def work_in(account: ConvosoAccount) -> None:
    """Something for the logs and the audit log: the account's catalogue, copied."""
    found = tenancy.by_slug(account.slug)
    assert found is not None
    with tenancy.use(found):
        mirror.mirror_refresh()


def superuser() -> Client:
    ada = make_user("ada", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(ada)
    pass_second_factor(client, ada)
    return client


@pytest.mark.django_db
class StoredTests:
    def test_not_in_dumpdata(self, convoso):
        account = add_with_the_command()
        out = io.StringIO()
        call_command("dumpdata", stdout=out)
        dumped = out.getvalue()
        assert account.token_encrypted in dumped
        assert ACCOUNT_TOKEN not in dumped
        assert ACCOUNT_TOKEN[-12:] not in dumped

    def test_not_in_the_logs(self, convoso, caplog):
        with caplog.at_level(logging.DEBUG):
            account = add_with_the_command()
            work_in(account)
            # A refused token is logged as refused, never shown.
            convoso.mock.replace(
                responses.POST, convoso.url("search"),
                json={"success": False, "error": f"Invalid authentication token {ACCOUNT_TOKEN}"},
            )  # fmt: skip
            with pytest.raises(Exception, match="Convoso refused this token"):
                call_command(
                    "convoso_account", "add", "Other", "--api-url", REAL_API,
                    stdin=io.StringIO(ACCOUNT_TOKEN), stdout=io.StringIO(),
                )  # fmt: skip
        logged = "\n".join(
            f"{r.getMessage()} {r.__dict__}" for r in caplog.records
        ) + caplog.text  # fmt: skip
        assert "convoso search" in logged
        assert ACCOUNT_TOKEN not in logged

    def test_not_in_the_admin_pages(self, convoso):
        account = add_with_the_command()
        client = superuser()
        change = f"/admin/convoso/convosoaccount/{account.pk}/change/"
        pages = [client.get(url) for url in (
            "/admin/convoso/convosoaccount/", change, change.replace("change/", "history/"),
        )]  # fmt: skip
        # A change refused by Convoso shows the form again, without what was typed.
        convoso.mock.replace(
            responses.POST, convoso.url("search"),
            json={"success": False, "error": "Invalid authentication token"},
        )  # fmt: skip
        form = {
            "name": account.name, "api_url": REAL_API, "enabled": "on", "token": ACCOUNT_TOKEN,
            "memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0",
        }  # fmt: skip
        pages.append(client.post(change, form))
        assert "Convoso refused this token" in pages[-1].content.decode()
        for page in pages:
            assert page.status_code == 200
            html = page.content.decode()
            assert "Secret office" in html
            assert ACCOUNT_TOKEN not in html
            assert account.token_encrypted not in html
        assert f"ends in ••••{ACCOUNT_TOKEN[-4:]}" in pages[1].content.decode()

    def test_not_in_the_audit_exports(self, convoso):
        account = add_with_the_command()
        work_in(account)
        client = superuser()
        for export in ("audit/export.csv", "audit/report.csv", "audit/export.jsonl"):
            response = client.get(f"/a/{account.slug}/{export}")
            assert response.status_code == 200, export
            body = b"".join(response.streaming_content)  # type: ignore[attr-defined]
            assert b"catalogue" in body.lower(), export  # the copy made at its first sync
            assert TOKEN not in body, export


@pytest.mark.django_db(transaction=True)
def test_not_in_the_sqlite_database_file(convoso):
    if connection.vendor != "sqlite":
        pytest.skip("the database file of SQLite")
    add_with_the_command()
    connection.close()  # nothing held back in this connection
    name = Path(connection.settings_dict["NAME"])
    files = [path for path in (name, Path(f"{name}-wal")) if path.exists()]
    stored = b"".join(path.read_bytes() for path in files)
    assert b"Secret office" in stored
    assert TOKEN not in stored
    assert TOKEN[-12:] not in stored


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_not_in_a_pg_dump(convoso):
    if connection.vendor != "postgresql":
        pytest.skip("pg_dump: needs PostgreSQL")
    pg_dump = shutil.which("pg_dump")
    assert pg_dump, "pg_dump is not installed"
    add_with_the_command()
    db = connection.settings_dict
    command = [pg_dump, "--no-owner", "-h", db["HOST"] or "127.0.0.1",
               "-p", str(db["PORT"] or 5432), "-U", db["USER"], db["NAME"]]  # fmt: skip
    env = {"PATH": "/usr/bin:/bin", "PGPASSWORD": db["PASSWORD"] or ""}
    dumped = subprocess.run(command, env=env, capture_output=True, timeout=120, check=True).stdout
    assert b"Secret office" in dumped
    assert TOKEN not in dumped
    assert TOKEN[-12:] not in dumped
