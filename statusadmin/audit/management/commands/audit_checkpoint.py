"""Write the audit chain's head outside the database, signed, and send it elsewhere too.

    python manage.py audit_checkpoint              # append to AUDIT_CHECKPOINT_FILE
    python manage.py audit_checkpoint --print      # also print the line

Schedule it (e.g. hourly). The line is signed with AUDIT_SIGNING_KEY_FILE when that is set,
and also sent to AUDIT_CHECKPOINT_SYSLOG and/or AUDIT_CHECKPOINT_URL when those are set: a
copy where database administrators can't reach is what proves that nothing was cut from the
end of the log.

Exit status: 0 written (and sent everywhere configured); 1 the line is in the file, but it
could not be sent to a destination (each failure is named), or nothing could be written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from statusadmin.audit import history
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
            written = write_checkpoint(path, seq=options["seq"])
        except AuditEntry.DoesNotExist:
            raise CommandError(f"There is no audit entry {options['seq']}.") from None
        except ImproperlyConfigured as exc:  # the signing key: missing (production) or broken
            raise CommandError(str(exc)) from None
        if options["print"]:
            self.stdout.write(written.line)
        record = written.record
        signed = (
            f"signed with key {record.key_id}"
            if record.key_id
            else "unsigned (no AUDIT_SIGNING_KEY_FILE)"
        )
        self.stderr.write(f"Checkpoint at entry {record.seq}, {signed}, appended to {path}")
        if options["seq"] is not None:
            # A retention anchor: the catalogue's history goes on from here once the entries
            # up to it are purged (audit/history.py).
            kept = history.keep_base(record.seq)
            self.stderr.write(
                f"Kept the catalogue as it stood after entry {record.seq} "
                f"({', '.join(kept) or 'no account yet'})"
            )
        for sent in written.shipped:
            if not sent.error:
                self.stderr.write(f"Sent to {sent.destination}")
        if failures := written.failures:
            raise CommandError(
                "The checkpoint is in the file, but could not be sent to "
                + "; ".join(f"{f.destination} ({f.error})" for f in failures)
            )
