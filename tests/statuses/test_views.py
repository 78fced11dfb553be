"""The status screen without a browser: search, partials, roles, writes and their failures."""

from __future__ import annotations

import re
from html import unescape

import pytest
import requests
from django.utils import timezone

from statusadmin.convoso.connection import SANDBOX_ACCOUNT
from statusadmin.convoso.models import SandboxStatus
from statusadmin.convoso.sandbox import seed
from statusadmin.statuses.models import MirrorStatus
from statusadmin.statuses.selectors import PAGE_SIZE
from tests.helpers import age_mirror, attempts, refused, status_item

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _sandbox_seeded(db):  # type: ignore[no-untyped-def]
    seed()


HX = {"HTTP_HX_REQUEST": "true"}


def many(n: int) -> None:
    """n more custom statuses in the mirror (after a first sync), codes B0000, B0001, ..."""
    from statusadmin.statuses.mirror import mirror_refresh

    mirror_refresh()
    now = timezone.now()
    MirrorStatus.objects.bulk_create(
        MirrorStatus(
            account=SANDBOX_ACCOUNT, code=f"B{i:04}", name=f"Bulk {i}",
            search_text=f"b{i:04} bulk {i}", custom=True, synced_at=now, color="#00AAFF",
        )
        for i in range(n)
    )  # fmt: skip


def html(response) -> str:  # type: ignore[no-untyped-def]
    return response.content.decode()


def row_html(page: str, code: str) -> str:
    match = re.search(rf'<tbody id="row-{code}".*?</tbody>', page, re.S)
    assert match, f"no row for {code}"
    return match.group(0)


def switch(row: str, flag: str) -> str:
    match = re.search(rf'<button[^>]*id="sw-[^"]*-{flag}"[^>]*>', row, re.S)
    assert match, f"no {flag} switch"
    return match.group(0)


class SearchTests:
    def test_full_page_lists_both_sections(self, supervisor_client):
        page = html(supervisor_client.get("/"))
        assert "<html" in page
        assert "Custom statuses" in page
        assert "System statuses" in page
        assert "System statuses can't be changed through the Convoso API" in page
        assert 'id="row-XFER"' in page
        assert 'id="row-COMP"' in page

    @pytest.mark.parametrize("query", ["xfer", "XF", "closer", "TRANSFERRED"])
    def test_filters_by_code_or_name_case_insensitively(self, supervisor_client, query):
        page = html(supervisor_client.get("/", {"q": query}))
        assert 'id="row-XFER"' in page
        assert 'id="row-COMP"' not in page
        assert f"match “{query}”" in page

    def test_htmx_gets_only_the_results_partial(self, supervisor_client):
        response = supervisor_client.get("/", {"q": "comp"}, **HX)
        page = html(response)
        assert page.lstrip().startswith('<div id="results">')
        assert "<html" not in page
        assert 'id="row-COMP"' in page
        assert "HX-Request" in response["Vary"]

    def test_history_restore_gets_the_full_page(self, supervisor_client):
        response = supervisor_client.get(
            "/", {"q": "comp"}, HTTP_HX_HISTORY_RESTORE_REQUEST="true", **HX
        )
        assert "<html" in html(response)
        assert 'value="comp"' in html(response)

    def test_search_box_is_labelled_and_wired_for_live_search(self, supervisor_client):
        page = html(supervisor_client.get("/", {"q": "x"}))
        assert '<label for="q">Search</label>' in page
        box = re.search(r'<input type="search" id="q".*?>', page, re.S).group(0)
        assert 'hx-trigger="input changed delay:250ms, search"' in box
        assert 'hx-sync="this:replace"' in box
        assert 'hx-push-url="true"' in box
        assert 'hx-indicator="#search-indicator"' in box
        assert 'value="x"' in box

    def test_no_match(self, supervisor_client):
        page = html(supervisor_client.get("/", {"q": "zzzz"}))
        assert "0 statuses match" in page
        assert "No custom statuses match" in page

    def test_a_long_result_comes_a_page_at_a_time_and_every_row_is_reachable(
        self, supervisor_client
    ):
        many(250)
        page = html(supervisor_client.get("/", {"q": "bulk"}))
        assert "250 statuses match" in page
        assert f"The first {PAGE_SIZE} are shown; the rest follow as you scroll down." in page
        assert 'Custom statuses <span class="muted">(250)</span>' in page
        assert page.count('class="status-row') == PAGE_SIZE
        seen = re.findall(r'<tbody id="row-(B\d+)"', page)
        # Follow the "more" link as htmx does, until there is none.
        while link := re.search(r'hx-get="([^"]+)"[^>]*data-more', page):
            page = html(supervisor_client.get(unescape(link.group(1)), **HX))
            assert "<html" not in page
            seen += re.findall(r'<tbody id="row-(B\d+)"', page)
            assert page.count('class="status-row') <= PAGE_SIZE
        assert seen == [f"B{i:04}" for i in range(250)]
        assert "that is all" in page

    def test_the_more_link_says_how_many_come_and_works_without_javascript(self, supervisor_client):
        many(45)
        page = html(supervisor_client.get("/", {"q": "bulk"}))
        link = re.search(r'<a href="([^"]+)" hx-get="[^"]+"[^>]*data-more>([^<]+)</a>', page)
        assert link, page
        assert link.group(2) == f"Show {45 - PAGE_SIZE} more of the {45 - PAGE_SIZE} still to come"
        # Without JavaScript the link is a whole page: the custom statuses after the last one.
        rest = html(supervisor_client.get(unescape(link.group(1))))
        assert "<html" in rest
        assert re.findall(r'<tbody id="row-(B\d+)"', rest) == [
            f"B{i:04}" for i in range(PAGE_SIZE, 45)
        ]
        assert f"Custom statuses after B{PAGE_SIZE - 1:04}" in rest
        assert "45 statuses match" in rest

    @pytest.mark.parametrize("query", ["b", "bu", "1", "0", ""])
    def test_a_short_search_answers_with_under_100_kb(self, supervisor_client, query):
        many(5000)
        response = supervisor_client.get("/", {"q": query}, **HX)
        assert len(response.content) <= 100_000
        assert html(response).count('class="status-row') >= PAGE_SIZE

    def test_search_reads_the_mirror_not_convoso(self, supervisor_client, monkeypatch):
        supervisor_client.get("/")
        calls: list[str] = []
        from statusadmin.convoso.client import ConvosoClient

        monkeypatch.setattr(ConvosoClient, "call", lambda self, *a: calls.append(a[0]))
        for query in ["x", "xf", "xfe", "xfer"]:
            supervisor_client.get("/", {"q": query}, **HX)
        assert calls == []

    @pytest.mark.parametrize("query", ["%", "_", "\\", "%x%"])
    def test_like_wildcards_are_literal(self, supervisor_client, query):
        page = html(supervisor_client.get("/", {"q": query}))
        assert "0 statuses match" in page

    def test_query_is_escaped(self, supervisor_client):
        page = html(supervisor_client.get("/", {"q": "<script>alert(1)</script>"}))
        assert "<script>alert(1)" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


