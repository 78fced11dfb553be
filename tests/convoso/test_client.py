"""The Convoso client against `responses`: exact requests, parsing, errors, retries."""

from __future__ import annotations

import json
import logging
from urllib.parse import parse_qs, quote, quote_plus

import pytest
import requests
import responses

from statusadmin.convoso import errors
from statusadmin.convoso.client import ConvosoClient, parse_status
from statusadmin.convoso.services import TokenNotAccepted, token_check
from statusadmin.convoso.status import FLAGS, Status
from statusadmin.convoso.validation import InvalidInput
from tests.helpers import dropped, refused
from tests.tokens import CLIENT_TOKEN

API = "https://convoso.test/v1"
TOKEN = CLIENT_TOKEN

# Shapes exactly as convoso-status-api.txt shows them.
COMP_ITEM = {
    "status": "COMP",
    "name": "Completed",
    "final": "Y",
    "reached": "Y",
    "success": "Y",
    "dnc": "N",
    "callback": "N",
    "contact": "Y",
    "voicemail": "N",
    "workflow_disposition_event_option": "sale",
    "custom_status": False,
    "hex_color": "#00AA00",
}
XFER_ITEM = {
    **COMP_ITEM,
    "status": "XFER",
    "name": "Transferred",
    "final": "N",
    "workflow_disposition_event_option": "",
    "custom_status": True,
    "hex_color": "#6711D1",
}
INSERT_OK = {"success": True, "code": 200, "data": {"new": "1", "status": "SALE"}}
UPDATE_OK = {"success": True, "data": {"status": "XFER"}}


def url(endpoint: str) -> str:
    return f"{API}/status/{endpoint}"


def form_of(call: responses.Call) -> dict[str, str]:
    body = call.request.body
    text = body.decode() if isinstance(body, bytes) else body
    return {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}


@pytest.fixture
def client() -> ConvosoClient:
    return ConvosoClient(api_url=API, token=TOKEN, backoff=0, retries=2)


@pytest.fixture
def mocked() -> responses.RequestsMock:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


ALL_FLAGS = dict.fromkeys(FLAGS, False)


class RequestShapeTests:
    def test_search_posts_form_with_token_in_body(self, client, mocked):
        mocked.post(url("search"), json={"data": [COMP_ITEM]})
        client.search("completed")
        request = mocked.calls[0].request
        assert request.method == "POST"
        assert request.url == url("search")  # nothing in the query string
        assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
        assert form_of(mocked.calls[0]) == {"auth_token": TOKEN, "query": "completed"}

    def test_empty_search_sends_empty_query(self, client, mocked):
        mocked.post(url("search"), json={"data": [COMP_ITEM, XFER_ITEM]})
        assert [s.code for s in client.search()] == ["COMP", "XFER"]
        assert form_of(mocked.calls[0])["query"] == ""

    def test_insert_sends_every_flag_and_colour_without_hash(self, client, mocked):
        mocked.post(url("insert"), json=INSERT_OK)
        result = client.insert(
            code="sale", name=" Sale Made ", color="#00aa00", flags={"final": True, "dnc": "N"}
        )
        assert form_of(mocked.calls[0]) == {
            "auth_token": TOKEN,
            "status": "SALE",
            "name": "Sale Made",
            "hex_color": "00AA00",
            "final": "Y",
            "reached": "N",
            "success": "N",
            "dnc": "N",
            "callback": "N",
            "contact": "N",
            "voicemail": "N",
        }
        assert result.code == "SALE"
        assert result.custom is True

    def test_insert_without_colour_omits_it(self, client, mocked):
        mocked.post(url("insert"), json=INSERT_OK)
        client.insert(code="SALE", name="Sale", flags=ALL_FLAGS)
        assert "hex_color" not in form_of(mocked.calls[0])

    def test_update_reads_merges_and_sends_all_seven_flags(self, client, mocked):
        mocked.post(url("search"), json={"data": [XFER_ITEM]})
        mocked.post(url("update"), json=UPDATE_OK)
        result = client.update("xfer", {"dnc": True, "color": "#abcdef"})
        assert form_of(mocked.calls[0]) == {"auth_token": TOKEN, "query": "XFER"}
        sent = form_of(mocked.calls[1])
        assert sent == {
            "auth_token": TOKEN,
            "status": "XFER",
            "name": "Transferred",
            "hex_color": "ABCDEF",
            "final": "N",
            "reached": "Y",
            "success": "Y",
            "dnc": "Y",
            "callback": "N",
            "contact": "Y",
            "voicemail": "N",
        }
        assert result.before.dnc is False
        assert result.after.dnc is True
        assert result.after.color == "#ABCDEF"
        assert result.changed == ["color", "dnc"]  # display order

    @pytest.mark.parametrize("empty", ["", "  ", None])
    def test_an_empty_colour_leaves_convosos_colour_as_it_is(self, client, mocked, empty):
        # Convoso can't clear a colour, so the result (and with it the audit log and the
        # mirror) must say the colour stayed, and the update must send it unchanged.
        mocked.post(url("search"), json={"data": [XFER_ITEM]})
        mocked.post(url("update"), json=UPDATE_OK)
        result = client.update("XFER", {"color": empty, "dnc": True})
        assert form_of(mocked.calls[1])["hex_color"] == "6711D1"
        assert result.after.color == "#6711D1"
        assert result.changed == ["dnc"]

    def test_update_with_given_before_skips_the_read(self, client, mocked):
        mocked.post(url("update"), json=UPDATE_OK)
        before = parse_status(XFER_ITEM)
        result = client.update("XFER", {"name": "Closer transfer"}, before=before)
        assert len(mocked.calls) == 1
        assert form_of(mocked.calls[0])["name"] == "Closer transfer"
        assert result.before is before

    def test_update_of_unknown_code_raises_not_found_without_writing(self, client, mocked):
        mocked.post(url("search"), json={"data": [COMP_ITEM]})  # a partial match only
        with pytest.raises(errors.StatusNotFound):
            client.update("COM", {"dnc": True})
        assert [c.request.url for c in mocked.calls] == [url("search")]

    def test_invalid_input_is_refused_before_any_request(self, client, mocked):
        with pytest.raises(InvalidInput) as exc:
            client.insert(code="TOO-LONG", name="x", flags=ALL_FLAGS)
        assert exc.value.field == "code"
        with pytest.raises(InvalidInput) as exc:
            client.update("XFER", {"color": "red"})
        assert exc.value.field == "color"
        assert len(mocked.calls) == 0


