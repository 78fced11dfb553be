"""The four-eyes screens: the approvers' list and its decisions, and a requester's withdrawal.

Request flow only; the workflow itself is services.py.
"""

from __future__ import annotations

from dataclasses import asdict

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from statusadmin.accounts.middleware import KEPT_DECISION
from statusadmin.accounts.roles import APPROVE_CHANGES, VIEW_STATUSES
from statusadmin.audit.services import NotSent
from statusadmin.changesets import selectors as changesets
from statusadmin.convoso import errors, tenancy
from statusadmin.convoso.connection import get_client
from statusadmin.convoso.status import describe_changes
from statusadmin.convoso.validation import InvalidInput
from statusadmin.htmx import HtmxHttpRequest, wants_partial
from statusadmin.request_context import origin_from_request
from statusadmin.statuses import mirror
from statusadmin.statuses import selectors as statuses
from statusadmin.statuses.models import MirrorStatus
from statusadmin.statuses.services import explain
from statusadmin.statuses.views import current_row, row_response

from . import selectors
from . import services as approvals
from .models import ChangeRequest


def _card(
    request: ChangeRequest, mirrored: MirrorStatus | None, viewer: int | None, **extra: object
) -> dict[str, object]:
    """One pending request as an approver sees it, with what Convoso holds now (the mirror,
    refreshed at most MIRROR_MAX_AGE ago) and whether that differs from what was asked on."""
    before = request.before or {}
    now = mirrored.to_status() if mirrored else None
    now_values = asdict(now) if now else {}
    drift = []
    if request.kind == ChangeRequest.Kind.UPDATE and now is not None:
        drift = [f for f in before if f != "code" and now_values.get(f) != before.get(f)]
    return {
        "request": request,
        "change": request.description,
        "now": now,
        "drift": describe_changes(before, now_values, drift) if drift else "",
        "age": timezone.now() - request.requested_at,
        "own": request.requested_by_id == viewer,
        **extra,
    }


def _list(request: HtmxHttpRequest, **focus: object) -> HttpResponse:
    approvals.expire_overdue()
    # A decision that waited for the second factor: what was typed, back in its form.
    kept = request.session.pop(KEPT_DECISION, None) or {}
    if kept.get("user") != request.user.pk:
        kept = {}
    mirror.mirror_refresh()
    account = get_client().account
    waiting = selectors.waiting_list(account)
    # One query for every status shown, not one per request.
    mirrored = statuses.statuses_get(account=account, codes={r.status_code for r in waiting})
    cards = [
        _card(
            r,
            mirrored.get(r.status_code),
            request.user.pk,
            **(focus if focus.get("pk") == r.pk else {}),
            **_kept_for(r, kept),
        )
        for r in waiting
    ]
    change_sets = changesets.waiting_for_approval(account)
    return render(request, "approvals/list.html", {"cards": cards, "change_sets": change_sets})


def _kept_for(request: ChangeRequest, kept: dict[str, str]) -> dict[str, str]:
    path = kept.get("path")
    if path == reverse("statuses:approve", args=[request.pk]):
        return {"approve_note": kept.get("note", ""), "confirm": kept.get("confirmed", "")}
    if path == reverse("statuses:reject", args=[request.pk]):
        return {"reject_note": kept.get("note", "")}
    return {}


@require_GET
@permission_required(APPROVE_CHANGES, raise_exception=True)
def approval_list(request: HtmxHttpRequest) -> HttpResponse:
    return _list(request)


@require_POST
@permission_required(APPROVE_CHANGES, raise_exception=True)
def approve(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    get_object_or_404(tenancy.scoped(ChangeRequest.objects.all()), pk=pk)
    try:
        result = approvals.approve(
            request_id=pk,
            approver=request.user,
            note=request.POST.get("note", ""),
            confirmed_version=request.POST.get("confirmed", ""),
            origin=origin_from_request(request),
        )
    except approvals.StaleApproval as exc:
        # The note typed stays in the form, for the "Approve anyway" that sends it.
        note = request.POST.get("note", "")
        return _list(request, pk=pk, error=exc.explanation, confirm=exc.version, approve_note=note)
    except (approvals.ApprovalError, NotSent, errors.ConvosoError, InvalidInput) as exc:
        return _list(request, pk=pk, error=explain(exc))
    messages.success(request, f"Approved: {result.status.code} was changed in Convoso.")
    return redirect("statuses:approvals")


@require_POST
@permission_required(APPROVE_CHANGES, raise_exception=True)
def reject(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    get_object_or_404(tenancy.scoped(ChangeRequest.objects.all()), pk=pk)
    try:
        rejected = approvals.reject(
            request_id=pk,
            approver=request.user,
            note=request.POST.get("note", ""),
            origin=origin_from_request(request),
        )
    except InvalidInput as exc:
        return _list(request, pk=pk, reject_error=exc.message)
    except approvals.ApprovalError as exc:
        return _list(request, pk=pk, error=exc.explanation)
    messages.success(request, f"Rejected: nothing was sent for {rejected.status_code}.")
    return redirect("statuses:approvals")


@require_POST
@permission_required(VIEW_STATUSES, raise_exception=True)
def withdraw(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The requester takes their request back; the row shows the status as it stands."""
    waiting = get_object_or_404(tenancy.scoped(ChangeRequest.objects.all()), pk=pk)
    code = waiting.status_code
    try:
        approvals.withdraw(request_id=pk, actor=request.user, origin=origin_from_request(request))
    except approvals.ApprovalError as exc:
        if not code:
            messages.error(request, exc.explanation)
            return redirect("statuses:index")
        return row_response(request, code, current_row(request, code, error=exc.explanation))
    message = f"Withdrawn: nothing will be sent for {code}."
    row = current_row(request, code, message=message, pending=None)
    if not wants_partial(request):
        messages.success(request, message)
    return row_response(request, code, row, toast=message)


@require_GET
@permission_required(VIEW_STATUSES, raise_exception=True)
def my_requests(request: HtmxHttpRequest) -> HttpResponse:
    """What the person asked for and what became of it, so a request can be found again."""
    now = timezone.now()
    mine = [
        {
            "request": r,
            "change": r.description,
            # Expiry is applied lazily (by the worker): past its time, it no longer waits.
            "waiting": r.state == ChangeRequest.State.PENDING and r.expires_at > now,
        }
        for r in selectors.asked_by(request.user.pk)
    ]
    return render(request, "approvals/mine.html", {"mine": mine})


@require_GET
@permission_required(VIEW_STATUSES, raise_exception=True)
def notices(request: HtmxHttpRequest) -> HttpResponse:
    return render(
        request, "approvals/notices.html", {"notices": selectors.notices(request.user.pk)}
    )


@require_POST
@permission_required(VIEW_STATUSES, raise_exception=True)
def read_notices(request: HtmxHttpRequest) -> HttpResponse:
    """Marks the person's notices in this account as read (they stay in the list)."""
    approvals.read_notices(user_id=request.user.pk)
    return redirect("statuses:notices")
