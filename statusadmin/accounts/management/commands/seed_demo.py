"""Demo data for `make run`: the sandbox catalogue and, in sandbox mode only, three demo users.

Idempotent: existing users and statuses are left exactly as they are (passwords included).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandParser

from statusadmin.accounts.roles import APPROVER, COMPLIANCE, SUPERVISOR, ensure_roles
from statusadmin.convoso.connection import is_sandbox
from statusadmin.convoso.sandbox import seed

DEMO_USERS = [("supervisor", SUPERVISOR), ("compliance", COMPLIANCE), ("approver", APPROVER)]


class Command(BaseCommand):
    help = "Create demo data: sandbox statuses and, in sandbox mode, demo users."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", default="http://127.0.0.1:8000/", help="where it is served")

    def handle(self, *args: Any, **options: Any) -> None:
        url = options["url"]
        if not is_sandbox():
            # Demo users with known passwords must never exist beside a real Convoso account.
            self.stdout.write(
                f"Connected to Convoso. Open {url} and log in with your own account "
                "(create an admin with: .venv/bin/python manage.py createsuperuser)."
            )
            return
        seed()
        ensure_roles()
        User = get_user_model()
        for username, role in DEMO_USERS:
            user, created = User.objects.get_or_create(username=username)
            if created:
                user.set_password(username)
                user.save()
                user.groups.add(Group.objects.get(name=role))
        self.stdout.write(
            "\nSandbox mode: no CONVOSO_AUTH_TOKEN is set, so changes go to a local emulator.\n"
            f"Open {url} and log in as supervisor / supervisor (can edit) "
            "or compliance / compliance (read-only), or approver / approver (approves DNC "
            "changes; sets up a second factor on the first visit to Approvals).\n"
            "Admin: .venv/bin/python manage.py createsuperuser, then /admin/\n"
        )