class ParsingTests:
    @pytest.mark.parametrize(
        ("raw", "expected"),
        [(True, True), (False, False), ("Y", True), ("N", False), ("1", True), ("0", False),
         (1, True), (0, False), ("y", True), (None, False)],
    )  # fmt: skip
    def test_custom_status_spellings(self, raw, expected):
        assert parse_status({**COMP_ITEM, "custom_status": raw}).custom is expected

    def test_misspelt_integer_workflow_field(self):
        item = {k: v for k, v in COMP_ITEM.items() if k != "workflow_disposition_event_option"}
        item["workflow_dispositon_event_option"] = 3
        assert parse_status(item).workflow == "3"

    @pytest.mark.parametrize(
        ("raw", "expected"),
        [("#00AA00", "#00AA00"), ("00aa00", "#00AA00"), (None, None), ("", None),
         ("red;background:url(x)", None), ("#12345", None), (123456, None)],
    )  # fmt: skip
    def test_colour_with_or_without_hash_or_missing_or_hostile(self, raw, expected):
        item = {**COMP_ITEM, "hex_color": raw}
        assert parse_status(item).color == expected

    def test_missing_colour_key(self):
        item = {k: v for k, v in COMP_ITEM.items() if k != "hex_color"}
        assert parse_status(item).color is None

    def test_flags_parse_to_booleans(self):
        status = parse_status(COMP_ITEM)
        assert status == Status(
            code="COMP",
            name="Completed",
            final=True,
            reached=True,
            success=True,
            dnc=False,
            callback=False,
            contact=True,
            voicemail=False,
            color="#00AA00",
            workflow="sale",
            custom=False,
        )

    def test_unexpected_types_and_non_objects_are_tolerated(self, client, mocked):
        weird = {"status": "ODD", "name": 42, "final": 1, "custom_status": "1"}
        mocked.post(url("search"), json={"data": [weird, "junk", None, {"name": "no code"}]})
        (status,) = client.search()
        assert (status.code, status.name, status.final, status.custom) == ("ODD", "42", True, True)

    def test_search_reply_with_success_flag_is_accepted(self, client, mocked):
        mocked.post(url("search"), json={"success": True, "data": [COMP_ITEM]})
        assert client.search()[0].code == "COMP"


def documented(endpoint: str) -> list[tuple[str, int]]:
    return [(endpoint, code) for code in errors.CODES_BY_ENDPOINT[endpoint]]


