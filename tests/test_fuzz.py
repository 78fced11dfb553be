"""Property: no form or htmx endpoint answers 500, whatever a browser (or an attacker) sends."""

from __future__ import annotations

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from statusadmin.convoso.sandbox import seed
from statusadmin.convoso.status import FLAGS
from tests.factories import add_entry

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Text a browser could send (anything encodable as UTF-8), with the usual suspects mixed in.
hostile = st.one_of(
    st.text(st.characters(exclude_categories=("Cs",)), max_size=200),
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "<script>alert(1)</script>",
            "' OR 1=1 --",
            "%00",
            "../../etc/passwd",
            "#" * 7,
            "red;background:url(x)",
            "Y",
            "N",
            "y",
            "n",
            "yes",
            "0",
            "1",
            "X" * 5000,
            "2026-02-30",
            "9999-12-31",
            "-1",
            "1e309",
            "null",
            "[]",
            "{}",
            "💥",
            "\u202e",
        ]
    ),
)
# Codes that reach the views (the URL only admits these characters).
codes = st.one_of(
    st.sampled_from(["XFER", "COMP", "NOPE", "a"]),
    st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True),
)
field_names = st.sampled_from(
    [*FLAGS, "name", "color", "code", "reason", "status", "q", "v", "csrfmiddlewaretoken"]
)
forms = st.dictionaries(field_names | st.text(max_size=20), hostile, max_size=8)
as_htmx = st.booleans()


@pytest.fixture
def admin(admin_user) -> Client:  # type: ignore[no-untyped-def]
    seed()
    add_entry()
    browser = Client()
    browser.force_login(admin_user)
    browser.get("/")
    return browser


def send(client: Client, method: str, url: str, data: dict, htmx: bool):  # type: ignore[no-untyped-def]
    extra = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    response = getattr(client, method)(url, data, **extra)
    if response.streaming:
        b"".join(response.streaming_content)
    assert response.status_code < 500, (method, url, data, response.status_code)
    return response


@FUZZ
@given(query=hostile, htmx=as_htmx)
def test_search(admin, query, htmx):
    send(admin, "get", "/", {"q": query}, htmx)


@FUZZ
@given(data=forms, htmx=as_htmx)
def test_refresh(admin, data, htmx):
    send(admin, "post", "/refresh/", data, htmx)


@FUZZ
@given(code=codes, data=forms, version=hostile, htmx=as_htmx)
def test_flag(admin, code, data, version, htmx):
    send(admin, "post", f"/statuses/{code}/flag/?v={version[:50]}", data, htmx)


@FUZZ
@given(code=codes, color=hostile, htmx=as_htmx)
def test_colour(admin, code, color, htmx):
    send(admin, "post", f"/statuses/{code}/color/", {"color": color}, htmx)


@FUZZ
@given(code=codes, name=hostile, method=st.sampled_from(["get", "post"]), htmx=as_htmx)
def test_name(admin, code, name, method, htmx):
    send(admin, method, f"/statuses/{code}/name/", {"name": name}, htmx)


@FUZZ
@given(code=codes, focus=hostile, htmx=as_htmx)
def test_row_and_history(admin, code, focus, htmx):
    send(admin, "get", f"/statuses/{code}/", {"focus": focus}, htmx)
    send(admin, "get", f"/statuses/{code}/history/", {"after": focus}, htmx)


@FUZZ
@given(data=forms, htmx=as_htmx)
def test_create(admin, data, htmx):
    send(admin, "post", "/statuses/new/", data, htmx)


audit_filters = st.dictionaries(
    st.sampled_from(
        ["date_from", "date_to", "actor", "code", "action", "outcome", "field", "text", "after"]
    ),
    hostile,
    max_size=6,
)


@FUZZ
@given(data=audit_filters, htmx=as_htmx)
def test_audit_filters_and_exports(admin, data, htmx):
    send(admin, "get", "/audit/", data, htmx)
    send(admin, "get", "/audit/export.csv", data, htmx)
    send(admin, "get", "/audit/export.jsonl", data, htmx)


@FUZZ
@given(pk=st.integers(min_value=-(2**70), max_value=2**70))
def test_audit_detail(admin, pk):
    # The URL converter admits any digits; huge numbers must be a 404, not an overflow.
    send(admin, "get", f"/audit/{abs(pk)}/", {}, False)


@FUZZ
@given(data=forms)
def test_login(data):
    send(Client(), "post", "/accounts/login/", data, False)
