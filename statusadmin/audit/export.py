"""CSV and JSON Lines exports of the audit log, streamed in constant memory.

Two CSVs: the report a person reads (report_chunks: when, who, what changed in the dashboard's
one wording, newest first, like the screen), and the full technical export (csv_chunks: every
stored field, flattened, with the chain hashes) for scripts and auditors.

A million rows must stream at well over 100,000 rows a second, so the database computes every
cell: the flattened before/requested/after values, Y/N for flags, timestamps as ISO 8601 UTC,
and the guard against spreadsheet formulas are SQL expressions. PostgreSQL then writes the CSV
itself (COPY ... TO STDOUT), and Python only passes its blocks on; on other databases Python's
csv module writes the same cells.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import datetime
from itertools import islice

from django.db import connection
from django.db.models import CharField, F, Func, Value
from django.db.models.expressions import Case, Combinable, When
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Concat, Left, Trim
from django.db.models.lookups import In

from statusadmin.convoso.status import FLAGS, VALUE_FIELDS

from . import selectors

STATUS_FIELDS = VALUE_FIELDS
YES_NO_FIELDS = {*FLAGS, "custom"}
STAGES = ("before", "requested", "after")
# The entry's own facts, then for each status field what it was before, what was asked for and
# what it was after, then the chain hashes. A stable order: new columns only ever go at the end.
FACT_COLUMNS = (
    "seq", "id", "created_at", "completed_at", "actor_username", "remote_ip", "user_agent",
    "request_id", "account", "action", "status_code", "outcome", "error_code", "error_message",
    "failure_kind", "reason", "note", "changed_fields",
)  # fmt: skip
# Facts added after the first exports: who acted as a user id, the four-eyes workflow (the
# change request, who asked, the approver's note), the links between entries, and how the
# person proved who they were.
LATER_COLUMNS = (
    "actor_user_id", "request_ref", "requested_by", "approval_note", "reverts_ref", "resolves_id",
    "change_set_ref", "auth_method", "auth_issuer", "auth_subject", "second_factor",
    "approved_by",
)  # fmt: skip
# Numbers, cast to text (links to users, requests and entries end in _id or _ref).
ID_COLUMNS = {"seq", "id", "error_code"} | {c for c in LATER_COLUMNS if c.endswith(("_id", "_ref"))}
CSV_COLUMNS = (
    *FACT_COLUMNS,
    *(f"{stage}_{name}" for name in STATUS_FIELDS for stage in STAGES),
    "prev_hash",
    "hash",
    *LATER_COLUMNS,
)
# A spreadsheet runs a cell that starts like a formula (or a DDE call), and Excel and
# LibreOffice read the full-width signs as their ASCII twins; such cells get a leading
# apostrophe, which makes them text.
FORMULA_STARTS = ["=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20"]
# Cells the code itself writes, which can't start like a formula: positive integers, ISO 8601
# timestamps and hex digests (and the Y/N cells, see YesNo). They skip the guard, which costs a
# CASE per cell; every other cell is guarded, whatever its column, since people, browsers,
# proxies or Convoso wrote it (and an integer may be negative).
PRODUCED_COLUMNS = {"seq", "id", "created_at", "completed_at", "prev_hash", "hash"}
BATCH = 2000
CHUNK_BYTES = 64 * 1024


def _guarded(expression: Combinable) -> Case:
    return Case(
        When(In(Left(expression, 1), FORMULA_STARTS), then=Concat(Value("'"), expression)),
        default=expression,
        output_field=CharField(),
    )


class YesNo(Func):
    """A JSON boolean as Y or N (empty if missing). A simple CASE reads the value once.

    JSON true/false comes out as 'true'/'false' on PostgreSQL and as 1/0 on SQLite.
    """

    output_field = CharField()
    template = (
        "CASE CAST(%(expressions)s AS TEXT) WHEN 'true' THEN 'Y' WHEN '1' THEN 'Y' "
        "WHEN 'false' THEN 'N' WHEN '0' THEN 'N' ELSE '' END"
    )


class UtcTimestamp(Func):
    """A timestamp as ISO 8601 text in UTC, written the same way by both databases."""

    output_field = CharField()

    def as_postgresql(self, compiler, connection, **extra):  # type: ignore[no-untyped-def]
        template = (
            "to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
        )
        return self.as_sql(compiler, connection, template=template, **extra)

    def as_sqlite(self, compiler, connection, **extra):  # type: ignore[no-untyped-def]
        # Stored as 'YYYY-MM-DD HH:MM:SS[.ffffff]' in UTC.
        template = "REPLACE(%(expressions)s, ' ', 'T') || 'Z'"
        return self.as_sql(compiler, connection, template=template, **extra)


class AddressText(Func):
    """An IP address as text: PostgreSQL's inet would otherwise print a /32 mask."""

    output_field = CharField()
    template = "%(expressions)s"

    def as_postgresql(self, compiler, connection, **extra):  # type: ignore[no-untyped-def]
        return self.as_sql(compiler, connection, template="host(%(expressions)s)", **extra)


