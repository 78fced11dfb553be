"""E-mail about change requests: approvers hear of a new one, the requester of its outcome.

Sent after the transaction commits, and never allowed to fail the request or decision that
caused it: a mail server that is down is logged, not shown as an error.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.mail import send_mail
from django.db.models import Q, QuerySet
from django.urls import reverse

from statusadmin.accounts.roles import APPROVE_CHANGES, APPROVER
from statusadmin.changesets.models import ChangeSet
from statusadmin.convoso import tenancy

from .models import ChangeRequest, Notice

logger = logging.getLogger(__name__)
_APP, _CODENAME = APPROVE_CHANGES.split(".")
PERMISSION = Q(codename=_CODENAME, content_type__app_label=_APP)


def _page(account_key: str, name: str, *args: object) -> str:
    """The page ``name`` of that account (a worker has no request whose URLconf would say
    which account: tenancy.Account.url does)."""
    path = reverse(name, args=args, urlconf=settings.ROOT_URLCONF)
    account = tenancy.by_key(account_key, enabled_only=False)
    return account.url(path) if account else path


def _path(request: ChangeRequest, name: str) -> str:
    return _page(request.account, name)


def _link(request: ChangeRequest, name: str) -> str:
    """The same page in full, for an e-mail."""
    return settings.SITE_URL.rstrip("/") + _path(request, name)


def _notify(user_ids: list[int], account: str, text: str, path: str) -> None:
    """The in-app notice, for the badge; like the e-mail, it never fails the workflow."""
    try:
        Notice.objects.bulk_create(
            Notice(user_id=pk, account=account, text=text, link=path) for pk in user_ids
        )
    except Exception:  # a database hiccup after the decision committed: logged, not shown
        logger.warning("notice not saved: %s", text, exc_info=True)


def _set_path(change_set: ChangeSet) -> str:
    return _page(change_set.account, "statuses:change_set", change_set.pk)


def change_set_waits(change_set: ChangeSet) -> None:
    """Approvers hear that a change set waits for one of them."""
    ids = approver_users(change_set.account, change_set.created_by_id).values_list("pk", flat=True)
    text = (
        f"{change_set.created_by_username} asks for approval of change set {change_set.pk}: "
        f"{change_set.title}"
    )
    _notify(list(ids), change_set.account, text, _set_path(change_set))


def change_set_decided(change_set: ChangeSet) -> None:
    """The planner hears what the second person decided."""
    if change_set.created_by_id is None:
        return
    verdict = "rejected" if change_set.state == ChangeSet.State.REJECTED else "approved"
    text = (
        f"Your change set {change_set.pk} ({change_set.title}) was {verdict} by "
        f"{change_set.decided_by_username}"
    )
    text += f": “{change_set.decision_note}”" if change_set.decision_note else ""
    _notify([change_set.created_by_id], change_set.account, text, _set_path(change_set))


def _send(subject: str, body: str, to: list[str]) -> None:
    if not to:
        return
    try:
        send_mail(subject, body, None, to)
    except Exception:  # any failure of the mail server: the workflow goes on without it
        logger.warning("approval e-mail not sent: %s", subject, exc_info=True)


def approvers(account: str, excluding: int | None) -> list[str]:
    """Addresses of everyone who may approve in ``account`` (admins included), but the
    requester."""
    users = approver_users(account, excluding).exclude(email="")
    return sorted(set(users.values_list("email", flat=True)))


def approver_users(account: str, excluding: int | None) -> QuerySet[User]:
    """Everyone who may approve in ``account`` (admins included), but the requester: in the
    default account by their groups, in another by their role there."""
    users = get_user_model().objects.filter(is_active=True)
    default = tenancy.default_account()
    if account == default.key:
        may = Q(user_permissions__in=_permission_ids()) | Q(
            groups__permissions__in=_permission_ids()
        )
    else:
        may = Q(convoso_memberships__account__slug=account, convoso_memberships__role=APPROVER)
    users = users.filter(Q(is_superuser=True) | may)
    if excluding is not None:
        users = users.exclude(pk=excluding)
    return users.distinct()


def _permission_ids() -> list[int]:
    from django.contrib.auth.models import Permission

    return list(Permission.objects.filter(PERMISSION).values_list("pk", flat=True))


def request_arrived(request: ChangeRequest) -> None:
    asks = f"{request.requested_by_username} asks for a change to {request.status_code}"
    ids = list(
        approver_users(request.account, request.requested_by_id).values_list("pk", flat=True)
    )
    _notify(
        ids, request.account, f"{asks}: {request.description}", _path(request, "statuses:approvals")
    )
    _send(
        f"Approval needed: {request.status_code} ({request.description})",
        f"{request.requested_by_username} asks for a change to {request.status_code} in "
        f"Convoso: {request.description}.\n\nReason: {request.reason}\n\n"
        f"Approve or reject it at {_link(request, 'statuses:approvals')}\n"
        f"It expires at {request.expires_at:%Y-%m-%d %H:%M %Z} if nobody decides.\n",
        approvers(request.account, excluding=request.requested_by_id),
    )


def decided(request_id: int) -> None:
    request = ChangeRequest.objects.select_related("requested_by").get(pk=request_id)
    who = request.requested_by
    if who is None:
        return
    by = f" by {request.decided_by_username}" if request.decided_by_username else ""
    state = request.get_state_display().lower()
    outcome = f"Your change to {request.status_code} ({request.description}) was {state}{by}"
    outcome += f": “{request.decision_note}”" if request.decision_note else ""
    outcome += f" ({request.failure})" if request.failure else ""
    _notify([who.pk], request.account, outcome, _path(request, "statuses:my_requests"))
    if not who.email:
        return
    note = f"\n\nNote: {request.decision_note}" if request.decision_note else ""
    failure = f"\n\n{request.failure}" if request.failure else ""
    _send(
        f"{request.status_code}: your change was {request.get_state_display().lower()}",
        f"Your change to {request.status_code} ({request.description}) was "
        f"{state}{by}.{note}{failure}\n",
        [who.email],
    )
