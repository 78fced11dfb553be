"""Which Convoso account a request or a job works on.

There is always the default account: the environment's CONVOSO_AUTH_TOKEN, or the embedded
sandbox without one, exactly as when the dashboard served a single account. Beside it, the
ConvosoAccount rows (an office, a client), each at /a/<slug>/.

The account in use is a context variable: the account middleware sets it for a request from
its URL, and a job sets it from the account its work names (``use``). Everything that talks to
Convoso (connection.get_client) or checks a permission (accounts/backends.py) asks ``current``,
so no call site can pick the wrong account by forgetting to pass it. Outside any ``use`` it is
the default account, as before.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import QuerySet

from statusadmin.accounts.roles import may_use

from .client import account_fingerprint
from .models import ConvosoAccount

SANDBOX_API_URL = "http://convoso-sandbox.invalid/v1"
SANDBOX_ACCOUNT = "sandbox"


@dataclass(frozen=True, slots=True)
class Account:
    key: str  # what its rows carry in their ``account`` column
    slug: str  # in its URLs; "" for the default account, which lives at the root
    name: str
    api_url: str
    pk: int | None = None  # its ConvosoAccount row; None for the default account
    enabled: bool = True
    # The encrypted token (convoso/tokens.py): the client decrypts it only when it is built.
    token_encrypted: str = field(default="", repr=False)

    @property
    def is_default(self) -> bool:
        return self.pk is None

    @property
    def is_sandbox(self) -> bool:
        return self.api_url.rstrip("/") == SANDBOX_API_URL

    @property
    def prefix(self) -> str:
        """Its URLs' beginning: "" for the default account, "/a/<slug>" for the others."""
        return f"/a/{self.slug}" if self.slug else ""

    def url(self, path: str = "/") -> str:
        """``path`` (a path of the default account's URLs) in this account."""
        return self.prefix + path


def _default_name() -> str:
    return settings.CONVOSO_ACCOUNT_NAME or ("Sandbox" if settings.CONVOSO_SANDBOX else "Main")


def default_account() -> Account:
    if settings.CONVOSO_SANDBOX:
        return Account(SANDBOX_ACCOUNT, "", _default_name(), SANDBOX_API_URL)
    api_url = settings.CONVOSO_API_URL.rstrip("/")
    key = account_fingerprint(api_url, settings.CONVOSO_AUTH_TOKEN)
    return Account(key, "", _default_name(), api_url)


def _of(row: ConvosoAccount) -> Account:
    return Account(
        key=row.slug, slug=row.slug, name=row.name, api_url=row.api_url.rstrip("/"), pk=row.pk,
        enabled=row.enabled, token_encrypted=row.token_encrypted,
    )  # fmt: skip


def others(*, enabled_only: bool = True) -> list[Account]:
    rows = ConvosoAccount.objects.all()
    if enabled_only:
        rows = rows.filter(enabled=True)
    return [_of(row) for row in rows.order_by("name")]


def every(*, enabled_only: bool = True) -> list[Account]:
    """The default account first, then the others by name."""
    return [default_account(), *others(enabled_only=enabled_only)]


def by_slug(slug: str) -> Account | None:
    """An enabled account by its URL name ("" is the default account)."""
    if not slug:
        return default_account()
    row = ConvosoAccount.objects.filter(slug=slug, enabled=True).first()
    return _of(row) if row is not None else None


def by_key(key: str, *, enabled_only: bool = True) -> Account | None:
    """The account whose rows carry ``key``, if it is still served."""
    default = default_account()
    if key == default.key:
        return default
    rows = ConvosoAccount.objects.filter(slug=key)
    if enabled_only:
        rows = rows.filter(enabled=True)
    row = rows.first()
    return _of(row) if row is not None else None


def names() -> dict[str, str]:
    """Every account's name by its key, disabled ones too (for the audit log's rows)."""
    found = {default_account().key: _default_name()}
    found.update(ConvosoAccount.objects.values_list("slug", "name"))
    return found


def scoped[Q: QuerySet[Any]](rows: Q) -> Q:
    """Rows (of any model with an ``account`` column) of the account in use only: every
    lookup of a change request, a change set or a mirrored status by id starts here, so
    another account's id finds nothing."""
    return rows.filter(account=current().key)


def usable_by(user: Any) -> list[Account]:
    """The accounts the person may use (the header's switcher), the default account first
    if they may use it."""
    return [account for account in every() if may_use(user, account)]


_current: contextvars.ContextVar[Account | None] = contextvars.ContextVar(
    "convoso_account", default=None
)


def current() -> Account:
    """The account in use: the request's or the job's, else the default account."""
    return _current.get() or default_account()


@contextmanager
def use(account: Account) -> Iterator[Account]:
    """Work on ``account`` inside the block (a request, a job, a test)."""
    token = _current.set(account)
    try:
        yield account
    finally:
        _current.reset(token)
