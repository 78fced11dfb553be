"""CSV and JSON Lines exports of the audit log, streamed row by row in constant memory."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from statusadmin.convoso.validation import FLAGS

from . import selectors

# Read from the database in this order; the CSV columns are derived from it below.
DB_FIELDS = (
    "seq",
    "id",
    "created_at",
    "completed_at",
    "actor_username",
    "remote_ip",
    "user_agent",
    "request_id",
    "account",
    "action",
    "status_code",
    "outcome",
    "error_code",
    "error_message",
    "failure_kind",
    "reason",
    "note",
    "changed_fields",
    "before",
    "requested",
    "after",
    "prev_hash",
    "hash",
)
STATUS_FIELDS = ("name", "color", *FLAGS, "workflow", "custom")
_FLAT = DB_FIELDS[: DB_FIELDS.index("before")]
# A stable order, one row per entry: the entry's facts, then for each status field what it
# was before, what was asked for and what it was after, then the chain hashes.
CSV_COLUMNS = (
    *_FLAT,
    *(f"{stage}_{name}" for name in STATUS_FIELDS for stage in ("before", "requested", "after")),
    "prev_hash",
    "hash",
)
# Spreadsheets run cells that start like a formula; upstream names are not to be trusted.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class _Line:
    """csv.writer needs a file; this one hands back each line instead of storing it."""

    def write(self, value: str) -> str:
        return value


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Y" if value else "N"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _csv_row(row: tuple[Any, ...]) -> list[Any]:
    values = dict(zip(DB_FIELDS, row, strict=True))
    cells = [_cell(values[name]) for name in _FLAT]
    stages = [values["before"] or {}, values["requested"] or {}, values["after"] or {}]
    for name in STATUS_FIELDS:
        cells.extend(_cell(stage.get(name)) for stage in stages)
    cells.extend([values["prev_hash"], values["hash"]])
    return cells


def csv_lines(filters: selectors.Filters) -> Iterator[str]:
    writer = csv.writer(_Line())
    yield writer.writerow(CSV_COLUMNS)
    for row in selectors.export_rows(filters=filters, fields=DB_FIELDS):
        yield writer.writerow(_csv_row(row))


def jsonl_lines(filters: selectors.Filters) -> Iterator[str]:
    for row in selectors.export_rows(filters=filters, fields=DB_FIELDS):
        record = dict(zip(DB_FIELDS, row, strict=True))
        yield json.dumps(record, default=_json_default, ensure_ascii=False) + "\n"


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def batched(lines: Iterable[str], size: int = 500) -> Iterator[str]:
    """Join lines into larger chunks: one write per few hundred rows, not one per row."""
    chunk: list[str] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) >= size:
            yield "".join(chunk)
            chunk = []
    if chunk:
        yield "".join(chunk)
