"""CSV exports open safely in Excel and LibreOffice, on both databases; JSON Lines stays exact."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from statusadmin.audit.export import CSV_COLUMNS
from tests.factories import add_entry, snapshot

pytestmark = pytest.mark.django_db

# What a spreadsheet reads as the start of a formula (or DDE call), including the full-width
# forms that Excel and LibreOffice fold to their ASCII twins.
DANGEROUS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")
# Written by the code itself: numbers, ISO timestamps, hex digests, Y/N. Never guarded.
PRODUCED = {"seq", "id", "created_at", "completed_at", "prev_hash", "hash"}
YES_NO = {f"{stage}_{flag}" for stage in ("before", "requested", "after")
          for flag in ("final", "reached", "success", "dnc", "callback", "contact", "voicemail",
                       "custom")}  # fmt: skip
STATUS_TEXT = ("name", "color", "workflow")
# Every text field of an entry, with its length on PostgreSQL (0: unbounded). Not ``account``:
# an export holds only the entries of the account in use, whose key the dashboard itself
# writes (a slug or a fingerprint), so an entry of any other value is in no export at all.
TEXT_FIELDS = {"actor_username": 150, "user_agent": 512, "request_id": 64,
               "action": 20, "status_code": 64, "outcome": 10, "reason": 0, "note": 0,
               "error_message": 0, "failure_kind": 20, "requested_by": 150,
               "approval_note": 0, "auth_method": 20, "auth_issuer": 255, "auth_subject": 255,
               "second_factor": 10, "approved_by": 150}  # fmt: skip
# Links to users, requests and entries: numbers the code writes, empty when not set.
ID_LINKS = {"actor_user_id", "request_ref", "reverts_ref", "resolves_id", "change_set_ref"}


def read_csv(response) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    body = b"".join(response.streaming_content).decode()
    assert body.startswith("\ufeff")  # the full CSV opens in Excel on Windows too
    return list(csv.DictReader(io.StringIO(body.removeprefix("\ufeff"), newline="")))


def read_jsonl(response) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    body = b"".join(response.streaming_content).decode()
    # Only "\n" ends a record: str.splitlines() would also split inside strings (at U+2028).
    return [json.loads(line) for line in body.split("\n") if line]


def hostile_entry(text: str, **extra: Any) -> None:
    """An entry whose every text field, changed field and status value is ``text``."""
    status = {**snapshot(), **dict.fromkeys(STATUS_TEXT, text)}
    if connection.vendor == "sqlite":
        extra["remote_ip"] = text  # PostgreSQL's inet column holds only addresses
    add_entry(
        **dict.fromkeys(TEXT_FIELDS, text),
        before=status,
        requested=dict.fromkeys(STATUS_TEXT, text),
        after=status,
        changed_fields=[text],
        **extra,
    )


@pytest.fixture
def exporter(admin_user) -> Client:  # type: ignore[no-untyped-def]
    browser = Client()
    browser.force_login(admin_user)
    return browser


class FormulaGuardTests:
    def test_a_requested_colour_is_guarded(self, exporter):
        link = '=HYPERLINK("http://evil.example","x")'
        add_entry(changed=("color",), requested={"color": link})
        (row,) = read_csv(exporter.get("/audit/export.csv"))
        assert row["requested_color"] == "'" + link

    @pytest.mark.parametrize("start", DANGEROUS)
    def test_every_column_but_the_produced_ones_is_guarded(self, exporter, start):
        text = f"{start}cmd|calc"  # short enough for the outcome column
        hostile_entry(text, error_code=-1)
        (row,) = read_csv(exporter.get("/audit/export.csv"))
        unguarded = PRODUCED | YES_NO | ID_LINKS | {"error_code", "account"}
        if connection.vendor != "sqlite":
            unguarded.add("remote_ip")
        assert {c: row[c] for c in CSV_COLUMNS if c not in unguarded} == {
            c: "'" + text for c in CSV_COLUMNS if c not in unguarded
        }
        assert row["error_code"] == "'-1"
        assert {row[c] for c in ID_LINKS} == {""}
        for column in PRODUCED | YES_NO:
            assert not row[column].startswith("'"), column

    @pytest.mark.parametrize("name", ["\nname", "\uff1dSUM(A1)", "\uff20cmd", "\uff0b1", "\uff0d1"])
    def test_names_starting_with_a_line_feed_or_a_full_width_sign(self, exporter, name):
        before = snapshot()
        add_entry(changed=("name",), before=before, requested={"name": name},
                  after={**before, "name": name})  # fmt: skip
        (row,) = read_csv(exporter.get("/audit/export.csv"))
        assert (row["before_name"], row["requested_name"], row["after_name"]) == (
            "Transferred",
            "'" + name,
            "'" + name,
        )

    def test_plain_values_are_untouched(self, exporter):
        entry = add_entry(reason="a reason", remote_ip="192.0.2.7", error_code=6069)
        (row,) = read_csv(exporter.get("/audit/export.csv"))
        assert (row["reason"], row["remote_ip"], row["error_code"], row["before_color"]) == (
            "a reason",
            "192.0.2.7",
            "6069",
            "#6711D1",
        )
        assert (row["id"], row["hash"]) == (str(entry.pk), entry.hash)

    def test_jsonl_stays_exact(self, exporter):
        text = "=1+1"
        hostile_entry(text, error_code=-1)
        (record,) = read_jsonl(exporter.get("/audit/export.jsonl"))
        assert {f: record[f] for f in TEXT_FIELDS} == dict.fromkeys(TEXT_FIELDS, text)
        assert record["requested"] == dict.fromkeys(STATUS_TEXT, text)
        assert (record["after"]["name"], record["changed_fields"]) == (text, [text])
        assert record["error_code"] == -1


# Text PostgreSQL can store: no NUL, no lone surrogates.
storable = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")


def hostile(max_length: int = 0) -> st.SearchStrategy[str]:
    """Any text that starts like a formula, at most ``max_length`` long (0: up to 40)."""
    rest = st.text(storable, max_size=(max_length or 41) - 1)
    return st.builds(str.__add__, st.sampled_from(DANGEROUS), rest)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    fields=st.fixed_dictionaries({f: hostile(n) for f, n in TEXT_FIELDS.items()}),
    values=st.fixed_dictionaries({f: hostile() for f in STATUS_TEXT}),
    requested=st.fixed_dictionaries({f: hostile() for f in STATUS_TEXT}),
    error_code=st.integers(-(2**31), -1),
)
def test_no_cell_of_any_entry_starts_like_a_formula(
    exporter, fields, values, requested, error_code
):
    status = {**snapshot(), **values}
    add_entry(**fields, before=status, requested=requested, after=status, error_code=error_code)
    rows = read_csv(exporter.get("/audit/export.csv"))
    assert rows
    for row in rows:
        for column, cell in row.items():
            assert not cell.startswith(DANGEROUS), (column, cell)
    jsonl = read_jsonl(exporter.get("/audit/export.jsonl"))
    assert {f: jsonl[-1][f] for f in TEXT_FIELDS} == fields
    assert jsonl[-1]["requested"] == requested