class DocumentedErrorTests:
    @pytest.mark.parametrize(("endpoint", "code"), documented("insert") + documented("update"))
    def test_each_code_maps_to_its_field_on_its_endpoint(self, client, mocked, endpoint, code):
        field, text, explanation = errors.CODES_BY_ENDPOINT[endpoint][code]
        mocked.post(url(endpoint), json={"success": False, "code": code, "error": text})
        with pytest.raises(errors.ConvosoFieldError) as exc:
            client.call(endpoint, {"status": "XFER"})
        assert exc.value.code == code
        assert exc.value.field == field
        assert exc.value.upstream_message == text
        assert exc.value.explanation == explanation
        assert exc.value.outcome == "rejected"
        # Plain English for a supervisor, not Convoso's wording.
        assert explanation != text
        assert explanation.endswith(".")

    def test_6069_is_its_own_type(self, client, mocked):
        mocked.post(url("update"), json={"success": False, "code": 6069, "error": "x"})
        with pytest.raises(errors.StatusNotModifiable):
            client.call("update", {})

    def test_codes_are_mapped_per_endpoint(self, client, mocked):
        # 6069 is an update code; on insert it is unknown and keeps Convoso's text.
        mocked.post(url("insert"), json={"success": False, "code": 6069, "error": "Odd thing"})
        with pytest.raises(errors.UnexpectedConvosoError) as exc:
            client.call("insert", {})
        assert "Odd thing" in exc.value.explanation
        assert exc.value.code == 6069

    def test_unknown_code_keeps_convosos_text(self, client, mocked):
        mocked.post(url("update"), json={"success": False, "code": 7001, "error": "Quota hit"})
        with pytest.raises(errors.UnexpectedConvosoError) as exc:
            client.call("update", {})
        assert exc.value.upstream_message == "Quota hit"
        assert "Quota hit" in exc.value.explanation

    def test_duplicate_code(self, client, mocked):
        mocked.post(url("insert"), json={"success": False, "error": "Status code already exists"})
        with pytest.raises(errors.DuplicateStatus) as exc:
            client.insert(code="SALE", name="Sale", flags=ALL_FLAGS)
        assert exc.value.field == "code"
        assert exc.value.explanation == errors.DUPLICATE_EXPLANATION
        assert (exc.value.endpoint, exc.value.upstream_message) == (
            "insert",
            "Status code already exists",
        )

    def test_status_not_found(self, client, mocked):
        mocked.post(url("update"), json={"success": False, "error": "Status not found"})
        with pytest.raises(errors.StatusNotFound) as exc:
            client.call("update", {})
        assert exc.value.explanation == errors.NOT_FOUND_EXPLANATION
        assert (exc.value.endpoint, exc.value.upstream_message) == ("update", "Status not found")

    @pytest.mark.parametrize("endpoint", ["search", "insert", "update"])
    def test_invalid_token_text(self, client, mocked, endpoint):
        body = {"success": False, "error": "Invalid authentication token"}
        mocked.post(url(endpoint), json=body)
        with pytest.raises(errors.TokenRejected) as exc:
            client.call(endpoint, {})
        assert "CONVOSO_AUTH_TOKEN" in exc.value.explanation
        assert (exc.value.endpoint, exc.value.upstream_message) == (
            endpoint,
            "Invalid authentication token",
        )

    @pytest.mark.parametrize("status", [401, 403])
    def test_invalid_token_http_status(self, client, mocked, status):
        mocked.post(url("search"), status=status, body="Forbidden")
        with pytest.raises(errors.TokenRejected) as exc:
            client.search()
        assert (exc.value.endpoint, exc.value.upstream_message) == ("search", f"HTTP {status}")


# None of these is a code, though several pass str.isdigit() or int().
ODD_CODES = ["²", "٦٠٦٩", "-1", -1, 0, "0", 2**31, str(2**31), 2**40, 1.5, 6069.0, True,
             False, None, [], {}, [6069], " 6069", "6069 ", "6069\n", "+6069", "6_069",
             "9" * 5000]  # fmt: skip


class ErrorCodeTests:
    @pytest.mark.parametrize("raw", ODD_CODES, ids=lambda raw: repr(raw)[:12])
    @pytest.mark.parametrize("endpoint", ["search", "insert", "update"])
    def test_an_odd_code_is_no_code_and_the_text_is_kept(self, client, mocked, endpoint, raw):
        mocked.post(url(endpoint), json={"success": False, "code": raw, "error": "Odd thing"})
        with pytest.raises(errors.UnexpectedConvosoError) as exc:
            client.call(endpoint, {"status": "XFER"})
        assert exc.value.code is None
        assert exc.value.upstream_message == "Odd thing"
        assert exc.value.explanation == "Convoso refused the change and said: Odd thing"

    @pytest.mark.parametrize("raw", [1, "1", 7001, "7001", 2**31 - 1, str(2**31 - 1)], ids=repr)
    def test_a_plain_code_in_range_is_kept(self, client, mocked, raw):
        mocked.post(url("update"), json={"success": False, "code": raw, "error": "Odd thing"})
        with pytest.raises(errors.UnexpectedConvosoError) as exc:
            client.call("update", {})
        assert exc.value.code == int(raw)

    @pytest.mark.parametrize(
        ("endpoint", "raw", "cls", "field"),
        [
            ("update", "6069", errors.StatusNotModifiable, "code"),
            ("update", "6074", errors.ConvosoFieldError, "dnc"),
            ("insert", "6061", errors.ConvosoFieldError, "code"),
            ("insert", "6078", errors.ConvosoFieldError, "color"),
        ],
    )
    def test_a_documented_code_as_a_string_maps_to_its_field(
        self, client, mocked, endpoint, raw, cls, field
    ):
        mocked.post(url(endpoint), json={"success": False, "code": raw, "error": "x"})
        with pytest.raises(cls) as exc:
            client.call(endpoint, {"status": "XFER"})
        assert type(exc.value) is cls
        assert exc.value.field == field
        assert exc.value.code == int(raw)
        assert exc.value.explanation == errors.CODES_BY_ENDPOINT[endpoint][int(raw)][2]

    def test_no_text_and_no_code_names_the_http_status(self, client, mocked):
        mocked.post(url("update"), status=404, json={"success": False, "code": "²"})
        with pytest.raises(errors.UnexpectedConvosoError) as exc:
            client.call("update", {})
        assert exc.value.explanation == "Convoso refused the change and said: HTTP 404"

    def test_a_400_with_convosos_error_is_a_refusal(self, client, mocked):
        mocked.post(url("update"), status=400, json={"success": False, "error": "Bad request"})
        with pytest.raises(errors.UnexpectedConvosoError) as exc:
            client.call("update", {})
        assert (exc.value.endpoint, exc.value.upstream_message) == ("update", "Bad request")


