"""Demo data for `make run`: the sandbox catalogue and, in sandbox mode only, three demo users,
and two more emulated Convoso accounts (an office and a client) with roles for them there.

Idempotent: existing users and statuses are left exactly as they are (passwords included).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandParser

from statusadmin.accounts.roles import APPROVER, COMPLIANCE, SUPERVISOR, ensure_roles
from statusadmin.convoso import tenancy, tokens
from statusadmin.convoso.connection import is_sandbox
from statusadmin.convoso.models import ConvosoAccount, Membership
from statusadmin.convoso.sandbox import seed, token_for

DEMO_USERS = [("supervisor", SUPERVISOR), ("compliance", COMPLIANCE), ("approver", APPROVER)]
# Two more accounts of the sandbox (slug, name), and each demo user's roles there; "east" is a
# supervisor of the East office only, to see that nothing else is within reach.
DEMO_ACCOUNTS = [("east", "East office"), ("west", "West client")]
DEMO_ROLES = [
    ("supervisor", "east", SUPERVISOR), ("supervisor", "west", SUPERVISOR),
    ("compliance", "east", COMPLIANCE), ("compliance", "west", COMPLIANCE),
    ("approver", "east", APPROVER), ("approver", "west", APPROVER),
    ("east", "east", SUPERVISOR),
]  # fmt: skip


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
                # example.com is reserved for examples: nothing is ever delivered there, and
                # `make run` prints mail to the console, where the approval notices show.
                user.email = f"{username}@example.com"
                user.save()
                user.groups.add(Group.objects.get(name=role))
        accounts = self._accounts()
        self.stdout.write(
            "\nSandbox mode: no CONVOSO_AUTH_TOKEN is set, so changes go to a local emulator.\n"
            f"Open {url} and log in as supervisor / supervisor (can edit) "
            "or compliance / compliance (read-only), or approver / approver (approves DNC "
            "changes; sets up a second factor on the first visit to Approvals).\n"
            + (
                f"Three Convoso accounts (Sandbox, {', '.join(accounts)}): switch in the header; "
                "east / east is a supervisor of the East office only.\n"
                if accounts
                else ""
            )
            + "Admin: .venv/bin/python manage.py createsuperuser, then /admin/\n"
        )

    def _accounts(self) -> list[str]:
        """The demo's other accounts, emulated by the sandbox (a token each), and the demo
        users' roles there; made once, left as they are after that."""
        if not settings.CONVOSO_TOKEN_KEYS:
            return []  # no key to keep their tokens with: one account, as before
        User = get_user_model()
        for slug, name in DEMO_ACCOUNTS:
            token = token_for(slug)
            ConvosoAccount.objects.get_or_create(
                slug=slug,
                defaults={
                    "name": name, "api_url": tenancy.SANDBOX_API_URL,
                    "token_encrypted": tokens.encrypt(token), "token_last4": tokens.last4(token),
                },
            )  # fmt: skip
        east, created = User.objects.get_or_create(username="east")
        if created:
            east.set_password("east")
            east.email = "east@example.com"
            east.save()
        for username, slug, role in DEMO_ROLES:
            Membership.objects.get_or_create(
                user=User.objects.get(username=username),
                account=ConvosoAccount.objects.get(slug=slug),
                role=role,
            )
        return [name for _, name in DEMO_ACCOUNTS]
