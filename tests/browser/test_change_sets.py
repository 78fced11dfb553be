"""A catalogue import in a real browser: choose a file, review the plan, apply, watch it finish."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from statusadmin.convoso.models import SandboxStatus
from statusadmin.convoso.status import FLAGS

pytestmark = pytest.mark.browser
HEADER = "code,name,color," + ",".join(FLAGS) + ",workflow,system\n"


def test_import_review_apply_and_watch_it_finish(session, supervisor, tmp_path):
    catalogue = tmp_path / "standard.csv"
    catalogue.write_text(
        HEADER
        + "NEW1,First new,#112233,N,N,N,N,N,N,N,,N\n"
        + "NEW2,Second new,,N,Y,N,N,N,N,N,,N\n"
        + "HOT,Hot Lead,00AA00,Y,Y,Y,N,Y,Y,N,,N\n"
        + "BAD!,Broken,,N,N,N,N,N,N,N,,N\n"
    )
    page = session.login_as(supervisor)
    session.open("/")
    page.get_by_role("link", name="Import").click()
    page.get_by_label("Catalogue file").set_input_files(str(catalogue))
    page.get_by_role("button", name="Show the plan").click()
    counts = page.locator("p.counts")
    expect(counts).to_contain_text("2 to create, 1 to update")
    expect(counts).to_contain_text("1 can't be applied")
    expect(page.locator("tr.plan-invalid")).to_contain_text("Use 2 to 6 letters or digits")
    assert not SandboxStatus.objects.filter(code="NEW1").exists()

    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_role("heading", name="Queued")).to_be_visible()
    call_command("worker", "--batch", stdout=io.StringIO(), stderr=io.StringIO())
    # The page polls while the set is queued or running; it shows the end by itself.
    expect(page.get_by_role("heading", name="Finished")).to_be_visible(timeout=10_000)
    expect(counts).to_contain_text("Sent: 3. Failed: 0. Still to send: 0.")
    assert SandboxStatus.objects.get(code="NEW2").reached is True
    assert SandboxStatus.objects.get(code="HOT").final is True
    assert session.console == []
