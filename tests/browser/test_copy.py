"""Compare with another account and copy from it, in a real browser: the source chosen with
htmx, statuses picked, the plan shown."""

from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from statusadmin.convoso.models import Membership, SandboxStatus
from tests.browser.helpers import serious
from tests.changesets.test_copy import diverge_east
from tests.tenancy.conftest import add_account

pytestmark = pytest.mark.browser


def test_compare_pick_and_see_the_plan(session, supervisor):
    east = add_account("east", "East office")
    add_account("west", "West client")  # no role there: never offered
    Membership.objects.create(user=supervisor, account_id=east.pk, role="Supervisor")
    diverge_east()
    page = session.login_as(supervisor)
    session.open("/statuses/import/")
    page.get_by_role("link", name="compare with another account you use").click()
    source = page.get_by_label("Copy from")
    expect(source.locator("option")).to_have_count(2)  # "Choose an account", East office
    source.select_option(label="East office")
    # htmx swaps in the differences and keeps the choice in the address.
    expect(page).to_have_url(re.compile(r"/changes/compare/\?from=east$"))
    differences = page.locator("#differences")
    expect(differences).to_contain_text("4 of East office's statuses differ, 2 identical")
    expect(differences).to_contain_text("Hot Lead (East)")
    assert serious(Axe().run(page)) == []
    page.get_by_label("HOT").check()
    page.get_by_label("NEWX").check()
    page.get_by_role("button", name="Plan copy").click()
    expect(page.get_by_role("heading", name="Copy from East office")).to_be_visible()
    expect(page.locator("p.counts")).to_contain_text("1 to create, 1 to update")
    expect(page.locator("main")).to_contain_text("Copied from East office (east)")
    assert not SandboxStatus.objects.filter(tenant="", code="NEWX").exists()  # only planned
    assert session.failed == []
    assert session.console == []