class SuccessSpellingTests:
    """Convoso's booleans come as true/false, Y/N, 1/0 (convoso-api-notes.md); a "no" in any of
    those spellings is a refusal, or a refused write would be audited as a success."""

    @pytest.mark.parametrize("said", [False, "false", "False", "N", "n", "no", "0", 0, 0.0])
    @pytest.mark.parametrize("endpoint", ["search", "insert", "update"])
    def test_no_is_a_refusal(self, client, mocked, endpoint, said):
        mocked.post(url(endpoint), json={"success": said, "error": "Nope", "data": []})
        with pytest.raises(errors.UnexpectedConvosoError) as exc:
            client.call(endpoint, {})
        assert exc.value.upstream_message == "Nope"

    def test_a_duplicate_with_a_string_false_is_a_duplicate(self, client, mocked):
        body = {"success": "false", "error": "Status code already exists"}
        mocked.post(url("insert"), json=body)
        with pytest.raises(errors.DuplicateStatus):
            client.insert(code="SALE", name="Sale", flags=ALL_FLAGS)

    @pytest.mark.parametrize("said", [True, "true", "Y", "1", 1, None, "maybe", [], {}])
    def test_anything_else_is_not_a_refusal(self, client, mocked, said):
        mocked.post(url("search"), json={"success": said, "data": []})
        assert client.call("search", {})["data"] == []
        # A write needs a plain yes to count as done (WriteNeedsAYesTests), but none of these
        # is a refusal either.
        mocked.post(url("update"), json={"success": said, "data": {"status": "XFER"}})
        if said in (True, "true", "Y", "1", 1):
            assert client.call("update", {})["data"] == {"status": "XFER"}
        else:
            with pytest.raises(errors.ConvosoUnavailable, match="could not read"):
                client.call("update", {})


