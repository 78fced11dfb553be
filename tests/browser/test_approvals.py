"""Four eyes in two real browsers: one person asks, another approves, Convoso changes once."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from statusadmin.audit.models import AuditEntry
from statusadmin.convoso.models import SandboxStatus
from tests.browser.helpers import BrowserSession


def row(page, code: str):  # type: ignore[no-untyped-def]
    return page.locator(f"tbody#row-{code}")


def test_request_wait_approve_and_see_both_names(
    session, browser, supervisor, approver_user, admin_user
):
    sue = session.login_as(supervisor)
    session.open("/?q=xfer")
    row(sue, "XFER").get_by_role("switch", name="DNC").click()
    sue.get_by_label("Why turn DNC on for XFER?").fill("Opt-outs by text")
    sue.keyboard.press("Enter")
    expect(row(sue, "XFER")).to_contain_text("waiting for approval by a second person")
    assert SandboxStatus.objects.get(code="XFER").dnc is False

    other = BrowserSession(browser.new_context(viewport={"width": 1280, "height": 800}),
                           session.base_url)  # fmt: skip
    try:
        april = other.login_as(approver_user, second_factor=True)
        other.open("/")
        expect(april.get_by_role("link", name=re.compile(r"Approvals\s+1"))).to_be_visible()
        april.get_by_role("link", name=re.compile("Approvals")).click()
        card = april.locator("section.approval")
        expect(card).to_contain_text("XFER: DNC No → Yes")
        expect(card).to_contain_text("Opt-outs by text")
        card.get_by_label("Note (optional)").fill("Checked with compliance")
        card.get_by_role("button", name="Approve").click()
        expect(april.locator("#toast")).to_contain_text("Approved: XFER was changed in Convoso.")
        expect(april.get_by_text("Nothing is waiting for approval.")).to_be_visible()
    finally:
        other.context.close()
    assert SandboxStatus.objects.get(code="XFER").dnc is True

    session.open("/?q=xfer")
    expect(row(sue, "XFER").get_by_role("switch", name="DNC")).to_have_attribute(
        "aria-checked", "true"
    )
    applied = AuditEntry.objects.get(action="update")
    assert (applied.actor_username, applied.requested_by) == ("april", "sue")
    assert (applied.reason, applied.approval_note) == (
        "Opt-outs by text",
        "Checked with compliance",
    )
    session.login_as(admin_user, second_factor=True)
    session.open(f"/audit/{applied.pk}/")
    expect(sue.locator("main")).to_contain_text("april")
