"""Builds the Convoso client from Django settings: the real API, or the embedded sandbox."""

from __future__ import annotations

import threading

from django.conf import settings

from .client import ConvosoClient

SANDBOX_API_URL = "http://convoso-sandbox.invalid/v1"
SANDBOX_ACCOUNT = "sandbox"

_local = threading.local()


def is_sandbox() -> bool:
    return bool(settings.CONVOSO_SANDBOX)


def _config() -> tuple:
    return (
        settings.CONVOSO_SANDBOX,
        settings.CONVOSO_API_URL,
        settings.CONVOSO_AUTH_TOKEN,
        settings.CONVOSO_CONNECT_TIMEOUT,
        settings.CONVOSO_READ_TIMEOUT,
        settings.CONVOSO_RETRIES,
        settings.CONVOSO_RETRY_BACKOFF,
        settings.CONVOSO_SANDBOX_LATENCY_MS,
    )


def get_client() -> ConvosoClient:
    """The client for the configured account, one per thread so connections are reused.

    requests.Session isn't documented as thread-safe, hence a thread-local; the settings are part
    of the key so that a changed configuration (as in tests) never reuses a stale client.
    """
    config = _config()
    cached = getattr(_local, "client", None)
    if cached is not None and cached[0] == config:
        return cached[1]
    client = _build()
    _local.client = (config, client)
    return client


def _build() -> ConvosoClient:
    return build_client(
        connect_timeout=settings.CONVOSO_CONNECT_TIMEOUT,
        read_timeout=settings.CONVOSO_READ_TIMEOUT,
        retries=settings.CONVOSO_RETRIES,
    )


def build_client(*, connect_timeout: float, read_timeout: float, retries: int) -> ConvosoClient:
    """A new client for the configured account (the health check wants shorter timeouts)."""
    if is_sandbox():
        from .sandbox import SANDBOX_TOKEN, SandboxAdapter

        return ConvosoClient(
            api_url=SANDBOX_API_URL,
            token=SANDBOX_TOKEN,
            transport=SandboxAdapter(),
            account=SANDBOX_ACCOUNT,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
        )
    return ConvosoClient(
        api_url=settings.CONVOSO_API_URL,
        token=settings.CONVOSO_AUTH_TOKEN,
        retries=retries,
        backoff=settings.CONVOSO_RETRY_BACKOFF,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
    )