class SyncTests:
    def test_refresh_button_shows_last_sync(self, supervisor_client):
        page = html(supervisor_client.get("/"))
        assert "Refresh from Convoso" in page
        assert "Last synced" in page

    def test_refresh_on_demand(self, supervisor_client):
        supervisor_client.get("/")
        SandboxStatus.objects.filter(code="XFER").update(name="Renamed upstream")
        response = supervisor_client.post("/refresh/", {"q": "xfer"}, **HX)
        assert "Renamed upstream" in html(response)

    def test_refresh_without_javascript_redirects_back_to_the_search(self, supervisor_client):
        response = supervisor_client.post("/refresh/", {"q": "xfer"})
        assert response.status_code == 302
        assert response["Location"] == "/?q=xfer"

    def test_compliance_may_refresh(self, compliance_client):
        assert compliance_client.post("/refresh/", {"q": ""}, **HX).status_code == 200

    def test_convoso_down_still_reads_the_mirror_and_says_so(self, supervisor_client, real_convoso):
        real_convoso.serve_catalogue()
        supervisor_client.get("/")
        real_convoso.mock.replace(
            "POST", real_convoso.url("search"), body=requests.ConnectTimeout()
        )
        age_mirror(300)
        page = html(supervisor_client.get("/"))
        assert "Convoso could not be reached in time" in page
        assert "Showing the copy from" in page
        assert 'id="row-XFER"' in page

    def test_rejected_token_is_explained(self, supervisor_client, real_convoso):
        real_convoso.mock.post(real_convoso.url("search"), status=401)
        page = html(supervisor_client.get("/"))
        assert "did not accept the dashboard&#x27;s API token" in page
        assert "Not synced with Convoso yet" in page

    def test_switching_account_never_shows_the_other_accounts_statuses(
        self, supervisor_client, settings, real_convoso
    ):
        settings.CONVOSO_SANDBOX = True
        assert 'id="row-HOT"' in html(supervisor_client.get("/"))  # the sandbox's own status
        settings.CONVOSO_SANDBOX = False
        real_convoso.serve_catalogue()
        page = html(supervisor_client.get("/"))
        assert 'id="row-HOT"' not in page
        assert 'id="row-XFER"' in page


