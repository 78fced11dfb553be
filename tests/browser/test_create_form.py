"""The create form in a browser: where focus goes, the error summary, the colour."""

from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from statusadmin.convoso.models import SandboxStatus

pytestmark = pytest.mark.browser


def violations(page) -> list[str]:  # type: ignore[no-untyped-def]
    return [f"{v['id']}: {v['help']}" for v in Axe().run(page).response["violations"]]


class CreateFormTests:
    def test_focus_starts_in_the_first_field(self, session, supervisor):
        page = session.login_as(supervisor)
        session.open("/statuses/new/")
        expect(page.get_by_label("Code")).to_be_focused()
        assert violations(page) == []

    def test_after_an_invalid_submit_the_summary_takes_focus(self, session, supervisor):
        page = session.login_as(supervisor)
        session.open("/statuses/new/")
        page.locator("#id_color").fill("blue")
        page.get_by_role("button", name="Create status").click()
        summary = page.get_by_role("alert").filter(has_text="to fix")
        expect(summary).to_be_focused()
        summary.get_by_role("link", name="Colour: Use six hexadecimal digits").click()
        expect(page.locator("#id_color")).to_be_focused()
        assert violations(page) == []

    def test_the_colour_is_typed_or_picked_or_none(self, session, supervisor, no_approvals):
        page = session.login_as(supervisor)
        session.open("/statuses/new/")
        text, picker = page.locator("#id_color"), page.get_by_label("Pick the colour")
        text.fill("#12ab34")
        expect(picker).to_have_value("#12ab34")
        picker.evaluate("p => { p.value = '#aa0000'; p.dispatchEvent(new Event('input')); }")
        expect(text).to_have_value("#AA0000")
        page.get_by_label("No colour").check()
        expect(text).to_be_disabled()
        page.get_by_label("Code").fill("NOC1")
        page.locator("#id_name").fill("No colour here")
        page.get_by_role("button", name="Create status").click()
        expect(page).to_have_url(re.compile(r"created=NOC1"))
        assert SandboxStatus.objects.get(code="NOC1").hex_color == ""
