"""The audit trail's two secrets and the public keys, read from settings (README: trust model).

- The chain key (AUDIT_CHAIN_KEY or AUDIT_CHAIN_KEY_FILE) tags every entry written with it
  (HMAC-SHA256 of the entry's hash), so someone with database access alone can't forge or
  edit an entry and recompute a chain that verify_audit accepts.
- The signing key (AUDIT_SIGNING_KEY_FILE, Ed25519) signs checkpoints, so nobody without it
  can write a checkpoint that vouches for a rewritten chain, wherever checkpoints are kept.

Keys are read when needed, never cached: settings can change (tests) and files can be rotated.
Errors name the setting and the file, never what the file holds.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .evidence_verifier import chain_key_bytes, key_id, load_public_key


def chain_key() -> bytes | None:
    text = settings.AUDIT_CHAIN_KEY
    return chain_key_bytes(text) if text else None


def signing_key() -> Ed25519PrivateKey | None:
    if not settings.AUDIT_SIGNING_KEY_FILE:
        return None
    path = Path(settings.AUDIT_SIGNING_KEY_FILE)
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            f"AUDIT_SIGNING_KEY_FILE ({path}) can't be read as an unencrypted PEM private key "
            f"({type(exc).__name__})."
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ImproperlyConfigured(f"AUDIT_SIGNING_KEY_FILE ({path}) is not an Ed25519 key.")
    return key


def checkpoint_signer() -> Ed25519PrivateKey | None:
    """The key that signs the next checkpoint. In production there must be one: a checkpoint
    anyone who can write the file could have written proves nothing to an auditor."""
    key = signing_key()
    if key is None and settings.AUDIT_KEYS_REQUIRED:
        raise ImproperlyConfigured(
            "With DJANGO_DEBUG=0 checkpoints are never written unsigned, and "
            "AUDIT_SIGNING_KEY_FILE is not set here. Set it where checkpoints are written (the "
            "worker, audit_checkpoint); `python manage.py audit_keygen` writes a key pair."
        )
    return key


def signing_public_key() -> Ed25519PublicKey | None:
    key = signing_key()
    return key.public_key() if key else None


def public_keys() -> dict[str, Ed25519PublicKey]:
    """Every key checkpoints may be signed with, by key id: the current signing key's public
    half and the retired ones kept in AUDIT_PUBLIC_KEYS_DIR (*.pem), so rotation never leaves
    old checkpoints unverifiable."""
    found: dict[str, Ed25519PublicKey] = {}
    if settings.AUDIT_PUBLIC_KEYS_DIR:
        for path in sorted(Path(settings.AUDIT_PUBLIC_KEYS_DIR).glob("*.pem")):
            try:
                key = load_public_key(path.read_bytes())
            except (OSError, ValueError) as exc:
                raise ImproperlyConfigured(
                    f"{path} in AUDIT_PUBLIC_KEYS_DIR is not an Ed25519 public key ({exc})."
                ) from None
            found[key_id(key)] = key
    if current := signing_public_key():
        found[key_id(current)] = current
    return found
