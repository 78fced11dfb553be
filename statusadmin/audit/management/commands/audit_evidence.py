"""Write an evidence bundle for an outside auditor: a period's entries, the checkpoints that
cover them, the public keys, a standalone verifier and a README (see audit/evidence.py).

    python manage.py audit_evidence --from 2026-01-01 --to 2026-03-31 [--account SLUG] q1.zip

A bundle is one Convoso account's (--account; default the default account, with the entries
of no account: sign-ins and the like); other accounts' entries are withheld but for their
place in the chain.

It then runs the bundle's own verifier on what it wrote, pinned to this server's public keys,
prints its verdict, and the fingerprints to give the auditor out of band. Exit status: 0
verified; 1 the verifier found a bad entry or checkpoint (it names it); 2 written, but not
everything can be vouched for (no entries in the period, or its newest entries are not yet
covered by a signed checkpoint: run audit_checkpoint, then export again).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from statusadmin.audit import keys
from statusadmin.audit.evidence import write_bundle
from statusadmin.audit.evidence_verifier import public_key_pem, verify_bundle
from statusadmin.convoso import tenancy


class Command(BaseCommand):
    help = "Write a period's audit entries, checkpoints, keys and a verifier into a zip."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--from", dest="date_from", type=date.fromisoformat, required=True)
        parser.add_argument("--to", dest="date_to", type=date.fromisoformat, required=True)
        parser.add_argument(
            "--account", default="",
            help="the Convoso account's short name (default: the default account)",
        )  # fmt: skip
        parser.add_argument("out", type=Path, help="the zip to write, e.g. evidence.zip")

    def handle(self, *args: Any, **options: Any) -> None:
        date_from, date_to, out = options["date_from"], options["date_to"], options["out"]
        if date_from > date_to:
            raise CommandError("--from must not be after --to.")
        account = tenancy.by_slug(options["account"])
        if account is None:
            raise CommandError(f"There is no enabled Convoso account {options['account']!r}.")
        with tenancy.use(account):
            self._write(date_from, date_to, out)

    def _write(self, date_from: date, date_to: date, out: Path) -> None:
        # Written beside the target and renamed when complete: never half a bundle under its name.
        partial = out.with_name(out.name + ".part")
        with partial.open("wb") as target:
            bundle = write_bundle(target, date_from, date_to)
        partial.replace(out)
        self.stderr.write(
            f"Wrote {out}: {bundle.in_period} entries of the period"
            + (f" (entries {bundle.first_seq}-{bundle.last_seq} in all)" if bundle.last_seq else "")
        )
        # Checked as an auditor who pinned this server's keys would check it: what the bundle
        # brings is never taken on trust, here either.
        pinned = [public_key_pem(key).encode() for key in keys.public_keys().values()]
        verdict = verify_bundle(out, public_keys=pinned)
        for note in verdict.notes:
            self.stdout.write(f"note: {note}")
        self.stdout.write(verdict.summary)
        if verdict.status:
            raise CommandError(
                f"The bundle does not verify: {verdict.summary}", returncode=verdict.status
            )
        several = len(bundle.fingerprints) > 1
        self.stdout.write(
            f"Give the auditor {'these fingerprints' if several else 'this fingerprint'} "
            f"yourself, not with the bundle: {', '.join(bundle.fingerprints)}. They check the "
            "bundle with: python verify.py"
            + "".join(f" --fingerprint {fp}" for fp in bundle.fingerprints)
        )
