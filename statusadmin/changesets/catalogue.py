"""The catalogue as a file: exported as CSV or JSON, and read back for an import.

One format both ways: code, name, colour, the seven flags as Y/N, workflow, and whether it is a
system status. Reading is forgiving about what spreadsheets do to such a file (a BOM, ';' as
separator, yes/no or 1/0 for flags, a colour with or without '#', an apostrophe put in front of
a cell to stop a formula) and strict about what the values mean: every problem is reported with
its line, in plain words, and nothing is guessed.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from statusadmin.audit import export
from statusadmin.convoso.status import FLAGS, Status

COLUMNS = ("code", "name", "color", *FLAGS, "workflow", "system")
# Header names people use for the same column.
ALIASES = {"status": "code", "colour": "color", "hex_color": "color", "description": "name"}
YES = {"y", "yes", "1", "true", "on"}
NO = {"n", "no", "0", "false", "off"}
# A cell that starts like a formula gets an apostrophe on export (audit/export.py does the
# same); reading it back, the apostrophe goes.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")
MAX_LINES = 20_000


def _guard(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def export_csv(statuses: Iterable[Status]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    # For Excel on Windows, as the audit exports do; import_lines reads it back.
    yield export.BOM + buffer.getvalue()
    for status in statuses:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(
            [
                _guard(status.code),
                _guard(status.name),
                status.color or "",
                *("Y" if getattr(status, f) else "N" for f in FLAGS),
                _guard(status.workflow or ""),
                "N" if status.custom else "Y",
            ]
        )
        yield buffer.getvalue()


def export_json(statuses: Iterable[Status]) -> str:
    items = [
        {
            "code": s.code,
            "name": s.name,
            "color": s.color,
            **{f: getattr(s, f) for f in FLAGS},
            "workflow": s.workflow,
            "system": not s.custom,
        }
        for s in statuses
    ]
    return json.dumps({"statuses": items}, ensure_ascii=False, indent=1)


@dataclass
class Line:
    """One status as the file gives it: the values it names, or why they can't be used."""

    number: int
    code: str = ""
    values: dict[str, object] = field(default_factory=dict)  # name, color, flags, given only
    system: bool | None = None
    problems: list[str] = field(default_factory=list)


class UnreadableFile(ValueError):
    """The file as a whole can't be read (not CSV or JSON, no code column, too long)."""


def read(data: bytes, filename: str = "") -> list[Line]:
    """The lines of a catalogue file, CSV or JSON (told apart by content, not by name)."""
    text = _decode(data)
    stripped = text.lstrip()
    if stripped.startswith(("[", "{")) or filename.lower().endswith(".json"):
        return _read_json(stripped)
    return _read_csv(text)


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # What Excel writes for "CSV" in Western Europe; every byte decodes.
        return data.decode("cp1252", errors="replace")


def _read_csv(text: str) -> list[Line]:
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(rows)
    except StopIteration:
        raise UnreadableFile("The file is empty.") from None
    except csv.Error as exc:
        raise UnreadableFile(f"The file is not readable CSV ({exc}).") from None
    names = [ALIASES.get(h.strip().lower(), h.strip().lower()) for h in header]
    if "code" not in names:
        raise UnreadableFile(
            "The first line must name the columns, one of them 'code' "
            f"(as in an export: {', '.join(COLUMNS)})."
        )
    lines: list[Line] = []
    try:
        for number, row in enumerate(rows, start=2):
            if not any(cell.strip() for cell in row):
                continue
            if len(lines) >= MAX_LINES:
                raise UnreadableFile(f"The file has more than {MAX_LINES:,} statuses.")
            lines.append(_line(number, dict(zip(names, row, strict=False))))
    except csv.Error as exc:
        raise UnreadableFile(f"The file is not readable CSV ({exc}).") from None
    return lines


def _read_json(text: str) -> list[Line]:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise UnreadableFile("The file is not readable JSON.") from None
    if isinstance(data, dict):
        data = data.get("statuses")
    if not isinstance(data, list):
        raise UnreadableFile('The JSON must be a list of statuses, or {"statuses": [...]}.')
    if len(data) > MAX_LINES:
        raise UnreadableFile(f"The file has more than {MAX_LINES:,} statuses.")
    lines = []
    for number, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            lines.append(Line(number, problems=["is not a status (an object with a code)"]))
            continue
        fields = {ALIASES.get(str(k).lower(), str(k).lower()): v for k, v in item.items()}
        lines.append(_line(number, fields))
    return lines


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Y" if value else "N"
    if isinstance(value, str | int | float):
        text = str(value).strip()
        return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_STARTS) else text
    return "\x00"  # a list or an object: never a valid value


def _line(number: int, fields: dict[str, object]) -> Line:
    line = Line(number, code=_text(fields.get("code")))
    if not line.code or "\x00" in line.code:
        line.problems.append("has no status code")
    name = _text(fields.get("name"))
    if name:
        line.values["name"] = name
    color = _text(fields.get("color"))
    if color:
        line.values["color"] = color  # checked by the plan, with Convoso's own rule
    for flag in FLAGS:
        raw = _text(fields.get(flag)).lower()
        if not raw:
            continue
        if raw in YES:
            line.values[flag] = True
        elif raw in NO:
            line.values[flag] = False
        else:
            line.problems.append(f"{flag}: “{raw[:20]}” is not Y or N (yes/no and 1/0 work too)")
    system = _text(fields.get("system")).lower()
    if system in YES:
        line.system = True
    elif system in NO:
        line.system = False
    return line
