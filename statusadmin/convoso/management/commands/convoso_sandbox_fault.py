"""Switch a fault on in the sandbox, to see (and test) how the dashboard copes.

python manage.py convoso_sandbox_fault update timeout           # the next update times out
python manage.py convoso_sandbox_fault any http_503 --times 0   # every call, until cleared
python manage.py convoso_sandbox_fault --clear
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from statusadmin.convoso.models import SandboxFault
from statusadmin.convoso.sandbox import ENDPOINTS


class Command(BaseCommand):
    help = "Make the Convoso sandbox fail on purpose (timeouts, disconnects, 5xx, bad replies)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("endpoint", nargs="?", choices=[*ENDPOINTS, "any"])
        parser.add_argument("kind", nargs="?", choices=SandboxFault.Kind.values)
        parser.add_argument("--times", type=int, default=1, help="0: until cleared")
        parser.add_argument("--delay", type=float, default=30.0, help="seconds, for timeout")
        parser.add_argument("--clear", action="store_true", help="remove every fault")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["clear"]:
            count, _ = SandboxFault.objects.all().delete()
            self.stdout.write(f"Cleared {count} sandbox fault(s).")
            return
        if not options["endpoint"] or not options["kind"]:
            raise CommandError("Give an endpoint and a kind, or --clear.")
        fault = SandboxFault.objects.create(
            endpoint="" if options["endpoint"] == "any" else options["endpoint"],
            kind=options["kind"],
            remaining=options["times"] or None,
            delay_seconds=options["delay"],
        )
        times = "until cleared" if fault.remaining is None else f"{fault.remaining} time(s)"
        self.stdout.write(f"Sandbox fault on: {fault}, {times}.")
