"""Real-browser tests: Playwright driving Debian's Chromium against pytest-django's live_server."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from django.db import connections
from playwright.sync_api import Browser, sync_playwright

from statusadmin.convoso.sandbox import seed
from tests.browser.helpers import BrowserSession

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
# Playwright can't download its own browser here; these flags keep Debian's Chromium quiet and
# off the network (see STYLE.md).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    # Playwright's sync API runs an event loop in this thread, which makes Django refuse ORM
    # calls from it; these tests use the ORM only to arrange and check, never concurrently.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
    del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


@pytest.fixture
def session(
    browser: Browser, live_server, transactional_db, django_db_serialized_rollback
) -> Iterator[BrowserSession]:  # type: ignore[no-untyped-def]
    seed()
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(10_000)
    yield BrowserSession(context, live_server.url)
    context.close()
    # While Playwright's loop runs, Django hands this thread separate connections; close them,
    # or PostgreSQL refuses to drop the test database at the end ("being accessed").
    connections.close_all()
