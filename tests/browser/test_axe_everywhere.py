"""axe finds nothing, of any impact, on the screens not covered by their own browser tests."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe

pytestmark = pytest.mark.browser


def violations(page) -> list[str]:  # type: ignore[no-untyped-def]
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']]}"
        for v in Axe().run(page).response["violations"]
    ]


@pytest.mark.parametrize(
    ("who", "path"),
    [
        ("supervisor", "/"),
        ("supervisor", "/statuses/import/"),
        ("supervisor", "/no/such/page/"),
        ("supervisor", "/audit/"),
        ("approver_user", "/approvals/"),
        ("compliance_user", "/audit/"),
        ("compliance_user", "/statuses/XFER/history/"),
        # allauth's pages, in our layout: second factors, and where a sign-in can end.
        ("approver_user", "/accounts/2fa/"),
        ("supervisor", "/accounts/2fa/totp/activate/"),
        ("approver_user", "/accounts/2fa/reauthenticate/"),
        ("supervisor", "/accounts/no-role/"),
        ("supervisor", "/accounts/social/login/cancelled/"),
        # Finding work again, notices, and the person's clock (#26).
        ("supervisor", "/changes/"),
        ("supervisor", "/requests/"),
        ("approver_user", "/notices/"),
        ("compliance_user", "/accounts/time-zone/"),
    ],
)
# A desktop and a phone (390 px): every screen is checked at both widths.
@pytest.mark.parametrize("width", [1280, 390])
def test_no_violations(session, request, who, path, width):  # type: ignore[no-untyped-def]
    user = request.getfixturevalue(who)
    page = session.login_as(user, second_factor=who == "approver_user")
    page.set_viewport_size({"width": width, "height": 844})
    session.open(path)
    assert page.url == session.base_url + path, "sent elsewhere"
    assert violations(page) == []


def test_the_login_page(session):  # type: ignore[no-untyped-def]
    page = session.open("/accounts/login/")
    assert violations(page) == []
