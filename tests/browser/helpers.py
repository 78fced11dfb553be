"""Plain helpers for the browser tests."""

from __future__ import annotations

from django.conf import settings as django_settings
from playwright.sync_api import BrowserContext, Page


def serious(results) -> list[str]:  # type: ignore[no-untyped-def]
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


class BrowserSession:
    def __init__(self, context: BrowserContext, base_url: str) -> None:
        self.context = context
        self.base_url = base_url
        self.page = context.new_page()
        self.console: list[str] = []
        self.page.on("console", lambda msg: self.console.append(f"{msg.type}: {msg.text}"))
        self.page.on("pageerror", lambda exc: self.console.append(f"pageerror: {exc}"))
        # Subresources (scripts, styles, icons, htmx requests) that failed to load.
        self.failed: list[str] = []
        self.page.on(
            "response",
            lambda r: (
                r.status >= 400
                and r.request.resource_type != "document"
                and self.failed.append(f"{r.status} {r.url}")
            ),
        )

    def login_as(self, user, *, second_factor: bool = False) -> Page:  # type: ignore[no-untyped-def]
        """Log in through a real session cookie, without typing into the login form (with a
        second factor passed in that session, if asked: tests of approving, not of the factor)."""
        from django.test import Client

        from tests.helpers import pass_second_factor

        client = Client()
        client.force_login(user)
        if second_factor:
            pass_second_factor(client, user)
        cookie = client.cookies[django_settings.SESSION_COOKIE_NAME]
        self.context.add_cookies(
            [{"name": cookie.key, "value": cookie.value, "url": self.base_url}]
        )
        return self.page

    def open(self, path: str = "/") -> Page:
        self.page.goto(self.base_url + path)
        return self.page
