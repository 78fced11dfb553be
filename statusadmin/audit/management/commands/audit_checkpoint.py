"""Write the audit chain's head outside the database.

    python manage.py audit_checkpoint              # append to AUDIT_CHECKPOINT_FILE
    python manage.py audit_checkpoint --print      # also print the line, to ship elsewhere

Schedule it (e.g. hourly) and keep the file where database administrators can't rewrite it:
it is what proves that nothing was cut from the end of the log.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from statusadmin.audit.integrity import checkpoint_path, write_checkpoint
from statusadmin.audit.models import AuditEntry


class Command(BaseCommand):
    help = "Append the audit chain's current head (sequence number and hash) to a file."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--file", type=Path, help="default: settings.AUDIT_CHECKPOINT_FILE")
        parser.add_argument("--print", action="store_true", help="also print it on stdout")
        parser.add_argument(
            "--seq", type=int, help="checkpoint this entry instead of the head (retention anchor)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = options["file"] or checkpoint_path()
        try:
            record, line = write_checkpoint(path, seq=options["seq"])
        except AuditEntry.DoesNotExist:
            raise CommandError(f"There is no audit entry {options['seq']}.") from None
        if options["print"]:
            self.stdout.write(line)
        self.stderr.write(f"Checkpoint at entry {record.seq} appended to {path}")
