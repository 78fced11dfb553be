"""The supervisor screen: the catalogue with live search, in-place edits and the create form.

One page template (statuses/index.html) holds the named partials: ``results`` (the lists and
the sync state) and ``row`` (one status). htmx requests get a partial; the same URLs without
JavaScript get the full page, so every action also works as a plain form post. How things
look is rows.py; what is sent is services.py (through approvals, for changes that wait for a
second person).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect, reswap, retarget

from statusadmin.accounts.roles import EDIT_STATUSES, VIEW_STATUSES, can_edit_statuses
from statusadmin.approvals import services as approvals
from statusadmin.approvals.models import ChangeRequest
from statusadmin.audit.models import AuditEntry
from statusadmin.audit.services import NotSent
from statusadmin.convoso import errors, tenancy
from statusadmin.convoso.connection import get_client
from statusadmin.convoso.status import FLAGS
from statusadmin.convoso.validation import COLOR_MESSAGE, InvalidInput
from statusadmin.htmx import HtmxHttpRequest, wants_partial
from statusadmin.request_context import origin_from_request

from . import mirror, rows, selectors, services
from .forms import QUERY_MAX_LENGTH, StatusCreateForm, search_query
from .rows import Mode, Row, current_row, index_url

# What a change can end in that the person is shown in plain words beside what caused it.
REFUSED = (errors.ConvosoError, NotSent, approvals.ApprovalError)


def list_context(
    request: HtmxHttpRequest, query: str, *, refresh: bool = False, kind: str = "", after: str = ""
) -> dict[str, Any]:
    """The status screen (rows.table_context), with how fresh the mirror is."""
    sync = mirror.mirror_refresh(force=refresh)
    context = rows.table_context(
        request=request, account=get_client().account, can_edit=can_edit_statuses(request.user),
        query=query, kind=kind, after=after, created=request.GET.get("created", ""),
    )  # fmt: skip
    context["sync"] = sync
    context["sync_age"] = selectors.mirror_age_seconds(sync, timezone.now())
    return context


@require_GET
@permission_required(VIEW_STATUSES, raise_exception=True)
@vary_on_headers("HX-Request")
def index(request: HtmxHttpRequest) -> HttpResponse:
    query = search_query(request.GET)
    kind = request.GET.get("kind", "")
    kind = kind if kind in ("custom", "system") else ""
    after = request.GET.get("after", "").replace("\x00", "")[:QUERY_MAX_LENGTH]
    if wants_partial(request) and kind and after:
        context = rows.more_context(
            request=request, account=get_client().account, can_edit=can_edit_statuses(request.user),
            query=query, kind=kind, after=after,
        )  # fmt: skip
        return render(request, "statuses/index.html#more", context)
    template = "statuses/index.html"
    if wants_partial(request):
        template += "#results"
    return render(request, template, list_context(request, query, kind=kind, after=after))


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


Undo = dict[str, object] | None  # rows.undo: the message bar's Undo, if any


def row_response(
    request: HtmxHttpRequest, code: str, row: Row | None, *, toast: str = "", undo: Undo = None
) -> HttpResponse:
    """The row partial (htmx) or, without JavaScript, the full page showing that row."""
    if not wants_partial(request):
        if row is not None and not row.error and not row.mode:
            if row.message:
                messages.success(request, row.message)
            return rows.back_to_list(request, code)
        context = list_context(request, code)
        context["custom_rows"] = rows.rows_html([rows.render_row(row, request)] if row else [])
        context["system_rows"] = rows.rows_html([])
        context["custom_count"], context["system_count"] = int(row is not None), 0
        return render(request, "statuses/index.html", context)
    html = render_to_string(
        rows.ROW_TEMPLATE, {"row": row, "gone_code": code, "columns": rows.COLUMNS}, request=request
    )
    if toast:
        context = {"toast": toast, "undo": undo}
        html += render_to_string("statuses/index.html#toast", context, request=request)
    # The row says where it goes, whichever control asked (a switch posts the table's form).
    return reswap(retarget(HttpResponse(html), f"#row-{code}"), "outerHTML")


def apply_change(
    request: HtmxHttpRequest, code: str, changes: dict[str, object], *, describe: str
) -> HttpResponse:
    """Send one change (or ask for it, if it needs a second person); show the row as it is."""
    reason = request.POST.get("reason", "")
    try:
        outcome = approvals.change_or_request(
            actor=request.user, code=code, changes=changes, reason=reason,
            expected_version=request.GET.get("v") or None, origin=origin_from_request(request),
        )  # fmt: skip
    except InvalidInput as exc:
        # A DNC change asks for its reason first (nothing sent); a reason that was sent but
        # isn't one, and any other broken rule, is told in the row.
        asked_first = isinstance(exc, services.ReasonRequired) and "reason" not in request.POST
        mode = {"reason": Mode.DNC, "name": Mode.NAME}.get(exc.field, Mode.PLAIN)
        row = current_row(
            request, code, mode=mode, error="" if asked_first else exc.message,
            reason=reason.replace("\x00", ""), focus="reason" if mode == Mode.DNC else "",
        )  # fmt: skip
        if row is not None and mode == Mode.DNC:
            row.dnc_target = changes.get("dnc") == "Y"
        return row_response(request, code, row)
    except REFUSED as exc:
        return row_response(
            request, code, current_row(request, code, error=exc.explanation, focus=describe)
        )
    if isinstance(outcome, ChangeRequest):
        row = current_row(request, code, pending=outcome, focus=describe)
        return row_response(request, code, row, toast=row.pending_text if row else "")
    message = rows.saved_message(code, outcome)
    row = rows.make_row(
        outcome.status, can_edit_statuses(request.user), message=message, focus=describe
    )
    return row_response(request, code, row, toast=message, undo=rows.undo(row, outcome))


@require_POST
@permission_required(EDIT_STATUSES, raise_exception=True)
def set_flag(request: HtmxHttpRequest, code: str) -> HttpResponse:
    """Set one flag to Y or N (the switch sends the state it wants, not "toggle")."""
    flags = [f for f in FLAGS if f in request.POST]
    if len(flags) != 1 or request.POST[flags[0]] not in ("Y", "N"):
        return HttpResponseBadRequest("Send exactly one flag, as Y or N.")
    flag, value = flags[0], request.POST[flags[0]]
    if flag in rows.CONFIRM_FLAGS and request.POST.get("confirmed") != "1":
        # Nothing sent: the row asks first, with the reason typed so far.
        row = current_row(
            request, code, mode=Mode.CONFIRM, confirm_flag=flag, confirm_target=value == "Y",
            reason=request.POST.get("reason", "").replace("\x00", ""),
        )  # fmt: skip
        return row_response(request, code, row)
    return apply_change(request, code, {flag: value}, describe=flag)


@require_POST
@permission_required(EDIT_STATUSES, raise_exception=True)
def set_color(request: HtmxHttpRequest, code: str) -> HttpResponse:
    color = request.POST.get("color", "").strip()
    if not color:
        return row_response(request, code, current_row(request, code, error=COLOR_MESSAGE))
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
    if not wants_partial(request):
        return redirect(index_url(q=code, row=code))
    return row_response(
        request, code, current_row(request, code, focus=request.GET.get("focus", ""))
    )


# --- create and revert ----------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@permission_required(EDIT_STATUSES, raise_exception=True)
def create(request: HtmxHttpRequest) -> HttpResponse:
    form = StatusCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            outcome = approvals.create_or_request(
                actor=request.user, code=data["code"], name=data["name"], color=data["color"],
                flags={f: data[f] for f in FLAGS}, reason=data["reason"],
                origin=origin_from_request(request),
            )  # fmt: skip
        except (InvalidInput, *REFUSED) as exc:
            field = getattr(exc, "field", None)
            form.add_error(field if field in form.fields else None, services.explain(exc))
        else:
            target, done = rows.created(outcome)
            messages.success(request, done)
            return HttpResponseClientRedirect(target) if request.htmx else redirect(target)
    template = "statuses/create.html"
    if wants_partial(request):
        template += "#form"
    return render(request, template, {"form": form})


@require_http_methods(["GET", "POST"])
@permission_required(EDIT_STATUSES, raise_exception=True)
def revert(request: HtmxHttpRequest, code: str, pk: int) -> HttpResponse:
    """Put back the values an earlier change replaced: shown first, then sent as a new change
    (approval rules apply as to any change), linked to the entry it reverts."""
    # Another account's entry (or none) is a 404: nothing says whether that id exists.
    entry = get_object_or_404(tenancy.scoped(AuditEntry.objects.all()), pk=pk, status_code=code)
    row = current_row(request, code)
    if not entry.revertible or row is None:
        messages.error(request, f"There is no change of {code} to restore from.")
        return redirect(index_url(q=code))
    context = rows.revert_context(entry, row.status)
    changes = context["changes"]
    if request.method == "GET" or not changes:
        return render(request, "statuses/revert.html", context)
    try:
        outcome = approvals.change_or_request(
            actor=request.user, code=code, changes=changes, reverts=entry.pk,
            reason=request.POST.get("reason", ""), expected_version=request.POST.get("v") or None,
            origin=origin_from_request(request),
        )  # fmt: skip
    except (InvalidInput, *REFUSED) as exc:
        context["error"] = services.explain(exc)
        return render(request, "statuses/revert.html", context)
    if isinstance(outcome, ChangeRequest):
        messages.success(request, f"Restoring {code} waits for a second person's approval.")
    else:
        messages.success(request, f"Restored {code}: {context['summary']}.")
    return redirect(index_url(q=code, row=code))