class FailureKindTests:
    @pytest.mark.parametrize(
        ("raised", "kind", "explanation"),
        [
            (
                requests.ConnectTimeout(),
                "timeout",
                "Convoso could not be reached in time, so nothing was changed. Try again shortly.",
            ),
            (
                refused(),
                "connection",
                "Convoso could not be reached (the connection failed), so nothing was changed.",
            ),
        ],
    )
    @pytest.mark.parametrize("endpoint", ["search", "insert", "update"])
    def test_nothing_reached_convoso(self, client, mocked, raised, kind, explanation, endpoint):
        mocked.post(url(endpoint), body=raised)
        with pytest.raises(errors.ConvosoUnavailable) as exc:
            client.call(endpoint, {})
        assert exc.value.kind == kind
        assert exc.value.outcome == "failed"
        assert exc.value.explanation == explanation
        assert exc.value.endpoint == endpoint

    def test_a_connection_broken_after_sending_a_write_is_unknown(self, client, mocked):
        mocked.post(url("update"), body=dropped())
        with pytest.raises(errors.ConvosoUnavailable) as exc:
            client.call("update", {})
        assert (exc.value.kind, exc.value.outcome) == ("connection", "unknown")
        assert "may or may not" in exc.value.explanation
        assert exc.value.endpoint == "update"

    def test_a_connection_broken_during_search_is_a_failure(self, client, mocked):
        mocked.post(url("search"), body=dropped())
        with pytest.raises(errors.ConvosoUnavailable) as exc:
            client.search()
        assert exc.value.outcome == "failed"

    def test_read_timeout_on_a_write_is_unknown(self, client, mocked):
        mocked.post(url("update"), body=requests.ReadTimeout())
        with pytest.raises(errors.ConvosoUnavailable) as exc:
            client.call("update", {})
        assert (exc.value.kind, exc.value.outcome) == ("timeout", "unknown")
        assert "may or may not" in exc.value.explanation
        assert exc.value.endpoint == "update"

    def test_read_timeout_on_search_is_a_failure(self, client, mocked):
        mocked.post(url("search"), body=requests.ReadTimeout())
        with pytest.raises(errors.ConvosoUnavailable) as exc:
            client.search()
        assert (exc.value.kind, exc.value.outcome) == ("timeout", "failed")

    @pytest.mark.parametrize("status", [500, 502, 503, 504])
    def test_server_errors(self, client, mocked, status):
        mocked.post(url("search"), status=status, body="oops")
        with pytest.raises(errors.ConvosoUnavailable) as exc:
            client.search()
        assert exc.value.kind == "http_error"
        assert str(status) in exc.value.explanation
        assert (exc.value.endpoint, exc.value.upstream_message) == ("search", f"HTTP {status}")
        # A search changes nothing: a failed one is a failure, never "may have been made".
        assert (exc.value.may_have_applied, exc.value.outcome) == (False, "failed")
        assert "may or may not" not in exc.value.explanation

    @pytest.mark.parametrize("body", ["<html>Gateway</html>", "[1, 2]", '"text"', ""])
    def test_malformed_json(self, client, mocked, body):
        mocked.post(url("search"), body=body, status=200)
        with pytest.raises(errors.ConvosoUnavailable) as exc:
            client.search()
        assert exc.value.kind == "malformed"
        # A search changes nothing, so an unreadable reply to one can't have changed anything.
        assert (exc.value.may_have_applied, exc.value.outcome) == (False, "failed")
        assert exc.value.endpoint == "search"

    @pytest.mark.parametrize("body", ["[" * 100_000, '{"a":' * 50_000])
    @pytest.mark.parametrize("endpoint", ["search", "update"])
    def test_json_nested_too_deep_to_decode_is_malformed(self, client, mocked, endpoint, body):
        """Found by the property tests: json raises RecursionError, not ValueError, here."""
        mocked.post(url(endpoint), body=body, status=200)
        with pytest.raises(errors.ConvosoUnavailable) as exc:
            client.call(endpoint, {})
        assert exc.value.kind == "malformed"
        assert exc.value.may_have_applied is (endpoint == "update")

    def test_malformed_reply_to_update_is_unknown(self, client, mocked):
        mocked.post(url("update"), body="<html>", status=200)
        with pytest.raises(errors.ConvosoUnavailable) as exc:
            client.call("update", {})
        assert exc.value.outcome == "unknown"

    def test_search_data_not_a_list_is_malformed(self, client, mocked):
        mocked.post(url("search"), json={"data": "nope"})
        with pytest.raises(errors.ConvosoUnavailable) as exc:
            client.search()
        assert exc.value.kind == "malformed"
        assert (exc.value.may_have_applied, exc.value.outcome) == (False, "failed")

    @pytest.mark.parametrize("status", [400, 404])
    @pytest.mark.parametrize("endpoint", ["insert", "update"])
    def test_a_write_refused_with_a_page_instead_of_json_is_a_refusal(
        self, client, mocked, endpoint, status
    ):
        """A 4xx with a web page (a proxy's, or a wrong address): refused, so nothing was
        changed; not an unreadable reply that may have been carried out."""
        mocked.post(url(endpoint), status=status, body="<html>Bad Request</html>")
        with pytest.raises(errors.UnexpectedConvosoError) as exc:
            client.call(endpoint, {})
        assert exc.value.outcome == "rejected"
        assert f"(HTTP {status})" in exc.value.explanation

    def test_a_token_tried_at_an_address_that_answers_with_a_page_says_what_came_back(self, mocked):
        """Adding an account: the administrator is told the HTTP status that came back (a
        404 points at the API URL), not "no reason given"."""
        mocked.post(url("search"), status=404, body="<html>Not Found</html>")
        with pytest.raises(TokenNotAccepted) as exc:
            token_check(api_url=API, token=TOKEN)
        assert "Convoso refused this token (HTTP 404)" in str(exc.value)


ELSEWHERE = "https://elsewhere.test/grab"


class RedirectTests:
    @pytest.mark.parametrize("status", [300, 301, 302, 303, 307, 308, 399])
    @pytest.mark.parametrize("endpoint", ["search", "insert", "update"])
    def test_a_redirect_is_an_error_and_is_not_followed(self, client, mocked, status, endpoint):
        mocked.post(url(endpoint), status=status, headers={"Location": ELSEWHERE})
        # Whatever the redirect would lead to answers like a happy Convoso.
        mocked.post(ELSEWHERE, json={"success": True, "data": []})
        mocked.get(ELSEWHERE, json={"success": True, "data": []})
        with pytest.raises(errors.ConvosoUnavailable) as exc:
            client.call(endpoint, {"status": "XFER"})
        assert [c.request.url for c in mocked.calls] == [url(endpoint)]
        assert exc.value.kind == "redirect"
        assert exc.value.may_have_applied is False
        assert exc.value.outcome == "failed"
        assert exc.value.upstream_message == f"HTTP {status}"
        assert f"redirect (HTTP {status})" in exc.value.explanation
        assert exc.value.endpoint == endpoint
        assert exc.value.explanation == (
            f"Convoso answered with a redirect (HTTP {status}) instead of a reply. The dashboard "
            "never follows redirects, so the API token was not sent anywhere else, and nothing "
            "was changed. An administrator should check CONVOSO_API_URL."
        )

    def test_a_redirected_insert_is_sent_once_and_nothing_else(self, client, mocked):
        mocked.post(url("insert"), status=307, headers={"Location": ELSEWHERE})
        mocked.post(url("search"), json={"data": []})
        with pytest.raises(errors.ConvosoUnavailable) as exc:
            client.insert(code="SALE", name="Sale", flags=ALL_FLAGS)
        assert exc.value.kind == "redirect"
        assert [c.request.url for c in mocked.calls] == [url("insert")]

    def test_a_redirect_to_the_same_api_is_not_followed_either(self, client, mocked):
        mocked.post(url("search"), status=308, headers={"Location": url("search") + "/"})
        mocked.post(url("search") + "/", json={"data": [COMP_ITEM]})
        with pytest.raises(errors.ConvosoUnavailable):
            client.search()
        assert len(mocked.calls) == 1


