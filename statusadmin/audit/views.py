"""Compliance review of the audit log: filter, read, export, and check its integrity."""

from __future__ import annotations

import csv
import io
import tempfile
import uuid
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseBase,
    QueryDict,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.tasks import TaskResultStatus
from django.tasks.exceptions import TaskResultDoesNotExist
from django.urls import reverse
from django.utils import dateformat, timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from statusadmin.accounts.middleware import chosen_zone
from statusadmin.accounts.roles import (
    EDIT_STATUSES,
    EXPORT_AUDIT,
    REVIEW_AUDIT,
    VERIFY_AUDIT,
    VIEW_STATUSES,
)
from statusadmin.convoso.connection import get_client
from statusadmin.convoso.status import EDITABLE_FIELDS, FIELD_LABELS, FLAG_LABELS, FLAGS
from statusadmin.htmx import HtmxHttpRequest, wants_partial
from statusadmin.statuses.models import MirrorStatus
from statusadmin.worker.tasks import verify_audit

from . import charts, evidence, export, history, integrity, keys, selectors, triggers
from .evidence_verifier import fingerprint, key_id, public_key_pem
from .forms import AuditFilterForm, EvidenceForm, MomentForm
from .models import OUTSIDE_ACTOR, Action, AuditEntry, Checkpoint
from .services import IN_FLIGHT_WINDOW


def integrity_context() -> dict[str, object]:
    badge = integrity.badge()
    return {
        # Asked live, not only at the last verification: it is what makes the log append-only.
        "guard_missing": triggers.missing(connection),
        "last_verification": badge.verification,
        "badge": badge,
        "last_checkpoint": Checkpoint.objects.first(),
        "interrupted": selectors.stale_pending_count(older_than=IN_FLIGHT_WINDOW),
        "chain_key_configured": keys.chain_key() is not None,
        **_signing_context(),
    }


def _signing_context() -> dict[str, object]:
    """The signing key's id and every public key, never a private key; or why there are none.

    The web process needs no private key: checkpoints may be signed where the scheduled
    command runs, and then the public keys (AUDIT_PUBLIC_KEYS_DIR) are all it shows.
    """
    try:
        current = keys.signing_public_key()
        public = keys.public_keys()
    except ImproperlyConfigured as exc:
        return {"signing_error": str(exc)}
    return {
        "signing_key_id": key_id(current) if current else "",
        "public_keys": [
            (name, fingerprint(key), public_key_pem(key)) for name, key in sorted(public.items())
        ],
    }


def _filled(params: QueryDict, *, without: str = "") -> dict[str, str]:
    """The parameters that hold something (a form sends its empty fields too)."""
    return {k: v for k, v in params.items() if k != without and isinstance(v, str) and v}


@require_GET
@permission_required(REVIEW_AUDIT, raise_exception=True)
@vary_on_headers("HX-Request")
def audit_list(request: HtmxHttpRequest) -> HttpResponse:
    if not wants_partial(request) and any(v == "" for v in request.GET.values()):
        # The filter form submitted without JavaScript sends every field; keep the address
        # to the filters in use, so it can be read, bookmarked and shared.
        kept = _filled(request.GET)
        return redirect(f"{request.path}?{urlencode(kept)}" if kept else request.path)
    form = AuditFilterForm(request.GET)
    filters = form.filters()
    after = selectors.Cursor.decode(request.GET.get("after", ""))
    page = selectors.entry_page(filters=filters, after=after)
    query = _filled(request.GET, without="after")
    context = {
        "form": form,
        "entries": page.entries,
        "next_url": f"?{urlencode({**query, 'after': page.next_cursor.encode()})}"
        if page.next_cursor
        else "",
        "first_url": f"?{urlencode(query)}" if after else "",
        "export_query": urlencode(query),
        "chart": charts.build(selectors.activity(filters=filters)),
        "can_export": request.user.has_perm(EXPORT_AUDIT),
        "can_verify": request.user.has_perm(VERIFY_AUDIT),
        "evidence_form": EvidenceForm(auto_id="evidence_%s"),
        # A people filter that found nothing: said so, rather than "no entries".
        "nobody": (filters.actor or filters.approved_by) if not page.entries else "",
    }
    if wants_partial(request):
        return render(request, "audit/list.html#results", context)
    context["people"] = selectors.people()
    # The phone's folded filters say how many are in use, so none is forgotten behind the fold.
    context["filters_in_use"] = len(query)
    # The integrity panel is outside the results, so a filter change doesn't redo it.
    return render(request, "audit/list.html", {**context, **integrity_context()})


