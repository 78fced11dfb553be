"""Feedback that doesn't pile up: messages clear themselves, can be dismissed, never cover the
table, and are announced once."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

OVERLAPS = """() => {
  const toast = document.getElementById('toast').getBoundingClientRect();
  const header = document.querySelector('body > header').getBoundingClientRect();
  return Array.from(document.querySelectorAll('table td, table th'))
    .map(c => c.getBoundingClientRect())
    .filter(c => c.top >= header.bottom)  // cells scrolled under the header aren't in view
    .filter(c => c.left < toast.right && c.right > toast.left
                 && c.top < toast.bottom && c.bottom > toast.top).length;
}"""


def saved_lines(page):  # type: ignore[no-untyped-def]
    return page.locator("tr.row-message.ok")


class FeedbackTests:
    def test_messages_and_saved_lines_clear_themselves(self, session, supervisor):
        page = session.login_as(supervisor)
        page.clock.install()
        session.open("/")
        row = page.locator("tbody#row-XFER")
        row.get_by_role("switch", name="Callback").click()
        expect(page.locator("#toast")).to_contain_text("Saved XFER")
        expect(saved_lines(page)).to_have_count(1)
        # With the clock installed, htmx's own settle step waits for time to pass too: run the
        # timers (not jump over them), so the clearing set up after settling runs as well.
        page.clock.run_for(10_000)
        expect(saved_lines(page)).to_have_count(0)
        expect(page.locator("#toast p")).to_have_count(0)

    def test_the_next_action_clears_the_last_saved_line(self, session, supervisor):
        page = session.login_as(supervisor)
        session.open("/")
        page.locator("tbody#row-XFER").get_by_role("switch", name="Callback").click()
        expect(page.locator("tbody#row-XFER tr.row-message.ok")).to_have_count(1)
        page.locator("tbody#row-HOT").get_by_role("switch", name="Voicemail").click()
        expect(page.locator("tbody#row-HOT tr.row-message.ok")).to_have_count(1)
        expect(page.locator("tbody#row-XFER tr.row-message.ok")).to_have_count(0)

    def test_a_message_can_be_dismissed_and_never_covers_the_table(self, session, supervisor):
        page = session.login_as(supervisor)
        session.open("/")
        page.locator("tbody#row-XFER").get_by_role("switch", name="Callback").click()
        expect(page.locator("#toast")).to_contain_text("Saved XFER")
        assert page.evaluate(OVERLAPS) == 0
        page.mouse.wheel(0, 300)
        assert page.evaluate(OVERLAPS) == 0
        page.get_by_role("button", name="Dismiss the message").click()
        expect(page.locator("#toast p")).to_have_count(0)
        expect(page.get_by_role("button", name="Dismiss the message")).to_be_hidden()

    def test_each_change_is_announced_once(self, session, supervisor):
        page = session.login_as(supervisor)
        session.open("/")
        page.evaluate(
            """() => { window.__said = [];
              new MutationObserver(() => {
                const text = document.getElementById('toast').textContent.trim();
                if (text) window.__said.push(text);
              }).observe(document.getElementById('toast'), {childList: true, subtree: true}); }"""
        )
        page.locator("tbody#row-XFER").get_by_role("switch", name="Callback").click()
        expect(page.locator("#toast")).to_contain_text("Saved XFER")
        said = page.evaluate("window.__said")
        assert len(said) == 1, said
        assert said[0].startswith("Saved XFER: Callback No → Yes")

    def test_nothing_moves_when_a_message_comes_or_goes(self, session, supervisor):
        page = session.login_as(supervisor)
        page.clock.install()
        session.open("/")
        switch = page.locator("tbody#row-XFER").get_by_role("switch", name="Callback")
        before = switch.bounding_box()
        switch.click()
        expect(page.locator("#toast")).to_contain_text("Saved XFER")
        assert switch.bounding_box()["y"] == before["y"]
        page.get_by_role("button", name="Dismiss the message").click()
        expect(page.locator("#toast p")).to_have_count(0)
        assert switch.bounding_box()["y"] == before["y"]
