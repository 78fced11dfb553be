from __future__ import annotations

import pytest
from django.db import connection

from statusadmin.audit import triggers
from tests import tokens


@pytest.fixture
def entries_table_unlocked():  # type: ignore[no-untyped-def]
    """Lift the append-only triggers, as an attacker with database rights could."""

    def unlock() -> None:
        if connection.vendor == "postgresql":
            # Replica mode skips ordinary triggers for this transaction (superuser only).
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL session_replication_role = replica")
        else:
            triggers.remove(connection)

    return unlock


@pytest.fixture
def chain_key(settings):  # type: ignore[no-untyped-def]
    """A chain key configured: new entries are tagged."""
    settings.AUDIT_CHAIN_KEY = tokens.CHAIN_KEY
    return tokens.CHAIN_KEY


@pytest.fixture
def signing_key(settings, tmp_path):  # type: ignore[no-untyped-def]
    """An Ed25519 signing key in a file outside the database and the checkpoint store."""
    path = tmp_path / "keys" / "audit-signing.pem"
    path.parent.mkdir()
    path.write_bytes(tokens.SIGNING_PEM)
    settings.AUDIT_SIGNING_KEY_FILE = str(path)
    return tokens.SIGNING_KEY


@pytest.fixture
def no_audit_keys(settings):  # type: ignore[no-untyped-def]
    """Neither a chain key nor a signing key: the log as an install that predates them holds
    it. (Development makes keys of its own, settings.py, so a test of the unkeyed log says so.)"""
    settings.AUDIT_CHAIN_KEY = ""
    settings.AUDIT_SIGNING_KEY_FILE = ""
