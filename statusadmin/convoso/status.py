"""What a lead status is: its fields, their order and names, and the value the code passes around.

Everything else derives from here: the client's wire format, the mirror model, the forms, the
audit log's snapshots, diffs and exports, the admin. The order is the dashboard's column order
(code, name, colour, the seven flags, workflow, custom) and the order changes are listed in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

# Also the order of Convoso's documented error codes (6062-6068, 6071-6077).
FLAGS: tuple[str, ...] = ("final", "reached", "success", "dnc", "callback", "contact", "voicemail")

# Every field, in display order; a Status is built positionally in this order.
FIELDS: tuple[str, ...] = ("code", "name", "color", *FLAGS, "workflow", "custom")
# What can differ between two versions of one status (the code never changes).
VALUE_FIELDS: tuple[str, ...] = FIELDS[1:]
# What a person sets: all of it when creating a status, any of it when changing one.
EDITABLE_FIELDS: tuple[str, ...] = ("name", "color", *FLAGS)

FLAG_LABELS: dict[str, str] = {
    "final": "Final",
    "reached": "Reached",
    "success": "Success",
    "dnc": "DNC",
    "callback": "Callback",
    "contact": "Contact",
    "voicemail": "Voicemail",
}
FIELD_LABELS: dict[str, str] = {
    "code": "Code",
    "name": "Name",
    "color": "Colour",
    **FLAG_LABELS,
    "workflow": "Workflow",
    "custom": "Custom",
}

# One line each, from Convoso's help centre ("Add/Edit Dispositions"), for hints next to inputs.
FLAG_HINTS: dict[str, str] = {
    "final": "Leads with this status are not dialled again.",
    "reached": "A person was actually spoken to.",
    "success": "Counts as a success: a sale, qualified or interested lead.",
    "dnc": "Adds the lead's phone number to the Do-Not-Call list automatically.",
    "callback": "The agent must schedule a callback.",
    "contact": "Counts as a handled contact.",
    "voicemail": "A voicemail message was left.",
}

# Changes a compliance officer looks for first: they decide who gets called and who doesn't.
SENSITIVE_FIELDS = frozenset({"dnc", "final"})

# Codes that can go in a URL path and an HTML id. Every code the dashboard creates matches; one
# created elsewhere that doesn't is shown, but can't be edited or linked to.
ADDRESSABLE_CODE_PATTERN = r"[A-Za-z0-9_-]{1,64}"
_ADDRESSABLE_CODE = re.compile(ADDRESSABLE_CODE_PATTERN)


# Codes that are also the dashboard's own pages under /statuses/ (the create form, the import,
# the bulk edit): a status with such a code can't have a page of its own there.
RESERVED_CODES = frozenset({"new", "import", "bulk"})


def addressable(code: str) -> bool:
    return bool(_ADDRESSABLE_CODE.fullmatch(code)) and code not in RESERVED_CODES


@dataclass(frozen=True, slots=True)
class Status:
    """One lead status as Convoso reports it. ``color`` is '#RRGGBB' or None."""

    code: str
    name: str
    color: str | None = None
    final: bool = False
    reached: bool = False
    success: bool = False
    dnc: bool = False
    callback: bool = False
    contact: bool = False
    voicemail: bool = False
    workflow: str | None = None
    custom: bool = False

    def flags(self) -> dict[str, bool]:
        return {flag: getattr(self, flag) for flag in FLAGS}

    def changed_fields(self, other: Status) -> list[str]:
        """Names of the fields whose values differ between self and other, in display order."""
        return [f for f in VALUE_FIELDS if getattr(self, f) != getattr(other, f)]


def _yes_no(value: object) -> str:
    if value is True:
        return "Yes"
    return "No" if value is False else "unset"


def describe_value(name: str, value: object) -> str:
    """One field's value in the one wording: "Yes", "#FFAA00", "none" (a colour unset)."""
    if name in FLAGS:
        return _yes_no(value)
    if name == "color":
        return str(value or "none")
    return str(value or "")


def describe_field(name: str, old: object, new: object) -> str:
    """One field's change in the one wording: "DNC No → Yes", "Name 'A' → 'B'",
    "Colour #FFAA00 → #00AAFF"."""
    label = FIELD_LABELS.get(name, name)
    before, after = describe_value(name, old), describe_value(name, new)
    if name in FLAGS or name == "color":
        return f"{label} {before} → {after}"
    return f"{label} '{before}' → '{after}'"


def describe_changes(
    before: Mapping[str, object] | None,
    after: Mapping[str, object] | None,
    changed: list[str],
) -> str:
    """One wording for a change, wherever it is shown: "DNC No → Yes, Colour #00AA00 →
    #112233".

    ``before`` and ``after`` are snapshots (a Status as a dict, as the audit log keeps them).
    A new status is described by the flags it was created with.
    """
    if before is None and after:
        on = [FLAG_LABELS[f] for f in FLAGS if after.get(f)]
        return "new status" + (f" with {', '.join(on)} on" if on else ", all flags off")
    before, after = before or {}, after or {}
    return ", ".join(describe_field(name, before.get(name), after.get(name)) for name in changed)
