"""The people filters (who, approved by) find a person however their name is typed: in any
case and by part of it; and a filter that matches nobody says so."""

from __future__ import annotations

import pytest

from statusadmin.audit.models import Action
from tests.factories import add_entry, make_user

HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def reviewer(compliance_client):  # type: ignore[no-untyped-def]
    return compliance_client


@pytest.fixture
def people(db):  # type: ignore[no-untyped-def]
    for name in ("cara.nguyen", "carl.smith", "ben.okafor"):
        make_user(name)
    add_entry(actor="cara.nguyen", code="XFER")
    add_entry(actor="carl.smith", code="HOT")
    add_entry(actor="ben.okafor", code="LVM")
    add_entry(actor="gone.person", code="AM")  # a user since deleted: the log keeps the name
    add_entry(actor="ben.okafor", code="DNC", action=Action.APPROVE, request_ref=7)


def codes(response) -> list[str]:  # type: ignore[no-untyped-def]
    html = response.content.decode()
    return sorted({code for code in ("XFER", "HOT", "LVM", "AM", "DNC") if f">{code}<" in html})


class WhoTests:
    @pytest.mark.parametrize(
        ("typed", "found"),
        [
            ("cara.nguyen", ["XFER"]),
            ("CARA.Nguyen", ["XFER"]),
            ("car", ["HOT", "XFER"]),
            ("NGUY", ["XFER"]),
            ("gone.person", ["AM"]),  # exactly, though no such user exists any more
        ],
    )
    def test_any_case_and_any_part(self, reviewer, people, typed, found):
        assert codes(reviewer.get("/audit/", {"actor": typed}, **HX)) == found

    def test_approved_by_too(self, reviewer, people):
        assert codes(reviewer.get("/audit/", {"approved_by": "OKAF"}, **HX)) == ["DNC"]

    def test_a_name_that_matches_nobody_says_so(self, reviewer, people):
        html = reviewer.get("/audit/", {"actor": "zed"}, **HX).content.decode()
        assert "Nobody whose name contains “zed” has entries here." in html

    def test_the_form_suggests_the_people(self, reviewer, people):
        html = reviewer.get("/audit/").content.decode()
        assert '<datalist id="people">' in html
        assert '<option value="cara.nguyen">' in html
        assert 'list="people"' in html
