"""Compliance in a real browser: filter the audit log live, download the CSV."""

from __future__ import annotations

import csv
import io
import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests.browser.helpers import serious
from tests.factories import add_entry

pytestmark = pytest.mark.browser


def test_compliance_filters_dnc_changes_and_downloads_the_csv(session, compliance_user):
    dnc = add_entry(code="OPTOUT", changed=("dnc",), reason="customer asked")
    add_entry(code="HOT", changed=("callback",))
    page = session.login_as(compliance_user)
    session.open("/audit/")
    expect(page.locator("table.audit tbody tr")).to_have_count(2)
    page.evaluate("window.__sameDocument = true")

    page.get_by_label("Changed field").select_option("dnc")
    expect(page.locator("table.audit tbody tr")).to_have_count(1)
    expect(page.locator("table.audit")).to_contain_text("OPTOUT")
    expect(page).to_have_url(re.compile(r"field=dnc"))
    assert page.evaluate("window.__sameDocument") is True

    with page.expect_download() as info:
        page.get_by_role("link", name="CSV", exact=True).click()
    download = info.value
    assert re.fullmatch(r"audit-report-\d{8}-\d{6}\.csv", download.suggested_filename)
    rows = list(csv.DictReader(io.StringIO(download.path().read_text(encoding="utf-8-sig"))))
    assert [(r["Status"], r["What changed"], r["Reason"]) for r in rows] == [
        ("OPTOUT", "DNC No → Yes", "customer asked")
    ]
    # The full export, every stored field, is the second choice.
    with page.expect_download() as info:
        page.get_by_role("link", name="Full CSV").click()
    download = info.value
    assert re.fullmatch(r"audit-\d{8}-\d{6}\.csv", download.suggested_filename)
    rows = list(csv.DictReader(io.StringIO(download.path().read_text(encoding="utf-8-sig"))))
    assert [(r["id"], r["status_code"], r["after_dnc"]) for r in rows] == [
        (str(dnc.pk), "OPTOUT", "Y")
    ]


def test_audit_screens_are_accessible(session, admin_user):
    entry = add_entry(changed=("dnc",), reason="why")
    page = session.login_as(admin_user, second_factor=True)
    for path in ("/audit/", f"/audit/{entry.pk}/", "/statuses/XFER/history/"):
        session.open(path)
        assert serious(Axe().run(page)) == [], path


def everything(results) -> list[str]:  # type: ignore[no-untyped-def]
    """Every axe violation, whatever its impact."""
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']]}"
        for v in results.response["violations"]
    ]


class AuditScreenTests:
    def test_the_log_starts_on_the_first_screen(self, session, compliance_user):
        for i in range(30):
            add_entry(code=f"C{i:03}", changed=("dnc",) if i % 3 == 0 else ("callback",))
        page = session.login_as(compliance_user)
        session.open("/audit/")
        first = page.locator("table.audit tbody tr").first
        expect(first).to_be_visible()
        box = first.bounding_box()
        assert box is not None
        assert box["y"] + box["height"] <= 800, box
        # The details are there on demand.
        page.get_by_text("Details").click()
        expect(page.locator("#integrity dl")).to_be_visible()
        assert everything(Axe().run(page)) == []

    def test_filters_leave_no_empty_parameters_in_the_address(self, session, compliance_user):
        add_entry(code="OPTOUT", changed=("dnc",))
        page = session.login_as(compliance_user)
        session.open("/audit/")
        page.get_by_label("Changed field").select_option("dnc")
        expect(page).to_have_url(re.compile(r"/audit/\?field=dnc$"))
        assert session.console == []
