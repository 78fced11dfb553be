"""Recompute the audit chain and say exactly how far it can be trusted.

    python manage.py verify_audit [--checkpoints FILE]

Without --checkpoints it uses AUDIT_CHECKPOINT_FILE if that exists. Checkpoints kept outside
the database are what catch entries cut from the end of the log, or a chain recomputed after
an edit, which a chain alone can't show.

Checkpoint signatures are checked against AUDIT_SIGNING_KEY_FILE's public key and those in
AUDIT_PUBLIC_KEYS_DIR, chain-key tags against AUDIT_CHAIN_KEY; what can't be checked is said.

Exit status: 0 intact (every entry chained; the newest ones may still await a checkpoint);
1 tampering found (a broken chain, a tag that doesn't match, a checkpoint that differs or
whose signature doesn't match); 2 consistent, but no outside or signed checkpoint covers the
log, so it can't be vouched for; 3 consistent, but the database's append-only guard is
missing; 4 consistent as far as could be checked, but entries carry chain-key tags while no
AUDIT_CHAIN_KEY is configured here, or checkpoints are signed with a key nobody listed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from statusadmin.audit.integrity import CheckpointFileError, checkpoint_path, run_verification
from statusadmin.audit.models import Verification

EXIT_STATUS: dict[str, int] = {
    Verification.State.TAMPERED: 1,
    Verification.State.UNANCHORED: 2,
    Verification.State.UNGUARDED: 3,
    Verification.State.UNCHECKED: 4,
}


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
        summary = f"{result.message} (head at entry {result.head_seq})."
        if result.state == Verification.State.TAMPERED:
            raise CommandError(f"Audit log verification FAILED: {summary}", returncode=1)
        if result.state != Verification.State.INTACT:
            label = Verification.State(result.state).label
            raise CommandError(
                f"Audit log {label.lower()}: {summary}", returncode=EXIT_STATUS[result.state]
            )
        self.stdout.write(f"Audit log intact: {summary}")