def _cell(name: str, expression: Combinable) -> Combinable:
    if name in ("created_at", "completed_at"):
        expression = UtcTimestamp(expression)
    elif name in ID_COLUMNS:
        expression = Cast(expression, CharField())
    elif name == "remote_ip":
        expression = AddressText(expression)
    return expression if name in PRODUCED_COLUMNS else _guarded(expression)


def _cells() -> list[Combinable]:
    """One text expression per CSV column, in CSV_COLUMNS order."""
    cells: list[Combinable] = []
    for name in FACT_COLUMNS:
        cells.append(_cell(name, Trim("touched") if name == "changed_fields" else F(name)))
    for name in STATUS_FIELDS:
        for stage in STAGES:
            value = KeyTextTransform(name, stage)
            cells.append(YesNo(value) if name in YES_NO_FIELDS else _cell(f"{stage}_{name}", value))
    cells += [_cell("prev_hash", F("prev_hash")), _cell("hash", F("hash"))]
    return [*cells, *(_cell(name, F(name)) for name in LATER_COLUMNS)]


# Excel on Windows reads a CSV as UTF-8 (arrows, accented names) only after this mark; the
# catalogue import (changesets/catalogue.py) accepts it back.
BOM = "\ufeff"


def csv_header() -> str:
    return ",".join(CSV_COLUMNS) + "\n"


def csv_chunks(filters: selectors.Filters) -> Iterator[str | bytes]:
    """The CSV, oldest entry first, in blocks of a few thousand lines."""
    yield BOM + csv_header()
    # Aliases that can't clash with the model's own field names.
    cells = {f"cell{i}": cell for i, cell in enumerate(_cells())}
    rows = (
        selectors.filtered(filters)
        .order_by("created_at", "id")
        .annotate(**cells)
        .values_list(*cells)
    )
    if connection.vendor == "postgresql":
        sql, params = rows.query.sql_with_params()
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)", params) as copy,
        ):
            yield from (bytes(block) for block in copy)
        return
    lines = _Lines()
    writer = csv.writer(lines, lineterminator="\n")
    batches = rows.iterator(chunk_size=BATCH)
    while batch := list(islice(batches, BATCH)):
        writer.writerows(batch)
        yield lines.take()


class _Lines(list[str]):
    """The file csv.writer writes to: it keeps the lines, to be sent on a batch at a time."""

    def write(self, line: str) -> None:
        self.append(line)

    def take(self) -> str:
        text = "".join(self)
        self.clear()
        return text


JSONL_FIELDS = (
    "seq", "id", "created_at", "completed_at", "actor_username", "remote_ip", "user_agent",
    "request_id", "account", "action", "status_code", "outcome", "error_code", "error_message",
    "failure_kind", "reason", "note", "changed_fields", "before", "requested", "after",
    "prev_hash", "hash", *LATER_COLUMNS,
)  # fmt: skip


def jsonl_chunks(filters: selectors.Filters) -> Iterator[str]:
    """Every entry as one JSON object per line, as stored (for machines), oldest first."""
    rows = (
        selectors.filtered(filters)
        .order_by("created_at", "id")
        .values(*JSONL_FIELDS)
        .iterator(chunk_size=BATCH)
    )
    while batch := list(islice(rows, BATCH)):
        yield "".join(
            json.dumps(record, default=_json_default, ensure_ascii=False) + "\n" for record in batch
        )


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(type(value).__name__)


REPORT_COLUMNS = (
    "When (UTC)", "Who", "Action", "Status", "What changed", "Reason", "Outcome", "Why it failed",
    "Signed in with", "Requested by", "Approved by", "Approver's note", "Request", "Change set",
)  # fmt: skip


REPORT_FIELDS = (
    "created_at", "actor_username", "action", "status_code", "before", "after", "changed_fields",
    "reason", "outcome", "error_message", "auth_method", "second_factor", "requested",
    "requested_by", "approved_by", "approval_note", "request_ref", "change_set_ref",
)  # fmt: skip


def guard(cell: str) -> str:
    """The spreadsheet-formula guard, for cells written in Python."""
    return "'" + cell if cell.startswith(tuple(FORMULA_STARTS)) else cell


def report_chunks(filters: selectors.Filters) -> Iterator[str]:
    """The audit log as a person reads it: one line per attempt, newest first, each change
    as old → new, empty cells where there is nothing (never "None" or "null")."""
    lines = _Lines()
    writer = csv.writer(lines, lineterminator="\n")
    writer.writerow(REPORT_COLUMNS)
    yield BOM + lines.take()
    entries = (
        selectors.filtered(filters)
        .order_by("-created_at", "-id")
        .only(*REPORT_FIELDS)
        .iterator(chunk_size=BATCH)
    )
    while batch := list(islice(entries, BATCH)):
        writer.writerows(
            [
                guard(entry.when_text),
                guard(entry.actor_username),
                guard(entry.get_action_display()),
                guard(entry.status_code),
                guard(entry.summary),
                guard(entry.reason),
                guard(entry.get_outcome_display()),
                guard(entry.explanation),
                entry.proof_text,
                guard(entry.four_eyes.requested_by),
                guard(entry.four_eyes.approved_by),
                guard(entry.four_eyes.note),
                str(entry.request_ref or ""),
                str(entry.change_set_ref or ""),
            ]
            for entry in batch
        )
        yield lines.take()
