"""/audit/ for compliance: roles, filters, keyset pages, detail, history, exports, integrity."""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.html import escape

from statusadmin.audit.export import CSV_COLUMNS
from statusadmin.audit.models import AuditEntry, Verification
from statusadmin.audit.selectors import Cursor
from tests.factories import add_entry

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


def page(response) -> str:  # type: ignore[no-untyped-def]
    return response.content.decode()


def listed_ids(html: str) -> list[int]:
    return [int(x) for x in re.findall(r'href="/audit/(\d+)/"', html)]


@pytest.fixture
def reviewer(compliance_client):  # type: ignore[no-untyped-def]
    return compliance_client


class RoleTests:
    @pytest.mark.parametrize(
        "url", ["/audit/", "/audit/export.csv", "/audit/export.jsonl", "/audit/1/"]
    )
    def test_supervisors_cannot_open_the_review(self, supervisor_client, url):
        add_entry()
        assert supervisor_client.get(url).status_code == 403

    def test_compliance_and_admins_can(self, reviewer, client, admin_user):
        entry = add_entry()
        client.force_login(admin_user)
        for user_client in (reviewer, client):
            response = user_client.get("/audit/")
            assert response.status_code == 200
            assert listed_ids(page(response)) == [entry.pk]

    def test_anonymous_goes_to_login(self, client):
        assert client.get("/audit/")["Location"].startswith("/accounts/login/")

    def test_admins_run_verification_at_once(self, client, admin_user):
        """(Compliance queues it for the worker: test_integrity_badge.py.)"""
        client.force_login(admin_user)
        assert "Verify now" in page(client.get("/audit/"))
        response = client.post("/audit/verify/", **HX)
        assert "Chain intact" in page(response)
        assert Verification.objects.get().ran_by == "ada"

    def test_a_missing_guard_is_shown_at_once(self, reviewer):
        from django.db import connection

        from statusadmin.audit import triggers

        assert "append-only guard is missing" not in page(reviewer.get("/audit/"))
        triggers.remove(connection)  # undone with the test's transaction
        html = page(reviewer.get("/audit/"))
        assert "its append-only guard is missing" in html

    def test_an_uncheckpointed_log_is_shown_in_amber_not_as_intact(self, client, admin_user):
        add_entry()
        client.force_login(admin_user)
        html = page(client.post("/audit/verify/", **HX))
        assert "Chain intact" not in html
        assert (
            '<span class="warn">Not yet checkpointed: the newest entries can\'t be vouched '
            "for</span>" in html
        )
        assert "1 entry verified; no checkpoint kept outside the database covers it" in html

    def test_nav_shows_the_audit_link_only_to_reviewers(self, supervisor, compliance_user):
        from django.test import Client

        for user, shown in ((supervisor, False), (compliance_user, True)):
            browser = Client()
            browser.force_login(user)
            assert ('href="/audit/"' in page(browser.get("/"))) is shown


# Readable, but beyond what a datetime in UTC or a 64-bit id can hold.
OUT_OF_RANGE_CURSORS = [
    "9999-12-31T23:59:59-23:59_1",
    "0001-01-01T00:00:00+23:59_1",
    f"2026-01-01T00:00:00+00:00_{2**63}",
    f"2026-01-01T00:00:00+00:00_{-(2**63) - 1}",
    "2026-01-01T00:00:00+00:00_" + "9" * 30,
]


class CursorTests:
    @pytest.mark.parametrize("text", [*OUT_OF_RANGE_CURSORS, "2026-01-01T00:00:00+00:00_0"])
    def test_out_of_range_is_no_cursor(self, text):
        assert Cursor.decode(text) is None

    def test_round_trip(self):
        cursor = Cursor(datetime(2026, 3, 1, 9, tzinfo=timezone.UTC), 2**63 - 1)
        assert Cursor.decode(cursor.encode()) == cursor