class RoleTests:
    def test_anonymous_htmx_request_is_sent_to_login(self, client):
        response = client.get("/", {"q": "x"}, HTTP_HX_CURRENT_URL="http://testserver/?q=x", **HX)
        assert response.status_code == 200
        assert response["HX-Redirect"] == "/accounts/login/?next=/%3Fq%3Dx"

    def test_compliance_sees_no_controls(self, compliance_client):
        page = html(compliance_client.get("/"))
        assert 'id="row-XFER"' in page
        assert 'role="switch"' not in page
        assert 'type="color"' not in page
        assert "New status" not in page
        assert "edit name" not in page

    @pytest.mark.parametrize(
        ("method", "url", "data"),
        [
            ("post", "/statuses/XFER/flag/", {"final": "Y", "confirmed": "1"}),
            ("post", "/statuses/XFER/color/", {"color": "#112233"}),
            ("post", "/statuses/XFER/name/", {"name": "New"}),
            ("get", "/statuses/XFER/name/", {}),
            ("get", "/statuses/new/", {}),
            ("post", "/statuses/new/", {"code": "AB", "name": "x", "color": "#000000"}),
        ],
    )
    def test_compliance_is_forbidden_to_write(self, compliance_client, method, url, data):
        response = getattr(compliance_client, method)(url, data, **HX)
        assert response.status_code == 403
        assert not SandboxStatus.objects.filter(code="AB").exists()
        assert SandboxStatus.objects.get(code="XFER").name == "Transferred to Closer"

    def test_admin_can_edit(self, client, admin_user):
        client.force_login(admin_user)
        response = client.post("/statuses/XFER/flag/", {"final": "Y", "confirmed": "1"}, **HX)
        assert 'aria-checked="true"' in switch(html(response), "final")


class SystemStatusTests:
    def test_system_rows_have_no_controls(self, supervisor_client):
        row = row_html(html(supervisor_client.get("/")), "COMP")
        assert 'role="switch"' not in row
        assert 'type="color"' not in row
        assert "edit name" not in row
        assert '<span class="flag-value on">Yes</span>' in row

    def test_a_crafted_write_to_a_system_status_is_explained(self, supervisor_client):
        response = supervisor_client.post(
            "/statuses/COMP/flag/", {"final": "N", "confirmed": "1"}, **HX
        )
        assert "Only custom statuses can be changed" in html(response)
        assert SandboxStatus.objects.get(code="COMP").final is True


class FlagTests:
    def test_switches_name_their_flag_and_show_state(self, supervisor_client):
        row = row_html(html(supervisor_client.get("/")), "XFER")
        dnc = switch(row, "dnc")
        assert 'role="switch"' in dnc
        assert 'aria-label="DNC"' in dnc
        assert 'aria-checked="false"' in dnc
        assert 'value="Y"' in dnc  # a click asks for the opposite state
        # Every switch submits the table's one form, with its own action and the page's version.
        assert 'form="edits"' in dnc
        assert re.search(r'formaction="/statuses/XFER/flag/\?v=\w{21}"', dnc)
        history = r'class="code">.*?<a class="history" href="/statuses/XFER/history/"'
        assert re.search(history, row)
        # And a box to include it in a bulk edit (the form above the table).
        assert '<input type="checkbox" form="bulk" name="codes" value="XFER"' in row

    def test_toggle_sends_one_update_and_rerenders_the_row(self, supervisor_client):
        page = html(supervisor_client.get("/"))
        action = re.search(r'formaction="(/statuses/XFER/flag/\?v=\w+)"', page).group(1)
        response = supervisor_client.post(action, {"callback": "Y"}, **HX)
        page = html(response)
        assert page.lstrip().startswith('<tbody id="row-XFER"')
        assert response["HX-Retarget"] == "#row-XFER"
        assert response["HX-Reswap"] == "outerHTML"
        assert 'aria-checked="true"' in switch(page, "callback")
        assert "Saved XFER: Callback No → Yes." in page
        assert 'hx-swap-oob="innerHTML"' in page  # the toast
        assert SandboxStatus.objects.get(code="XFER").callback is True
        assert "autofocus" in switch(page, "callback")

    def test_the_switch_sends_the_wanted_state_so_repeats_are_harmless(self, supervisor_client):
        for _ in range(2):
            supervisor_client.post("/statuses/XFER/flag/", {"callback": "Y"}, **HX)
        assert SandboxStatus.objects.get(code="XFER").callback is True

    @pytest.mark.parametrize(
        "data", [{}, {"final": "maybe"}, {"final": "Y", "reached": "N"}, {"bogus": "Y"}]
    )
    def test_malformed_requests_are_refused(self, supervisor_client, data):
        response = supervisor_client.post("/statuses/XFER/flag/", data, **HX)
        assert response.status_code == 400
        assert b"exactly one flag" in response.content

    def test_without_javascript_redirects_back(self, supervisor_client):
        response = supervisor_client.post(
            "/statuses/XFER/flag/", {"callback": "Y"}, HTTP_REFERER="http://testserver/?q=x"
        )
        assert response.status_code == 302
        assert response["Location"] == "/?q=x#row-XFER"
        assert SandboxStatus.objects.get(code="XFER").callback is True

    def test_foreign_referer_is_not_followed(self, supervisor_client):
        response = supervisor_client.post(
            "/statuses/XFER/flag/", {"callback": "Y"}, HTTP_REFERER="https://evil.example/"
        )
        assert response["Location"] == "/?q=XFER#row-XFER"

    def test_stale_page_is_told(self, supervisor_client):
        page = html(supervisor_client.get("/"))
        action = re.search(r'formaction="(/statuses/XFER/flag/\?v=\w+)"', page).group(1)
        SandboxStatus.objects.filter(code="XFER").update(name="Changed by someone else")
        response = supervisor_client.post(action, {"final": "Y", "confirmed": "1"}, **HX)
        assert "had been changed since your page loaded" in html(response)
        assert "Changed by someone else" in html(response)


