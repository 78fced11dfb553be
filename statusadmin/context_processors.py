from django.http import HttpRequest

from statusadmin.accounts.roles import can_approve
from statusadmin.convoso.connection import is_sandbox


def convoso(request: HttpRequest) -> dict[str, object]:
    """Lets every page show the sandbox banner, and approvers how many changes wait for them."""
    context: dict[str, object] = {"sandbox_mode": is_sandbox()}
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and can_approve(user):
        from statusadmin.approvals import selectors as approvals
        from statusadmin.changesets import selectors as changesets

        context["can_approve"] = True
        context["approvals_waiting"] = approvals.waiting_count() + changesets.waiting_count()
    return context
