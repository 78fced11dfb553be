"""The audit list and the create form on a phone (390 px wide): the page never scrolls sideways,
words are never broken mid-word, the filters fold behind one button, and an error is never
hidden under the sticky header (#26 item 11)."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from statusadmin.accounts.roles import COMPLIANCE, SUPERVISOR
from statusadmin.statuses import services
from tests.browser.helpers import serious
from tests.factories import make_user

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}

# Every cell of the audit list: does its text fit without being cut or broken inside a word?
CELLS = """() => Array.from(document.querySelectorAll('table.audit td')).filter(td => {
  const style = getComputedStyle(td);
  return td.scrollWidth > td.clientWidth + 1 || style.wordBreak === 'break-all'
    || style.overflowWrap === 'anywhere' || style.hyphens === 'auto';
}).map(td => td.textContent.trim().slice(0, 40))"""


def no_sideways_scroll(page) -> bool:  # type: ignore[no-untyped-def]
    return page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth")


def test_the_audit_list_fits_a_phone(session):
    sue = make_user("sue.long-surname", SUPERVISOR)
    for code, reason in [
        ("XFER", "The regulator asked us to stop dialling transferred leads for the quarter"),
        ("HOT", "Agents requested callbacks"),
    ]:
        services.status_update(actor=sue, code=code, changes={"callback": "Y"}, reason=reason)
    page = session.login_as(make_user("carl", COMPLIANCE))
    page.set_viewport_size(PHONE)
    session.open("/audit/")
    expect(page.locator("table.audit")).to_be_visible()
    assert no_sideways_scroll(page)
    assert page.evaluate(CELLS) == []
    # The filters fold behind one button; it opens them, and they work.
    toggle = page.get_by_role("button", name="Filters")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    code = page.get_by_label("Status code")
    expect(code).to_be_hidden()
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    code.fill("HOT")
    expect(page.locator("table.audit tbody tr")).to_have_count(1)
    assert no_sideways_scroll(page)
    assert serious(Axe().run(page)) == []


def test_the_filters_stay_open_on_a_desktop(session):
    page = session.login_as(make_user("carl", COMPLIANCE))
    session.open("/audit/")
    expect(page.get_by_label("Status code")).to_be_visible()
    expect(page.get_by_role("button", name="Filters")).to_be_hidden()


def test_the_create_forms_errors_are_not_under_the_header(session):
    page = session.login_as(make_user("sue", SUPERVISOR))
    page.set_viewport_size(PHONE)
    session.open("/statuses/new/")
    page.get_by_label("Code").fill("BAD CODE!")
    page.get_by_role("button", name="Create status").click()
    summary = page.get_by_role("alert").first
    expect(summary).to_be_focused()
    header = page.locator("body > header").bounding_box()
    box = summary.bounding_box()
    assert header is not None
    assert box is not None
    assert box["y"] >= header["y"] + header["height"] - 1, (box, header)
    # Following an error's link to its field leaves the field in view too.
    summary.get_by_role("link").first.click()
    field = page.locator(":focus")
    field_box = field.bounding_box()
    header = page.locator("body > header").bounding_box()
    assert field_box is not None
    assert header is not None
    assert field_box["y"] >= header["y"] + header["height"] - 1, (field_box, header)
    assert no_sideways_scroll(page)


def test_confirm_and_undo_on_a_phone(session):
    from statusadmin.convoso.models import SandboxStatus

    page = session.login_as(make_user("sue", SUPERVISOR))
    page.set_viewport_size(PHONE)
    session.open("/?q=xfer")
    row = page.locator("tbody#row-XFER")
    row.get_by_role("switch", name="Final").click()
    confirm = row.get_by_role("button", name="Turn Final on")
    expect(confirm).to_be_in_viewport()
    confirm.click()
    expect(row.get_by_role("switch", name="Final")).to_have_attribute("aria-checked", "true")
    # The message, and its Undo, at the foot of the screen, over nothing that needs a tap.
    undo = page.locator("#toast").get_by_role("button", name="Undo")
    expect(undo).to_be_in_viewport()
    undo.click()
    expect(row.get_by_role("switch", name="Final")).to_have_attribute("aria-checked", "false")
    assert SandboxStatus.objects.get(code="XFER").final is False
    assert no_sideways_scroll(page)
    assert serious(Axe().run(page)) == []
