"""What a tablet and a narrowing list show: nothing cut off, columns that hold still."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

TABLET = {"width": 820, "height": 1180}

# For each control of a row: is it whole, inside its cell, and inside the table's scroll box
# (visible, or reachable by scrolling that box)?
CHECK_ROW = """row => {
  const box = row.closest('.table-scroll');
  const outer = box.getBoundingClientRect();
  return Array.from(row.querySelectorAll('input:not([type=hidden]), button, a, select')).map(c => {
    const r = c.getBoundingClientRect(), cell = c.closest('td, th').getBoundingClientRect();
    const left = r.left - outer.left + box.scrollLeft;
    const right = r.right - outer.left + box.scrollLeft;
    return {
      name: c.id || c.name || c.textContent.trim(),
      inCell: r.left >= cell.left - 1 && r.right <= cell.right + 1 && r.width > 0,
      inBox: left >= -1 && right <= box.scrollWidth + 1,
    };
  }).filter(c => !(c.inCell && c.inBox));
}"""


def no_sideways_scroll(page) -> bool:  # type: ignore[no-untyped-def]
    return page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth")


def column_lefts(page, table: int = 0) -> list[float]:  # type: ignore[no-untyped-def]
    return (
        page.locator("table.statuses")
        .nth(table)
        .evaluate(
            "t => Array.from(t.querySelectorAll('thead th'))"
            ".map(th => th.getBoundingClientRect().left)"
        )
    )


class TabletTests:
    def test_nothing_is_cut_off_and_the_page_never_scrolls_sideways(self, session, supervisor):
        page = session.login_as(supervisor)
        page.set_viewport_size(TABLET)
        session.open("/")
        first = page.locator("tbody.status-row").first
        expect(first).to_be_visible()
        assert no_sideways_scroll(page)
        assert first.evaluate(CHECK_ROW) == []
        # The code stays in view when the table is scrolled to its far end.
        page.locator(".table-scroll").first.evaluate("b => b.scrollLeft = b.scrollWidth")
        code = first.locator("th.code a").bounding_box()
        assert code is not None
        assert code["x"] >= 0
        assert code["x"] + code["width"] <= TABLET["width"]

    def test_the_name_editor_and_the_dnc_prompt_stay_whole(self, session, supervisor):
        page = session.login_as(supervisor)
        page.set_viewport_size(TABLET)
        session.open("/?q=xfer")
        row = page.locator("tbody#row-XFER")
        row.locator("a.name-edit").click()
        save = row.get_by_role("button", name="Save")
        expect(save).to_be_visible()
        cancel = row.get_by_role("link", name="Cancel")
        boxes = [b.bounding_box() for b in (row.get_by_label("Name"), save, cancel)]
        assert len({round(b["y"] + b["height"] / 2) for b in boxes}) == 1, boxes  # one line
        assert row.evaluate(CHECK_ROW) == []
        assert no_sideways_scroll(page)
        cancel.click()
        row.get_by_role("switch", name="DNC").click()
        turn = row.get_by_role("button", name="Turn DNC on")
        expect(turn).to_be_visible()
        box = turn.bounding_box()
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= TABLET["width"]
        assert box["height"] < 40  # one line, not wrapped
        assert no_sideways_scroll(page)
        assert Axe().run(page).response["violations"] == []


class ColumnTests:
    def test_columns_hold_still_and_the_two_tables_line_up(self, session, supervisor):
        page = session.login_as(supervisor)
        session.open("/")
        before = column_lefts(page)
        assert column_lefts(page, 1) == before
        page.locator("tbody#row-XFER a.name-edit").click()
        expect(page.locator("tbody#row-XFER").get_by_role("button", name="Save")).to_be_visible()
        assert column_lefts(page) == before
        page.get_by_label("Search").fill("hot")
        expect(page.locator("tbody#row-XFER")).to_have_count(0)
        assert column_lefts(page) == before
