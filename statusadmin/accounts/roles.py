"""The dashboard's roles, as Django groups with permissions. Views check permissions, not group
names, so an admin can grant a single permission to one person without inventing a new role."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser, Group, Permission, User

SUPERVISOR = "Supervisor"
COMPLIANCE = "Compliance"
APPROVER = "Approver"

VIEW_STATUSES = "statuses.view_mirrorstatus"
EDIT_STATUSES = "statuses.edit_status"
REVIEW_AUDIT = "audit.view_auditentry"
EXPORT_AUDIT = "audit.export_auditentry"
APPROVE_CHANGES = "approvals.approve_changerequest"
# Not given to any group: running the verification is for admins (superusers).
VERIFY_AUDIT = "audit.verify_auditentry"

# Superusers (admins) hold every permission implicitly.
ROLE_PERMISSIONS: dict[str, list[str]] = {
    SUPERVISOR: [VIEW_STATUSES, EDIT_STATUSES],
    COMPLIANCE: [VIEW_STATUSES, REVIEW_AUDIT, EXPORT_AUDIT],
    APPROVER: [VIEW_STATUSES, APPROVE_CHANGES],
}


def can_view_statuses(user: User | AnonymousUser) -> bool:
    return user.has_perm(VIEW_STATUSES)


def can_edit_statuses(user: User | AnonymousUser) -> bool:
    return user.has_perm(EDIT_STATUSES)


def editor_now(user_id: int | None) -> User | None:
    """The person with this id as the database has them now, if they still may change
    statuses: work sent later in someone's name (an approved request, a change set in the
    worker) is sent only while they could still send it themselves."""
    user = User.objects.filter(pk=user_id, is_active=True).first() if user_id else None
    return user if user is not None and can_edit_statuses(user) else None


def may_use(user: User | AnonymousUser, account: Any) -> bool:
    """Whether the person has any role in ``account`` (a tenancy.Account; the backend
    answers for it: accounts/backends.py)."""
    return user.has_perm(VIEW_STATUSES, account)


def can_approve(user: User | AnonymousUser) -> bool:
    return user.has_perm(APPROVE_CHANGES)


def ensure_roles() -> None:
    """Create the role groups with their permissions if missing (the migration does this first;
    this repairs a database where a group was deleted or flushed)."""
    for role, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        for perm in perms:
            app_label, codename = perm.split(".")
            group.permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
