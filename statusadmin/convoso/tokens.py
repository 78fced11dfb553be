"""Convoso tokens at rest: encrypted with Fernet (cryptography's authenticated encryption),
under the keys of CONVOSO_TOKEN_KEYS. The first key encrypts, every key decrypts, so keys
rotate: add a new key in front, run `manage.py rotate_token_keys`, then drop the old one.

A database dump holds only ciphertext; without a key it says nothing about a token but the
last four characters the dashboard shows. Decrypted tokens live only in the client that uses
them (ConvosoClient hides it from repr, logs and errors).
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class TokenUnreadable(Exception):
    """A stored token that no configured key opens (a key was dropped too soon)."""


def _fernet() -> MultiFernet:
    keys = list(settings.CONVOSO_TOKEN_KEYS)
    if not keys:
        raise ImproperlyConfigured(
            "CONVOSO_TOKEN_KEYS is not set, so Convoso tokens can't be stored or read. "
            "Generate a key with: python manage.py convoso_account keygen"
        )
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError:
        raise ImproperlyConfigured(
            "A key in CONVOSO_TOKEN_KEYS is not a Fernet key (32 url-safe base64-encoded "
            "bytes). Generate one with: python manage.py convoso_account keygen"
        ) from None


def new_key() -> str:
    return Fernet.generate_key().decode()


def encrypt(token: str) -> str:
    return _fernet().encrypt(token.encode()).decode()


def decrypt(stored: str) -> str:
    try:
        return _fernet().decrypt(stored.encode()).decode()
    except InvalidToken:
        raise TokenUnreadable(
            "No key in CONVOSO_TOKEN_KEYS opens this account's token: was a key removed "
            "before `manage.py rotate_token_keys` ran? Put it back, or save the token again."
        ) from None


def rotate(stored: str) -> str:
    """The same token, encrypted under the first key."""
    try:
        return _fernet().rotate(stored.encode()).decode()
    except InvalidToken:
        raise TokenUnreadable("No key in CONVOSO_TOKEN_KEYS opens this token.") from None


def last4(token: str) -> str:
    return token[-4:] if len(token) >= 8 else ""
