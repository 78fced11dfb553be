"""Times in the person's own time zone, chosen once and remembered; UTC in a tooltip and in
every export."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
from django.test import Client

from statusadmin.accounts.models import Preferences
from tests.factories import add_entry

pytestmark = pytest.mark.django_db

MARCH = datetime(2026, 3, 2, 15, 0, 7, tzinfo=UTC)
IN_NEW_YORK = (
    '<time datetime="2026-03-02T15:00:07+00:00" title="2026-03-02 15:00:07 UTC">'
    "2026-03-02 10:00:07 EST</time>"
)
IN_UTC = (
    '<time datetime="2026-03-02T15:00:07+00:00" title="2026-03-02 15:00:07 UTC">'
    "2026-03-02 15:00:07 UTC</time>"
)


def page(response) -> str:  # type: ignore[no-untyped-def]
    return response.content.decode()


def choose(client: Client, zone: str):  # type: ignore[no-untyped-def]
    return client.post("/accounts/time-zone/", {"time_zone": zone, "next": "/audit/"})


class ChoosingTests:
    def test_the_header_says_which_zone_and_links_to_change_it(self, compliance_client):
        html = page(compliance_client.get("/audit/"))
        assert 'href="/accounts/time-zone/?next=/audit/"' in html
        assert "Times in UTC" in html

    def test_the_page_offers_every_zone_and_the_browsers_when_none_is_chosen(
        self, compliance_client
    ):
        html = page(compliance_client.get("/accounts/time-zone/"))
        assert "data-browser-zone" in html
        assert '<option value="Europe/London">' in html

    def test_chosen_once_it_is_remembered_in_a_new_session(
        self, compliance_client, compliance_user
    ):
        add_entry(at=MARCH)
        response = choose(compliance_client, "America/New_York")
        assert response.status_code == 302
        assert response["Location"] == "/audit/"
        assert Preferences.objects.get(user=compliance_user).time_zone == "America/New_York"
        assert IN_NEW_YORK in page(compliance_client.get("/audit/"))
        later = Client()
        later.force_login(compliance_user)
        html = page(later.get("/audit/"))
        assert IN_NEW_YORK in html
        assert "Times in America/New_York" in html

    def test_a_zone_that_does_not_exist_is_refused(self, compliance_client, compliance_user):
        response = choose(compliance_client, "Mars/Olympus_Mons")
        assert response.status_code == 200
        assert "is not a time zone" in page(response)
        assert not Preferences.objects.filter(user=compliance_user).exists()

    def test_back_to_the_dashboards_zone(self, compliance_client, compliance_user):
        add_entry(at=MARCH)
        choose(compliance_client, "America/New_York")
        choose(compliance_client, "")
        assert Preferences.objects.get(user=compliance_user).time_zone == ""
        assert IN_UTC in page(compliance_client.get("/audit/"))

    def test_next_must_stay_on_this_site(self, compliance_client):
        response = compliance_client.post(
            "/accounts/time-zone/", {"time_zone": "Europe/Paris", "next": "https://evil.example/"}
        )
        assert response["Location"] == "/"


class ShownTests:
    def test_without_a_choice_times_are_utc_with_utc_in_the_tooltip(self, compliance_client):
        entry = add_entry(at=MARCH)
        assert IN_UTC in page(compliance_client.get("/audit/"))
        assert 'title="2026-03-02 15:00:07 UTC">2026-03-02 15:00:07 UTC</time>' in page(
            compliance_client.get(f"/audit/{entry.pk}/")
        )

    def test_the_entry_and_the_history_in_the_persons_zone(self, compliance_client):
        entry = add_entry(at=MARCH)
        choose(compliance_client, "America/New_York")
        assert IN_NEW_YORK in page(compliance_client.get(f"/audit/{entry.pk}/"))
        assert IN_NEW_YORK in page(compliance_client.get("/statuses/XFER/history/"))

    def test_exports_stay_in_utc(self, compliance_client):
        add_entry(at=MARCH)
        choose(compliance_client, "America/New_York")
        report = b"".join(compliance_client.get("/audit/report.csv").streaming_content).decode()
        assert "2026-03-02 15:00:07" in report
        assert "10:00:07" not in report
        full = b"".join(compliance_client.get("/audit/export.csv").streaming_content).decode()
        assert "2026-03-02T15:00:07" in full
        lines = b"".join(compliance_client.get("/audit/export.jsonl").streaming_content)
        record = json.loads(lines.decode().splitlines()[0])
        assert record["created_at"].startswith("2026-03-02T15:00:07")


class CatalogueTests:
    def test_the_moment_is_on_the_persons_clock_unless_another_zone_is_given(
        self, compliance_client
    ):
        choose(compliance_client, "America/New_York")
        html = page(compliance_client.get("/audit/catalogue/"))
        assert 'name="tz" id="id_tz" value="America/New_York"' in html
        assert "data-browser-zone" not in html
        html = page(compliance_client.get("/audit/catalogue/", {"at": "2026-01-01T10:00"}))
        assert "Times are in <strong>America/New_York</strong>" in html

    def test_with_no_choice_the_browser_suggests_one(self, compliance_client):
        html = page(compliance_client.get("/audit/catalogue/"))
        assert "data-browser-zone" in html


class RelativeTimeTests:
    def test_a_relative_time_has_the_moment_in_utc_in_its_tooltip(self, supervisor_client):
        from statusadmin.convoso.sandbox import seed

        seed()
        choose(supervisor_client, "America/New_York")
        html = page(supervisor_client.get("/"))
        tooltip = re.search(r'Last synced <time datetime="[^"]+" title="([^"]+)">', html)
        assert tooltip, html
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", tooltip.group(1))

    def test_the_history_periods_in_the_persons_zone(self, compliance_client):
        add_entry(at=MARCH, changed=("dnc",))
        choose(compliance_client, "America/New_York")
        html = page(compliance_client.get("/statuses/XFER/history/"))
        assert (
            '<time datetime="2026-03-02T15:00:07.005000+00:00" title="2026-03-02 15:00 UTC">'
            "2026-03-02 10:00 EST</time>" in html
        )
