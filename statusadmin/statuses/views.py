"""The supervisor screen: the catalogue with live search, in-place edits and the create form.

One page template (statuses/index.html) holds the named partials: ``results`` (the lists and
the sync state) and ``row`` (one status). htmx requests get a partial; the same URLs without
JavaScript get the full page, so every action also works as a plain form post.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from urllib.parse import urlsplit

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect, reswap, retarget
from django_htmx.middleware import HtmxDetails

from statusadmin.accounts.roles import EDIT_STATUSES, VIEW_STATUSES, can_edit_statuses
from statusadmin.audit.services import NotSent
from statusadmin.convoso import errors
from statusadmin.convoso.client import Status
from statusadmin.convoso.connection import get_client
from statusadmin.convoso.validation import (
    COLOR_MESSAGE,
    FLAG_HINTS,
    FLAG_LABELS,
    FLAGS,
    InvalidInput,
)
from statusadmin.request_context import origin_from_request

from . import selectors, services
from .converters import ADDRESSABLE_CODE_PATTERN
from .forms import StatusCreateForm

ADDRESSABLE_CODE = re.compile(ADDRESSABLE_CODE_PATTERN)
QUERY_MAX_LENGTH = 100


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def wants_partial(request: HtmxHttpRequest) -> bool:
    # A history restore (back/forward after the cache was skipped) needs the whole page.
    return bool(request.htmx) and not request.htmx.history_restore_request


@dataclass(frozen=True, slots=True)
class FlagCell:
    name: str
    label: str
    on: bool


@dataclass
class Row:
    """Everything one status row shows, including the outcome of the last action on it."""

    status: Status
    editable: bool
    mode: str = ""  # "" (plain), "name" (editing the name) or "dnc" (asking for a reason)
    message: str = ""
    error: str = ""
    dnc_target: bool | None = None
    reason: str = ""
    highlight: bool = False
    focus: str = ""  # the control that should take focus after this row is swapped in

    @property
    def code(self) -> str:
        return self.status.code

    @property
    def addressable(self) -> bool:
        """Whether the code can be put in a URL (see converters.ADDRESSABLE_CODE_PATTERN)."""
        return bool(ADDRESSABLE_CODE.fullmatch(self.code))

    @cached_property
    def version(self) -> str:
        return selectors.status_version(self.status)

    @property
    def flags(self) -> list[FlagCell]:
        return [FlagCell(f, FLAG_LABELS[f], getattr(self.status, f)) for f in FLAGS]

    @cached_property
    def urls(self) -> dict[str, str]:
        """Where this row's controls post. Writes carry the version the page showed (?v=)."""
        base = reverse("statuses:row", args=[self.code])
        version = f"?v={self.version}"
        return {
            "row": base,
            "name": f"{base}name/{version}",
            "color": f"{base}color/{version}",
            "flag": f"{base}flag/{version}",
        }

    @property
    def plain(self) -> bool:
        """Shown as-is, with nothing about a recent action: the same for every viewer."""
        return not (self.mode or self.message or self.error or self.highlight or self.focus)


class RenderedRows(list[str]):
    """Rows already rendered (and escaped): the template prints them in one go, not one by one
    through its own loop, which for 200 rows cost more than everything else in a search."""

    def __html__(self) -> SafeString:
        return mark_safe("".join(self))  # noqa: S308 - each row was rendered (escaped) already

    __str__ = __html__  # the template engine calls str() before it looks for __html__


def render_row(row: Row, request: HttpRequest | None = None) -> str:
    if row.plain:
        return _render_plain_row(row.status, row.editable)
    return render_to_string("statuses/index.html#row", {"row": row}, request=request)


@lru_cache(maxsize=10_000)
def _render_plain_row(status: Status, editable: bool) -> str:
    """A plain row depends only on the status and whether it is editable, so its HTML is kept.

    Search renders up to 200 rows per keystroke; re-rendering unchanged rows through the
    template engine each time would dominate the response time. Status is a frozen value, so a
    changed status is a different key and can never be served stale.
    """
    return render_to_string("statuses/index.html#row", {"row": Row(status, editable)})


def make_row(status: Status, can_edit: bool, **kwargs: object) -> Row:
    editable = can_edit and status.custom and bool(ADDRESSABLE_CODE.fullmatch(status.code))
    return Row(status=status, editable=editable, **kwargs)  # type: ignore[arg-type]


