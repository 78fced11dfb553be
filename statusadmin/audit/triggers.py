"""Database triggers that make completed audit entries unchangeable below Django.

PostgreSQL and SQLite get equivalent rules:
- no DELETE, ever;
- a completed entry can't be updated, except for the one change Django makes by itself when a
  user is deleted: the actor foreign key set to NULL (the copied username keeps the record);
- a pending entry may be completed once, without touching what was recorded when it began;
- on PostgreSQL, no TRUNCATE either (SQLite has none).

``install`` runs after every ``migrate`` (apps.py): on SQLite, a migration that alters a column
rebuilds the table and silently drops its triggers, so installing them once in one migration
is not enough. ``missing`` tells the system check, ``verify_audit``, /healthz and the integrity
panel whether the guard is really there.
"""

from __future__ import annotations

TABLE = "audit_auditentry"

# Recorded when the attempt began; completing the entry must leave them exactly as they were.
_FIXED_AT_START = (
    "created_at",
    "actor_username",
    "remote_ip",
    "user_agent",
    "request_id",
    "account",
    "action",
    "status_code",
    "requested",
    "reason",
)
# Every column except actor_id, for "nothing but actor_id changed".
_ALL_BUT_ACTOR = (
    "id",
    *_FIXED_AT_START,
    "completed_at",
    "before",
    "after",
    "changed_fields",
    "touched",
    "outcome",
    "error_code",
    "error_message",
    "failure_kind",
    "note",
    "seq",
    "prev_hash",
    "hash",
)


def _pg_unchanged(columns: tuple[str, ...]) -> str:
    return " AND ".join(f"NEW.{c} IS NOT DISTINCT FROM OLD.{c}" for c in columns)


def _sqlite_changed(columns: tuple[str, ...]) -> str:
    return " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in columns)


POSTGRESQL_INSTALL = f"""
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
        IF NEW.actor_id IS NULL AND {_pg_unchanged(_ALL_BUT_ACTOR)} THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'audit entries are append-only: entry % is complete', OLD.id
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF NEW.outcome = 'pending' OR NOT ({_pg_unchanged(_FIXED_AT_START)}) THEN
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

POSTGRESQL_REMOVE = f"""
DROP TRIGGER IF EXISTS audit_entry_append_only ON {TABLE};
DROP TRIGGER IF EXISTS audit_entry_no_truncate ON {TABLE};
DROP FUNCTION IF EXISTS audit_entry_guard();
"""
POSTGRESQL_TRIGGERS = ("audit_entry_append_only", "audit_entry_no_truncate")

SQLITE_INSTALL = [
    f"""CREATE TRIGGER audit_entry_no_delete BEFORE DELETE ON {TABLE}
BEGIN SELECT RAISE(ABORT, 'audit entries are append-only: entries cannot be deleted'); END""",
    f"""CREATE TRIGGER audit_entry_completed_is_final BEFORE UPDATE ON {TABLE}
WHEN OLD.outcome <> 'pending'
    AND NOT (NEW.actor_id IS NULL AND NOT ({_sqlite_changed(_ALL_BUT_ACTOR)}))
BEGIN SELECT RAISE(ABORT, 'audit entries are append-only: a completed entry cannot change'); END""",
    f"""CREATE TRIGGER audit_entry_complete_once BEFORE UPDATE ON {TABLE}
WHEN OLD.outcome = 'pending'
    AND (NEW.outcome = 'pending' OR {_sqlite_changed(_FIXED_AT_START)})
BEGIN SELECT RAISE(ABORT, 'audit entries: a pending entry may only receive its outcome'); END""",
]

SQLITE_TRIGGERS = (
    "audit_entry_no_delete",
    "audit_entry_completed_is_final",
    "audit_entry_complete_once",
)
SQLITE_REMOVE = [f"DROP TRIGGER IF EXISTS {name}" for name in SQLITE_TRIGGERS]


def install(connection) -> None:  # type: ignore[no-untyped-def]
    """Install the guard, replacing any older definition (so a changed column list applies)."""
    _run(connection, POSTGRESQL_INSTALL, [*SQLITE_REMOVE, *SQLITE_INSTALL])


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
            expected = POSTGRESQL_TRIGGERS
        elif connection.vendor == "sqlite":
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s", [TABLE]
            )
            expected = SQLITE_TRIGGERS
        else:
            return []
        present = {row[0] for row in cursor.fetchall()}
    return [name for name in expected if name not in present]


def remove(connection) -> None:  # type: ignore[no-untyped-def]
    _run(connection, POSTGRESQL_REMOVE, SQLITE_REMOVE)


def _run(connection, postgresql: str, sqlite: list[str]) -> None:  # type: ignore[no-untyped-def]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(postgresql)
        elif connection.vendor == "sqlite":
            for statement in sqlite:
                cursor.execute(statement)