class ListTests:
    def test_newest_first_with_the_essentials(self, reviewer):
        old = add_entry(at=timezone.now() - timedelta(hours=2), actor="amy")
        new = add_entry(changed=("dnc",), reason="opt-outs", actor="bob")
        html = page(reviewer.get("/audit/"))
        assert listed_ids(html) == [new.pk, old.pk]
        assert "DNC No → Yes" in html
        assert "opt-outs" in html
        assert 'class="sensitive"' in html

    @pytest.mark.parametrize(
        ("query", "expect"),
        [
            ({"actor": "amy"}, ["a"]),
            ({"code": "dnc1"}, ["b"]),
            ({"action": "create"}, ["c"]),
            ({"outcome": "rejected"}, ["b"]),
            ({"field": "dnc"}, ["b"]),
            ({"field": "final"}, ["c"]),
            ({"text": "OPT-OUT"}, ["b"]),
            ({"date_from": "2026-03-02", "date_to": "2026-03-02"}, ["b"]),
            ({"date_from": "2026-03-02"}, ["c", "b"]),
            ({"date_to": "bad-date"}, ["c", "b", "a"]),
        ],
    )
    def test_filters(self, reviewer, query, expect):
        made = {
            "a": add_entry(at=datetime(2026, 3, 1, 9, tzinfo=timezone.UTC), actor="amy"),
            "b": add_entry(
                at=datetime(2026, 3, 2, 9, tzinfo=timezone.UTC), code="DNC1", changed=("dnc",),
                outcome="rejected", reason="customer opt-out request",
            ),
            "c": add_entry(
                at=datetime(2026, 3, 3, 9, tzinfo=timezone.UTC), action="create", changed=("final",)
            ),
        }  # fmt: skip
        html = page(reviewer.get("/audit/", query))
        assert listed_ids(html) == [made[k].pk for k in expect]

    def test_filters_apply_live_and_stay_in_the_url(self, reviewer):
        html = page(reviewer.get("/audit/"))
        form = re.search(r'<form id="filters".*?>', html, re.S).group(0)
        assert 'hx-get="/audit/"' in form
        assert 'hx-push-url="true"' in form
        assert 'hx-trigger="change, input delay:400ms"' in form
        partial = page(reviewer.get("/audit/", {"field": "dnc"}, **HX))
        assert partial.lstrip().startswith('<div id="results">')
        assert "field=dnc" in partial  # the exports keep the filter

    def test_keyset_pages_cover_everything_once(self, reviewer):
        start = timezone.now() - timedelta(days=1)
        # Ties on the timestamp are the hard case for keyset pages.
        made = [add_entry(at=start + timedelta(seconds=i // 3)) for i in range(120)]
        expected = [e.pk for e in sorted(made, key=lambda e: (e.created_at, e.pk), reverse=True)]
        seen, url, pages = [], "/audit/", 0
        while url:
            html = page(reviewer.get(url))
            seen += listed_ids(html)
            pages += 1
            found = re.search(r'<a href="(\?[^"]*after=[^"]+)"[^>]*>Older entries', html)
            url = "/audit/" + found.group(1).replace("&amp;", "&") if found else ""
        assert seen == expected
        assert pages == 3

    def test_no_count_over_the_whole_table(self, reviewer):
        for _ in range(3):
            add_entry()
        with CaptureQueriesContext(connection) as queries:
            reviewer.get("/audit/", {"after": f"{timezone.now().isoformat()}_999999"})
        counts = [
            q["sql"]
            for q in queries
            if "COUNT(" in q["sql"].upper() and "audit_auditentry" in q["sql"]
        ]
        # The chart counts within its date range; pending entries are counted by outcome.
        assert counts, "the chart and the pending count should have run"
        for sql in counts:
            _, found, condition = sql.upper().partition(" WHERE ")
            assert found, sql
            assert "CREATED_AT" in condition, sql
        assert not any("OFFSET" in q["sql"].upper() for q in queries)

    def test_garbage_cursor_is_the_first_page(self, reviewer):
        entry = add_entry()
        assert listed_ids(page(reviewer.get("/audit/", {"after": "not-a-cursor"}))) == [entry.pk]

    @pytest.mark.parametrize("cursor", OUT_OF_RANGE_CURSORS)
    def test_out_of_range_cursor_is_the_first_page(self, reviewer, cursor):
        entry = add_entry()
        for partial in (False, True):
            response = reviewer.get("/audit/", {"after": cursor}, **(HX if partial else {}))
            assert response.status_code == 200
            assert listed_ids(page(response)) == [entry.pk]

    def test_a_cursor_with_any_utc_offset_is_read(self, reviewer):
        # PostgreSQL refuses offsets beyond 15:59; the cursor's moment is what counts.
        older = add_entry(at=datetime(2026, 3, 1, 8, tzinfo=timezone.UTC))
        add_entry(at=datetime(2026, 3, 1, 9, tzinfo=timezone.UTC))
        html = page(reviewer.get("/audit/", {"after": "2026-03-02T08:00:00+23:30_999"}))
        assert listed_ids(html) == [older.pk]

    def test_the_largest_id_is_still_a_cursor(self, reviewer):
        entry = add_entry(at=timezone.now() - timedelta(minutes=1))
        cursor = Cursor.decode(f"{timezone.now().isoformat()}_{2**63 - 1}")
        assert cursor is not None
        assert listed_ids(page(reviewer.get("/audit/", {"after": cursor.encode()}))) == [entry.pk]

    def test_chart_is_server_side_svg(self, reviewer):
        add_entry(outcome="failed")
        add_entry()
        html = page(reviewer.get("/audit/"))
        assert '<svg width="100%"' in html
        assert 'role="img"' in html
        # Both fell on one day: the caption says how many in the period, not "per day".
        assert re.search(r"2 entries from \d\d \w+ \d{4} to \d\d \w+ \d{4}, drawn per day", html)
        assert "2 entries per day" not in html
        assert "1 succeeded, 1 failed" in html
        assert "<script" not in html.split('<figure class="chart">')[1].split("</figure>")[0]

    def test_chart_counts_never_go_stale(self, reviewer, supervisor):
        from statusadmin.audit import chain
        from statusadmin.audit.services import begin

        add_entry()
        assert "Activity: 1 entry from" in page(reviewer.get("/audit/", **HX))
        add_entry(outcome="failed")
        assert "1 succeeded, 1 failed" in page(reviewer.get("/audit/", **HX))
        pending = begin(
            actor=supervisor,
            origin=None,
            action="update",
            code="X",
            account="sandbox",
            requested={},
        )
        assert "1 pending" in page(reviewer.get("/audit/", **HX))
        chain.complete(pending, outcome="unknown", completed_at=timezone.now())
        html = page(reviewer.get("/audit/", **HX))
        assert "1 unknown" in html
        assert "pending" not in html.split('<figure class="chart">')[1].split("</figure>")[0]

    def test_interrupted_attempts_are_flagged(self, reviewer):
        interrupted = AuditEntry.objects.create(
            created_at=timezone.now() - timedelta(hours=1), actor_username="sue",
            account="sandbox", action="update", status_code="XFER", outcome="pending",
        )  # fmt: skip
        html = page(reviewer.get("/audit/"))
        assert "1 attempt</a> never received an outcome" in html
        assert listed_ids(page(reviewer.get("/audit/", {"outcome": "pending"}))) == [interrupted.pk]


class DetailTests:
    def test_before_after_and_request(self, reviewer):
        entry = add_entry(
            changed=("dnc",), reason="opt-out", remote_ip="192.0.2.1",
            user_agent="Edge/1", request_id="r-123456789",
        )  # fmt: skip
        html = page(reviewer.get(f"/audit/{entry.pk}/"))
        assert "DNC changed" in html
        assert 'class="changed sensitive"' in html
        for text in ("opt-out", "192.0.2.1", "Edge/1", "r-123456789", entry.hash):
            assert text in html

    def test_missing_entry_is_404(self, reviewer):
        assert reviewer.get("/audit/999/").status_code == 404

    def test_links_to_the_history_of_its_status(self, reviewer):
        entry = add_entry(code="XFER")
        html = page(reviewer.get(f"/audit/{entry.pk}/"))
        assert '<a href="/statuses/XFER/history/">Full history of XFER</a>' in html

    @pytest.mark.parametrize(
        "code", ["A B", "A/B", "A?B", "a#b", "100%", "ÄRGER", "<b>X</b>", "X" * 63 + "é", "X" * 65]
    )
    def test_a_code_that_cannot_go_in_a_url_is_plain_text(self, reviewer, code):
        # Created outside the dashboard (seen at a sync), so no rule of ours shaped the code.
        if len(code) > 64 and connection.vendor != "sqlite":
            pytest.skip("PostgreSQL can't store a code longer than its column")
        entry = add_entry(code=code, action="external_update", outcome="observed")
        response = reviewer.get(f"/audit/{entry.pk}/")
        assert response.status_code == 200
        html = page(response)
        assert f"{escape(code)} has no history page" in html
        assert "/history/" not in html


class HistoryTests:
    def test_a_status_timeline_for_supervisors(self, supervisor_client):
        mine = add_entry(code="XFER", changed=("dnc",), reason="why")
        add_entry(code="HOT")
        html = page(supervisor_client.get("/statuses/XFER/history/"))
        assert "History of XFER" in html
        assert "DNC No → Yes" in html
        assert "Reason: why" in html
        assert f'href="/audit/{mine.pk}/"' not in html  # supervisors can't open entries

    def test_reviewers_get_links_to_entries(self, reviewer):
        mine = add_entry(code="XFER")
        assert f'href="/audit/{mine.pk}/"' in page(reviewer.get("/statuses/XFER/history/"))

    @pytest.mark.parametrize("cursor", OUT_OF_RANGE_CURSORS)
    def test_out_of_range_cursor_is_the_first_page(self, supervisor_client, cursor):
        add_entry(code="XFER", changed=("dnc",), reason="why")
        response = supervisor_client.get("/statuses/XFER/history/", {"after": cursor})
        assert response.status_code == 200
        assert "Reason: why" in page(response)

    def test_other_accounts_are_not_shown(self, supervisor_client):
        add_entry(code="XFER", account="someone-else")
        assert "No changes to XFER have been recorded" in page(
            supervisor_client.get("/statuses/XFER/history/")
        )

    def test_rows_link_to_history(self, supervisor_client):
        from statusadmin.convoso.sandbox import seed

        seed()
        assert 'href="/statuses/XFER/history/"' in page(supervisor_client.get("/"))


def read_csv(response) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    # utf-8-sig: the everyday CSV starts with a byte-order mark, for Excel.
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(body)))


class ExportTests:
    def test_csv_streams_every_matching_entry_with_stable_columns(self, reviewer):
        first = add_entry(changed=("dnc",), reason="opt-out", actor="amy")
        add_entry(changed=("callback",))
        response = reviewer.get("/audit/export.csv", {"field": "dnc"})
        assert response.streaming
        assert response["Content-Type"].startswith("text/csv")
        assert response["Content-Disposition"].startswith('attachment; filename="audit-')
        (row,) = read_csv(response)
        assert list(row) == list(CSV_COLUMNS)
        assert (row["id"], row["actor_username"], row["reason"]) == (
            str(first.pk),
            "amy",
            "opt-out",
        )
        assert (row["before_dnc"], row["requested_dnc"], row["after_dnc"]) == ("N", "Y", "Y")
        assert row["hash"] == first.hash

    def test_csv_cells_never_run_as_formulas(self, reviewer):
        add_entry(reason='=HYPERLINK("http://evil")', actor="+sum")
        (row,) = read_csv(reviewer.get("/audit/export.csv"))
        assert row["reason"] == '\'=HYPERLINK("http://evil")'
        assert row["actor_username"] == "'+sum"

    def test_jsonl_for_machines(self, reviewer):
        entry = add_entry(changed=("final",))
        response = reviewer.get("/audit/export.jsonl")
        lines = b"".join(response.streaming_content).decode().splitlines()
        record = json.loads(lines[0])
        assert record["hash"] == entry.hash
        assert record["after"]["final"] is True
        assert record["changed_fields"] == ["final"]

    def test_oldest_first_in_exports(self, reviewer):
        a = add_entry(at=timezone.now() - timedelta(hours=1))
        b = add_entry()
        assert [r["id"] for r in read_csv(reviewer.get("/audit/export.csv"))] == [
            str(a.pk),
            str(b.pk),
        ]


class UnreadableFilterTests:
    """Found by the property tests: these once ended in a server error."""

    @pytest.mark.parametrize(
        "query", [{"date_to": "9999-12-31"}, {"date_from": "0001-01-01"}, {"actor": "a\x00b"}]
    )
    def test_out_of_range_or_unstorable_values_are_ignored(self, reviewer, query):
        entry = add_entry()
        response = reviewer.get("/audit/", query)
        assert response.status_code == 200
        assert listed_ids(page(response)) == [entry.pk]
        assert [row["id"] for row in read_csv(reviewer.get("/audit/export.csv", query))] == [
            str(entry.pk)
        ]

    def test_the_chart_never_spans_more_than_five_years(self, reviewer):
        html = page(reviewer.get("/audit/", {"date_from": "2000-01-01", "date_to": "2999-12-30"}))
        assert ", drawn per month" in html
        assert html.count("<text") < 100


def test_the_code_filter_finds_a_lower_case_code_made_outside_the_dashboard(reviewer):
    lower = add_entry(code="opt", action="external_create", outcome="observed")
    upper = add_entry(code="XFER")
    assert listed_ids(page(reviewer.get("/audit/", {"code": "opt"}))) == [lower.pk]
    assert listed_ids(page(reviewer.get("/audit/", {"code": "xfer"}))) == [upper.pk]


class ChartAxisTests:
    @pytest.mark.parametrize(
        ("highest", "ticks"),
        [(0, ["0", "1"]), (3, ["0", "1", "2", "3"]), (12, ["0", "5", "10", "15"]),
         (99, ["0", "50", "100"])],
    )  # fmt: skip
    def test_ticks_are_whole_numbers_evenly_apart(self, highest, ticks):
        from statusadmin.audit import charts
        from statusadmin.audit.selectors import Activity, ActivityBucket

        start = timezone.now()
        activity = Activity("day", start, start, [ActivityBucket(start, {"succeeded": highest})])
        chart = charts.build(activity)
        assert [label for _, label in chart.ticks] == ticks
        ys = [y for y, _ in chart.ticks]
        gaps = [a - b for a, b in itertools.pairwise(ys)]
        assert max(gaps) - min(gaps) <= 0.11  # evenly apart, up to rounding


class WhatChangedTests:
    def test_each_row_shows_the_values(self, reviewer):
        add_entry(code="HOT", changed=("dnc",))
        html = page(reviewer.get("/audit/"))
        assert "DNC No → Yes" in html
        assert "Highlighted rows changed DNC or Final" in html

    def test_names_and_colours_read_old_to_new_with_swatches(self, reviewer):
        from statusadmin.audit import chain

        base = {"code": "HOT", "name": "Hot Lead", "color": "#FFAA00", "dnc": False}
        chain.append(
            created_at=timezone.now(), completed_at=timezone.now(), actor_username="sue",
            account="sandbox", action="update", status_code="HOT", before=base,
            requested={"name": "Hot Lead A", "color": "#00AAFF"},
            after={**base, "name": "Hot Lead A", "color": "#00AAFF"},
            changed_fields=["name", "color"], reason="", outcome="succeeded",
        )  # fmt: skip
        html = page(reviewer.get("/audit/"))
        assert "Name &#x27;Hot Lead&#x27; → &#x27;Hot Lead A&#x27;" in html
        swatches = re.findall(r'<svg class="swatch-inline"[^>]*><rect[^>]*fill="([^"]+)"', html)
        assert swatches == ["#FFAA00", "#00AAFF"]
        assert re.search(r"Colour <svg[^>]*>.*?</svg>#FFAA00 → <svg[^>]*>.*?</svg>#00AAFF", html)

    def test_a_rejected_create_shows_convosos_reason(self, reviewer):
        add_entry(
            action="create", code="BAD1", outcome="rejected", changed=(), after=None,
            error_code=6069, error_message="Convoso refused it: the code already exists.",
        )  # fmt: skip
        html = page(reviewer.get("/audit/"))
        assert '<span class="why">Convoso refused it: the code already exists.</span>' in html

    def test_changed_dnc_means_changed_not_created_with_it_off(self, reviewer):
        off = {"code": "NEW1", "dnc": False, "final": False}
        from statusadmin.audit import chain

        def create(code: str, dnc: bool) -> AuditEntry:
            return chain.append(
                created_at=timezone.now(), completed_at=timezone.now(), actor_username="sue",
                account="sandbox", action="create", status_code=code, before=None,
                requested={**off, "code": code, "dnc": dnc},
                after={**off, "code": code, "dnc": dnc},
                changed_fields=["name", "dnc", "final"], reason="r" if dnc else "",
                outcome="succeeded",
            )  # fmt: skip

        quiet, loud = create("NEW1", False), create("NEW2", True)
        flipped = add_entry(code="XFER", changed=("dnc",))
        html = page(reviewer.get("/audit/", {"field": "dnc"}))
        assert listed_ids(html) == [flipped.pk, loud.pk]
        assert quiet.pk not in listed_ids(page(reviewer.get("/audit/", {"field": "dnc"})))


class AudienceTests:
    """The integrity panel speaks to who is reading it: commands and settings for admins."""

    ADMIN_WORDS = ("manage.py", "AUDIT_SIGNING_KEY_FILE", "AUDIT_CHAIN_KEY", "use the button")

    def test_compliance_officers_get_no_commands_or_buttons_they_lack(self, reviewer):
        add_entry()
        html = page(reviewer.get("/audit/"))
        integrity = html.split('id="integrity"')[1].split("</section>")[0]
        assert [w for w in self.ADMIN_WORDS if w in integrity] == []
        assert "Not verified yet" in integrity
        assert "The dashboard verifies the chain every day; use Verify now" in integrity

    @pytest.mark.parametrize(
        "state", ["intact", "unanchored", "unguarded", "unchecked", "tampered"]
    )
    def test_a_verification_result_is_told_in_plain_words(self, reviewer, state):
        add_entry()
        Verification.objects.create(
            ok=state != "tampered", state=state, checked=1, head_seq=1, covered_seq=0,
            first_bad_seq=1 if state == "tampered" else None,
            message="run `manage.py migrate`; no chain key is configured (AUDIT_CHAIN_KEY)",
        )  # fmt: skip
        html = page(reviewer.get("/audit/"))
        integrity = html.split('id="integrity"')[1].split("</section>")[0]
        assert [w for w in self.ADMIN_WORDS if w in integrity] == []
        assert "1 entry" in integrity or "entry 1" in integrity

    @pytest.mark.usefixtures("no_audit_keys")
    def test_admins_get_the_commands(self, client, admin_user):
        add_entry()
        client.force_login(admin_user)
        integrity = page(client.get("/audit/")).split('id="integrity"')[1].split("</section>")[0]
        assert "manage.py verify_audit" in integrity
        assert "AUDIT_SIGNING_KEY_FILE" in integrity
        assert "Verify now" in integrity

    def test_the_state_is_one_line_and_the_details_are_on_demand(self, reviewer):
        add_entry()
        html = page(reviewer.get("/audit/"))
        summary = re.search(r'<section id="integrity".*?<summary>(.*?)</summary>', html, re.S)
        assert summary
        assert "Integrity:" in summary.group(1)
        assert "<dl" not in summary.group(1)
        assert re.search(r"<summary>Activity: 1 entry from", html)


class ReportTests:
    """The CSV a compliance officer reads: what the screen says, newest first."""

    def test_the_columns_a_person_needs_newest_first(self, reviewer):
        old = add_entry(at=timezone.now() - timedelta(hours=1), actor="amy", changed=("final",))
        new = add_entry(
            code="OPTOUT", changed=("dnc",), reason="customer asked", actor="bob",
            auth_method="oidc", second_factor="passed",
        )  # fmt: skip
        response = reviewer.get("/audit/report.csv")
        assert response.streaming
        assert 'filename="audit-report-' in response["Content-Disposition"]
        rows = read_csv(response)
        assert list(rows[0]) == [
            "When (UTC)", "Who", "Action", "Status", "What changed", "Reason", "Outcome",
            "Why it failed", "Signed in with", "Requested by", "Approved by", "Approver's note",
            "Request", "Change set",
        ]  # fmt: skip
        assert [r["Who"] for r in rows] == ["bob", "amy"]
        assert rows[0] == {
            "When (UTC)": new.when_text, "Who": "bob", "Action": "Update", "Status": "OPTOUT",
            "What changed": "DNC No → Yes", "Reason": "customer asked", "Outcome": "Succeeded",
            "Why it failed": "", "Signed in with": "single sign-on, second factor",
            "Requested by": "", "Approved by": "", "Approver's note": "", "Request": "",
            "Change set": "",
        }  # fmt: skip
        assert rows[1]["Signed in with"] == ""
        assert rows[1]["What changed"] == "Final No → Yes"
        assert rows[1]["When (UTC)"] == old.when_text

    def test_no_null_and_failures_say_why(self, reviewer):
        add_entry(
            action="create", code="BAD1", outcome="rejected", changed=(), after=None,
            error_code=6069, error_message="Convoso refused it: the code already exists.",
        )  # fmt: skip
        body = b"".join(reviewer.get("/audit/report.csv").streaming_content).decode()
        assert "None" not in body
        assert "null" not in body
        row = read_csv(reviewer.get("/audit/report.csv"))[0]
        assert row["Outcome"] == "Rejected"
        assert row["Why it failed"] == "Convoso refused it: the code already exists."

    def test_formulas_are_neutralised_and_filters_apply(self, reviewer):
        add_entry(code="DNC1", changed=("dnc",), reason='=HYPERLINK("http://x","y")')
        add_entry(code="HOT", changed=("callback",))
        rows = read_csv(reviewer.get("/audit/report.csv", {"field": "dnc"}))
        assert [r["Status"] for r in rows] == ["DNC1"]
        assert rows[0]["Reason"].startswith("'=HYPERLINK")

    def test_the_screen_offers_it_first_and_the_full_export_second(self, reviewer):
        html = page(reviewer.get("/audit/", {"field": "dnc"}))
        links = re.findall(r'<a href="(/audit/[a-z]+\.\w+)\?field=dnc" download>', html)
        assert links == ["/audit/report.csv", "/audit/export.csv", "/audit/export.jsonl"]

    def test_supervisors_cannot_export_it(self, supervisor_client):
        assert supervisor_client.get("/audit/report.csv").status_code == 403


@pytest.mark.django_db
def test_the_chart_counts_days_in_each_persons_own_time_zone():
    """Two reviewers in different zones, the same filters, one after the other: each sees the
    entry on their own day, not on the day of whoever asked first (the counts are kept)."""
    from datetime import UTC, date

    from statusadmin.audit import selectors

    add_entry(at=datetime(2026, 3, 2, 2, 0, tzinfo=UTC))  # 1 March, 21:00 in New York
    filters = selectors.Filters(date_from=date(2026, 3, 1), date_to=date(2026, 3, 2))

    def days(zone: str) -> dict[date, dict[str, int]]:
        with timezone.override(zone):
            found = selectors.activity(filters=filters)
        return {bucket.start: bucket.counts for bucket in found.buckets if bucket.counts}

    assert days("Europe/London") == {date(2026, 3, 2): {"succeeded": 1}}
    assert days("America/New_York") == {date(2026, 3, 1): {"succeeded": 1}}