class SecretTests:
    @pytest.mark.parametrize(
        "reply",
        [
            {"body": refused(f"refused auth_token={TOKEN}")},
            {"body": requests.ReadTimeout(f"timeout auth_token={TOKEN}")},
            {"status": 500, "body": "x"},
            {"json": {"success": False, "code": 9, "error": "bad"}},
            {"status": 401, "body": "no"},
        ],
    )
    def test_token_never_in_errors_or_logs(self, client, mocked, caplog, reply):
        caplog.set_level(logging.DEBUG)
        mocked.post(url("update"), **reply)
        with pytest.raises(errors.ConvosoError) as exc:
            client.call("update", {"status": "XFER"})
        assert TOKEN not in str(exc.value)
        assert TOKEN not in repr(exc.value.args)
        # No chained exception (which would hold the request and its body) is ever shown.
        assert exc.value.__cause__ is None
        assert exc.value.__context__ is None or exc.value.__suppress_context__
        assert TOKEN not in caplog.text
        assert TOKEN not in repr(client)

    def test_each_call_is_logged_with_endpoint_and_outcome(self, client, mocked, caplog):
        caplog.set_level(logging.INFO, logger="statusadmin.convoso")
        mocked.post(url("search"), json={"data": []})
        client.search()
        (record,) = [r for r in caplog.records if r.name == "statusadmin.convoso"]
        assert record.convoso_endpoint == "search"
        assert record.convoso_outcome == "ok"
        assert record.convoso_http_status == 200
        assert record.duration_ms >= 0


# A token with characters that URL-encoding changes, so its encoded forms differ from it.
ODD_TOKEN = "tok/SECRET+9 x&y=z"
REMOVED = "[token removed]"


def forms_of(token: str) -> list[str]:
    """The token as Convoso might echo it: as sent, and URL-encoded either way."""
    return [token, quote_plus(token), quote(token, safe="")]


def texts_of(exc: errors.ConvosoError) -> str:
    return "\n".join([str(exc), exc.explanation, exc.upstream_message, repr(exc.args)])


class TokenEchoTests:
    """Convoso's text may echo the token; the client removes it before anyone sees the text."""

    @pytest.mark.parametrize("key", ["error", "message"])
    @pytest.mark.parametrize("endpoint", ["search", "insert", "update"])
    def test_an_error_echoing_the_token(self, client, mocked, endpoint, key):
        mocked.post(url(endpoint), json={"success": False, key: f"Invalid token {TOKEN} here"})
        with pytest.raises(errors.UnexpectedConvosoError) as exc:
            client.call(endpoint, {})
        assert TOKEN not in texts_of(exc.value)
        assert exc.value.upstream_message == f"Invalid token {REMOVED} here"
        assert exc.value.explanation.endswith(f"said: Invalid token {REMOVED} here")

    @pytest.mark.parametrize("echoed", [*forms_of(ODD_TOKEN), quote(ODD_TOKEN, safe="").lower()])
    def test_url_encoded_echoes(self, mocked, echoed):
        client = ConvosoClient(api_url=API, token=ODD_TOKEN, backoff=0)
        mocked.post(url("update"), json={"success": False, "code": 7001, "error": f"[{echoed}]"})
        with pytest.raises(errors.UnexpectedConvosoError) as exc:
            client.call("update", {})
        for form in [*forms_of(ODD_TOKEN), echoed]:
            assert form not in texts_of(exc.value)
        assert exc.value.upstream_message == f"[{REMOVED}]"

    def test_an_encoded_echo_goes_whole_when_the_token_is_a_prefix_of_it(self, mocked):
        # URL-encoded, this token is itself followed by "25": the longest form must match first.
        client = ConvosoClient(api_url=API, token="tok%25", backoff=0)
        mocked.post(url("update"), json={"success": False, "error": f"[{quote('tok%25')}]"})
        with pytest.raises(errors.UnexpectedConvosoError) as exc:
            client.call("update", {})
        assert exc.value.upstream_message == f"[{REMOVED}]"

    def test_a_documented_code_keeps_its_explanation_and_loses_the_token(self, client, mocked):
        mocked.post(url("update"), json={"success": False, "code": 6069, "error": TOKEN})
        with pytest.raises(errors.StatusNotModifiable) as exc:
            client.call("update", {})
        assert exc.value.upstream_message == REMOVED
        assert exc.value.explanation == errors.UPDATE_CODES[6069][2]

    def test_the_token_is_removed_before_long_text_is_cut(self, client, mocked):
        # Cut first, and the first characters of the token would survive at the end.
        mocked.post(url("update"), json={"success": False, "error": "x" * 490 + TOKEN})
        with pytest.raises(errors.UnexpectedConvosoError) as exc:
            client.call("update", {})
        assert TOKEN[:6] not in texts_of(exc.value)
        assert exc.value.upstream_message.startswith("x" * 490 + "[token")

    def test_statuses_echoing_the_token(self, client, mocked):
        item = {**XFER_ITEM, "name": f"Named {TOKEN}", "workflow_disposition_event_option": TOKEN}
        odd = {**XFER_ITEM, "status": f"{TOKEN}", "name": "Code is the token"}
        mocked.post(url("search"), json={"data": [item, odd]})
        named, coded = client.search()
        assert TOKEN not in repr([named, coded])
        assert (named.code, named.name, named.workflow) == ("XFER", f"Named {REMOVED}", REMOVED)
        assert coded.code == REMOVED

    def test_update_reports_the_status_without_the_token(self, client, mocked):
        mocked.post(url("search"), json={"data": [{**XFER_ITEM, "name": f"x {TOKEN}"}]})
        mocked.post(url("update"), json=UPDATE_OK)
        result = client.update("XFER", {"final": True})
        assert TOKEN not in repr(result)
        assert result.before.name == result.after.name == f"x {REMOVED}"

    def test_an_empty_token_changes_nothing(self, mocked):
        client = ConvosoClient(api_url=API, token="", backoff=0)
        mocked.post(url("update"), json={"success": False, "error": "Quota hit"})
        mocked.post(url("search"), json={"data": [XFER_ITEM]})
        with pytest.raises(errors.UnexpectedConvosoError) as exc:
            client.call("update", {})
        assert exc.value.upstream_message == "Quota hit"
        assert client.search() == [parse_status(XFER_ITEM)]


