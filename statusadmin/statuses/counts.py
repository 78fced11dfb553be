"""How many statuses match a search, kept until the account's mirror changes.

Counting the matches of a one- or two-character search reads every row of the catalogue (no
index narrows ``LIKE '%e%'``), on every keystroke of everyone who types it. The count is kept
in the cache beside the account's mirror token, and served only while that token is still the
account's. Everything that changes mirror rows goes through statuses/mirror.py, which calls
``mirror_changed``.

``mirror_changed`` replaces the token at once and again when the change commits: a search
running meanwhile may count the rows as they were before the commit under the first new token,
but never under the one that follows the commit, so no count outlives a change it does not
include. Should a process stop between the commit and its second replacement, a count can lag
for at most COUNT_TIMEOUT seconds.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

# How long a count is kept at most, whatever the token says.
COUNT_TIMEOUT = 60


def _token_key(account: str) -> str:
    return f"mirror-token:{account}"


def _new_token() -> str:
    # Kept for the cache's default timeout: a token that lapses is replaced by the next
    # search, which then counts once more; a count is only ever served under its own token.
    return secrets.token_hex(8)


def mirror_changed(account: str) -> None:
    """Mirror rows of ``account`` change (or have just changed) in the transaction under way."""

    def replace() -> None:
        cache.set(_token_key(account), _new_token())

    replace()
    transaction.on_commit(replace)


def kept(account: str, what: str, count: Callable[[], int]) -> int:
    """``count()``, or what it gave before if the account's mirror hasn't changed since.
    ``what`` says what was counted (the query and its parameters): one count per ``what``.
    Only where the cache is Redis (settings.SEARCH_COUNTS_KEPT); elsewhere it always counts."""
    if not settings.SEARCH_COUNTS_KEPT:
        return count()
    token_key = _token_key(account)
    count_key = f"mirror-count:{account}:{hashlib.sha256(what.encode()).hexdigest()}"
    found = cache.get_many([token_key, count_key])  # one round trip for both
    token, known = found.get(token_key), found.get(count_key)
    if token is not None and known is not None and known[0] == token:
        return int(known[1])
    if token is None:
        # The first search since the cache was emptied sets a token; racing ones agree on it.
        cache.add(token_key, _new_token())
        token = cache.get(token_key)
    value = count()
    if token is not None:
        cache.set(count_key, (token, value), COUNT_TIMEOUT)
    return value