@require_GET
@permission_required(REVIEW_AUDIT, raise_exception=True)
def audit_detail(request: HttpRequest, pk: int) -> HttpResponse:
    entry = get_object_or_404(selectors.in_account(AuditEntry.objects.all()), pk=pk)
    return render(
        request,
        "audit/detail.html",
        {"entry": entry},
    )


def _export(request: HttpRequest, kind: str) -> StreamingHttpResponse:
    filters = AuditFilterForm(request.GET).filters()
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    if kind == "csv":
        body, content_type = export.csv_chunks(filters), "text/csv; charset=utf-8"
    elif kind == "report":
        body, content_type = export.report_chunks(filters), "text/csv; charset=utf-8"
    else:
        body, content_type = export.jsonl_chunks(filters), "application/x-ndjson; charset=utf-8"
    response = StreamingHttpResponse(body, content_type=content_type)
    name = f"audit-report-{stamp}.csv" if kind == "report" else f"audit-{stamp}.{kind}"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@require_GET
@permission_required(EXPORT_AUDIT, raise_exception=True)
def export_report(request: HttpRequest) -> StreamingHttpResponse:
    return _export(request, "report")


@require_GET
@permission_required(EXPORT_AUDIT, raise_exception=True)
def export_csv(request: HttpRequest) -> StreamingHttpResponse:
    return _export(request, "csv")


@require_GET
@permission_required(EXPORT_AUDIT, raise_exception=True)
def export_jsonl(request: HttpRequest) -> StreamingHttpResponse:
    return _export(request, "jsonl")


@require_POST
@permission_required(REVIEW_AUDIT, raise_exception=True)
def verify_now(request: HtmxHttpRequest) -> HttpResponse:
    """Verify the chain: at once for an administrator; for compliance, queued for the worker
    (a long chain takes a while, and a web request shouldn't hold a process for it). Either
    way only a Verification is written: no audit entry is changed."""
    queued = None
    if request.user.has_perm(VERIFY_AUDIT):
        integrity.run_verification(
            ran_by=request.user.get_username(), checkpoints=integrity.checkpoint_path()
        )
    else:
        queued = verify_audit.enqueue(ran_by=request.user.get_username())
    if wants_partial(request):
        return _integrity_panel(request, queued=queued)
    if queued is not None:
        messages.info(request, f"{QUEUED} Reload this page in a moment to see its result.")
    return redirect("audit:list")


QUEUED = "Verification queued…"


@require_GET
@permission_required(REVIEW_AUDIT, raise_exception=True)
def verification_result(request: HtmxHttpRequest, result_id: uuid.UUID) -> HttpResponse:
    """The panel while a queued verification waits (it asks again), then with its result."""
    try:
        result = verify_audit.get_result(str(result_id))
    except TaskResultDoesNotExist:
        raise Http404("No such verification.") from None
    if not result.is_finished:
        return _integrity_panel(request, queued=result)
    failed = result.status == TaskResultStatus.FAILED
    return _integrity_panel(request, verification_failed=failed)


def _integrity_panel(request: HtmxHttpRequest, **extra: object) -> HttpResponse:
    context = {
        **integrity_context(),
        "can_verify": request.user.has_perm(VERIFY_AUDIT),
        "can_export": request.user.has_perm(EXPORT_AUDIT),
        "evidence_form": EvidenceForm(auto_id="evidence_%s"),
        "queued_text": QUEUED,
        **extra,
    }
    return render(request, "audit/list.html#integrity", context)


