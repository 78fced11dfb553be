"""Convoso's documented input rules, in one place.

The create form, the inline editors and the API client all call these functions, so a value the
dashboard accepts is a value Convoso accepts, and the messages match wherever they appear.
Rules (convoso-status-api.txt, "Status Code Requirements" and the insert/update tables):
code: 2-6 letters or digits; name: required; flags: Y or N; colour: six hex digits, sent without #.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

from .status import FLAG_LABELS, FLAGS

CODE_RE = re.compile(r"[A-Za-z0-9]{2,6}")
HEX_RE = re.compile(r"#?([0-9A-Fa-f]{6})")

CODE_MESSAGE = "Use 2 to 6 letters or digits, with no spaces or symbols (for example SALE or CB2)."
NAME_MESSAGE = "Give the status a name."
CONTROL_MESSAGE = "Use letters, digits, spaces and punctuation only (no control characters)."
COLOR_MESSAGE = "Use six hexadecimal digits, like 00AA00 (a leading # is fine)."


class InvalidInput(ValueError):
    """A value breaks one of Convoso's documented rules; ``field`` names the form field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def clean_code(value: object) -> str:
    """Return the status code in upper case, or raise InvalidInput."""
    text = value.strip() if isinstance(value, str) else ""
    if not CODE_RE.fullmatch(text):
        raise InvalidInput("code", CODE_MESSAGE)
    return text.upper()


def clean_name(value: object) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise InvalidInput("name", NAME_MESSAGE)
    # Not a documented rule, but NUL and friends can't be shown to agents, and PostgreSQL
    # (ours and, likely, Convoso's) can't store NUL at all.
    if any(unicodedata.category(ch) == "Cc" for ch in text):
        raise InvalidInput("name", CONTROL_MESSAGE)
    return text


REASON_MAX_LENGTH = 500
REASON_MIN_WORD_CHARACTERS = 3
REASON_MISSING = "Say briefly why DNC is being changed. It goes in the audit log."
REASON_NOT_WORDS = (
    f"Write the reason in words: at least {REASON_MIN_WORD_CHARACTERS} letters or digits. "
    "It goes in the audit log."
)
# Letters (category Lo) that every font draws as nothing: a "reason" made of them is blank.
_INVISIBLE_LETTERS = frozenset("\u115f\u1160\u3164\uffa0")
# Removed outright: format characters (zero-width, bidi overrides), surrogates, private-use
# and unassigned code points. Control characters and whitespace become single spaces.
_DROPPED = frozenset(("Cf", "Cs", "Co", "Cn"))


def clean_reason(value: object) -> str:
    """The reason for a DNC change, as it will be stored, or InvalidInput("reason").

    It is the one brake on a careless DNC change and what compliance reads later, so it must
    be text a person can read: NUL, control and format characters are removed, whitespace is
    collapsed, and at least a few letters or digits must remain.
    """
    text = value if isinstance(value, str) else ""
    kept = []
    for ch in text:
        category = unicodedata.category(ch)
        if category in _DROPPED or ch in _INVISIBLE_LETTERS:
            continue
        kept.append(" " if category == "Cc" or ch.isspace() else ch)
    reason = " ".join("".join(kept).split())
    if not reason:
        raise InvalidInput("reason", REASON_MISSING)
    words = sum(1 for ch in reason if unicodedata.category(ch)[0] in "LN")
    if words < REASON_MIN_WORD_CHARACTERS:
        raise InvalidInput("reason", REASON_NOT_WORDS)
    if len(reason) > REASON_MAX_LENGTH:
        raise InvalidInput("reason", f"Keep the reason under {REASON_MAX_LENGTH} characters.")
    return reason


def clean_flag(field: str, value: object) -> bool:
    """Accept a boolean or Y/N (any case); anything else is an error on that flag's field."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().upper() in ("Y", "N"):
        return value.strip().upper() == "Y"
    raise InvalidInput(field, f"Choose Yes or No for {FLAG_LABELS[field]}.")


def clean_color(value: object) -> str | None:
    """Return '#RRGGBB' (upper case) for a valid colour, None for an empty one."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    match = HEX_RE.fullmatch(value.strip()) if isinstance(value, str) else None
    if not match:
        raise InvalidInput("color", COLOR_MESSAGE)
    return "#" + match.group(1).upper()


def safe_color(value: object) -> str | None:
    """Colour from an untrusted source (Convoso, the database) or None; never raises.

    Only a value that is exactly six hex digits survives, so nothing but a colour can ever
    reach a style attribute.
    """
    try:
        return clean_color(value)
    except InvalidInput:
        return None


def clean_changes(changes: Mapping[str, object]) -> dict[str, object]:
    """Validate a partial update: any of name, color and the flags. Unknown keys are errors."""
    cleaned: dict[str, object] = {}
    for field, value in changes.items():
        if field == "name":
            cleaned["name"] = clean_name(value)
        elif field == "color":
            cleaned["color"] = clean_color(value)
        elif field in FLAGS:
            cleaned[field] = clean_flag(field, value)
        else:
            raise InvalidInput(field, f"{field!r} can't be changed.")
    return cleaned
