"""Write new audit keys into files only their owner can read; never over an existing file.

    python manage.py audit_keygen                             # audit-signing.pem (+ .pub.pem) here
    python manage.py audit_keygen --signing-key /secrets/audit-signing.pem
    python manage.py audit_keygen --chain-key /secrets/audit-chain-key   # a chain key only

A signing key pair: the private key (PEM, mode 0600) for AUDIT_SIGNING_KEY_FILE where
checkpoints are written, and its public key beside it (NAME.pub.pem) for AUDIT_PUBLIC_KEYS_DIR
elsewhere. It prints the public key's fingerprint, for auditors to pin, and never any private
key or chain key. It runs without any key configured (production refuses to start without
them, and points here), so it runs no system checks.

Rotating the signing key: write a new pair, put the old public key in AUDIT_PUBLIC_KEYS_DIR and
point AUDIT_SIGNING_KEY_FILE at the new private key; the next checkpoint is signed with it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.core.management.base import BaseCommand, CommandError, CommandParser

from statusadmin.audit import keyfiles
from statusadmin.audit.evidence_verifier import fingerprint, key_id, public_key_pem


def public_path(private: Path) -> Path:
    return private.with_name(private.name.removesuffix(".pem") + ".pub.pem")


class Command(BaseCommand):
    help = "Write a new audit signing key pair (and/or chain key) and print its fingerprint."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--signing-key",
            type=Path,
            help=f"the private key to write (default, without --chain-key: "
            f"./{keyfiles.SIGNING_KEY_NAME}); its public key goes beside it as NAME.pub.pem",
        )
        parser.add_argument("--chain-key", type=Path, help="also, or only, write a chain key here")

    def handle(self, *args: Any, **options: Any) -> None:
        signing, chain = options["signing_key"], options["chain_key"]
        if signing is None and chain is None:
            signing = Path(keyfiles.SIGNING_KEY_NAME)
        writes: list[tuple[Path, bytes]] = []
        if chain is not None:
            writes.append((chain.absolute(), keyfiles.new_chain_key().encode() + b"\n"))
        key = Ed25519PrivateKey.generate()
        if signing is not None:
            writes.append((signing.absolute(), keyfiles.private_pem(key)))
            writes.append(
                (public_path(signing.absolute()), public_key_pem(key.public_key()).encode())
            )
        # Looked at before anything is written, so a refusal leaves no half-made set behind.
        if taken := [str(path) for path, _ in writes if path.exists()]:
            raise CommandError(
                f"{', '.join(taken)} already exist{'s' if len(taken) == 1 else ''}: audit_keygen "
                "never replaces a key (what it signed or tagged would no longer verify). "
                "Choose other paths."
            )
        for path, data in writes:
            try:
                keyfiles.write_new(path, data)
            except FileExistsError:
                raise CommandError(
                    f"{path} appeared meanwhile: audit_keygen never replaces a key."
                ) from None
            except OSError as exc:
                raise CommandError(f"audit_keygen can't write {path} ({exc.strerror}).") from None
        if chain is not None:
            self.stdout.write(
                f"Wrote a new chain key to {chain.absolute()} (mode 0600). Set "
                "AUDIT_CHAIN_KEY_FILE to it in every process; keep it out of the database."
            )
        if signing is not None:
            self._say_signing(signing.absolute(), key.public_key())

    def _say_signing(self, private: Path, public: Ed25519PublicKey) -> None:
        self.stdout.write(
            f"Wrote a new signing key to {private} (mode 0600): set AUDIT_SIGNING_KEY_FILE to "
            "it where checkpoints are written (the worker, audit_checkpoint), and nowhere else.\n"
            f"Wrote its public key to {public_path(private)}: for AUDIT_PUBLIC_KEYS_DIR on the "
            "servers that only check, and to publish.\n"
            f"Fingerprint: {fingerprint(public)}\n"
            f"(key id {key_id(public)}, its first 16 digits, which checkpoints name.) Hand the "
            "fingerprint to auditors yourself, not through this server: they pin it with "
            "`verify.py --fingerprint FINGERPRINT`."
        )
