"""Two Convoso accounts besides the default one, each an emulated account of the sandbox."""

from __future__ import annotations

from typing import Any

import pytest
import responses

from statusadmin.convoso import tenancy, tokens
from statusadmin.convoso.models import ConvosoAccount, Membership
from statusadmin.convoso.sandbox import token_for
from statusadmin.statuses import mirror
from tests.factories import make_user

ROLES = ("Supervisor", "Compliance", "Approver")


def add_account(slug: str, name: str) -> tenancy.Account:
    token = token_for(slug)
    ConvosoAccount.objects.create(
        slug=slug, name=name, api_url=tenancy.SANDBOX_API_URL,
        token_encrypted=tokens.encrypt(token), token_last4=tokens.last4(token),
    )  # fmt: skip
    account = tenancy.by_slug(slug)
    assert account is not None
    with tenancy.use(account):
        mirror.mirror_refresh()
    return account


def member(username: str, account: tenancy.Account, *roles: str) -> Any:
    user = make_user(username)
    for role in roles or ROLES:
        Membership.objects.create(user=user, account_id=account.pk, role=role)
    return user


@pytest.fixture
def east(db):  # type: ignore[no-untyped-def]
    return add_account("east", "East office")


@pytest.fixture
def west(db):  # type: ignore[no-untyped-def]
    return add_account("west", "West client")


# The audit tests' keys, for the accounts' evidence bundles.
from tests.audit.conftest import chain_key, signing_key  # noqa: E402, F401


@pytest.fixture
def convoso():  # type: ignore[no-untyped-def]
    """Convoso's search, for the token check an account is added with (token_check.py)."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock
