"""The supervisor screen: the catalogue with live search, in-place edits and the create form.

One page template (statuses/index.html) holds the named partials: ``results`` (the lists and
the sync state) and ``row`` (one status). htmx requests get a partial; the same URLs without
JavaScript get the full page, so every action also works as a plain form post.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from urllib.parse import urlsplit, urlunsplit

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, QueryDict
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import SafeString
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect, reswap, retarget

from statusadmin.accounts.roles import EDIT_STATUSES, VIEW_STATUSES, can_edit_statuses
from statusadmin.audit.models import AuditEntry
from statusadmin.audit.services import NotSent
from statusadmin.convoso import errors
from statusadmin.convoso.connection import get_client
from statusadmin.convoso.status import (
    EDITABLE_FIELDS,
    FLAG_HINTS,
    FLAG_LABELS,
    FLAGS,
    Status,
    describe_changes,
)
from statusadmin.convoso.validation import COLOR_MESSAGE, InvalidInput
from statusadmin.htmx import HtmxHttpRequest, wants_partial
from statusadmin.request_context import origin_from_request

from . import approvals, mirror, selectors, services
from .forms import StatusCreateForm
from .rows import COLUMNS, ROW_TEMPLATE, Mode, Row, index_url, make_row, render_row, rows_html

QUERY_MAX_LENGTH = 100


def list_context(
    request: HtmxHttpRequest, query: str, *, refresh: bool = False, kind: str = "", after: str = ""
) -> dict:
    """The status screen: the first page of each table (or, without JavaScript, the page of
    ``kind`` that follows ``after``), with the counts of everything that matches."""
    sync = mirror.mirror_refresh(force=refresh)
    account = get_client().account
    result = selectors.status_search(account=account, query=query)
    if kind and after:
        page = selectors.status_page(
            account=account, query=query, custom=kind == "custom", after=after
        )
        result = replace(result, **{f"{kind}_page": page})
    can_edit = can_edit_statuses(request.user)
    created = request.GET.get("created", "")
    now = timezone.now()
    return {
        "q": query,
        "result": result,
        "after": {kind: after} if kind and after else {},
        "custom_rows": _page_rows(request, result.custom_page, can_edit, created=created),
        "custom_count": result.custom_total,
        "custom_more": _more(query, "custom", result.custom_page),
        "system_rows": _page_rows(request, result.system_page, can_edit),
        "system_count": result.system_total,
        "system_more": _more(query, "system", result.system_page),
        "sync": sync,
        "sync_age": selectors.mirror_age_seconds(sync, now),
        "can_edit": can_edit,
        "flag_columns": [(f, FLAG_LABELS[f], FLAG_HINTS[f]) for f in FLAGS],
        "columns": COLUMNS,
    }


def _page_rows(
    request: HtmxHttpRequest, page: selectors.Page, can_edit: bool, *, created: str = ""
) -> SafeString:
    waiting = approvals.pending_for(
        get_client().account, [s.code for s in page.statuses if s.code in page.waiting]
    )
    return rows_html(
        [
            render_row(
                make_row(
                    status,
                    can_edit,
                    highlight=status.code == created,
                    pending=waiting.get(status.code),
                    viewer=request.user.pk,
                ),
                request,
            )
            for status in page.statuses
        ]
    )


def _more(query: str, kind: str, page: selectors.Page) -> dict | None:
    """The link to the next page of a table: followed as it scrolls into view, or clicked."""
    if not page.remaining:
        return None
    return {
        "kind": kind,
        "url": index_url(q=query, kind=kind, after=page.after),
        "next": min(page.remaining, selectors.PAGE_SIZE),
        "remaining": page.remaining,
    }


def search_query(params: QueryDict) -> str:
    """The search text from a query string or a form. NUL is dropped: PostgreSQL can't hold
    it in a SQL string, and no code or name contains one."""
    return params.get("q", "").replace("\x00", "").strip()[:QUERY_MAX_LENGTH]


@require_GET
@permission_required(VIEW_STATUSES, raise_exception=True)
@vary_on_headers("HX-Request")
def index(request: HtmxHttpRequest) -> HttpResponse:
    query = search_query(request.GET)
    kind = request.GET.get("kind", "")
    kind = kind if kind in ("custom", "system") else ""
    after = request.GET.get("after", "").replace("\x00", "")[:QUERY_MAX_LENGTH]
    if wants_partial(request) and kind and after:
        return render(
            request, "statuses/index.html#more", more_context(request, query, kind, after)
        )
    template = "statuses/index.html"
    if wants_partial(request):
        template += "#results"
    return render(request, template, list_context(request, query, kind=kind, after=after))


def more_context(request: HtmxHttpRequest, query: str, kind: str, after: str) -> dict:
    """The next page of one table, as rows that take the place of its "more" link."""
    page = selectors.status_page(
        account=get_client().account, query=query, custom=kind == "custom", after=after
    )
    shown = len(page.statuses)
    return {
        "rows": _page_rows(request, page, can_edit_statuses(request.user)),
        "more": _more(query, kind, page),
        "columns": COLUMNS,
        "announce": (
            f"{shown} more {kind} status{pluralize(shown, 'es')} shown"
            + (f"; {page.remaining} still to come." if page.remaining else "; that is all.")
        ),
    }


@require_POST
@permission_required(VIEW_STATUSES, raise_exception=True)
def refresh(request: HtmxHttpRequest) -> HttpResponse:
    """Refresh the mirror from Convoso now. Reading only, so viewers may do it too."""
    query = search_query(request.POST)
    if not wants_partial(request):
        mirror.mirror_refresh(force=True)
        return redirect(index_url(q=query))
    return render(
        request, "statuses/index.html#results", list_context(request, query, refresh=True)
    )


# --- one row --------------------------------------------------------------------------------------


def current_row(request: HttpRequest, code: str, **kwargs: object) -> Row | None:
    mirror.mirror_refresh()  # a no-op while fresh; fills the mirror on a first visit
    account = get_client().account
    mirrored = selectors.status_get(account=account, code=code)
    if mirrored is None:
        return None
    kwargs.setdefault("pending", approvals.pending_for(account).get(code))
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
        context["custom_rows"] = rows_html([render_row(row, request)] if row else [])
        context["system_rows"] = rows_html([])
        context["custom_count"], context["system_count"] = int(row is not None), 0
        return render(request, "statuses/index.html", context)
    html = render_to_string(
        ROW_TEMPLATE, {"row": row, "gone_code": code, "columns": COLUMNS}, request=request
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
    asked = {
        "actor": request.user,
        "code": code,
        "changes": changes,
        "reason": reason,
        "expected_version": request.GET.get("v") or None,
        "origin": origin_from_request(request),
    }
    try:
        try:
            result = services.status_update(**asked)  # type: ignore[arg-type]
        except services.ApprovalNeeded:
            waiting = approvals.request_update(**asked)  # type: ignore[arg-type]
            row = current_row(request, code, pending=waiting, focus=describe)
            message = row.pending_text if row else ""
            return row_response(request, code, row, toast=message)
    except services.ReasonRequired as exc:
        # The switch asks first (no reason sent); a reason that was sent but isn't one is told.
        submitted = "reason" in request.POST
        row = current_row(
            request, code, mode=Mode.DNC, focus="reason",
            error=exc.message if submitted else "", reason=reason.replace("\x00", ""),
        )  # fmt: skip
        if row is not None:
            row.dnc_target = changes.get("dnc") == "Y"
        return row_response(request, code, row)
    except InvalidInput as exc:
        mode = {"reason": Mode.DNC, "name": Mode.NAME}.get(exc.field, Mode.PLAIN)
        row = current_row(request, code, error=exc.message, mode=mode, reason=reason)
        if row is not None and mode == Mode.DNC:
            row.dnc_target = changes.get("dnc") == "Y"
        return row_response(request, code, row)
    except (errors.ConvosoError, NotSent, approvals.ApprovalError) as exc:
        row = current_row(request, code, error=exc.explanation, focus=describe)
        return row_response(request, code, row)
    before = asdict(result.before) if result.before else None
    summary = describe_changes(before, asdict(result.status), result.changed)
    message = f"Saved {code}: {summary or 'no change was needed'}."
    if result.resolved:
        message += " Convoso's reply was lost; a check afterwards shows the change was made."
    if result.stale:
        message += (
            f" Note: {code} had been changed since your page loaded; the row now shows "
            "the current values."
        )
    row = make_row(result.status, can_edit_statuses(request.user), message=message, focus=describe)
    return row_response(request, code, row, toast=message)


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
        return row_response(request, code, current_row(request, code, mode=Mode.NAME, focus="name"))
    return apply_change(request, code, {"name": request.POST.get("name", "")}, describe="name")


@require_GET
@permission_required(VIEW_STATUSES, raise_exception=True)
def row(request: HtmxHttpRequest, code: str) -> HttpResponse:
    """One row as it stands (used by Cancel); ``focus`` says which control to return focus to."""
    focus = request.GET.get("focus", "")
    if not wants_partial(request):
        return redirect(index_url(q=code, row=code))
    return row_response(request, code, current_row(request, code, focus=focus))


# --- create --------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@permission_required(EDIT_STATUSES, raise_exception=True)
def create(request: HtmxHttpRequest) -> HttpResponse:
    form = StatusCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        asked = {
            "actor": request.user,
            "code": data["code"],
            "name": data["name"],
            "color": data["color"],
            "flags": {f: data[f] for f in FLAGS},
            "reason": data["reason"],
            "origin": origin_from_request(request),
        }
        try:
            try:
                result = services.status_create(**asked)  # type: ignore[arg-type]
            except services.ApprovalNeeded:
                waiting = approvals.request_create(**asked)  # type: ignore[arg-type]
                messages.success(
                    request,
                    f"{waiting.status_code} waits for a second person's approval before it is "
                    "created in Convoso.",
                )
                target = index_url(q=waiting.status_code)
                return HttpResponseClientRedirect(target) if request.htmx else redirect(target)
        except InvalidInput as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        except approvals.ApprovalError as exc:
            form.add_error(None, exc.explanation)
        except (errors.ConvosoError, NotSent) as exc:
            field = getattr(exc, "field", None)
            form.add_error(field if field in form.fields else None, exc.explanation)
        else:
            code = result.status.code
            created = f"Created {code} in Convoso."
            if result.resolved:
                created += " Convoso's reply was lost; a check afterwards shows it was created."
            messages.success(request, created)
            target = index_url(created=code, row=code)
            if request.htmx:
                return HttpResponseClientRedirect(target)
            return redirect(target)
    template = "statuses/create.html"
    if wants_partial(request):
        template += "#form"
    return render(request, template, {"form": form})


# --- revert ---------------------------------------------------------------------------------------


def _revert_changes(entry: AuditEntry, current: Status) -> dict[str, object]:
    """The values ``entry`` replaced that differ from what the status holds now, in the form
    the write service takes (flags as Y/N)."""
    before = entry.before or {}
    changes: dict[str, object] = {}
    for name in EDITABLE_FIELDS:
        if name not in before or before[name] == getattr(current, name):
            continue
        value = before[name]
        changes[name] = ("Y" if value else "N") if name in FLAGS else (value or "")
    return changes


@require_http_methods(["GET", "POST"])
@permission_required(EDIT_STATUSES, raise_exception=True)
def revert(request: HtmxHttpRequest, code: str, pk: int) -> HttpResponse:
    """Put back the values an earlier change replaced: shown first, then sent as a new change
    (approval rules apply as to any change), linked to the entry it reverts."""
    entry = AuditEntry.objects.filter(pk=pk, status_code=code).first()
    row = current_row(request, code)
    if entry is None or not entry.revertible or row is None:
        messages.error(request, f"There is no change of {code} to restore from.")
        return redirect(index_url(q=code))
    changes = _revert_changes(entry, row.status)
    context = {
        "entry": entry,
        "code": code,
        "changes": changes,
        "summary": describe_changes(asdict(row.status), entry.before, list(changes)),
        "version": selectors.status_version(row.status),
        "needs_reason": bool(services.needs_approval(changes)) or "dnc" in changes,
        "error": "",
    }
    if request.method == "GET" or not changes:
        return render(request, "statuses/revert.html", context)
    asked = {
        "actor": request.user,
        "code": code,
        "changes": changes,
        "reason": request.POST.get("reason", ""),
        "expected_version": request.POST.get("v") or None,
        "origin": origin_from_request(request),
        "reverts": entry.pk,
    }
    try:
        try:
            services.status_update(**asked)  # type: ignore[arg-type]
            messages.success(request, f"Restored {code}: {context['summary']}.")
        except services.ApprovalNeeded:
            approvals.request_update(**asked)  # type: ignore[arg-type]
            messages.success(request, f"Restoring {code} waits for a second person's approval.")
    except (InvalidInput, errors.ConvosoError, NotSent, approvals.ApprovalError) as exc:
        context["error"] = services.explain(exc)
        return render(request, "statuses/revert.html", context)
    return redirect(index_url(q=code, row=code))
