"""System check: the audit table on the configured database really has its append-only guard."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor

from . import triggers


def append_only_guard(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Error when the audit table exists, migrations are complete, and a trigger is missing.

    While migrations are pending it says nothing: `migrate` runs the checks before migrating,
    and an error then would stop the very command that installs the guard.
    """
    try:
        if triggers.TABLE not in connection.introspection.table_names():
            return []
        executor = MigrationExecutor(connection)
        if executor.migration_plan(executor.loader.graph.leaf_nodes()):
            return []
        absent = triggers.missing(connection)
    except DatabaseError:
        return []  # no database to look at (e.g. collectstatic in a Docker build)
    if not absent:
        return []
    return [
        Error(
            f"The audit table has no append-only guard on this database: "
            f"{', '.join(absent)} missing.",
            hint="Run `manage.py migrate`, which installs it. Until then entries can be "
            "changed or deleted with plain SQL.",
            id="audit.E001",
        )
    ]
