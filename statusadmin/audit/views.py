"""Compliance review of the audit log: filter, read, export, and check its integrity."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC

from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.middleware import HtmxDetails

from statusadmin.accounts.roles import EXPORT_AUDIT, REVIEW_AUDIT, VERIFY_AUDIT, VIEW_STATUSES
from statusadmin.convoso.connection import get_client
from statusadmin.convoso.validation import FLAG_LABELS, FLAGS
from statusadmin.statuses.converters import is_addressable
from statusadmin.statuses.services import IN_FLIGHT_WINDOW

from . import charts, export, integrity, selectors
from .forms import AuditFilterForm
from .models import Action, AuditEntry, Checkpoint, Outcome, Verification


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def wants_partial(request: HtmxHttpRequest) -> bool:
    return bool(request.htmx) and not request.htmx.history_restore_request


FIELD_LABELS = {"name": "Name", "color": "Colour", **FLAG_LABELS, "workflow": "Workflow",
                "custom": "Custom", "code": "Code"}  # fmt: skip
# Changes a compliance officer looks for first: they decide who gets called and who doesn't.
SENSITIVE = {"dnc", "final"}


@dataclass(frozen=True, slots=True)
class FieldDiff:
    name: str
    label: str
    before: object
    requested: object
    after: object
    changed: bool
    sensitive: bool


def entry_diff(entry: AuditEntry) -> list[FieldDiff]:
    before = entry.before or {}
    after = entry.after or {}
    requested = entry.requested or {}
    changed = set(entry.changed_fields or [])
    names = ["name", "color", *FLAGS, "workflow", "custom"]
    return [
        FieldDiff(
            name,
            FIELD_LABELS[name],
            before.get(name),
            requested.get(name),
            after.get(name),
            name in changed,
            name in SENSITIVE and name in changed,
        )
        for name in names
        if name in before or name in after or name in requested
    ]


def change_summary(entry: AuditEntry) -> str:
    """'DNC off → on, name' for a list row; for a new status, the flags it was created with."""
    parts = []
    before, after = entry.before or {}, entry.after or {}
    if entry.before is None and entry.after:
        on = [FIELD_LABELS[f] for f in FLAGS if after.get(f)]
        return "new status" + (f" with {', '.join(on)} on" if on else ", all flags off")
    for name in entry.changed_fields or []:
        if name in FLAGS:
            old, new = before.get(name), after.get(name)
            parts.append(f"{FIELD_LABELS[name]} {_onoff(old)} → {_onoff(new)}")
        else:
            parts.append(FIELD_LABELS.get(name, name).lower())
    return ", ".join(parts)


def _onoff(value: object) -> str:
    if value is True:
        return "on"
    return "off" if value is False else "unset"


@dataclass(frozen=True, slots=True)
class Line:
    """One entry as the list shows it, with its text worked out here rather than by filters
    in the template (fifty rows of date formatting was most of a page's time)."""

    entry: AuditEntry
    summary: str
    sensitive: bool

    @property
    def url(self) -> str:
        return reverse("audit:detail", args=[self.entry.pk])

    @property
    def when_iso(self) -> str:
        return self.entry.created_at.isoformat()

    @property
    def when_text(self) -> str:
        return self.entry.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")

    @property
    def action(self) -> str:
        return Action(self.entry.action).label

    @property
    def outcome(self) -> str:
        return Outcome(self.entry.outcome).label


def is_sensitive(entry: AuditEntry) -> bool:
    """DNC or Final changed, or a status was created with DNC or Final on."""
    if entry.before is None and entry.after:
        return any(entry.after.get(f) for f in SENSITIVE)
    return bool(SENSITIVE & set(entry.changed_fields or []))


def lines(entries: list[AuditEntry]) -> list[Line]:
    return [Line(e, change_summary(e), is_sensitive(e)) for e in entries]


def integrity_context() -> dict[str, object]:
    return {
        "last_verification": Verification.objects.first(),
        "last_checkpoint": Checkpoint.objects.first(),
        "interrupted": selectors.stale_pending_count(older_than=IN_FLIGHT_WINDOW),
    }


@require_GET
@permission_required(REVIEW_AUDIT, raise_exception=True)
@vary_on_headers("HX-Request")
def audit_list(request: HtmxHttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET)
    filters = form.filters()
    after = selectors.Cursor.decode(request.GET.get("after", ""))
    page = selectors.entry_page(filters=filters, after=after)
    query = {k: v for k, v in request.GET.items() if k != "after" and v}
    context = {
        "form": form,
        "lines": lines(page.entries),
        "next_url": f"?{urlencode({**query, 'after': page.next_cursor.encode()})}"
        if page.next_cursor
        else "",
        "first_url": f"?{urlencode(query)}" if after else "",
        "export_query": urlencode(query),
        "chart": charts.build(selectors.activity(filters=filters)),
        "can_export": request.user.has_perm(EXPORT_AUDIT),
        "can_verify": request.user.has_perm(VERIFY_AUDIT),
    }
    if wants_partial(request):
        return render(request, "audit/list.html#results", context)
    # The integrity panel is outside the results, so a filter change doesn't redo it.
    return render(request, "audit/list.html", {**context, **integrity_context()})


@require_GET
@permission_required(REVIEW_AUDIT, raise_exception=True)
def audit_detail(request: HttpRequest, pk: int) -> HttpResponse:
    entry = get_object_or_404(AuditEntry, pk=pk)
    code = entry.status_code
    return render(
        request,
        "audit/detail.html",
        {
            "entry": entry,
            "diff": entry_diff(entry),
            "summary": change_summary(entry),
            # A code made outside the dashboard may hold characters no URL of ours admits.
            "history_url": reverse("audit:status_history", args=[code])
            if is_addressable(code)
            else "",
        },
    )


def _export(request: HttpRequest, kind: str) -> StreamingHttpResponse:
    filters = AuditFilterForm(request.GET).filters()
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    if kind == "csv":
        body, content_type = export.csv_chunks(filters), "text/csv; charset=utf-8"
    else:
        body, content_type = export.jsonl_chunks(filters), "application/x-ndjson; charset=utf-8"
    response = StreamingHttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.{kind}"'
    return response


@require_GET
@permission_required(EXPORT_AUDIT, raise_exception=True)
def export_csv(request: HttpRequest) -> StreamingHttpResponse:
    return _export(request, "csv")


@require_GET
@permission_required(EXPORT_AUDIT, raise_exception=True)
def export_jsonl(request: HttpRequest) -> StreamingHttpResponse:
    return _export(request, "jsonl")


@require_POST
@permission_required(VERIFY_AUDIT, raise_exception=True)
def verify_now(request: HtmxHttpRequest) -> HttpResponse:
    integrity.run_verification(
        ran_by=request.user.get_username(), checkpoints=integrity.checkpoint_path()
    )
    if wants_partial(request):
        return render(
            request, "audit/list.html#integrity", {**integrity_context(), "can_verify": True}
        )
    return redirect("audit:list")


@require_GET
@permission_required(VIEW_STATUSES, raise_exception=True)
def status_history(request: HttpRequest, code: str) -> HttpResponse:
    """Every recorded change of one status, newest first (supervisors may see this too)."""
    after = selectors.Cursor.decode(request.GET.get("after", ""))
    page = selectors.code_history(account=get_client().account, code=code, after=after)
    return render(
        request,
        "audit/history.html",
        {
            "code": code,
            "lines": lines(page.entries),
            "next_url": f"?{urlencode({'after': page.next_cursor.encode()})}"
            if page.next_cursor
            else "",
            "can_review": request.user.has_perm(REVIEW_AUDIT),
        },
    )