class ConflictTests:
    def test_overwriting_a_change_you_never_saw_is_refused_in_plain_words(self, supervisor_client):

        page = html(supervisor_client.get("/"))
        action = re.search(r'hx-post="(/statuses/XFER/color/\?v=\w+)"', page).group(1)
        SandboxStatus.objects.filter(code="XFER").update(hex_color="FF0000")  # someone else
        response = supervisor_client.post(action, {"color": "#00ff00"}, **HX)
        row = html(response)
        message = re.search(r'<td colspan="11" id="msg-XFER" role="alert">(.*?)</td>', row)
        assert message, row
        assert "XFER was changed after your page loaded (now colour #FF0000)" in message.group(1)
        assert "Nothing was sent" in message.group(1)
        assert 'value="#ff0000"' in row  # the row shows what Convoso holds now
        assert "Saved" not in row
        assert SandboxStatus.objects.get(code="XFER").hex_color == "FF0000"
        entry = attempts().get()
        assert (entry.outcome, entry.failure_kind) == ("rejected", "conflict")


class DncReasonTests:
    def test_dnc_asks_for_a_reason_and_sends_nothing(self, supervisor_client):
        response = supervisor_client.post("/statuses/XFER/flag/", {"dnc": "Y"}, **HX)
        page = html(response)
        assert "Why turn DNC on for XFER?" in page
        assert 'name="reason"' in page
        assert '<input type="hidden" name="dnc" value="Y">' in page
        assert "data-escape-cancel" in page
        assert SandboxStatus.objects.get(code="XFER").dnc is False

    def test_turning_off_explains_the_consequence(self, supervisor_client):
        page = html(supervisor_client.post("/statuses/OPTOUT/flag/", {"dnc": "N"}, **HX))
        assert "Why turn DNC off for OPTOUT?" in page
        assert "will no longer be added to the Do-Not-Call list" in page

    def test_reason_sends_the_change(self, no_approvals, supervisor_client):
        response = supervisor_client.post(
            "/statuses/XFER/flag/", {"dnc": "Y", "reason": "Transfers of opt-outs"}, **HX
        )
        assert 'aria-checked="true"' in switch(html(response), "dnc")
        assert SandboxStatus.objects.get(code="XFER").dnc is True

    def test_blank_reason_asks_again(self, supervisor_client):
        page = html(
            supervisor_client.post("/statuses/XFER/flag/", {"dnc": "Y", "reason": "  "}, **HX)
        )
        assert "Why turn DNC on" in page
        assert SandboxStatus.objects.get(code="XFER").dnc is False

    def test_too_long_reason_is_explained_in_the_prompt(self, supervisor_client):
        page = html(
            supervisor_client.post("/statuses/XFER/flag/", {"dnc": "Y", "reason": "x" * 600}, **HX)
        )
        assert "Keep the reason under 500 characters." in page
        assert "Why turn DNC on" in page

    def test_cancel_sends_nothing_and_returns_focus(self, supervisor_client):
        supervisor_client.post("/statuses/XFER/flag/", {"dnc": "Y"}, **HX)
        page = html(supervisor_client.get("/statuses/XFER/", {"focus": "dnc"}, **HX))
        assert "Why turn DNC" not in page
        assert "autofocus" in switch(page, "dnc")
        assert SandboxStatus.objects.get(code="XFER").dnc is False

    @pytest.mark.parametrize("reason", ["\x00", "\u200b\u200b", "\u3164\u3164\u3164", ".."])
    def test_a_reason_that_is_not_words_is_explained_and_nothing_is_sent(
        self, supervisor_client, reason
    ):

        page = html(
            supervisor_client.post("/statuses/XFER/flag/", {"dnc": "Y", "reason": reason}, **HX)
        )
        assert "Why turn DNC on for XFER?" in page
        prompt_error = re.search(r'<p class="error" id="msg-XFER" role="alert">(.*?)</p>', page)
        assert prompt_error, page
        assert "letters or digits" in prompt_error.group(1) or "why DNC" in prompt_error.group(1)
        assert SandboxStatus.objects.get(code="XFER").dnc is False
        assert not attempts().exists()

    def test_the_reason_is_stored_as_readable_text(self, no_approvals, supervisor_client):

        supervisor_client.post(
            "/statuses/XFER/flag/", {"dnc": "Y", "reason": "\u200bOpt-out\x00 list\u202e"}, **HX
        )
        assert attempts().get().reason == "Opt-out list"
        assert SandboxStatus.objects.get(code="XFER").dnc is True

    def test_without_javascript_the_prompt_is_a_page(self, supervisor_client):
        response = supervisor_client.post("/statuses/XFER/flag/", {"dnc": "Y"})
        assert response.status_code == 200
        assert "<html" in html(response)
        assert "Why turn DNC on for XFER?" in html(response)


