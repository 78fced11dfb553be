"""Recompute the audit chain. Exits 1 and names the first bad entry if it was tampered with.

    python manage.py verify_audit [--checkpoints FILE]

Without --checkpoints it uses AUDIT_CHECKPOINT_FILE if that exists. Checkpoints are what catch
entries cut from the end of the log, which a chain alone can't show.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from statusadmin.audit.integrity import CheckpointFileError, checkpoint_path, run_verification


class Command(BaseCommand):
    help = "Verify the audit log's hash chain (and its checkpoints)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--checkpoints", type=Path, help="a file written by audit_checkpoint")

    def handle(self, *args: Any, **options: Any) -> None:
        path = options["checkpoints"]
        if path is not None and not path.exists():
            raise CommandError(f"No checkpoint file at {path}.")
        try:
            result = run_verification(ran_by="verify_audit", checkpoints=path or checkpoint_path())
        except CheckpointFileError as exc:
            raise CommandError(str(exc)) from None
        if not result.ok:
            raise CommandError(f"Audit log verification FAILED: {result.message}")
        self.stdout.write(f"Audit log intact: {result.message} (head at entry {result.head_seq}).")
