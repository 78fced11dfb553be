"""Issue #26 in a real browser, under the real Content Security Policy: compliance's
"Verify now" waits for the worker and shows the result by itself; a person's time zone is
suggested from the browser, chosen once, and used for every time shown."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.core.management import call_command
from playwright.sync_api import expect

from statusadmin.audit.integrity import write_checkpoint
from tests.browser.helpers import BrowserSession
from tests.browser.test_csp import LISTEN, problems
from tests.factories import add_entry

pytestmark = pytest.mark.browser


def test_compliance_verifies_now_and_the_panel_shows_the_result(session, compliance_user):
    add_entry()
    add_entry()
    write_checkpoint()
    session.context.add_init_script(LISTEN)
    page = session.login_as(compliance_user)
    session.open("/audit/")
    expect(page.locator("#integrity")).to_contain_text("Not verified yet")
    page.get_by_role("button", name="Verify now").click()
    expect(page.locator("#verification-queued")).to_contain_text("Verification queued…")
    call_command("db_worker", "--batch", "--no-startup-delay", stdout=io.StringIO())
    # The panel asks again by itself, and shows the result without a reload.
    expect(page.locator("#verified")).to_contain_text("2 of 2 entries verified at", timeout=8000)
    expect(page.locator("#verification-queued")).to_have_count(0)
    assert problems(session, page) == []


def test_the_browsers_zone_is_suggested_chosen_once_and_used(session, compliance_user):
    add_entry(at=datetime(2026, 3, 2, 15, 0, 7, tzinfo=UTC))
    browser = session.context.browser
    assert browser is not None
    context = browser.new_context(viewport={"width": 1280, "height": 800}, timezone_id="Asia/Tokyo")
    try:
        tokyo = BrowserSession(context, session.base_url)
        page = tokyo.login_as(compliance_user)
        tokyo.open("/audit/")
        page.get_by_role("link", name="Times in UTC").click()
        expect(page.get_by_label("Time zone")).to_have_value("Asia/Tokyo")
        assert [v for v in Axe().run(page).response["violations"]] == []
        page.get_by_role("button", name="Save").click()
        expect(page).to_have_url(f"{session.base_url}/audit/")
        expect(page.locator("#toast")).to_contain_text("Times are now shown in Asia/Tokyo.")
        when = page.locator("table.audit time").first
        expect(when).to_have_text("2026-03-03 00:00:07 JST")
        expect(when).to_have_attribute("title", "2026-03-02 15:00:07 UTC")
    finally:
        context.close()
