"""Adding Convoso accounts, changing their tokens and rotating the keys that encrypt them:
what `manage.py convoso_account`, `rotate_token_keys` and the admin share.

A token is tried with a search (which changes nothing in Convoso) before it is saved, so a
mistyped token is refused here, in words, rather than failing every page of its account later.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils.text import slugify

from . import errors, tokens
from .connection import token_client
from .models import ConvosoAccount

SLUG_LENGTH = ConvosoAccount._meta.get_field("slug").max_length or 24


class TokenNotAccepted(Exception):
    """The token could not be confirmed with Convoso: refused, or Convoso unreachable. The
    message says which in plain words, and never holds the token."""


def token_check(*, api_url: str, token: str) -> None:
    """Raise TokenNotAccepted unless Convoso at ``api_url`` answers a search with ``token``."""
    try:
        token_client(api_url, token).search("")
    except errors.ConvosoRejected as exc:
        # A search asks nothing of a status: whatever Convoso refuses in it, it refuses for
        # the token (or the account behind it).
        said = exc.upstream_message or "no reason given"
        raise TokenNotAccepted(
            f"Convoso refused this token ({said}). Check the token and the API URL."
        ) from None
    except errors.ConvosoError as exc:
        # The client's explanation never holds the token (it removes any echo of it).
        raise TokenNotAccepted(
            f"The dashboard could not check the token with Convoso: {exc.explanation}"
        ) from None


_WEB_URL = URLValidator(
    schemes=["http", "https"],
    message="Enter the API's web address, like https://api.convoso.com/v1.",
)


def api_url_check(api_url: str) -> None:
    """Only http(s): the model's URLField would take ftp://, which no client can call."""
    _WEB_URL(api_url)


def slug_for(name: str) -> str:
    """The short name an account gets from its name when none is chosen."""
    return slugify(name)[:SLUG_LENGTH].strip("-")


def account_add(*, name: str, api_url: str, token: str, slug: str = "") -> ConvosoAccount:
    """A new, enabled account, saved only once its fields are valid and Convoso accepted its
    token. Raises ValidationError (by field) or TokenNotAccepted; nothing is saved then."""
    account = ConvosoAccount(name=name, slug=slug or slug_for(name), api_url=api_url.rstrip("/"))
    if not token:
        raise ValidationError({"token": "No token was given."})
    try:
        api_url_check(account.api_url)
    except ValidationError as exc:
        raise ValidationError({"api_url": exc.messages}) from None
    taken = ConvosoAccount.objects.filter(slug=account.slug).first()
    if taken is not None:
        raise ValidationError(
            {"slug": f"{account.slug!r} is taken ({taken.name}); choose another short name."}
        )
    # Checked before Convoso is asked, so a typo costs no call; the token fields are filled
    # in after the check, as only a token Convoso accepted is stored.
    account.full_clean(exclude=["token_encrypted", "token_last4"])
    token_check(api_url=account.api_url, token=token)
    account_set_token(account, token)
    account.save()
    return account


def account_set_token(account: ConvosoAccount, token: str) -> None:
    """Put ``token`` on ``account``, encrypted, with its last four characters for display (the
    caller saves)."""
    account.token_encrypted = tokens.encrypt(token)
    account.token_last4 = tokens.last4(token)


def account_set_enabled(*, slug: str, enabled: bool) -> ConvosoAccount:
    account = ConvosoAccount.objects.filter(slug=slug).first()
    if account is None:
        raise ConvosoAccount.DoesNotExist(slug)
    account.enabled = enabled
    account.save(update_fields=["enabled"])
    return account


class KeysDoNotOpen(Exception):
    """Some stored tokens are opened by no configured key; ``accounts`` names them."""

    def __init__(self, accounts: list[ConvosoAccount]) -> None:
        self.accounts = accounts
        named = ", ".join(f"{a.name} ({a.slug})" for a in accounts)
        super().__init__(
            f"No key in CONVOSO_TOKEN_KEYS opens the token of {named}. Nothing was re-encrypted. "
            "Put back the key it was saved with (after the new one), or save its token again."
        )


def token_keys_rotate() -> int:
    """Re-encrypt every stored token under the first key of CONVOSO_TOKEN_KEYS; how many.

    All or nothing: a token no key opens stops the rotation before anything is written, so the
    old key is never dropped while a token still needs it.
    """
    with transaction.atomic():
        accounts = list(ConvosoAccount.objects.select_for_update().order_by("slug"))
        rotated: dict[int, str] = {}
        unreadable = []
        for account in accounts:
            try:
                rotated[account.pk] = tokens.rotate(account.token_encrypted)
            except tokens.TokenUnreadable:
                unreadable.append(account)
        if unreadable:
            raise KeysDoNotOpen(unreadable)
        for account in accounts:
            account.token_encrypted = rotated[account.pk]
        ConvosoAccount.objects.bulk_update(accounts, ["token_encrypted"])
    return len(accounts)
