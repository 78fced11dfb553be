from typing import Any

from django.apps import AppConfig
from django.core import checks
from django.db import connections
from django.db.models.signals import post_migrate


class AuditConfig(AppConfig):
    name = "statusadmin.audit"
    label = "audit"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        from . import checks as audit_checks

        checks.register(audit_checks.keys_configured)
        checks.register(audit_checks.append_only_guard)
        checks.register(audit_checks.chain_key_kept)
        checks.register(audit_checks.signing_key_apart)
        post_migrate.connect(install_append_only_guard, sender=self)


def install_append_only_guard(using: str, **kwargs: Any) -> None:
    """After every migrate (and flush): the database's append-only guard, in its current form.

    On SQLite any migration that alters the audit table rebuilds it and drops its triggers
    without a word, so a single migration that installs them can't be relied on. Installing
    here covers every migration path, including ones written later.
    """
    from . import triggers

    connection = connections[using]
    if triggers.TABLE in connection.introspection.table_names():
        triggers.install(connection)