@require_GET
@permission_required(EXPORT_AUDIT, raise_exception=True)
def evidence_bundle(request: HttpRequest) -> HttpResponseBase:
    """The evidence bundle of a period, built in a temporary file (memory stays bounded
    however long the period) and streamed from it."""
    form = EvidenceForm(request.GET)
    if not form.is_valid():
        return HttpResponseBadRequest(
            "Choose the period's first and last day, the first not after the last.",
            content_type="text/plain; charset=utf-8",
        )
    date_from, date_to = form.cleaned_data["date_from"], form.cleaned_data["date_to"]
    # Not a with-block: the response closes the file when sent, which removes it.
    target = tempfile.TemporaryFile()  # noqa: SIM115
    try:
        evidence.write_bundle(target, date_from, date_to)
    except BaseException:
        target.close()
        raise
    target.seek(0)
    return FileResponse(
        target,
        as_attachment=True,
        filename=f"{evidence.folder_name(date_from, date_to)}.zip",
        content_type="application/zip",
    )


@require_GET
@permission_required(VIEW_STATUSES, raise_exception=True)
def status_history(request: HttpRequest, code: str) -> HttpResponse:
    """Every recorded change of one status, newest first (supervisors may see this too)."""
    after = selectors.Cursor.decode(request.GET.get("after", ""))
    account = get_client().account
    page = selectors.code_history(account=account, code=code, after=after)
    periods = history.timelines(account=account, code=code)
    setters = _setters({p.entry for kept in periods.values() for p in kept})
    timelines = [
        (FIELD_LABELS[name], [(p, setters.get(p.entry)) for p in periods[name]])
        for name in EDITABLE_FIELDS
        if periods[name]
    ]
    return render(
        request,
        "audit/history.html",
        {
            "code": code,
            "timelines": timelines if not after else [],
            "entries": page.entries,
            "next_url": f"?{urlencode({'after': page.next_cursor.encode()})}"
            if page.next_cursor
            else "",
            "can_review": request.user.has_perm(REVIEW_AUDIT),
            "can_revert": request.user.has_perm(EDIT_STATUSES),
        },
    )


# --- the catalogue at a moment --------------------------------------------------------------------

CATALOGUE_PAGE = 100
# The columns of the table, in the status screen's order, with their labels.
CATALOGUE_COLUMNS = [("name", "Name"), ("color", "Colour"), *((f, FLAG_LABELS[f]) for f in FLAGS)]


@dataclass(frozen=True)
class _Asked:
    """What the moment form asks, once valid: the catalogue at one moment, or the differences
    between two, filtered by code or name."""

    zone: ZoneInfo
    first: history.CatalogueAt
    second: history.CatalogueAt | None = None
    differences: list[history.Difference] | None = None


def _moment_of(request: HttpRequest) -> tuple[MomentForm, _Asked | None]:
    form = MomentForm(request.GET or None)
    if not form.is_bound or not form.is_valid():
        return form, None
    account = get_client().account
    later = list(MirrorStatus.objects.filter(account=account).values_list("code", flat=True))
    data = form.cleaned_data
    needle = data["q"].strip().casefold()

    def at(moment: datetime) -> history.CatalogueAt:
        found = history.catalogue_at(account=account, at=moment, later=later)
        kept = [
            s for s in found.statuses
            if not needle or needle in f"{s.code} {s.fields.get('name') or ''}".casefold()
        ]  # fmt: skip
        return history.CatalogueAt(account, found.at, kept)

    first = at(data["at"])
    if not data.get("compare"):
        return form, _Asked(data["tz"], first)
    second = at(data["compare"])
    return form, _Asked(data["tz"], first, second, history.compare(first, second))


@dataclass(frozen=True)
class _Setter:
    """The entry that gave a value, as a cell or a timeline links to it."""

    url: str
    who: str  # "set by sue", "asked by sue, approved by april", ...
    when: str  # its completion, on the reader's clock


