"""Plain words for what people read: a duration as "15 minutes", never "PT15M" or 900."""

from __future__ import annotations

from datetime import timedelta

_UNITS = (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))


def duration(length: timedelta | float) -> str:
    """In the largest unit that says it exactly: 900 → "15 minutes", 86400 → "1 day",
    5400 → "90 minutes"."""
    seconds = round(length.total_seconds() if isinstance(length, timedelta) else length)
    for name, size in _UNITS:
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {name}{'' if count == 1 else 's'}"
    return "0 seconds"


def every(length: timedelta | float) -> str:
    """How often, as a sentence says it: 86400 → "every day", 21600 → "every 6 hours"."""
    said = duration(length)
    return f"every {said.removeprefix('1 ')}"
