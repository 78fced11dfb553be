"""One status row of the status screen: what it shows, where its controls post, its HTML.

The views decide what happened; a Row says how that looks (editing the name, asking for a DNC
reason, the outcome of the last change). Rendering lives here too, with the one cache that
makes a 200-row search cheap.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC
from functools import cached_property, lru_cache

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html_join
from django.utils.http import urlencode
from django.utils.safestring import SafeString

from statusadmin.convoso.status import (
    FLAG_LABELS,
    FLAGS,
    VALUE_FIELDS,
    Status,
    addressable,
    describe_changes,
)

from . import selectors
from .models import ChangeRequest

ROW_TEMPLATE = "statuses/index.html#row"
# The row's own message line spans the whole table: the code's header cell, then each value.
COLUMNS = 1 + len([f for f in VALUE_FIELDS if f != "custom"])


class Mode(enum.StrEnum):
    PLAIN = ""
    NAME = "name"  # editing the name in place
    DNC = "dnc"  # asking why DNC is being changed


def index_url(
    *,
    q: str | None = None,
    created: str | None = None,
    row: str = "",
    kind: str = "",
    after: str = "",
) -> str:
    """The status screen, with a search or a just-created code, scrolled to a row; or the
    page of one table (``kind``) that follows the code ``after``."""
    pairs = (("q", q), ("created", created), ("kind", kind or None), ("after", after or None))
    query = {k: v for k, v in pairs if v is not None}
    url = reverse("statuses:index")
    if query:
        url += "?" + urlencode(query)
    return url + (f"#row-{row}" if row else "")


@dataclass(frozen=True, slots=True)
class FlagCell:
    name: str
    label: str
    on: bool
    waiting: bool = False  # a change of it waits for approval: no second request meanwhile


@dataclass
class Row:
    """Everything one status row shows, including the outcome of the last action on it."""

    status: Status
    editable: bool
    mode: Mode = Mode.PLAIN
    message: str = ""
    error: str = ""
    dnc_target: bool | None = None
    reason: str = ""
    highlight: bool = False
    focus: str = ""  # the control that should take focus after this row is swapped in
    columns: int = COLUMNS
    # A change of this status waiting for a second person, and who is looking at the row.
    pending: ChangeRequest | None = None
    viewer: int | None = None

    @property
    def code(self) -> str:
        return self.status.code

    @property
    def addressable(self) -> bool:
        """Whether the code can be put in a URL (status.ADDRESSABLE_CODE_PATTERN)."""
        return addressable(self.code)

    @property
    def flags(self) -> list[FlagCell]:
        waiting = set(self.pending.changes) if self.pending else set()
        return [FlagCell(f, FLAG_LABELS[f], getattr(self.status, f), f in waiting) for f in FLAGS]

    @property
    def pending_text(self) -> str:
        """'DNC off → on: waiting for approval (asked by sue, 2026-11-28 10:02 UTC).'"""
        if self.pending is None:
            return ""
        request = self.pending
        after = {**(request.before or {}), **request.changes}
        what = describe_changes(request.before, after, [f for f in request.changes if f in after])
        when = request.requested_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        return (
            f"{what}: waiting for approval by a second person "
            f"(asked by {request.requested_by_username}, {when})."
        )

    @property
    def can_withdraw(self) -> bool:
        return self.pending is not None and self.pending.requested_by_id == self.viewer

    @cached_property
    def urls(self) -> dict[str, str]:
        """Where this row's controls go. Writes carry the version the page showed (?v=)."""
        version = "?" + urlencode({"v": selectors.status_version(self.status)})
        code = [self.code]
        return {
            "row": reverse("statuses:row", args=code),
            "history": reverse("audit:status_history", args=code),
            "name": reverse("statuses:name", args=code) + version,
            "color": reverse("statuses:color", args=code) + version,
            "flag": reverse("statuses:flag", args=code) + version,
            "withdraw": reverse("statuses:withdraw", args=[self.pending.pk])
            if self.pending
            else "",
        }

    @property
    def plain(self) -> bool:
        """Shown as-is, with nothing about a recent action: the same for every viewer."""
        return not (
            self.mode or self.message or self.error or self.highlight or self.focus or self.pending
        )


def make_row(status: Status, can_edit: bool, **kwargs: object) -> Row:
    editable = can_edit and status.custom and addressable(status.code)
    return Row(status=status, editable=editable, **kwargs)  # type: ignore[arg-type]


def render_row(row: Row, request: HttpRequest | None = None) -> str:
    if row.plain:
        return _render_plain_row(row.status, row.editable)
    return render_to_string(ROW_TEMPLATE, {"row": row}, request=request)


@lru_cache(maxsize=10_000)
def _render_plain_row(status: Status, editable: bool) -> str:
    """A plain row depends only on the status and whether it is editable, so its HTML is kept
    (bench: "search partial, one character": 200 rows re-rendered per keystroke otherwise).
    Status is a frozen value: a changed status is another key, never served stale."""
    return render_to_string(ROW_TEMPLATE, {"row": Row(status, editable)})


def rows_html(rows: list[str]) -> SafeString:
    """Rendered rows in one piece, so the template doesn't loop over 200 of them."""
    return format_html_join("", "{}", ((row,) for row in rows))
