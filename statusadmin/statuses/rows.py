"""One status row of the status screen: what it shows, where its controls post, its HTML.

The views decide what happened; a Row says how that looks (editing the name, asking for a DNC
reason, the outcome of the last change). Rendering lives here too, with the one cache that
makes a 200-row search cheap.
"""

from __future__ import annotations

import enum
import json
from dataclasses import asdict, dataclass, replace
from datetime import UTC
from functools import cached_property, lru_cache, partial
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.defaultfilters import pluralize
from django.template.loader import render_to_string
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.html import format_html_join
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.safestring import SafeString

from statusadmin.accounts.roles import can_edit_statuses
from statusadmin.approvals import selectors as approvals
from statusadmin.approvals.models import ChangeRequest
from statusadmin.audit.models import AuditEntry
from statusadmin.convoso.connection import get_client
from statusadmin.convoso.status import (
    FLAG_HINTS,
    FLAG_LABELS,
    FLAGS,
    VALUE_FIELDS,
    Status,
    addressable,
    describe_changes,
)

from . import mirror, selectors
from .services import WriteResult, changes_to_restore, needs_approval

ROW_TEMPLATE = "statuses/index.html#row"
# The row's own message line spans the whole table: the code's header cell, then each value.
COLUMNS = 1 + len([f for f in VALUE_FIELDS if f != "custom"])


class Mode(enum.StrEnum):
    PLAIN = ""
    NAME = "name"  # editing the name in place
    DNC = "dnc"  # asking why DNC is being changed
    CONFIRM = "confirm"  # asking "are you sure?" before Final or Success changes dialling


# Flags that change who is dialled: a click on their switch asks for confirmation first.
CONFIRM_FLAGS = frozenset({"final", "success"})
UNDO_REASON = "Undo of a change made a moment before"


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
    # The flag a CONFIRM row asks about, and the value it would set.
    confirm_flag: str = ""
    confirm_target: bool | None = None
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
    def confirm_label(self) -> str:
        return FLAG_LABELS.get(self.confirm_flag, "")

    @property
    def confirm_hint(self) -> str:
        return FLAG_HINTS.get(self.confirm_flag, "")

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


def links_key() -> tuple[object, str]:
    """What a row's links are reversed with: the request's URLconf (each Convoso account has its
    own, /a/<slug>/...) and script prefix (its SCRIPT_NAME). Read once per page, not per row."""
    return get_urlconf(), get_script_prefix()


def render_row(
    row: Row, request: HttpRequest | None = None, links: tuple[object, str] | None = None
) -> SafeString:
    if row.plain:
        return _render_plain_row(row.status, row.editable, links or links_key())
    return render_to_string(ROW_TEMPLATE, {"row": row}, request=request)


@lru_cache(maxsize=10_000)
def _render_plain_row(status: Status, editable: bool, links: tuple[object, str]) -> SafeString:
    """A plain row depends only on the status, whether it is editable and what its links are
    reversed with (links_key), so its HTML is kept (bench: "search partial, one character":
    200 rows re-rendered per keystroke otherwise). Status is a frozen value: a changed status
    is another key, never served stale. Without the links in the key, a status two accounts
    both have (the standard dispositions) was served with the links of whichever account
    showed it first: its switches changed that account."""
    del links  # the key only: reverse() reads both from the request itself
    return render_to_string(ROW_TEMPLATE, {"row": Row(status, editable)})


def rows_html(rows: list[SafeString]) -> SafeString:
    """Rendered rows in one piece, so the template doesn't loop over 200 of them."""
    return format_html_join("", "{}", ((row,) for row in rows))


FLAG_COLUMNS = [(f, FLAG_LABELS[f], FLAG_HINTS[f]) for f in FLAGS]


@lru_cache(maxsize=1)
def fixed_parts() -> dict[str, SafeString]:
    """What every search shows the same way (both tables' heads, the bulk bar's choice of
    flags), rendered once per process: the profile of a one-character search found their
    loops a sixth of its rendering."""
    context = {"flag_columns": FLAG_COLUMNS}
    return {
        name: render_to_string(f"statuses/index.html#{part}", context)
        for name, part in (("table_head", "thead"), ("flag_options", "flag_options"))
    }


def more_link(query: str, kind: str, page: selectors.Page) -> dict[str, object] | None:
    """The link to the next page of a table: followed as it scrolls into view, or clicked."""
    if not page.remaining:
        return None
    return {
        "kind": kind,
        "url": index_url(q=query, kind=kind, after=page.after),
        "next": min(page.remaining, selectors.PAGE_SIZE),
        "remaining": page.remaining,
    }


def undo(row: Row | None, result: WriteResult) -> dict[str, object] | None:
    """The message bar's Undo: the form that puts back what this one change replaced, sent
    like any change (audited; through approvals where the field needs them). None when there
    is nothing to put back, or no way to (a colour that was unset can't be unset again)."""
    if row is None or result.before is None or len(result.changed) != 1:
        return None
    (field,) = result.changed
    old = getattr(result.before, field)
    fields: list[tuple[str, str]] = [("reason", UNDO_REASON)]
    if field in FLAGS:
        url = row.urls["flag"]
        fields += [(field, "Y" if old else "N"), ("confirmed", "1")]
    elif field in ("color", "name") and old:
        url = row.urls[field]
        fields.append((field, str(old)))
    else:
        return None
    return {"url": url, "vals": json.dumps(dict(fields))}


