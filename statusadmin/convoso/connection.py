"""Builds the Convoso client of the account in use (tenancy.current): the real API, or the
embedded sandbox."""

from __future__ import annotations

import threading

from django.conf import settings

from . import tokens
from .client import ConvosoClient, account_fingerprint
from .sandbox import SANDBOX_TOKEN
from .tenancy import SANDBOX_ACCOUNT, SANDBOX_API_URL, Account, current

__all__ = [
    "SANDBOX_ACCOUNT",
    "SANDBOX_API_URL",
    "build_client",
    "get_client",
    "is_sandbox",
    "token_client",
]

_local = threading.local()


def is_sandbox() -> bool:
    return bool(settings.CONVOSO_SANDBOX)


def _config(account: Account) -> tuple:
    return (
        account,
        settings.CONVOSO_SANDBOX,
        settings.CONVOSO_API_URL,
        settings.CONVOSO_AUTH_TOKEN,
        settings.CONVOSO_CONNECT_TIMEOUT,
        settings.CONVOSO_READ_TIMEOUT,
        settings.CONVOSO_RETRIES,
        settings.CONVOSO_RETRY_BACKOFF,
        settings.CONVOSO_SANDBOX_LATENCY_MS,
    )


def get_client(account: Account | None = None) -> ConvosoClient:
    """The client of ``account`` (default: the one in use), kept per thread and account so
    connections are reused.

    requests.Session isn't documented as thread-safe, hence a thread-local; the account (with
    its encrypted token) and the settings are the key, so a changed token or configuration (as
    in tests) never reuses a stale client.
    """
    account = account or current()
    config = _config(account)
    clients: dict[str, tuple[tuple, ConvosoClient]] = _local.__dict__.setdefault("clients", {})
    cached = clients.get(account.key)
    if cached is not None and cached[0] == config:
        return cached[1]
    client = build_client(
        account,
        connect_timeout=settings.CONVOSO_CONNECT_TIMEOUT,
        read_timeout=settings.CONVOSO_READ_TIMEOUT,
        retries=settings.CONVOSO_RETRIES,
    )
    clients[account.key] = (config, client)
    return client


def build_client(
    account: Account, *, connect_timeout: float, read_timeout: float, retries: int
) -> ConvosoClient:
    """A new client for ``account`` (the health check wants shorter timeouts)."""
    if account.is_default:
        token = SANDBOX_TOKEN if is_sandbox() else settings.CONVOSO_AUTH_TOKEN
    else:
        token = tokens.decrypt(account.token_encrypted)
    return _client(
        account.api_url,
        token,
        account.key,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        retries=retries,
    )


def token_client(api_url: str, token: str) -> ConvosoClient:
    """A client for a token not saved yet, to try it before it is (services.token_check)."""
    return _client(
        api_url.rstrip("/"),
        token,
        account_fingerprint(api_url, token),
        connect_timeout=settings.CONVOSO_CONNECT_TIMEOUT,
        read_timeout=settings.CONVOSO_READ_TIMEOUT,
        retries=settings.CONVOSO_RETRIES,
    )


def _client(
    api_url: str,
    token: str,
    key: str,
    *,
    connect_timeout: float,
    read_timeout: float,
    retries: int,
) -> ConvosoClient:
    if api_url.rstrip("/") == SANDBOX_API_URL:
        from .sandbox import SandboxAdapter

        return ConvosoClient(
            api_url=SANDBOX_API_URL,
            token=token,
            transport=SandboxAdapter(),
            account=key,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
        )
    return ConvosoClient(
        api_url=api_url,
        token=token,
        account=key,
        retries=retries,
        backoff=settings.CONVOSO_RETRY_BACKOFF,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
    )
