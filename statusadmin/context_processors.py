from django.http import HttpRequest

from statusadmin.accounts.roles import can_approve
from statusadmin.convoso import tenancy


def convoso(request: HttpRequest) -> dict[str, object]:
    """Lets every page show the sandbox banner, the Convoso account in use with the others the
    person may switch to, and approvers how many changes wait for them (in that account)."""
    account = tenancy.current()
    user = getattr(request, "user", None)
    context: dict[str, object] = {
        "sandbox_mode": account.is_sandbox,
        "convoso_account": account,
        # Called by the template only where the header shows it (not by htmx fragments).
        "usable_accounts": lambda: tenancy.usable_by(user) if user is not None else [],
    }
    if user is not None and user.is_authenticated:
        from statusadmin.approvals import selectors as notices

        # Called only where the header shows it: never on an htmx fragment (a search keystroke).
        context["notices_unread"] = lambda: notices.unread_notices(user.pk)
    if user is not None and user.is_authenticated and can_approve(user):
        from statusadmin.approvals import selectors as approvals
        from statusadmin.changesets import selectors as changesets

        context["can_approve"] = True
        # Counted only where the header shows it, like the notices: an approver's keystrokes
        # ran these two counts for fragments that never show them.
        context["approvals_waiting"] = lambda: (
            approvals.waiting_count() + changesets.waiting_count()
        )
    return context