def saved_message(code: str, result: WriteResult) -> str:
    """What a saved change did, in the one wording of changes, and anything to know about it."""
    before = asdict(result.before) if result.before else None
    summary = describe_changes(before, asdict(result.status), result.changed)
    if summary:
        message = f"Saved {code}: {summary}."
    else:
        message = f"Nothing to save: {code} already had these values."
    if result.resolved:
        message += " Convoso's reply was lost; a check afterwards shows the change was made."
    if result.stale:
        message += (
            f" Note: {code} had been changed since your page loaded; the row now shows "
            "the current values."
        )
    return message


def table_context(
    *,
    request: HttpRequest,
    account: str,
    can_edit: bool,
    query: str,
    kind: str = "",
    after: str = "",
    created: str = "",
) -> dict[str, object]:
    """Both tables of the status screen: the first page of each (or, without JavaScript, the
    page of ``kind`` that follows ``after``), with the counts of everything that matches."""
    waiting = approvals.waiting_condition(account)
    result = selectors.status_search(account=account, query=query, waiting=waiting)
    if kind and after:
        page = selectors.status_page(
            account=account, query=query, custom=kind == "custom", after=after, waiting=waiting
        )
        result = (
            replace(result, custom_page=page)
            if kind == "custom"
            else replace(result, system_page=page)
        )
    table = partial(page_rows, request=request, account=account, can_edit=can_edit)
    return {
        "q": query,
        "result": result,
        "after": {kind: after} if kind and after else {},
        "custom_rows": table(result.custom_page, created=created),
        "custom_count": result.custom_total,
        "custom_more": more_link(query, "custom", result.custom_page),
        "system_rows": table(result.system_page),
        "system_count": result.system_total,
        "system_more": more_link(query, "system", result.system_page),
        "can_edit": can_edit,
        "columns": COLUMNS,
        **fixed_parts(),
    }


def more_context(
    *, request: HttpRequest, account: str, can_edit: bool, query: str, kind: str, after: str
) -> dict[str, object]:
    """The next page of one table, as rows that take the place of its "more" link."""
    page = selectors.status_page(
        account=account, query=query, custom=kind == "custom", after=after,
        waiting=approvals.waiting_condition(account),
    )  # fmt: skip
    shown = len(page.statuses)
    return {
        "rows": page_rows(page, request=request, account=account, can_edit=can_edit),
        "more": more_link(query, kind, page),
        "columns": COLUMNS,
        "announce": (
            f"{shown} more {kind} status{pluralize(shown, 'es')} shown"
            + (f"; {page.remaining} still to come." if page.remaining else "; that is all.")
        ),
    }


def page_rows(
    page: selectors.Page,
    *,
    request: HttpRequest,
    account: str,
    can_edit: bool,
    created: str = "",
) -> SafeString:
    """One page of a table, each row with the change that waits for it: the requests are read
    only for the rows the search marked as waiting (none marked, no query)."""
    codes = [s.code for s in page.statuses if s.code in page.waiting]
    waiting = approvals.pending_for(account, codes)
    viewer = request.user.pk
    made = (
        make_row(
            s, can_edit, highlight=s.code == created, pending=waiting.get(s.code), viewer=viewer
        )
        for s in page.statuses
    )
    links = links_key()
    return rows_html([render_row(row, request, links) for row in made])


def current_row(request: HttpRequest, code: str, **kwargs: Any) -> Row | None:
    """The row of ``code`` as the mirror has it now (None if Convoso has no such status), with
    the change that waits for it, if any, as this person may use it."""
    mirror.mirror_refresh()  # a no-op while fresh; fills the mirror on a first visit
    account = get_client().account
    mirrored = selectors.status_get(account=account, code=code)
    if mirrored is None:
        return None
    kwargs.setdefault("pending", approvals.pending_for(account, [code]).get(code))
    return make_row(
        mirrored.to_status(), can_edit_statuses(request.user), viewer=request.user.pk, **kwargs
    )


def back_to_list(request: HttpRequest, code: str) -> HttpResponse:
    """After a plain (no-JavaScript) form post: back to where the user was, at the row."""
    referer = request.headers.get("referer", "")
    if referer and url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        parts = urlsplit(referer)
        return redirect(urlunsplit(("", "", parts.path, parts.query, f"row-{code}")))
    return redirect(index_url(q=code, row=code))


def created(outcome: WriteResult | ChangeRequest) -> tuple[str, str]:
    """Where the list goes after the create form, and what it says."""
    if isinstance(outcome, ChangeRequest):
        code = outcome.status_code
        return index_url(q=code), (
            f"{code} waits for a second person's approval before it is created in Convoso."
        )
    code = outcome.status.code
    message = f"Created {code} in Convoso."
    if outcome.resolved:
        message += " Convoso's reply was lost; a check afterwards shows it was created."
    return index_url(created=code, row=code), message


def revert_context(entry: AuditEntry, status: Status) -> dict[str, Any]:
    """The revert screen: what putting back ``entry``'s earlier values would change now."""
    changes = changes_to_restore(entry.before or {}, status)
    return {
        "entry": entry,
        "code": status.code,
        "changes": changes,
        "summary": describe_changes(asdict(status), entry.before, list(changes)),
        "version": selectors.status_version(status),
        "needs_reason": bool(needs_approval(changes)) or "dnc" in changes,
        "error": "",
    }
