"""Run in a fresh process against a fresh database, as a deployer would: `migrate`, then use it.

    DATABASE_URL=... python -m tests.install.probe

Prints one JSON object describing what works. Nothing here sets anything up beyond the one
`migrate` a deployer runs: whatever the checks find is what a real install has.
"""

from __future__ import annotations

import io
import json
import os


def main() -> dict[str, object]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "statusadmin.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError
    from django.db import DatabaseError, connection, transaction
    from django.test import Client
    from django.utils import timezone

    from statusadmin.audit import chain
    from statusadmin.audit.models import Action, Outcome

    call_command("migrate", interactive=False, verbosity=0, stdout=io.StringIO())
    result: dict[str, object] = {"vendor": connection.vendor}

    now = timezone.now()
    entry = chain.append(
        created_at=now, completed_at=now, actor=None, actor_username="probe", account="probe",
        action=Action.UPDATE, status_code="XFER", before=None, after=None, changed_fields=[],
        outcome=Outcome.SUCCEEDED,
    )  # fmt: skip

    def refused(sql: str) -> bool:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(sql, [entry.pk])
        except DatabaseError as exc:
            return "audit entr" in str(exc)
        return False

    table = "audit_auditentry"
    result["update_refused"] = refused(f"UPDATE {table} SET reason = 'x' WHERE id = %s")
    result["delete_refused"] = refused(f"DELETE FROM {table} WHERE id = %s")

    try:
        call_command("check", stdout=io.StringIO(), stderr=io.StringIO())
        result["check"] = "ok"
    except SystemCheckError as exc:
        result["check"] = str(exc)

    from django.contrib.auth.models import Group, User

    # The roles come from a data migration: nothing here creates them.
    user = User.objects.create_user("probe", password="probe-password-1")
    user.groups.add(Group.objects.get(name="Supervisor"))
    browser = Client(raise_request_exception=False, HTTP_HOST="localhost")
    login = browser.post("/accounts/login/", {"username": "probe", "password": "probe-password-1"})
    result["login_status"] = login.status_code
    result["home_status"] = browser.get("/").status_code
    return result


if __name__ == "__main__":
    print(json.dumps(main()))
