"""The system as a deployer installs it: an empty database, `migrate`, nothing else.

Each test runs `python -m tests.install.probe` in a new process against a database created
for it, so no fixture of this test suite can set up (or repair) anything the probe finds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
POSTGRES_SERVER = os.environ.get("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")


def probe(database_url: str, tmp_path: Path) -> dict[str, object]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "STATUSADMIN_DATA_DIR": str(tmp_path / "data"),
        "CACHE_URL": "",
        "CONVOSO_AUTH_TOKEN": "",
        "DJANGO_SETTINGS_MODULE": "statusadmin.settings",
    }
    done = subprocess.run(
        [sys.executable, "-m", "tests.install.probe"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture
def fresh_postgres() -> Iterator[str]:
    psycopg = pytest.importorskip("psycopg")
    import dj_database_url

    config = dj_database_url.parse(POSTGRES_SERVER)
    admin_dsn = POSTGRES_SERVER.rsplit("/", 1)[0] + "/postgres"
    try:
        admin = psycopg.connect(admin_dsn, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL server at {config['HOST']}:{config['PORT']}: {exc}")
    name = f"statusadmin_fresh_{uuid.uuid4().hex[:10]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield POSTGRES_SERVER.rsplit("/", 1)[0] + f"/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def assert_installed_system_works(found: dict[str, object]) -> None:
    assert found["update_refused"] is True, found
    assert found["delete_refused"] is True, found
    assert found["check"] == "ok", found
    # Logging in and the first page need the cache table: `migrate` alone must provide it.
    assert found["login_status"] == 302, found
    assert found["home_status"] == 200, found


class FreshInstallTests:
    def test_sqlite_migrated_from_zero(self, tmp_path):
        found = probe(f"sqlite:///{tmp_path / 'fresh.sqlite3'}", tmp_path)
        assert found["vendor"] == "sqlite"
        assert_installed_system_works(found)

    def test_postgresql_migrated_from_zero(self, fresh_postgres, tmp_path):
        found = probe(fresh_postgres, tmp_path)
        assert found["vendor"] == "postgresql"
        assert_installed_system_works(found)
