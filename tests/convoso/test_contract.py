"""One contract, two Convosos.

Every test here runs twice: against the documented replies (served by `responses`, copied from
convoso-status-api.txt) and against the embedded sandbox over a real socket. If the sandbox ever
answers differently from the documentation, or the client mis-reads either, a test fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import responses

from statusadmin.convoso import errors
from statusadmin.convoso.client import ConvosoClient
from statusadmin.convoso.sandbox import SANDBOX_TOKEN
from statusadmin.convoso.status import FLAGS, Status

DOC_API = "https://api.convoso.test/v1"

# Verbatim from the reference's response examples.
DOC_COMP = {
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
DOC_XFER = {**DOC_COMP, "status": "XFER", "name": "Transferred to Closer", "final": "N",
            "custom_status": True, "workflow_disposition_event_option": ""}  # fmt: skip
DOC_INSERT_OK = {"success": True, "code": 200, "data": {"new": "1", "status": "SALE"}}
DOC_UPDATE_OK = {"success": True, "data": {"status": "COMP"}}
DOC_BAD_TOKEN = {"success": False, "error": "Invalid authentication token"}
DOC_DUPLICATE = {"success": False, "error": "Status code already exists"}


def doc_error(endpoint: str, code: int) -> dict[str, Any]:
    return {"success": False, "code": code, "error": errors.CODES_BY_ENDPOINT[endpoint][code][1]}


class Backend:
    """Either Convoso as documented or the sandbox; `reply` scripts the documented one only."""

    def __init__(self, name: str, url: str, mock: responses.RequestsMock | None) -> None:
        self.name = name
        self.url = url
        self.mock = mock

    def reply(self, endpoint: str, body: dict[str, Any]) -> None:
        if self.mock is not None:
            self.mock.post(f"{self.url}/status/{endpoint}", json=body)

    def client(self, token: str = SANDBOX_TOKEN) -> ConvosoClient:
        return ConvosoClient(api_url=self.url, token=token, backoff=0, read_timeout=5)


@pytest.fixture(params=["documented", "sandbox"])
def convoso(request: pytest.FixtureRequest, transactional_db: None) -> Iterator[Backend]:
    # transactional_db is named here, not only inside sandbox_server: pytest-django chooses
    # between a transaction-wrapped and a real database before getfixturevalue runs, and the
    # sandbox's server thread can't see (or wait on) the test's open transaction.
    if request.param == "documented":
        with responses.RequestsMock() as mock:
            yield Backend("documented", DOC_API, mock)
    else:
        server = request.getfixturevalue("sandbox_server")
        yield Backend("sandbox", server.url, None)


VALID_INSERT = {"status": "PREM1", "name": "Premium Lead", "hex_color": "0000FF",
                **dict.fromkeys(FLAGS, "N")}  # fmt: skip
VALID_UPDATE = {"status": "XFER", **dict.fromkeys(FLAGS, "N")}


class SearchContractTests:
    def test_lists_everything_for_an_empty_query(self, convoso):
        convoso.reply("search", {"data": [DOC_COMP]})
        statuses = {s.code: s for s in convoso.client().search("")}
        assert statuses["COMP"] == Status(
            code="COMP", name="Completed", final=True, reached=True, success=True,
            dnc=False, callback=False, contact=True, voicemail=False,
            color="#00AA00", workflow="sale", custom=False,
        )  # fmt: skip

    @pytest.mark.parametrize("query", ["completed", "COMP", "Completed"])
    def test_matches_code_or_name_case_insensitively(self, convoso, query):
        convoso.reply("search", {"data": [DOC_COMP]})
        assert "COMP" in [s.code for s in convoso.client().search(query)]

    def test_get_of_an_unknown_code(self, convoso):
        convoso.reply("search", {"data": []})
        with pytest.raises(errors.StatusNotFound):
            convoso.client().get("ZZZZZ")


class InsertContractTests:
    def test_creates_a_custom_status(self, convoso):
        convoso.reply("insert", DOC_INSERT_OK)
        result = convoso.client().insert(
            code="prem1", name="Premium Lead", color="#0000ff", flags={"success": True}
        )
        assert result.code == "PREM1"
        assert result.custom is True
        assert result.success is True

    def test_duplicate_code(self, convoso):
        convoso.reply("insert", DOC_DUPLICATE)
        with pytest.raises(errors.DuplicateStatus):
            convoso.client().insert(code="COMP", name="Again", flags={})

    @pytest.mark.parametrize(
        ("change", "code"),
        [({"name": ""}, 6060), ({"status": "TOOLONG7"}, 6061), ({"status": "A"}, 6061),
         ({"status": "NO_ANS"}, 6061), ({"hex_color": "#0000FF"}, 6078),
         ({"hex_color": "blue"}, 6078)]
        + [({flag: ""}, 6062 + i) for i, flag in enumerate(FLAGS)]
        + [({flag: "yes"}, 6062 + i) for i, flag in enumerate(FLAGS)],
    )  # fmt: skip
    def test_documented_field_errors(self, convoso, change, code):
        convoso.reply("insert", doc_error("insert", code))
        with pytest.raises(errors.ConvosoFieldError) as exc:
            convoso.client().call("insert", {**VALID_INSERT, **change})
        assert exc.value.code == code
        assert exc.value.field == errors.INSERT_CODES[code][0]


class UpdateContractTests:
    def test_reads_merges_and_writes(self, convoso):
        convoso.reply("search", {"data": [DOC_XFER]})
        convoso.reply("update", DOC_UPDATE_OK)
        result = convoso.client().update("XFER", {"dnc": True, "color": "#123abc"})
        assert result.before.dnc is False
        assert result.after.dnc is True
        assert result.after.color == "#123ABC"
        assert result.changed == ["color", "dnc"]  # display order

    def test_system_status_is_not_modifiable(self, convoso):
        convoso.reply("search", {"data": [DOC_COMP]})
        convoso.reply("update", doc_error("update", 6069))
        with pytest.raises(errors.StatusNotModifiable) as exc:
            convoso.client().update("COMP", {"dnc": True})
        assert exc.value.code == 6069

    def test_unknown_code_is_6069(self, convoso):
        convoso.reply("update", doc_error("update", 6069))
        with pytest.raises(errors.StatusNotModifiable):
            convoso.client().call("update", {**VALID_UPDATE, "status": "NOPE1"})

    @pytest.mark.parametrize(
        ("change", "code"),
        [({flag: ""}, 6071 + i) for i, flag in enumerate(FLAGS)]
        + [({"hex_color": "#00AA00"}, 6078), ({"hex_color": "zzzzzz"}, 6078)],
    )
    def test_documented_field_errors(self, convoso, change, code):
        convoso.reply("update", doc_error("update", code))
        with pytest.raises(errors.ConvosoFieldError) as exc:
            convoso.client().call("update", {**VALID_UPDATE, **change})
        assert exc.value.code == code
        assert exc.value.field == errors.UPDATE_CODES[code][0]

    def test_an_omitted_flag_counts_as_empty(self, convoso):
        convoso.reply("update", doc_error("update", 6074))
        form = {k: v for k, v in VALID_UPDATE.items() if k != "dnc"}
        with pytest.raises(errors.ConvosoFieldError) as exc:
            convoso.client().call("update", form)
        assert (exc.value.code, exc.value.field) == (6074, "dnc")


class TokenContractTests:
    @pytest.mark.parametrize(
        ("endpoint", "form"),
        [("search", {"query": ""}), ("insert", VALID_INSERT), ("update", VALID_UPDATE)],
    )
    def test_wrong_token_is_rejected(self, convoso, endpoint, form):
        convoso.reply(endpoint, DOC_BAD_TOKEN)
        with pytest.raises(errors.TokenRejected):
            convoso.client(token="not-the-token").call(endpoint, form)
