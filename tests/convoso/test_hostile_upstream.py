"""Property: whatever Convoso replies, the client returns a well-formed value or raises a
ConvosoError, and nothing it returns or raises contains the API token.

Well-formed includes text that can be stored and shown: no NUL (PostgreSQL refuses it) and no
lone surrogate (JSON can escape one, and it can't be encoded as UTF-8).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import responses
from hypothesis import HealthCheck, given, settings

from statusadmin.convoso import errors
from statusadmin.convoso.client import MAX_ERROR_CODE, ConvosoClient, UpdateResult
from statusadmin.convoso.status import FLAGS, Status
from tests.convoso.hostile import Reply, echoes, known_nasty, replies

API = "https://convoso.test/v1"
# URL-encoding changes this token, so its encoded echoes differ from it.
TOKEN = "tok/SECRET+hostile x&y=z"
KINDS = {"timeout", "connection", "http_error", "malformed", "redirect"}

HOSTILE = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
reply = replies(TOKEN)
CATALOGUE: Reply = (200, {}, json.dumps({"data": [{"status": "XFER", "name": "X"}]}).encode())


def respond(script: dict[str, Reply], call: Callable[[ConvosoClient], Any]) -> Any:
    """Run ``call`` against a Convoso that answers each endpoint from ``script``.

    Returns what the call returned, or the ConvosoError it raised; any other exception fails
    the test (Hypothesis shows the reply that caused it).
    """
    client = ConvosoClient(api_url=API, token=TOKEN, backoff=0, retries=1)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        for endpoint, answer in script.items():
            mock.add_callback(
                responses.POST, f"{API}/status/{endpoint}", callback=lambda _, a=answer: a
            )
        try:
            return call(client)
        except errors.ConvosoError as exc:
            return exc


NO = (False, 0, "0", "false", "N", "n", "no")


def says_no(reply: Reply) -> bool:
    """Whether the reply's "success" field plainly says no."""
    try:
        payload = json.loads(reply[2])
    except (ValueError, RecursionError):
        return False
    return isinstance(payload, dict) and "success" in payload and payload["success"] in NO


def assert_no_token(text: str) -> None:
    lowered = text.lower()
    for echo in echoes(TOKEN):
        assert echo.lower() not in lowered


def assert_storable(*texts: str | None) -> None:
    for text in texts:
        if text is not None:
            assert "\x00" not in text
            text.encode("utf-8")  # raises on a lone surrogate


def assert_well_formed_status(status: Status) -> None:
    assert isinstance(status, Status)
    assert isinstance(status.code, str)
    assert status.code
    assert isinstance(status.name, str)
    assert all(isinstance(getattr(status, flag), bool) for flag in FLAGS)
    assert isinstance(status.custom, bool)
    assert status.color is None or re.fullmatch(r"#[0-9A-F]{6}", status.color)
    assert status.workflow is None or (isinstance(status.workflow, str) and status.workflow)
    assert_storable(status.code, status.name, status.workflow)
    assert_no_token(repr(status))


def assert_well_formed_error(exc: errors.ConvosoError) -> None:
    assert isinstance(exc.explanation, str)
    assert exc.explanation
    assert str(exc) == exc.explanation
    assert isinstance(exc.upstream_message, str)
    assert len(exc.upstream_message) <= 500
    assert_storable(exc.explanation, exc.upstream_message)
    assert exc.code is None or (type(exc.code) is int and 1 <= exc.code <= MAX_ERROR_CODE)
    if isinstance(exc, errors.ConvosoUnavailable):
        assert exc.kind in KINDS
        assert isinstance(exc.may_have_applied, bool)
    # A chained exception would hold the request, and with it the token.
    assert exc.__cause__ is None
    assert exc.__context__ is None or exc.__suppress_context__
    assert_no_token(repr(exc.args) + repr(vars(exc)))


@HOSTILE
@known_nasty("search")
@given(search=reply)
def test_search(search):
    result = respond({"search": search}, lambda client: client.search(""))
    if isinstance(result, errors.ConvosoError):
        assert_well_formed_error(result)
        return
    assert isinstance(result, list)
    for status in result:
        assert_well_formed_status(status)


@HOSTILE
@known_nasty("insert", search=CATALOGUE)
@given(insert=reply, search=reply)
def test_insert(insert, search):
    """The client never searches after an insert (the write service checks a lost reply,
    tests/statuses/test_resolution.py), so whatever search would say can't matter."""
    result = respond(
        {"insert": insert, "search": search},
        lambda client: client.insert(code="NEW1", name="New", color="#00aa00", flags={}),
    )
    if isinstance(result, errors.ConvosoError):
        assert_well_formed_error(result)
        return
    assert isinstance(result, Status)
    # A refusal is never taken for a success.
    assert not says_no(insert)
    assert_well_formed_status(result)


@HOSTILE
@known_nasty("update", search=CATALOGUE)
@known_nasty("search", update=(200, {}, b'{"success": true}'))
@given(search=reply, update=reply)
def test_update(search, update):
    """The update reads the status first, so the search is hostile too."""
    result = respond(
        {"search": search, "update": update},
        lambda client: client.update("XFER", {"final": True, "name": "Renamed"}),
    )
    if isinstance(result, errors.ConvosoError):
        assert_well_formed_error(result)
        return
    assert isinstance(result, UpdateResult)
    assert not says_no(update)
    assert_well_formed_status(result.before)
    assert_well_formed_status(result.after)
    # The code as Convoso spells it: the read matched it case-insensitively.
    assert result.after.code.upper() == "XFER"
    assert (result.after.name, result.after.final) == ("Renamed", True)
