"""Database triggers that make completed audit entries unchangeable below Django.

PostgreSQL and SQLite get equivalent rules:
- no DELETE, ever;
- a completed entry can't be updated, except for the one change Django makes by itself when a
  user is deleted: the actor foreign key set to NULL (the copied username keeps the record);
- a pending entry may be completed once, without touching what was recorded when it began.

The migration installs these; the SQL lives here so tests can put them back after a flush.
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
CREATE TRIGGER audit_entry_append_only
    BEFORE UPDATE OR DELETE ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION audit_entry_guard();
"""

POSTGRESQL_REMOVE = f"""
DROP TRIGGER IF EXISTS audit_entry_append_only ON {TABLE};
DROP FUNCTION IF EXISTS audit_entry_guard();
"""

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

SQLITE_REMOVE = [
    "DROP TRIGGER IF EXISTS audit_entry_no_delete",
    "DROP TRIGGER IF EXISTS audit_entry_completed_is_final",
    "DROP TRIGGER IF EXISTS audit_entry_complete_once",
]


def install(connection) -> None:  # type: ignore[no-untyped-def]
    _run(connection, POSTGRESQL_INSTALL, SQLITE_INSTALL)


def remove(connection) -> None:  # type: ignore[no-untyped-def]
    _run(connection, POSTGRESQL_REMOVE, SQLITE_REMOVE)


def _run(connection, postgresql: str, sqlite: list[str]) -> None:  # type: ignore[no-untyped-def]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(postgresql)
        elif connection.vendor == "sqlite":
            for statement in sqlite:
                cursor.execute(statement)
