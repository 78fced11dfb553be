"""Several Convoso accounts in a real browser: the header's switcher, and work in the account
switched to."""

from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from statusadmin.convoso import tenancy
from statusadmin.convoso.models import Membership, SandboxStatus
from statusadmin.statuses.mirror import mirror_refresh
from tests.browser.helpers import serious
from tests.tenancy.conftest import add_account

pytestmark = pytest.mark.browser


def test_switch_accounts_and_work_in_the_one_switched_to(session, supervisor):
    east = add_account("east", "East office")
    add_account("west", "West client")  # no role there: never offered
    Membership.objects.create(user=supervisor, account_id=east.pk, role="Supervisor")
    SandboxStatus.objects.filter(tenant="east", code="HOT").update(name="Hot Lead East")
    with tenancy.use(east):
        mirror_refresh(force=True)
    page = session.login_as(supervisor)
    session.open("/")
    switch = page.locator("details.account-switch")
    expect(switch.locator("summary")).to_contain_text("Sandbox")
    switch.locator("summary").click()
    expect(switch.get_by_role("link")).to_have_count(1)  # East office; the current isn't a link
    assert serious(Axe().run(page)) == []
    switch.get_by_role("link", name="East office").click()
    expect(page).to_have_url(re.compile(r"/a/east/$"))
    expect(page.locator("details.account-switch summary")).to_contain_text("East office")
    # Live search and a switch work in that account, and only there.
    page.get_by_label("Search").press_sequentially("hot", delay=30)
    expect(page).to_have_url(re.compile(r"/a/east/\?q=hot$"))
    row = page.locator("tbody#row-HOT")
    expect(row).to_contain_text("Hot Lead East")
    row.get_by_role("switch", name="Callback").click()
    expect(page.locator("#toast")).to_contain_text("Saved HOT")
    # HOT starts with Callback on (the sandbox's demo catalogue): off in east only.
    assert SandboxStatus.objects.get(tenant="east", code="HOT").callback is False
    assert SandboxStatus.objects.get(tenant="", code="HOT").callback is True
    assert session.failed == []
    assert not [line for line in session.console if "error" in line.lower()]