class ColourTests:
    def test_picker_is_labelled_and_submits_on_change(self, supervisor_client):
        row = row_html(html(supervisor_client.get("/")), "XFER")
        picker = re.search(r'<input type="color".*?>', row, re.S).group(0)
        assert 'aria-label="Colour"' in picker
        assert 'hx-trigger="change"' in picker
        assert 'value="#6711d1"' in picker

    def test_colour_change(self, supervisor_client):
        page = html(supervisor_client.post("/statuses/XFER/color/", {"color": "#a1b2c3"}, **HX))
        assert 'value="#a1b2c3"' in page
        assert SandboxStatus.objects.get(code="XFER").hex_color == "A1B2C3"

    @pytest.mark.parametrize("bad", ["", "red", "#12"])
    def test_bad_colour_is_explained(self, supervisor_client, bad):
        page = html(supervisor_client.post("/statuses/XFER/color/", {"color": bad}, **HX))
        assert "six hexadecimal digits" in page
        assert SandboxStatus.objects.get(code="XFER").hex_color == "6711D1"


class NameTests:
    def test_edit_mode_then_save(self, supervisor_client):
        page = html(supervisor_client.get("/statuses/XFER/name/", **HX))
        assert 'name="name" value="Transferred to Closer" required autofocus' in page
        assert "data-escape-cancel" in page
        page = html(supervisor_client.post("/statuses/XFER/name/", {"name": " Closer "}, **HX))
        assert ">Closer<span" in page
        assert "autofocus" in re.search(r'<a id="name-XFER".*?>', page, re.S).group(0)
        assert SandboxStatus.objects.get(code="XFER").name == "Closer"

    def test_empty_name_is_explained_and_stays_in_edit_mode(self, supervisor_client):
        page = html(supervisor_client.post("/statuses/XFER/name/", {"name": ""}, **HX))
        assert "Give the status a name." in page
        assert 'name="name"' in page
        assert SandboxStatus.objects.get(code="XFER").name == "Transferred to Closer"

    def test_the_code_is_never_editable(self, supervisor_client):
        response = supervisor_client.post(
            "/statuses/XFER/name/", {"name": "X", "code": "NEWCD", "status": "NEWCD"}, **HX
        )
        assert response.status_code == 200
        assert SandboxStatus.objects.filter(code="XFER").exists()
        assert not SandboxStatus.objects.filter(code="NEWCD").exists()

    def test_without_javascript_edit_is_a_page(self, supervisor_client):
        page = html(supervisor_client.get("/statuses/XFER/name/"))
        assert "<html" in page
        assert 'name="name" value="Transferred to Closer"' in page

    def test_unknown_code(self, supervisor_client):
        page = html(supervisor_client.get("/statuses/NOPE/name/", **HX))
        assert "NOPE no longer exists in Convoso" in page


FAULTS = {
    "timeout": ({"body": requests.ReadTimeout()}, "Convoso did not answer in time."),
    "connect-timeout": ({"body": requests.ConnectTimeout()}, "could not be reached in time"),
    "refused": ({"body": refused()}, "could not be reached"),
    "http-500": ({"status": 500}, "had a problem of its own (HTTP 500)"),
    "malformed": ({"body": "<html>oops"}, "a reply the dashboard could not read"),
    "unknown-code": (
        {"json": {"success": False, "code": 7777, "error": "Account suspended"}},
        "Account suspended",
    ),
    "token": ({"json": {"success": False, "error": "Invalid authentication token"}}, "API token"),
}


