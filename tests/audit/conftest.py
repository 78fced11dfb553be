from __future__ import annotations

import pytest
from django.db import connection

from statusadmin.audit import triggers


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
