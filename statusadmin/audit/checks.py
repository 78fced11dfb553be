"""System checks: production has its audit keys, the audit table on the configured database
really has its append-only guard, the chain key is there if entries were ever tagged with it,
and the signing key is not kept with the checkpoints it signs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor

from . import keys, triggers
from .models import AuditEntry


def _migrated() -> bool:
    """The audit table exists and no migration is pending. While migrations are pending the
    checks say nothing: `migrate` runs them before migrating, and an error then would stop the
    very command that puts things right."""
    if triggers.TABLE not in connection.introspection.table_names():
        return False
    executor = MigrationExecutor(connection)
    return not executor.migration_plan(executor.loader.graph.leaf_nodes())


def keys_configured(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Errors, in production, for each audit key that is not configured: without them the log
    is as easy to rewrite as the database is to reach, and nothing would say so until an
    audit. Processes that only check signatures need the public keys, not the private one."""
    if not settings.AUDIT_KEYS_REQUIRED:
        return []
    errors: list[CheckMessage] = []
    if not settings.AUDIT_CHAIN_KEY:
        errors.append(
            Error(
                "With DJANGO_DEBUG=0 the audit chain key is required: set AUDIT_CHAIN_KEY, or "
                "AUDIT_CHAIN_KEY_FILE, in every process.",
                hint="`python manage.py audit_keygen --chain-key FILE` writes one; then set "
                "AUDIT_CHAIN_KEY_FILE=FILE. Keep it out of the database.",
                id="audit.E003",
            )
        )
    if not (settings.AUDIT_SIGNING_KEY_FILE or settings.AUDIT_PUBLIC_KEYS_DIR):
        errors.append(
            Error(
                "With DJANGO_DEBUG=0 the audit signing key is required: set "
                "AUDIT_SIGNING_KEY_FILE where checkpoints are written (the worker), and "
                "AUDIT_PUBLIC_KEYS_DIR (its public key) in processes that only check them.",
                hint="`python manage.py audit_keygen --signing-key FILE` writes a key pair "
                "(FILE, and its public key as FILE.pub.pem) and prints the fingerprint to give "
                "auditors.",
                id="audit.E004",
            )
        )
    return errors


def refuse_to_start_without_keys() -> None:
    """The same, for gunicorn, which runs no system checks (wsgi.py calls it)."""
    if errors := keys_configured():
        raise ImproperlyConfigured(" ".join(f"{e.msg} {e.hint}" for e in errors))


def append_only_guard(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Error when the audit table exists, migrations are complete, and a trigger is missing."""
    try:
        if not _migrated():
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


def chain_key_kept(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Error when entries carry chain-key tags but no AUDIT_CHAIN_KEY is configured: every entry
    written from then on would lack its tag, which verification must report as tampering."""
    if keys.chain_key() is not None:
        return []
    try:
        if not _migrated() or not AuditEntry.objects.exclude(mac="").exists():
            return []
    except DatabaseError:
        return []
    return [
        Error(
            "Audit entries carry chain-key tags, but AUDIT_CHAIN_KEY is not configured.",
            hint="Configure the same AUDIT_CHAIN_KEY (or AUDIT_CHAIN_KEY_FILE) as before. "
            "Entries written without it would look forged to verify_audit.",
            id="audit.E002",
        )
    ]


def signing_key_apart(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Warn when the signing key sits in the checkpoint file's folder: whoever can rewrite the
    checkpoints there could then read the key and sign the rewritten ones. Not for the
    development key, which `make run` keeps in the data folder and which protects nothing."""
    if not settings.AUDIT_SIGNING_KEY_FILE:
        return []
    key = Path(settings.AUDIT_SIGNING_KEY_FILE).resolve()
    store = Path(settings.AUDIT_CHECKPOINT_FILE).resolve().parent
    if not key.is_relative_to(store) or key.is_relative_to(settings.AUDIT_DEV_KEYS_DIR.resolve()):
        return []
    return [
        Warning(
            f"AUDIT_SIGNING_KEY_FILE is inside {store}, where the checkpoints are kept.",
            hint="Keep the signing key apart from the checkpoints and the database, e.g. as a "
            "secret mounted only where audit_checkpoint runs.",
            id="audit.W001",
        )
    ]