class FailureTests:
    @pytest.mark.parametrize("fault", FAULTS)
    def test_update_failure_shows_the_reason_and_the_old_state(
        self, supervisor_client, real_convoso, fault
    ):
        reply, message = FAULTS[fault]
        real_convoso.serve_catalogue()
        real_convoso.mock.post(real_convoso.url("update"), **reply)
        response = supervisor_client.post(
            "/statuses/XFER/flag/", {"final": "Y", "confirmed": "1"}, **HX
        )
        assert response.status_code == 200
        page = html(response)
        assert message in page
        assert 'role="alert"' in page
        assert 'aria-checked="false"' in switch(page, "final")  # still the old state
        assert "has-error" in page

    @pytest.mark.parametrize("fault", FAULTS)
    def test_create_failure_is_shown_on_the_form(self, supervisor_client, real_convoso, fault):
        reply, message = FAULTS[fault]
        real_convoso.serve_catalogue()
        real_convoso.mock.post(real_convoso.url("insert"), **reply)
        response = supervisor_client.post(
            "/statuses/new/", {"code": "NEW1", "name": "New", "color": "#000000"}, **HX
        )
        assert response.status_code == 200
        assert message in html(response)

    def test_no_token_or_stack_trace_in_any_failure(self, supervisor_client, real_convoso):
        from tests.tokens import REAL_TOKEN

        real_convoso.serve_catalogue()
        real_convoso.mock.post(real_convoso.url("update"), body=refused(f"token={REAL_TOKEN}"))
        page = html(
            supervisor_client.post("/statuses/XFER/flag/", {"final": "Y", "confirmed": "1"}, **HX)
        )
        assert REAL_TOKEN not in page
        assert "Traceback" not in page