def list_context(request: HtmxHttpRequest, query: str, *, refresh: bool = False) -> dict:
    sync = services.mirror_refresh(force=refresh)
    account = get_client().account
    result = selectors.status_search(account=account, query=query)
    can_edit = can_edit_statuses(request.user)
    created = request.GET.get("created", "")
    now = timezone.now()
    return {
        "q": query,
        "result": result,
        "custom_rows": RenderedRows(
            render_row(make_row(status, can_edit, highlight=status.code == created))
            for status in result.custom
        ),
        "system_rows": RenderedRows(
            render_row(make_row(status, can_edit)) for status in result.system
        ),
        "sync": sync,
        "sync_age": selectors.mirror_age_seconds(sync, now),
        "can_edit": can_edit,
        "flag_columns": [(f, FLAG_LABELS[f], FLAG_HINTS[f]) for f in FLAGS],
    }


def search_query(raw: str) -> str:
    # NUL can't be part of a SQL string on PostgreSQL, and no code or name contains one.
    return raw.replace("\x00", "").strip()[:QUERY_MAX_LENGTH]


@require_GET
@permission_required(VIEW_STATUSES, raise_exception=True)
@vary_on_headers("HX-Request")
def index(request: HtmxHttpRequest) -> HttpResponse:
    template = "statuses/index.html"
    if wants_partial(request):
        template += "#results"
    return render(request, template, list_context(request, search_query(request.GET.get("q", ""))))


@require_POST
@permission_required(VIEW_STATUSES, raise_exception=True)
def refresh(request: HtmxHttpRequest) -> HttpResponse:
    """Refresh the mirror from Convoso now. Reading only, so viewers may do it too."""
    query = search_query(request.POST.get("q", ""))
    if not wants_partial(request):
        services.mirror_refresh(force=True)
        return redirect(f"{reverse('statuses:index')}?{urlencode({'q': query})}")
    return render(
        request, "statuses/index.html#results", list_context(request, query, refresh=True)
    )


# --- one row --------------------------------------------------------------------------------------


def current_row(request: HttpRequest, code: str, **kwargs: object) -> Row | None:
    services.mirror_refresh()  # a no-op while fresh; fills the mirror on a first visit
    mirrored = selectors.status_get(account=get_client().account, code=code)
    if mirrored is None:
        return None
    return make_row(mirrored.to_status(), can_edit_statuses(request.user), **kwargs)


def back_to_list(request: HttpRequest, code: str) -> HttpResponse:
    """After a plain (no-JavaScript) form post: back to where the user was, at the row."""
    referer = request.headers.get("referer", "")
    if referer and url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        parts = urlsplit(referer)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
    else:
        target = f"{reverse('statuses:index')}?{urlencode({'q': code})}"
    return redirect(f"{target}#row-{code}")


def row_response(
    request: HtmxHttpRequest, code: str, row: Row | None, *, toast: str = ""
) -> HttpResponse:
    """The row partial (htmx) or, without JavaScript, the full page showing that row."""
    if not wants_partial(request):
        if row is not None and not row.error and not row.mode:
            if row.message:
                messages.success(request, row.message)
            return back_to_list(request, code)
        context = list_context(request, code)
        context["custom_rows"] = RenderedRows([render_row(row, request)] if row else [])
        context["system_rows"] = RenderedRows()
        return render(request, "statuses/index.html", context)
    html = render_to_string(
        "statuses/index.html#row", {"row": row, "gone_code": code}, request=request
    )
    if toast:
        html += render_to_string("statuses/index.html#toast", {"toast": toast}, request=request)
    # The row says where it goes, whichever control asked (a switch posts the table's form).
    return reswap(retarget(HttpResponse(html), f"#row-{code}"), "outerHTML")


