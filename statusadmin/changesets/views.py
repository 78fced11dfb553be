"""Change sets on screen: the catalogue export, an import, a bulk edit or a copy from another
account planned for review, then applied in the background with live progress. Request flow
only (services.py works)."""

from __future__ import annotations

from collections.abc import Iterator

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.contrib.auth.models import User
from django.core.paginator import Paginator
from django.http import (
    Http404,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseBase,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from statusadmin.accounts.middleware import kept_decision
from statusadmin.accounts.roles import APPROVE_CHANGES, EDIT_STATUSES, VIEW_STATUSES, may_use
from statusadmin.convoso import tenancy
from statusadmin.convoso.connection import get_client
from statusadmin.convoso.status import FLAG_LABELS, FLAGS, Status
from statusadmin.convoso.validation import InvalidInput, clean_color
from statusadmin.htmx import HtmxHttpRequest, wants_partial
from statusadmin.request_context import origin_from_request
from statusadmin.statuses import mirror
from statusadmin.statuses.forms import search_query
from statusadmin.statuses.services import explain

from . import catalogue, rows, selectors
from . import services as changesets
from .forms import ImportForm
from .models import ChangeSet, ChangeSetItem


def _catalogue(request: HtmxHttpRequest) -> Iterator[Status]:
    mirror.mirror_refresh()
    return selectors.catalogue(account=get_client().account, query=search_query(request.GET))


def _download(response: HttpResponseBase, extension: str) -> HttpResponseBase:
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="statuses-{stamp}.{extension}"'
    return response


@require_GET
@permission_required(VIEW_STATUSES, raise_exception=True)
def export_csv(request: HtmxHttpRequest) -> HttpResponseBase:
    rows = catalogue.export_csv(_catalogue(request))
    return _download(StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8"), "csv")


@require_GET
@permission_required(VIEW_STATUSES, raise_exception=True)
def export_json(request: HtmxHttpRequest) -> HttpResponseBase:
    body = catalogue.export_json(_catalogue(request))
    return _download(HttpResponse(body, content_type="application/json; charset=utf-8"), "json")


@require_http_methods(["GET", "POST"])
@permission_required(EDIT_STATUSES, raise_exception=True)
def import_catalogue(request: HtmxHttpRequest) -> HttpResponse:
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            change_set = changesets.plan_import(
                actor=request.user, data=upload.read(), filename=upload.name
            )
        except catalogue.UnreadableFile as exc:
            form.add_error("file", str(exc))
        else:
            return redirect("statuses:change_set", change_set.pk)
    return render(request, "changesets/import.html", {"form": form})


@require_POST
@permission_required(EDIT_STATUSES, raise_exception=True)
def bulk(request: HtmxHttpRequest) -> HttpResponse:
    """Plan one change for every selected status: a flag on or off, or a colour."""
    codes = [c for c in request.POST.getlist("codes") if c]
    action = request.POST.get("action", "")
    if not codes:
        messages.error(request, "Select at least one status first.")
        return redirect("statuses:index")
    if action in FLAGS and request.POST.get("value") in ("Y", "N"):
        on = request.POST["value"] == "Y"
        changes: dict[str, object] = {action: on}
        title = f"{FLAG_LABELS[action]} {'on' if on else 'off'} for {len(codes)} statuses"
    elif action == "color":
        try:
            changes = {"color": clean_color(request.POST.get("color", ""))}
        except InvalidInput as exc:
            messages.error(request, exc.message)
            return redirect("statuses:index")
        if changes["color"] is None:
            messages.error(request, "Choose a colour.")
            return redirect("statuses:index")
        title = f"Colour {changes['color']} for {len(codes)} statuses"
    else:
        return HttpResponseBadRequest("Choose what to change: a flag on or off, or a colour.")
    change_set = changesets.plan_bulk(actor=request.user, codes=codes, changes=changes, title=title)
    return redirect("statuses:change_set", change_set.pk)


def _copy_source(key: str, user: User) -> tenancy.Account:
    """The account a copy reads from: one the person has a role in, other than the one in use.
    Any other is a 404, the same as an account that doesn't exist, so nobody learns of an
    account they have no role in."""
    source = tenancy.by_key(key) if key else None
    if source is None or source.key == tenancy.current().key or not may_use(user, source):
        raise Http404("No such account to copy from.")
    return source


@require_GET
@permission_required(EDIT_STATUSES, raise_exception=True)
@vary_on_headers("HX-Request")
def compare(request: HtmxHttpRequest) -> HttpResponse:
    """The statuses another account (the source) holds otherwise than the one in use, to pick
    from for a copy here."""
    current = tenancy.current()
    sources = [a for a in tenancy.usable_by(request.user) if a.key != current.key]
    key = request.GET.get("from", "")
    source = _copy_source(key, request.user) if key else None
    comparison = None
    if source is not None:
        with tenancy.use(source):
            mirror.mirror_refresh()
        mirror.mirror_refresh()
        comparison = selectors.copy_compare(source=source, target=current)
    template = "changesets/compare.html"
    if wants_partial(request):
        template += "#differences"
    context = {"sources": sources, "source": source, "comparison": comparison}
    return render(request, template, context)


@require_POST
@permission_required(EDIT_STATUSES, raise_exception=True)
def plan_copy(request: HtmxHttpRequest) -> HttpResponse:
    source = _copy_source(request.POST.get("from", ""), request.user)
    codes = [c for c in request.POST.getlist("codes") if c]
    back = f"{reverse('statuses:compare')}?from={source.key}"
    if not codes:
        messages.error(request, "Select at least one status to copy.")
        return redirect(back)
    try:
        change_set = changesets.plan_copy(
            actor=request.user, source=source, codes=codes, reason=request.POST.get("reason", "")
        )
    except (changesets.ChangeSetError, InvalidInput) as exc:
        messages.error(request, explain(exc))
        return redirect(back)
    return redirect("statuses:change_set", change_set.pk)


@require_GET
@permission_required(VIEW_STATUSES, raise_exception=True)
def change_set_page(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    change_set = get_object_or_404(tenancy.scoped(ChangeSet.objects.all()), pk=pk)
    template = "changesets/change_set.html"
    if wants_partial(request):
        template += "#progress"
        return render(request, template, _context(request, change_set))
    # A decision that waited for the second factor: what was typed, back in its form.
    kept = kept_decision(request, reverse("statuses:decide_change_set", args=[pk]))
    return render(request, template, _context(request, change_set, kept=kept))


def _context(request: HtmxHttpRequest, change_set: ChangeSet, **extra: object) -> dict:
    items = list(change_set.items.all())
    shown = [i for i in items if i.plan != ChangeSetItem.Plan.UNCHANGED]
    return {
        "change_set": change_set,
        "counts": selectors.counts(change_set),
        "items": rows.lines(change_set, shown),
        "unchanged": [i.code for i in items if i.plan == ChangeSetItem.Plan.UNCHANGED],
        "handed_over": change_set.state in rows.HANDED_OVER,
        "mine": change_set.created_by_id == request.user.pk,
        "live": change_set.state in (ChangeSet.State.QUEUED, ChangeSet.State.RUNNING),
        "can_approve": request.user.has_perm(APPROVE_CHANGES)
        and change_set.created_by_id != request.user.pk,
        "needs_reason": changesets.reason_still_needed(change_set),
        **extra,
    }


def _with_error(request: HtmxHttpRequest, change_set: ChangeSet, exc: Exception) -> HttpResponse:
    context = _context(request, change_set, error=explain(exc))
    return render(request, "changesets/change_set.html", context)


@require_POST
@permission_required(EDIT_STATUSES, raise_exception=True)
def apply(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    change_set = get_object_or_404(tenancy.scoped(ChangeSet.objects.all()), pk=pk)
    try:
        changesets.apply(
            change_set_id=pk,
            actor=request.user,
            reason=request.POST.get("reason", ""),
            origin=origin_from_request(request),
        )
    except (changesets.ChangeSetError, InvalidInput) as exc:
        return _with_error(request, change_set, exc)
    return redirect("statuses:change_set", pk)


@require_POST
@permission_required(EDIT_STATUSES, raise_exception=True)
def discard(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    get_object_or_404(tenancy.scoped(ChangeSet.objects.all()), pk=pk)
    try:
        changesets.discard(change_set_id=pk, actor=request.user)
    except (changesets.ChangeSetError, ChangeSet.DoesNotExist) as exc:
        messages.error(request, getattr(exc, "explanation", "There is no such change set."))
    else:
        messages.success(request, "Discarded: nothing was sent.")
    return redirect("statuses:index")


@require_POST
@permission_required(APPROVE_CHANGES, raise_exception=True)
def decide(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    change_set = get_object_or_404(tenancy.scoped(ChangeSet.objects.all()), pk=pk)
    approve = request.POST.get("decision") == "approve"
    try:
        changesets.decide(
            change_set_id=pk,
            approver=request.user,
            approve=approve,
            note=request.POST.get("note", ""),
            origin=origin_from_request(request),
        )
    except (changesets.ChangeSetError, InvalidInput) as exc:
        return _with_error(request, change_set, exc)
    messages.success(request, "Approved: it is being applied." if approve else "Rejected.")
    return redirect("statuses:change_set", pk)


PAGE_SIZE = 50


@require_GET
@permission_required(VIEW_STATUSES, raise_exception=True)
def change_sets(request: HtmxHttpRequest) -> HttpResponse:
    """Every change set of the account, newest first (?mine=1: the person's own), so a plan
    can be found again after its page was closed."""
    mine = request.GET.get("mine") == "1"
    found = selectors.listed(user_id=request.user.pk if mine else None)
    page = Paginator(found, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "changesets/list.html", {"page": page, "mine": mine})