class CreateTests:
    def valid(self, **overrides: str) -> dict[str, str]:
        return {"code": "vip1", "name": "VIP lead", "color": "#0077cc", **overrides}

    def test_focus_starts_in_the_first_field(self, supervisor_client):
        page = html(supervisor_client.get("/statuses/new/"))
        assert re.search(r'<input[^>]*name="code"[^>]*autofocus', page)
        assert "error-summary" not in page

    def test_errors_are_summed_up_first_with_links_to_their_fields(self, supervisor_client):
        page = html(
            supervisor_client.post(
                "/statuses/new/", {"code": "", "name": "", "color": "blue"}, **HX
            )
        )
        summary = re.search(
            r'<div class="error-summary" role="alert"[^>]*autofocus.*?</div>', page, re.S
        )
        assert summary, page
        links = re.findall(r'<a href="#(id_\w+)" data-focus-field>([^<]+)</a>', summary.group(0))
        assert [field for field, _ in links] == ["id_code", "id_name", "id_color"]
        assert "Colour: Use six hexadecimal digits, like 00AA00" in summary.group(0)
        assert not re.search(r'<input[^>]*name="code"[^>]*autofocus', page)

    @pytest.mark.parametrize(("typed", "stored"), [("#12ab34", "12AB34"), ("12AB34", "12AB34")])
    def test_a_typed_hex_colour_is_taken(self, supervisor_client, typed, stored):
        response = supervisor_client.post("/statuses/new/", self.valid(color=typed))
        assert response.status_code == 302
        assert SandboxStatus.objects.get(code="VIP1").hex_color == stored

    def test_no_colour_can_be_chosen(self, supervisor_client):
        response = supervisor_client.post("/statuses/new/", self.valid(no_color="on", color=""))
        assert response.status_code == 302
        assert SandboxStatus.objects.get(code="VIP1").hex_color == ""

    @pytest.mark.parametrize(
        ("typed", "message"),
        [
            ("blue", "Use six hexadecimal digits"),
            ("", "Type a colour like #00AA00, or tick No colour"),
        ],
    )
    def test_a_bad_colour_gets_its_own_error(self, supervisor_client, typed, message):
        page = html(supervisor_client.post("/statuses/new/", self.valid(color=typed), **HX))
        errors = re.search(r'<ul class="errorlist" id="id_color_error">(.*?)</ul>', page, re.S)
        assert errors, page
        assert message in errors.group(1)
        assert not SandboxStatus.objects.filter(code="VIP1").exists()

    def test_form_has_every_field_with_hints(self, supervisor_client):
        page = html(supervisor_client.get("/statuses/new/"))
        for label in ["Code", "Name", "Colour", "Final", "Reached", "Success", "DNC",
                      "Callback", "Contact", "Voicemail"]:  # fmt: skip
            assert f">{label}" in page
        assert "phone number to the Do-Not-Call list automatically." in page
        assert 'type="color"' in page
        assert 'type="checkbox" name="dnc"' in page

    def test_success_redirects_to_the_list_with_the_row_highlighted(
        self, no_approvals, supervisor_client
    ):
        response = supervisor_client.post(
            "/statuses/new/",
            {**self.valid(), "success": "on", "dnc": "on", "reason": "Opt-out campaign"},
        )
        assert response.status_code == 302
        assert response["Location"] == "/?created=VIP1#row-VIP1"
        row = SandboxStatus.objects.get(code="VIP1")
        assert (row.name, row.success, row.dnc, row.final, row.hex_color) == (
            "VIP lead", True, True, False, "0077CC",
        )  # fmt: skip
        page = html(supervisor_client.get(response["Location"]))
        assert '<tbody id="row-VIP1" class="status-row highlight">' in page
        assert "Created VIP1 in Convoso." in page

    def test_the_form_asks_why_dnc_is_on_without_javascript(self, supervisor_client):
        page = html(supervisor_client.get("/statuses/new/"))
        field = re.search(r'<input[^>]*name="reason"[^>]*>', page)
        assert field, page
        assert 'maxlength="500"' in field.group(0)
        assert 'for="id_reason">Why is DNC on?</label>' in page
        # It follows the DNC box, inside the same form.
        form = page[page.index('id="create-form"') :]
        form = form[: form.index("</form>")]
        assert 0 < form.index('name="dnc"') < form.index('name="reason"')

    @pytest.mark.parametrize("reason", ["", "   ", "\x00", "\u200b", "ok"])
    def test_dnc_on_needs_a_real_reason(self, supervisor_client, reason):

        page = html(
            supervisor_client.post(
                "/statuses/new/", {**self.valid(), "dnc": "on", "reason": reason}, **HX
            )
        )
        errors = re.search(r'<ul class="errorlist" id="id_reason_error">(.*?)</ul>', page, re.S)
        assert errors, page
        assert "DNC" in errors.group(1) or "letters or digits" in errors.group(1)
        assert not SandboxStatus.objects.filter(code="VIP1").exists()
        assert not attempts().exists()

    def test_dnc_on_with_a_reason_is_created_and_the_reason_audited(
        self, no_approvals, supervisor_client
    ):

        response = supervisor_client.post(
            "/statuses/new/", {**self.valid(), "dnc": "on", "reason": " Opt-outs\u200b by text "}
        )
        assert response.status_code == 302
        assert SandboxStatus.objects.get(code="VIP1").dnc is True
        entry = attempts().get()
        assert (entry.action, entry.outcome, entry.reason) == (
            "create",
            "succeeded",
            "Opt-outs by text",
        )

    def test_without_dnc_no_reason_is_asked_or_kept(self, supervisor_client):

        supervisor_client.post("/statuses/new/", {**self.valid(), "reason": "stray text"})
        assert SandboxStatus.objects.get(code="VIP1").dnc is False
        assert attempts().get().reason == ""

    def test_htmx_success_is_a_client_redirect(self, supervisor_client):
        response = supervisor_client.post("/statuses/new/", self.valid(), **HX)
        assert response["HX-Redirect"] == "/?created=VIP1#row-VIP1"

    @pytest.mark.parametrize(
        ("overrides", "field", "message"),
        [
            ({"code": "A"}, "code", "2 to 6 letters or digits"),
            ({"code": "NO_ANS"}, "code", "2 to 6 letters or digits"),
            ({"code": ""}, "code", "This field is required"),
            ({"name": "   "}, "name", "This field is required"),
            ({"color": "blue"}, "color", "six hexadecimal digits"),
        ],
    )
    def test_local_validation_errors_sit_by_their_field(
        self, supervisor_client, overrides, field, message
    ):
        page = html(supervisor_client.post("/statuses/new/", self.valid(**overrides), **HX))
        errors = re.search(rf'<ul class="errorlist" id="id_{field}_error">(.*?)</ul>', page, re.S)
        assert errors
        assert message in errors.group(1)
        assert 'aria-invalid="true"' in re.search(rf'<input[^>]*name="{field}".*?>', page).group(0)
        assert not SandboxStatus.objects.filter(name="VIP lead").exists()

    def test_duplicate_lands_on_the_code_field(self, supervisor_client):
        page = html(supervisor_client.post("/statuses/new/", self.valid(code="xfer"), **HX))
        errors = re.search(r'id="id_code_error">(.*?)</ul>', page, re.S).group(1)
        assert "already exists in Convoso" in errors

    @pytest.mark.parametrize(
        ("code", "field"), [(6060, "name"), (6061, "code"), (6065, "dnc"), (6078, "color")]
    )
    def test_convoso_rejections_land_on_their_field(
        self, supervisor_client, real_convoso, code, field
    ):
        real_convoso.serve_catalogue()
        real_convoso.mock.post(
            real_convoso.url("insert"), json={"success": False, "code": code, "error": "no"}
        )
        page = html(supervisor_client.post("/statuses/new/", self.valid(), **HX))
        assert re.search(rf'id="id_{field}_error"', page), page

    def test_lost_reply_but_created_counts_as_success(self, supervisor_client, real_convoso):
        real_convoso.catalogue.append(status_item("VIP1", "VIP lead"))
        real_convoso.serve_catalogue()
        real_convoso.mock.post(real_convoso.url("insert"), body=requests.ReadTimeout())
        response = supervisor_client.post("/statuses/new/", self.valid())
        assert response["Location"] == "/?created=VIP1#row-VIP1"