def apply_change(
    request: HtmxHttpRequest, code: str, changes: dict[str, object], *, describe: str
) -> HttpResponse:
    """Send one change through the service and show the row as Convoso left it."""
    reason = request.POST.get("reason", "")
    try:
        result = services.status_update(
            actor=request.user,
            code=code,
            changes=changes,
            reason=reason,
            expected_version=request.GET.get("v") or None,
            origin=origin_from_request(request),
        )
    except services.ReasonRequired as exc:
        # The switch asks first (no reason sent); a reason that was sent but isn't one is told.
        submitted = "reason" in request.POST
        row = current_row(
            request, code, mode="dnc", focus="reason",
            error=exc.message if submitted else "", reason=reason.replace("\x00", ""),
        )  # fmt: skip
        if row is not None:
            row.dnc_target = changes.get("dnc") == "Y"
        return row_response(request, code, row)
    except InvalidInput as exc:
        mode = "dnc" if exc.field == "reason" else ("name" if exc.field == "name" else "")
        row = current_row(request, code, error=exc.message, mode=mode, reason=reason)
        if row is not None and mode == "dnc":
            row.dnc_target = changes.get("dnc") == "Y"
        return row_response(request, code, row)
    except (errors.ConvosoError, NotSent) as exc:
        row = current_row(request, code, error=exc.explanation, focus=describe)
        return row_response(request, code, row)
    message = f"Saved {code}: {result_summary(result)}."
    if result.resolved:
        message += " Convoso's reply was lost; a check afterwards shows the change was made."
    if result.stale:
        message += (
            f" Note: {code} had been changed since your page loaded; the row now shows "
            "the current values."
        )
    row = make_row(result.status, can_edit_statuses(request.user), message=message, focus=describe)
    return row_response(request, code, row, toast=message)


def result_summary(result: services.WriteResult) -> str:
    if not result.changed:
        return "no change was needed"
    parts = []
    for name in result.changed:
        if name in FLAGS:
            parts.append(f"{FLAG_LABELS[name]} {'on' if getattr(result.status, name) else 'off'}")
        elif name == "color":
            parts.append(f"colour {result.status.color}")
        elif name == "name":
            parts.append("name changed")
    return ", ".join(parts)


@require_POST
@permission_required(EDIT_STATUSES, raise_exception=True)
def set_flag(request: HtmxHttpRequest, code: str) -> HttpResponse:
    """Set one flag to Y or N (the switch sends the state it wants, not "toggle")."""
    flags = [f for f in FLAGS if f in request.POST]
    if len(flags) != 1 or request.POST[flags[0]] not in ("Y", "N"):
        return HttpResponseBadRequest("Send exactly one flag, as Y or N.")
    flag = flags[0]
    return apply_change(request, code, {flag: request.POST[flag]}, describe=flag)


@require_POST
@permission_required(EDIT_STATUSES, raise_exception=True)
def set_color(request: HtmxHttpRequest, code: str) -> HttpResponse:
    color = request.POST.get("color", "").strip()
    if not color:
        row = current_row(request, code, error=COLOR_MESSAGE)
        return row_response(request, code, row)
    return apply_change(request, code, {"color": color}, describe="color")


@require_http_methods(["GET", "POST"])
@permission_required(EDIT_STATUSES, raise_exception=True)
def edit_name(request: HtmxHttpRequest, code: str) -> HttpResponse:
    if request.method == "GET":
        return row_response(request, code, current_row(request, code, mode="name", focus="name"))
    return apply_change(request, code, {"name": request.POST.get("name", "")}, describe="name")


@require_GET
@permission_required(VIEW_STATUSES, raise_exception=True)
def row(request: HtmxHttpRequest, code: str) -> HttpResponse:
    """One row as it stands (used by Cancel); ``focus`` says which control to return focus to."""
    focus = request.GET.get("focus", "")
    if not wants_partial(request):
        return redirect(f"{reverse('statuses:index')}?{urlencode({'q': code})}#row-{code}")
    return row_response(request, code, current_row(request, code, focus=focus))


# --- create --------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@permission_required(EDIT_STATUSES, raise_exception=True)
def create(request: HtmxHttpRequest) -> HttpResponse:
    form = StatusCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            result = services.status_create(
                actor=request.user,
                code=data["code"],
                name=data["name"],
                color=data["color"],
                flags={f: data[f] for f in FLAGS},
                reason=data["reason"],
                origin=origin_from_request(request),
            )
        except InvalidInput as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        except (errors.ConvosoError, NotSent) as exc:
            field = getattr(exc, "field", None)
            form.add_error(field if field in form.fields else None, exc.explanation)
        else:
            code = result.status.code
            created = f"Created {code} in Convoso."
            if result.resolved:
                created += " Convoso's reply was lost; a check afterwards shows it was created."
            messages.success(request, created)
            target = f"{reverse('statuses:index')}?{urlencode({'created': code})}#row-{code}"
            if request.htmx:
                return HttpResponseClientRedirect(target)
            return redirect(target)
    template = "statuses/create.html"
    if wants_partial(request):
        template += "#form"
    return render(request, template, {"form": form})
