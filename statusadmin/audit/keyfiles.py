"""Key files: written once, whole, readable by their owner only.

Settings load the development keys through this module (before Django's apps exist), and
`manage.py audit_keygen` writes new keys with it; so it needs only the standard library and
`cryptography`.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

CHAIN_KEY_NAME = "audit-chain-key"
SIGNING_KEY_NAME = "audit-signing.pem"
TOKEN_KEY_NAME = "convoso-token-key"  # noqa: S105 - a file name


def new_chain_key() -> str:
    return secrets.token_urlsafe(48)


def private_pem(key: Ed25519PrivateKey) -> bytes:
    """The key as AUDIT_SIGNING_KEY_FILE holds it: unencrypted PKCS#8 PEM."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def write_new(path: Path, data: bytes) -> None:
    """Write ``path`` with mode 0600, whole or not at all; FileExistsError if it exists.

    The bytes go to a temporary file in the same folder (mkstemp makes it 0600), which is then
    hard-linked under the name: a link never replaces a file, and whoever opens the name finds
    every byte. A plain O_EXCL create would show an empty file to a process that reads it
    before the bytes arrive.
    """
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.link(temporary, path)
    finally:
        os.unlink(temporary)


def development_key(path: Path, make: Callable[[], bytes]) -> bytes:
    """What ``path`` holds; if it doesn't exist yet, ``make``'s bytes, written there first.

    Processes that start together (`make run`'s web server and worker) all end up with the
    first writer's key, never two different ones: the losers of the race read the winner's.
    """
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):  # another process wrote it first: read theirs
        write_new(path, make())
    return path.read_bytes()


def development_chain_key(folder: Path) -> str:
    return development_key(folder / CHAIN_KEY_NAME, lambda: new_chain_key().encode()).decode()


def development_signing_key(folder: Path) -> Path:
    """The development signing key's path (the key is made there on first need)."""
    path = folder / SIGNING_KEY_NAME
    development_key(path, lambda: private_pem(Ed25519PrivateKey.generate()))
    return path


def development_token_key(folder: Path) -> str:
    """The key that encrypts Convoso tokens in development (convoso/tokens.py): a Fernet key."""
    from cryptography.fernet import Fernet

    return development_key(folder / TOKEN_KEY_NAME, Fernet.generate_key).decode()