def _setters(seqs: set[int], zone: ZoneInfo | None = None) -> dict[int, _Setter]:
    """The entries that set the values shown, by seq: one query for the page, and each link
    and its words made once per entry (a page of 100 statuses has 900 cells)."""
    entries = AuditEntry.objects.filter(seq__in=seqs).only(
        "id", "seq", "completed_at", "actor_username", "requested_by", "action",
    )  # fmt: skip
    setters = {}
    for entry in entries:
        if entry.action == Action.CATALOGUE_COPY:
            who = "as first copied from Convoso"
        elif entry.actor_username == OUTSIDE_ACTOR:
            who = "set outside the dashboard"
        elif entry.requested_by:
            who = f"asked by {entry.requested_by}, approved by {entry.actor_username}"
        else:
            who = f"set by {entry.actor_username}"
        when = dateformat.format(timezone.localtime(entry.completed_at, zone), "j M Y H:i")
        setters[entry.seq or 0] = _Setter(reverse("audit:detail", args=[entry.pk]), who, when)
    return setters


def _page_of_differences(
    differences: list[history.Difference], page: int
) -> tuple[list[history.Difference], bool]:
    """The differences of one page of statuses (CATALOGUE_PAGE of them: a status's are never
    split), and whether more follow. Two moments years apart differ in nearly every status."""
    codes = sorted({d.code for d in differences})
    shown = set(codes[(page - 1) * CATALOGUE_PAGE : page * CATALOGUE_PAGE])
    return [d for d in differences if d.code in shown], page * CATALOGUE_PAGE < len(codes)


@require_GET
@permission_required(REVIEW_AUDIT, raise_exception=True)
def catalogue(request: HttpRequest) -> HttpResponse:
    """What every status said at a moment (and, asked, what differed at another), each value
    linked to the entry that set it."""
    form, asked = _moment_of(request)
    context: dict[str, object] = {
        "form": form, "columns": CATALOGUE_COLUMNS, "asked": asked,
        "default_zone": settings.TIME_ZONE, "chosen_zone": getattr(chosen_zone(request), "key", ""),
    }  # fmt: skip
    if asked is not None:
        page = max(1, _int(request.GET.get("page"), 1))
        if asked.differences is not None:
            context["differences"], more = _page_of_differences(asked.differences, page)
        else:
            shown = asked.first.statuses[(page - 1) * CATALOGUE_PAGE : page * CATALOGUE_PAGE]
            setters = _setters({seq for s in shown for seq in s.set_by.values()}, asked.zone)
            fields = [name for name, _ in CATALOGUE_COLUMNS]
            context["rows"] = [
                (s, [(s.fields.get(f), setters.get(s.set_by.get(f, -1))) for f in fields])
                for s in shown
            ]
            more = page * CATALOGUE_PAGE < len(asked.first.statuses)
        if more:
            query = _filled(request.GET, without="page")
            context["next_url"] = f"?{urlencode({**query, 'page': str(page + 1)})}"
    if asked is not None:
        query = _filled(request.GET, without="page")
        context["csv_url"] = f"{reverse('audit:catalogue_csv')}?{urlencode(query)}"
    return render(request, "audit/catalogue.html", context)


@require_GET
@permission_required(REVIEW_AUDIT, raise_exception=True)
def catalogue_csv(request: HttpRequest) -> HttpResponse:
    """What the screen shows, as CSV: the catalogue, or the differences between two moments."""
    _, asked = _moment_of(request)
    if asked is None:
        return HttpResponseBadRequest("Give a moment (at) to download the catalogue of.")
    if asked.differences is not None:
        header = ["status", "field", "at the first moment", "at the second moment"]
        cells = [[d.code, d.field or "(exists)", d.before, d.after] for d in asked.differences]
    else:
        header = list(history.CSV_COLUMNS)
        rows = history.as_rows(asked.first)
        cells = [[row.get(c) for c in history.CSV_COLUMNS] for row in rows]
    buffer = io.StringIO()
    buffer.write(export.BOM)
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    # Names and codes come from Convoso: a cell that starts like a formula is made text.
    writer.writerows([export.guard("" if c is None else str(c)) for c in line] for line in cells)
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    moment = asked.first.at.astimezone(asked.zone).strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="catalogue-{moment}.csv"'
    return response


def _int(text: str | None, default: int) -> int:
    try:
        return int(text or default)
    except ValueError:
        return default