class UnstorableTextTests:
    """Found by the property tests: JSON can carry NUL (which PostgreSQL can't store) and lone
    surrogates (which can't be encoded as UTF-8 at all); either crashed the page that stored or
    showed Convoso's text. The client replaces each with U+FFFD."""

    @pytest.mark.parametrize(("raw", "clean"), [("a\x00b", "a\ufffdb"), ("a\ud800b", "a\ufffdb")])
    def test_in_an_error(self, client, mocked, raw, clean):
        mocked.post(url("update"), json={"success": False, "error": raw})
        with pytest.raises(errors.UnexpectedConvosoError) as exc:
            client.call("update", {})
        assert exc.value.upstream_message == clean
        assert exc.value.explanation.encode().endswith(clean.encode())

    @pytest.mark.parametrize(("raw", "clean"), [("a\x00b", "a\ufffdb"), ("a\ud800b", "a\ufffdb")])
    def test_in_a_status(self, client, mocked, raw, clean):
        item = {**XFER_ITEM, "status": f"X{raw}", "name": raw}
        item["workflow_disposition_event_option"] = raw
        mocked.post(url("search"), json={"data": [item]})
        (status,) = client.search()
        assert (status.code, status.name, status.workflow) == (f"X{clean}", clean, clean)

    def test_a_nul_inside_an_echoed_token_does_not_hide_it(self, client, mocked):
        # Dropping the NUL instead would put the whole token back together.
        mocked.post(url("update"), json={"success": False, "error": TOKEN[:5] + "\x00" + TOKEN[5:]})
        with pytest.raises(errors.UnexpectedConvosoError) as exc:
            client.call("update", {})
        assert exc.value.upstream_message == TOKEN[:5] + "\ufffd" + TOKEN[5:]


class RetryTests:
    @pytest.mark.parametrize("status", [429, 502, 503, 504])
    def test_search_retries_transient_statuses(self, client, mocked, status):
        mocked.post(url("search"), status=status, body="busy")
        mocked.post(url("search"), json={"data": [COMP_ITEM]})
        assert client.search()[0].code == "COMP"
        assert len(mocked.calls) == 2

    def test_update_retries(self, client, mocked):
        mocked.post(url("search"), json={"data": [XFER_ITEM]})
        mocked.post(url("update"), status=503, body="busy")
        mocked.post(url("update"), json=UPDATE_OK)
        client.update("XFER", {"dnc": True})
        assert [c.request.url for c in mocked.calls] == [
            url("search"),
            url("update"),
            url("update"),
        ]

    def test_gives_up_after_configured_retries(self, client, mocked):
        mocked.post(url("search"), status=503, body="busy")
        with pytest.raises(errors.ConvosoUnavailable) as exc:
            client.search()
        assert exc.value.kind == "http_error"
        assert len(mocked.calls) == 3  # the first try and two retries

    def test_500_is_not_retried(self, client, mocked):
        mocked.post(url("search"), status=500, body="boom")
        with pytest.raises(errors.ConvosoUnavailable):
            client.search()
        assert len(mocked.calls) == 1

    @pytest.mark.parametrize("status", [500, 502, 503, 504])
    def test_insert_is_never_retried(self, client, mocked, status):
        mocked.post(url("insert"), status=status, body="busy")
        mocked.post(url("insert"), json=INSERT_OK)
        with pytest.raises(errors.ConvosoUnavailable):
            client.insert(code="SALE", name="Sale", flags=ALL_FLAGS)
        assert len(mocked.calls) == 1

    def test_an_insert_refused_with_429_is_sent_again(self, client, mocked):
        # 429 says the request was not carried out: sending it again can't create it twice.
        mocked.post(url("insert"), status=429, headers={"Retry-After": "0"}, body="slow down")
        mocked.post(url("insert"), json=INSERT_OK)
        assert client.insert(code="SALE", name="Sale", flags=ALL_FLAGS).code == "SALE"
        assert len(mocked.calls) == 2


