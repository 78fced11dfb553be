"""A long search result arrives a page at a time: by scrolling, or by keyboard."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from statusadmin.convoso.models import SandboxStatus
from statusadmin.statuses.selectors import PAGE_SIZE
from tests.browser.helpers import serious

pytestmark = pytest.mark.browser

EXTRA = 75  # with the sandbox's five, 80 custom statuses: three pages


@pytest.fixture
def long_catalogue(session):  # type: ignore[no-untyped-def]
    SandboxStatus.objects.bulk_create(
        SandboxStatus(code=f"B{i:04}", name=f"Bulk {i}", hex_color="00AAFF", custom=True)
        for i in range(EXTRA)
    )
    return session


def rows(page):  # type: ignore[no-untyped-def]
    return page.locator("section[aria-labelledby=custom-heading] tbody.status-row")


class LongListTests:
    def test_scrolling_down_brings_every_row_and_the_counts_stay_right(
        self, long_catalogue, supervisor
    ):
        page = long_catalogue.login_as(supervisor)
        long_catalogue.open("/")
        expect(page.locator("#custom-heading")).to_contain_text("(80)")
        expect(rows(page)).to_have_count(PAGE_SIZE)
        steps = [*range(2 * PAGE_SIZE, 80, PAGE_SIZE), 80]
        for shown in steps:
            page.mouse.wheel(0, 100_000)
            expect(rows(page)).to_have_count(shown)
        expect(page.locator("[data-more]")).to_have_count(0)
        last = 80 - steps[-2] if len(steps) > 1 else 80 - PAGE_SIZE
        expect(page.locator("#list-status")).to_have_text(
            f"{last} more custom statuses shown; that is all."
        )
        expect(page.locator("#custom-heading")).to_contain_text("(80)")
        codes = rows(page).evaluate_all("rows => rows.map(r => r.id)")
        assert len(set(codes)) == 80
        assert long_catalogue.console == []

    def test_by_keyboard_the_next_page_continues_where_focus_is(self, long_catalogue, supervisor):
        page = long_catalogue.login_as(supervisor)
        long_catalogue.open("/")
        expect(rows(page)).to_have_count(PAGE_SIZE)
        # Tab out of the last row of the first page onto the "more" link.
        rows(page).nth(PAGE_SIZE - 1).get_by_role("switch", name="Voicemail").focus()
        page.keyboard.press("Tab")
        expect(rows(page)).to_have_count(2 * PAGE_SIZE)
        focused = page.evaluate("document.activeElement.closest('tbody').id")
        assert focused == f"row-B{PAGE_SIZE:04}"
        assert serious(Axe().run(page)) == []
