"""Database triggers that make completed audit entries unchangeable below Django.

PostgreSQL and SQLite get equivalent rules:
- no DELETE, ever (and on PostgreSQL no TRUNCATE; SQLite has none);
- a completed entry can't be updated, except for the one change Django makes by itself when a
  user is deleted: the actor foreign key set to NULL (the copied, hashed user id and username
  keep the record);
- a pending entry may be completed once, without touching what was recorded when it began.

``install`` runs after every ``migrate`` (apps.py): on SQLite, a migration that alters a column
rebuilds the table and silently drops its triggers, so installing them once in one migration
is not enough. The rules name the table's columns as they are at that moment, so a column
added later is covered as soon as it exists. ``missing`` tells the system check,
``verify_audit``, /healthz and the integrity panel whether the guard is really there.
"""

from __future__ import annotations

from .models import FIXED_AT_START

TABLE = "audit_auditentry"

POSTGRESQL_TRIGGERS = ("audit_entry_append_only", "audit_entry_no_truncate")
SQLITE_TRIGGERS = (
    "audit_entry_no_delete",
    "audit_entry_completed_is_final",
    "audit_entry_complete_once",
)


def _pg_unchanged(columns: list[str]) -> str:
    return " AND ".join(f"NEW.{c} IS NOT DISTINCT FROM OLD.{c}" for c in columns)


def _sqlite_changed(columns: list[str]) -> str:
    return " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in columns)


def _postgresql_install(all_but_actor: list[str], fixed: list[str]) -> str:
    return f"""
CREATE OR REPLACE FUNCTION audit_entry_guard() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        RAISE EXCEPTION 'audit entries are append-only: the table cannot be truncated'
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'audit entries are append-only: entry % cannot be deleted', OLD.id
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF OLD.outcome <> 'pending' THEN
        IF NEW.actor_id IS NULL AND {_pg_unchanged(all_but_actor)} THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'audit entries are append-only: entry % is complete', OLD.id
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF NEW.outcome = 'pending' OR NOT ({_pg_unchanged(fixed)}) THEN
        RAISE EXCEPTION 'audit entry % may only receive its outcome', OLD.id
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS audit_entry_append_only ON {TABLE};
CREATE TRIGGER audit_entry_append_only
    BEFORE UPDATE OR DELETE ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION audit_entry_guard();
DROP TRIGGER IF EXISTS audit_entry_no_truncate ON {TABLE};
CREATE TRIGGER audit_entry_no_truncate
    BEFORE TRUNCATE ON {TABLE}
    FOR EACH STATEMENT EXECUTE FUNCTION audit_entry_guard();
"""


def _sqlite_install(all_but_actor: list[str], fixed: list[str]) -> list[str]:
    return [
        f"""CREATE TRIGGER audit_entry_no_delete BEFORE DELETE ON {TABLE}
BEGIN SELECT RAISE(ABORT, 'audit entries are append-only: entries cannot be deleted'); END""",
        f"""CREATE TRIGGER audit_entry_completed_is_final BEFORE UPDATE ON {TABLE}
WHEN OLD.outcome <> 'pending'
    AND NOT (NEW.actor_id IS NULL AND NOT ({_sqlite_changed(all_but_actor)}))
BEGIN SELECT RAISE(ABORT, 'audit entries are append-only: a completed entry cannot change'); END""",
        f"""CREATE TRIGGER audit_entry_complete_once BEFORE UPDATE ON {TABLE}
WHEN OLD.outcome = 'pending'
    AND (NEW.outcome = 'pending' OR {_sqlite_changed(fixed)})
BEGIN SELECT RAISE(ABORT, 'audit entries: a pending entry may only receive its outcome'); END""",
    ]


POSTGRESQL_REMOVE = f"""
DROP TRIGGER IF EXISTS audit_entry_append_only ON {TABLE};
DROP TRIGGER IF EXISTS audit_entry_no_truncate ON {TABLE};
DROP FUNCTION IF EXISTS audit_entry_guard();
"""
SQLITE_REMOVE = [f"DROP TRIGGER IF EXISTS {name}" for name in SQLITE_TRIGGERS]


def _columns(connection) -> tuple[list[str], list[str]]:  # type: ignore[no-untyped-def]
    """(every column but actor_id, the columns fixed at the start), as the table has them."""
    with connection.cursor() as cursor:
        names = [c.name for c in connection.introspection.get_table_description(cursor, TABLE)]
    return [n for n in names if n != "actor_id"], [n for n in FIXED_AT_START if n in names]


def install(connection) -> None:  # type: ignore[no-untyped-def]
    """Install the guard, replacing any older definition (so a changed column list applies)."""
    if connection.vendor not in ("postgresql", "sqlite"):
        return
    all_but_actor, fixed = _columns(connection)
    _run(
        connection,
        _postgresql_install(all_but_actor, fixed),
        [*SQLITE_REMOVE, *_sqlite_install(all_but_actor, fixed)],
    )


def remove(connection) -> None:  # type: ignore[no-untyped-def]
    _run(connection, POSTGRESQL_REMOVE, SQLITE_REMOVE)


def missing(connection) -> list[str]:  # type: ignore[no-untyped-def]
    """Names of the guard's triggers that are absent (or disabled) on this database.

    A vendor without triggers here reports nothing missing: the ORM guard is all it has.
    """
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass "
                "AND NOT tgisinternal AND tgenabled <> 'D'",
                [TABLE],
            )
            expected: tuple[str, ...] = POSTGRESQL_TRIGGERS
        elif connection.vendor == "sqlite":
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s", [TABLE]
            )
            expected = SQLITE_TRIGGERS
        else:
            return []
        present = {row[0] for row in cursor.fetchall()}
    return [name for name in expected if name not in present]


def _run(connection, postgresql: str, sqlite: list[str]) -> None:  # type: ignore[no-untyped-def]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(postgresql)
        elif connection.vendor == "sqlite":
            for statement in sqlite:
                cursor.execute(statement)
