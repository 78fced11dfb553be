"""The pages shown when something can't be done: in the site's layout, in plain words, with
where to go instead. Django's default handlers would show a bare line of text."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from statusadmin.accounts.roles import VIEW_STATUSES

# What a refused page is for, by the part of the site it belongs to (its URL namespace and
# name), so the page can say who may use it instead of only "forbidden".
_FOR_WHOM = {
    "audit": "The audit log is for compliance officers and administrators.",
    "statuses:decide_change_set": "Deciding a change set is for approvers.",
    "statuses:approvals": "Approving changes is for approvers.",
    "statuses:approve": "Approving changes is for approvers, and never for whoever asked.",
    "statuses:reject": "Rejecting changes is for approvers.",
    "admin": "The admin pages are for administrators.",
    "statuses": "Changing statuses is for supervisors: you can look, but not change.",
}


def _refused_because(request: HttpRequest, exception: Exception) -> str:
    if str(exception):  # a refusal that says why itself
        return str(exception)
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and not user.has_perm(VIEW_STATUSES):
        return "Your account has no role yet: an administrator can give it one."
    match = getattr(request, "resolver_match", None)
    for key in (match.view_name if match else "", match.namespace if match else ""):
        if key in _FOR_WHOM:
            return _FOR_WHOM[key]
    return "Your account doesn't have permission for this page."


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    return render(request, "403.html", {"reason": _refused_because(request, exception)}, status=403)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    # No context processors: whatever broke might be one of them.
    from django.template import loader

    return HttpResponse(loader.get_template("500.html").render(), status=500)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return render(request, "403_csrf.html", status=403)
