"""Production (DJANGO_DEBUG=0) never runs silently without the audit keys: the web server, the
worker and migrate refuse to start, naming the settings and `manage.py audit_keygen`; the
processes that write checkpoints refuse without the private key. Each run is a new process,
started as a deployer would start it."""

from __future__ import annotations

import os
import secrets
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from statusadmin.audit import checks, keys

ROOT = Path(__file__).resolve().parents[2]
NAMED = ("AUDIT_CHAIN_KEY", "AUDIT_CHAIN_KEY_FILE", "AUDIT_SIGNING_KEY_FILE", "audit_keygen")


def production(tmp_path: Path, **env: str) -> dict[str, str]:
    ours = ("DJANGO_", "AUDIT_", "DATABASE_", "STATUSADMIN_", "SECURE_")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    return {
        **clean,
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "statusadmin.example.com",
        "STATUSADMIN_DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        **env,
    }


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, "manage.py", *args], env)


@pytest.fixture
def keygen(tmp_path: Path) -> dict[str, str]:
    """Keys written with audit_keygen, as the README's set-up writes them."""
    folder = tmp_path / "secrets"
    folder.mkdir()
    signing, chain = folder / "audit-signing.pem", folder / "audit-chain-key"
    done = manage(
        production(tmp_path), "audit_keygen", "--signing-key", str(signing), "--chain-key",
        str(chain),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    public = tmp_path / "public"
    public.mkdir()
    (folder / "audit-signing.pub.pem").rename(public / "audit-signing.pem")
    return {
        "AUDIT_CHAIN_KEY_FILE": str(chain),
        "AUDIT_SIGNING_KEY_FILE": str(signing),
        "AUDIT_PUBLIC_KEYS_DIR": str(public),
    }


class RefusedWithoutKeysTests:
    def test_migrate_stops_before_touching_the_database(self, tmp_path):
        done = manage(production(tmp_path), "migrate", "--noinput")
        assert done.returncode != 0
        for name in (*NAMED, "AUDIT_PUBLIC_KEYS_DIR", "python manage.py audit_keygen"):
            assert name in done.stderr, (name, done.stderr)
        assert "audit.E003" in done.stderr
        assert "audit.E004" in done.stderr
        with sqlite3.connect(tmp_path / "db.sqlite3") as db:  # the checks opened it, no more
            assert db.execute("SELECT count(*) FROM sqlite_master").fetchone() == (0,)
        assert not (tmp_path / "data" / "dev-keys").exists()

    def test_the_worker_stops(self, tmp_path):
        done = manage(production(tmp_path), "worker", "--batch")
        assert done.returncode != 0
        assert all(name in done.stderr for name in NAMED), done.stderr

    def test_gunicorn_stops(self, tmp_path):
        gunicorn = Path(sys.executable).parent / "gunicorn"
        args = [str(gunicorn), "--bind", "127.0.0.1:0", "--workers", "1", "statusadmin.wsgi"]
        done = run(args, production(tmp_path))
        assert done.returncode != 0
        assert all(name in done.stderr for name in NAMED), done.stderr[-3000:]

    def test_a_chain_key_alone_is_not_enough(self, tmp_path, keygen):
        env = production(tmp_path, AUDIT_CHAIN_KEY_FILE=keygen["AUDIT_CHAIN_KEY_FILE"])
        done = manage(env, "check")
        assert done.returncode != 0
        assert "audit.E004" in done.stderr
        assert "audit.E003" not in done.stderr


class StartsWithKeysTests:
    def test_keygen_runs_with_no_key_configured(self, keygen):
        assert Path(keygen["AUDIT_SIGNING_KEY_FILE"]).exists()

    def test_every_process_with_every_key(self, tmp_path, keygen):
        env = production(tmp_path, **keygen)
        done = manage(env, "check", "--deploy", "--fail-level", "WARNING")
        assert done.returncode == 0, done.stdout + done.stderr

    def test_a_web_process_needs_no_private_key(self, tmp_path, keygen):
        env = production(tmp_path, **{**keygen, "AUDIT_SIGNING_KEY_FILE": ""})
        done = manage(env, "migrate", "--noinput")
        assert done.returncode == 0, done.stderr

    def test_but_the_checkpoint_writers_do(self, tmp_path, keygen):
        env = production(tmp_path, **{**keygen, "AUDIT_SIGNING_KEY_FILE": ""})
        assert manage(env, "migrate", "--noinput").returncode == 0
        for command in (["audit_checkpoint"], ["worker", "--batch"]):
            done = manage(env, *command)
            assert done.returncode != 0, command
            assert "AUDIT_SIGNING_KEY_FILE" in done.stderr, done.stderr
            assert "unsigned" in done.stderr, done.stderr
        assert not (tmp_path / "data" / "audit-checkpoints.jsonl").exists()


class InProcessTests:
    """The same rules, where a test can set them (pytest-django runs with DEBUG off, but what
    the keys need is decided when the settings load: AUDIT_KEYS_REQUIRED)."""

    def test_development_requires_nothing(self, settings):
        settings.AUDIT_KEYS_REQUIRED = False
        settings.AUDIT_CHAIN_KEY = settings.AUDIT_SIGNING_KEY_FILE = ""
        assert checks.keys_configured() == []
        assert keys.checkpoint_signer() is None

    def test_production_requires_both(self, settings):
        settings.AUDIT_KEYS_REQUIRED = True
        settings.AUDIT_CHAIN_KEY = settings.AUDIT_SIGNING_KEY_FILE = ""
        settings.AUDIT_PUBLIC_KEYS_DIR = ""
        assert [e.id for e in checks.keys_configured()] == ["audit.E003", "audit.E004"]
        with pytest.raises(ImproperlyConfigured) as exc:
            keys.checkpoint_signer()
        assert str(exc.value) == (
            "With DJANGO_DEBUG=0 checkpoints are never written unsigned, and "
            "AUDIT_SIGNING_KEY_FILE is not set here. Set it where checkpoints are written (the "
            "worker, audit_checkpoint); `python manage.py audit_keygen` writes a key pair."
        )
        with pytest.raises(ImproperlyConfigured, match="audit_keygen"):
            checks.refuse_to_start_without_keys()
