"""Every screen, in a real browser, under the real Content Security Policy: no violations,
no script errors, no missing resources."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.factories import add_entry

pytestmark = pytest.mark.browser

# Chromium reports violations both in the console and as DOM events; listen to both.
LISTEN = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__violations.push(`${e.violatedDirective} ${e.blockedURI || 'inline'} ${e.sourceFile}`);
});
"""


def problems(session, page) -> list[str]:  # type: ignore[no-untyped-def]
    """CSP violations, script errors (htmx reports its own as console errors) and resources
    that failed to load. A page's own status (a 429 lockout page, say) is not a problem."""
    seen = [
        m
        for m in session.console
        if "Content Security Policy" in m
        or m.startswith("pageerror")
        or (m.startswith("error:") and "Failed to load resource" not in m)
    ]
    seen += session.failed
    seen += page.evaluate("window.__violations || []")
    return seen


def visit(session, path: str):  # type: ignore[no-untyped-def]
    """Load a screen, which must itself load (a 404 or 500 page is trivially CSP-clean)."""
    response = session.page.goto(session.base_url + path)
    assert response is not None, path
    assert response.ok, f"{path}: {response.status}"
    session.page.wait_for_load_state("networkidle")
    return session.page


def test_every_screen_is_csp_clean(session, admin_user):
    entry = add_entry(changed=("dnc",), reason="why")
    session.context.add_init_script(LISTEN)
    page = visit(session, "/accounts/login/")
    assert problems(session, page) == []
    session.login_as(admin_user, second_factor=True)

    screens = [
        "/", "/?q=xfer", "/?created=XFER", "/statuses/new/", "/statuses/XFER/name/",
        "/statuses/XFER/history/", "/audit/", f"/audit/{entry.pk}/", "/audit/?field=dnc",
        "/accounts/password/", "/accounts/password/done/", "/admin/", "/admin/auth/user/",
        "/admin/audit/auditentry/", f"/admin/audit/auditentry/{entry.pk}/change/",
        "/admin/axes/accessattempt/", "/admin/statuses/mirrorstatus/",
        "/changes/", "/requests/", "/notices/", "/accounts/time-zone/",
    ]  # fmt: skip
    for path in screens:
        page = visit(session, path)
        assert problems(session, page) == [], path

    # The htmx-driven states: live search, a switch, the DNC prompt, inline name edit,
    # a failed create, the audit filters and the verification button.
    page = visit(session, "/")
    page.get_by_label("Search").fill("xf")
    expect(page.locator("tbody#row-COMP")).to_have_count(0)
    page.locator("tbody#row-XFER").get_by_role("switch", name="Callback").click()
    expect(page.locator("#toast")).to_contain_text("Saved XFER")
    page.locator("tbody#row-XFER").get_by_role("switch", name="DNC").click()
    expect(page.get_by_label("Why turn DNC on for XFER?")).to_be_visible()
    # Focus reaches the reason box when htmx settles the row, a moment after it shows.
    expect(page.get_by_label("Why turn DNC on for XFER?")).to_be_focused()
    page.keyboard.press("Escape")
    # The cancel swaps the row back; edit the name once it has (not the row on its way out).
    expect(page.get_by_label("Why turn DNC on for XFER?")).to_have_count(0)
    page.locator("tbody#row-XFER").get_by_role("link", name="Transferred to Closer").click()
    expect(page.locator("tbody#row-XFER").get_by_label("Name")).to_be_focused()
    page.keyboard.press("Escape")
    assert problems(session, page) == []

    page = visit(session, "/statuses/new/")
    page.get_by_role("button", name="Create status").click()
    expect(page.locator("#id_code_error")).to_be_visible()
    assert problems(session, page) == []

    from statusadmin.audit.integrity import write_checkpoint

    write_checkpoint()
    page = visit(session, "/audit/")
    page.get_by_label("Outcome").select_option("succeeded")
    page.get_by_role("button", name="Verify now").click()
    expect(page.locator("#integrity")).to_contain_text("Chain intact")
    assert problems(session, page) == []


def test_locked_out_page_is_csp_clean(session, supervisor, settings):
    settings.AXES_FAILURE_LIMIT = 1
    session.context.add_init_script(LISTEN)
    page = visit(session, "/accounts/login/")
    page.get_by_label("Username").fill("sue")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Too many failed logins")).to_be_visible()
    assert problems(session, page) == []
