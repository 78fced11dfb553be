"""`manage.py catalogue_as_of --at 2026-11-03T14:05:00Z [--format json|csv] [--code X]`: every
status as it stood at a moment, rebuilt from the audit log alone (audit/history.py)."""

from __future__ import annotations

import csv
import json
from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from statusadmin.audit import history
from statusadmin.convoso import tenancy
from statusadmin.statuses.models import MirrorStatus


def moment(text: str) -> datetime:
    """An ISO 8601 moment with its zone ("Z" or an offset): a time without one is ambiguous."""
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        raise CommandError(
            f"--at {text!r} is not an ISO 8601 moment, e.g. 2026-11-03T14:05:00Z"
        ) from None
    if at.tzinfo is None:
        raise CommandError(
            f"--at {text!r} has no time zone: add one, e.g. {text}Z (UTC) or {text}+01:00"
        )
    if at > timezone.now():
        raise CommandError(f"--at {text!r} is in the future: the log can only say what was.")
    return at


class Command(BaseCommand):
    help = "Print every status as it stood at a moment, rebuilt from the audit log alone."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--at", required=True, help="e.g. 2026-11-03T14:05:00Z")
        parser.add_argument("--format", choices=["json", "csv"], default="json")
        parser.add_argument("--code", help="only this status")
        parser.add_argument(
            "--account", default="", help="a Convoso account's short name (default: the default)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        at = moment(options["at"])
        found = tenancy.by_slug(options["account"])
        if found is None:
            raise CommandError(f"There is no enabled Convoso account {options['account']!r}.")
        account = found.key
        codes = [options["code"]] if options["code"] else None
        known_now = MirrorStatus.objects.filter(account=account).values_list("code", flat=True)
        catalogue = history.catalogue_at(account=account, at=at, codes=codes, later=known_now)
        rows = history.as_rows(catalogue)
        if options["code"] and not rows:
            raise CommandError(f"The log knows no status {options['code']!r} of this account.")
        if options["format"] == "json":
            self.stdout.write(json.dumps(rows, indent=2, ensure_ascii=False))
            return
        writer = csv.DictWriter(self.stdout, fieldnames=history.CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