class RetrySettingsTests:
    """What the README promises for CONVOSO_CONNECT_TIMEOUT, _READ_TIMEOUT, _RETRIES and
    _RETRY_BACKOFF; the behaviour itself is tested above and in test_client_socket.py."""

    def test_the_defaults_are_the_documented_ones(self):
        client = ConvosoClient(api_url=API, token=TOKEN)
        assert client.timeout == (3.05, 10.0)
        retry = client.session.get_adapter(url("search")).max_retries
        assert (retry.total, retry.connect, retry.status, retry.backoff_factor) == (2, 2, 2, 0.25)

    @pytest.mark.parametrize("endpoint", ["search", "update"])
    def test_what_search_and_update_retry(self, endpoint):
        client = ConvosoClient(api_url=API, token=TOKEN, retries=3, backoff=0.5)
        retry = client.session.get_adapter(url(endpoint)).max_retries
        assert (retry.total, retry.connect, retry.status, retry.backoff_factor) == (3, 3, 3, 0.5)
        assert retry.status_forcelist == (429, 502, 503, 504)
        assert retry.allowed_methods == frozenset({"POST"})
        # A read timeout may come after the work was done; redirects are never followed.
        assert (retry.read, retry.other, retry.redirect) == (False, 0, 0)
        assert retry.respect_retry_after_header is True
        assert retry.raise_on_status is False

    def test_an_insert_is_retried_only_after_a_429(self):
        client = ConvosoClient(api_url=API, token=TOKEN, retries=3)
        retry = client.session.get_adapter(url("insert")).max_retries
        assert (retry.total, retry.connect, retry.read, retry.other) == (3, 0, False, 0)
        assert tuple(retry.status_forcelist) == (429,)
        assert retry.respect_retry_after_header is True


class WriteNeedsAYesTests:
    @pytest.mark.parametrize("endpoint", ["insert", "update"])
    @pytest.mark.parametrize(
        "body", [{}, {"data": {"status": "SALE"}}, {"success": None}, {"success": "maybe"}]
    )
    def test_a_write_reply_that_does_not_say_yes_may_have_applied(
        self, client, mocked, endpoint, body
    ):
        mocked.post(url("search"), json={"data": [{**XFER_ITEM, "status": "SALE"}]})
        mocked.post(url(endpoint), json=body)
        write = {
            "insert": lambda: client.insert(code="SALE", name="Sale", flags=ALL_FLAGS),
            "update": lambda: client.update("SALE", {"final": True}),
        }[endpoint]
        with pytest.raises(errors.ConvosoUnavailable) as exc:
            write()
        assert (exc.value.kind, exc.value.may_have_applied) == ("malformed", True)

    @pytest.mark.parametrize("yes", [True, "true", "Y", 1])
    def test_yes_in_any_spelling(self, client, mocked, yes):
        mocked.post(url("insert"), json={"success": yes})
        assert client.insert(code="SALE", name="Sale", flags=ALL_FLAGS).code == "SALE"


class InsertLostReplyTests:
    """The client reports a lost insert reply as such; the write service finds out what
    happened (tests/statuses/test_resolution.py). It never searches or retries on its own."""

    @pytest.mark.parametrize(
        "reply",
        [{"body": requests.ReadTimeout()}, {"body": "<html>", "status": 200}, {"status": 500}],
    )
    def test_lost_reply_may_have_applied(self, client, mocked, reply):
        mocked.post(url("insert"), **reply)
        with pytest.raises(errors.ConvosoUnavailable) as exc:
            client.insert(code="SALE", name="Sale", flags=ALL_FLAGS)
        assert exc.value.may_have_applied is True
        assert exc.value.outcome == "unknown"
        assert "may or may not have been made" in exc.value.explanation
        assert [c.request.url for c in mocked.calls] == [url("insert")]

    def test_refused_connection_was_not_sent(self, client, mocked):
        mocked.post(url("insert"), body=refused())
        with pytest.raises(errors.ConvosoUnavailable) as exc:
            client.insert(code="SALE", name="Sale", flags=ALL_FLAGS)
        assert exc.value.outcome == "failed"
        assert len(mocked.calls) == 1


def test_account_fingerprint_separates_tokens_and_hides_them():
    a = ConvosoClient(api_url=API, token=TOKEN)
    b = ConvosoClient(api_url=API, token=TOKEN + "x")
    c = ConvosoClient(api_url="https://other.test/v1", token=TOKEN)
    assert len({a.account, b.account, c.account}) == 3
    assert TOKEN not in a.account
    assert json.dumps(a.account).isascii()
