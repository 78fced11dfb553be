"""Template filters for what people read: durations in words, and times on their own clock
with UTC in the tooltip (the zone is the one they chose, activated by TimeZoneMiddleware)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django import template
from django.contrib.humanize.templatetags.humanize import naturaltime
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from statusadmin import words

register = template.Library()

_FORMATS = {"": "%Y-%m-%d %H:%M", "seconds": "%Y-%m-%d %H:%M:%S", "micro": "%Y-%m-%d %H:%M:%S.%f"}


@register.filter
def duration(length: timedelta | float | None) -> str:
    """900 or timedelta(minutes=15) → "15 minutes"."""
    return "" if length is None else words.duration(length)


@register.filter
def when(moment: datetime | None, precision: str = "") -> SafeString | str:
    """``<time datetime="…UTC…" title="… UTC">…in the person's zone…</time>``; ``precision``
    "seconds" shows the seconds too, "micro" their fractions."""
    if moment is None:
        return ""
    shape = _FORMATS[precision]
    utc = moment.astimezone(UTC)
    local = timezone.localtime(moment)
    return format_html(
        '<time datetime="{}" title="{} UTC">{} {}</time>',
        utc.isoformat(),
        utc.strftime(shape),
        local.strftime(shape),
        local.tzname() or "",
    )


@register.filter
def relative(moment: datetime | None) -> SafeString | str:
    """``<time datetime="…UTC…" title="… UTC">3 minutes ago</time>``."""
    if moment is None:
        return ""
    utc = moment.astimezone(UTC)
    return format_html(
        '<time datetime="{}" title="{} UTC">{}</time>',
        utc.isoformat(),
        utc.strftime(_FORMATS["seconds"]),
        naturaltime(moment),
    )