class ConcurrentEditTests:
    def test_two_supervisors_editing_the_same_status(self, supervisor, db):
        from django.test import Client

        from tests.factories import make_user

        anna, ben = Client(), Client()
        anna.force_login(supervisor)
        ben.force_login(make_user("ben", "Supervisor"))
        action = r'formaction="(/statuses/XFER/flag/\?v=\w+)"'
        anna_url = re.search(action, html(anna.get("/"))).group(1)
        ben_url = re.search(action, html(ben.get("/"))).group(1)
        assert anna_url == ben_url  # both pages show the same XFER

        first = html(anna.post(anna_url, {"callback": "Y"}, **HX))
        assert "had been changed" not in first
        second = html(ben.post(ben_url, {"final": "Y", "confirmed": "1"}, **HX))
        assert "XFER had been changed since your page loaded" in second
        assert 'aria-checked="true"' in switch(second, "callback")  # Anna's change is kept

        anna_entry, ben_entry = attempts().order_by("seq")
        assert (anna_entry.actor_username, ben_entry.actor_username) == ("sue", "ben")
        assert anna_entry.before["callback"] is False
        assert ben_entry.before["callback"] is True  # the true before, read fresh from Convoso
        assert ben_entry.after == {**ben_entry.before, "final": True}
        assert "changed since the page was loaded" in ben_entry.note
        row = SandboxStatus.objects.get(code="XFER")
        assert (row.callback, row.final) == (True, True)


def test_a_nul_in_the_search_is_ignored(supervisor_client):
    """Found by the property tests: PostgreSQL can't compare text containing NUL."""
    seed()
    response = supervisor_client.get("/", {"q": "xf\x00er"})
    assert response.status_code == 200
    page = html(response)
    assert 'id="row-XFER"' in page
    assert 'id="row-COMP"' not in page  # the query was cleaned, not thrown away


def test_a_nul_in_the_query_of_a_refresh_is_ignored(supervisor_client):
    """Found by the property tests on PostgreSQL: the refresh searched with the NUL in."""
    seed()
    response = supervisor_client.post("/refresh/", {"q": "xf\x00er"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    page = html(response)
    assert 'id="row-XFER"' in page
    assert 'id="row-COMP"' not in page


class WaitingTests:
    """The search says which shown statuses have a change waiting, in the same query."""

    def test_only_live_requests_of_this_account_count(self, supervisor) -> None:  # type: ignore[no-untyped-def]
        from datetime import timedelta

        from statusadmin.approvals.models import ChangeRequest
        from statusadmin.approvals.selectors import waiting_condition
        from statusadmin.statuses.mirror import mirror_refresh
        from statusadmin.statuses.selectors import status_search

        mirror_refresh()
        now = timezone.now()

        def waiting(code: str, account: str = SANDBOX_ACCOUNT, hours: int = 1) -> None:
            ChangeRequest.objects.create(
                account=account, status_code=code, kind="update", changes={"dnc": True},
                reason="r", requested_by=supervisor, requested_by_username="sue",
                requested_at=now, expires_at=now + timedelta(hours=hours),
            )  # fmt: skip

        waiting("XFER")
        waiting("HOT", hours=-1)  # expired
        waiting("LVM", account="other")
        result = status_search(
            account=SANDBOX_ACCOUNT, query="", waiting=waiting_condition(SANDBOX_ACCOUNT)
        )
        assert {"XFER", "HOT", "LVM"} <= {s.code for s in result.custom}
        assert result.custom_page.waiting == frozenset({"XFER"})

    def test_a_page_holds_as_many_as_asked(self, supervisor) -> None:  # type: ignore[no-untyped-def]
        from statusadmin.statuses.mirror import mirror_refresh
        from statusadmin.statuses.selectors import status_search

        mirror_refresh()
        result = status_search(account=SANDBOX_ACCOUNT, query="", limit=2)
        assert (len(result.custom), len(result.system)) == (2, 2)
        assert result.custom_total == 5
        assert result.custom_page.remaining == 3
