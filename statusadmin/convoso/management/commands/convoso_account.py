"""Add, list, disable and enable the Convoso accounts besides the default one.

    python manage.py convoso_account add "East office" --api-url https://api.convoso.com/v1 \\
        [--slug east]                  # asks for the token (or reads one line from stdin)
    python manage.py convoso_account list
    python manage.py convoso_account disable east
    python manage.py convoso_account enable east
    python manage.py convoso_account keygen   # a new key for CONVOSO_TOKEN_KEYS

The token is read from standard input, never from the command line: arguments show in `ps`,
shell history and CI logs. It is tried with a search before it is saved, and only its last
four characters are ever printed. Accounts are disabled, never deleted: the audit log names
them for as long as it is kept.
"""

from __future__ import annotations

import getpass
import sys
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Count

from statusadmin.convoso import services, tokens
from statusadmin.convoso.models import ConvosoAccount

# How a field is given on this command line, for its error messages.
_GIVEN_AS = {"name": "NAME", "slug": "--slug", "api_url": "--api-url", "token": "the token"}


def ending(last4: str) -> str:
    """How a stored token is shown: its last four characters, if it is long enough to have
    some to spare (tokens.last4)."""
    return f"••••{last4}" if last4 else "••••"


def read_token(stdin: IO[str]) -> str:
    if stdin.isatty():
        return getpass.getpass("Convoso API token (not shown): ").strip()
    return stdin.readline().strip()


class Command(BaseCommand):
    help = "Add (token on standard input), list, disable or enable Convoso accounts."
    # call_command(..., stdin=...) in tests, as createsuperuser does.
    stealth_options = ("stdin",)

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        add = actions.add_parser(
            "add", help="add an account; its token is read from standard input"
        )
        add.add_argument("name", help='what people call it, e.g. "East office"')
        add.add_argument("--api-url", required=True, help="e.g. https://api.convoso.com/v1")
        add.add_argument(
            "--slug", default="", help="its short name in URLs (default: made from NAME)"
        )
        actions.add_parser("list", help="every account, with its token's last four characters")
        for action, does in (("disable", "stop serving"), ("enable", "serve again")):
            sub = actions.add_parser(action, help=f"{does} an account (nothing is deleted)")
            sub.add_argument("slug")
        actions.add_parser("keygen", help="print a new key for CONVOSO_TOKEN_KEYS")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "add":
            self.add(options["name"], options["api_url"], options["slug"], options)
        elif action == "list":
            self.list_accounts()
        elif action == "keygen":
            self.stdout.write(tokens.new_key())
        else:
            self.set_enabled(options["slug"], enabled=action == "enable")

    def add(self, name: str, api_url: str, slug: str, options: dict[str, Any]) -> None:
        token = read_token(options.get("stdin") or sys.stdin)
        if not token:
            raise CommandError("No token was given on standard input. Nothing was saved.")
        try:
            account = services.account_add(name=name, api_url=api_url, token=token, slug=slug)
        except ValidationError as exc:
            raise CommandError(self.explain(exc, slug_chosen=bool(slug))) from None
        except services.TokenNotAccepted as exc:
            raise CommandError(f"{exc} Nothing was saved.") from None
        self.stdout.write(
            f"Added {account.name} ({account.slug}) at {account.api_url}, token "
            f"{ending(account.token_last4)}. It is served at /a/{account.slug}/; give people "
            "a role in it in the admin (Convoso accounts)."
        )

    @staticmethod
    def explain(exc: ValidationError, *, slug_chosen: bool) -> str:
        lines = []
        for field, messages in exc.message_dict.items():
            given_as = _GIVEN_AS.get(field, field)
            for message in messages:
                if field == "slug" and not slug_chosen:
                    message += " (It was made from NAME: choose one with --slug.)"
                lines.append(f"{given_as}: {message}")
        return "\n".join(lines) + "\nNothing was saved."

    def list_accounts(self) -> None:
        accounts = ConvosoAccount.objects.annotate(
            members=Count("memberships__user", distinct=True)
        )
        if not accounts:
            self.stdout.write("No Convoso accounts besides the default one.")
            return
        rows = [("SLUG", "NAME", "API URL", "STATE", "TOKEN", "MEMBERS")]
        rows += [
            (
                a.slug,
                a.name,
                a.api_url,
                "enabled" if a.enabled else "disabled",
                ending(a.token_last4),
                str(a.members),
            )
            for a in accounts
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        for row in rows:
            self.stdout.write("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))

    def set_enabled(self, slug: str, *, enabled: bool) -> None:
        try:
            account = services.account_set_enabled(slug=slug, enabled=enabled)
        except ConvosoAccount.DoesNotExist:
            raise CommandError(
                f"No Convoso account has the short name {slug!r}. "
                "`manage.py convoso_account list` shows them."
            ) from None
        if enabled:
            self.stdout.write(f"Enabled {account.name} ({account.slug}): served again.")
        else:
            self.stdout.write(
                f"Disabled {account.name} ({account.slug}): no longer served; its records are "
                "kept, and `convoso_account enable` brings it back."
            )
