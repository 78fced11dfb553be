"""The four-eyes workflow's state: one row per change request."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from statusadmin.convoso.status import describe_changes


class ChangeRequest(models.Model):
    """A change that waits for a second person before anything is sent to Convoso (four eyes).

    Which fields need it is settings.APPROVAL_FIELDS (statuses.services.needs_approval). Each
    step (request, approval, rejection, withdrawal, expiry) is also an audit entry naming this
    request (``request_ref``); this row is the workflow's current state, which the screens read.
    """

    class Kind(models.TextChoices):
        CREATE = "create", "Create"
        UPDATE = "update", "Update"

    class State(models.TextChoices):
        PENDING = "pending", "Waiting for approval"
        APPLIED = "applied", "Approved and sent"
        FAILED = "failed", "Approved, but Convoso did not take it"
        REJECTED = "rejected", "Rejected"
        WITHDRAWN = "withdrawn", "Withdrawn"
        EXPIRED = "expired", "Expired"

    account = models.CharField(max_length=32)
    status_code = models.CharField(max_length=64)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    # What is asked for, cleaned (as the audit log's "requested"); for a create, every field.
    changes = models.JSONField()
    # The status as Convoso had it when the request was made (None for a create).
    before = models.JSONField(null=True, blank=True)
    reason = models.TextField()
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_by_username = models.CharField(max_length=150)
    requested_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_by_username = models.CharField(max_length=150, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)
    # Why an approved change did not reach Convoso (state FAILED).
    failure = models.TextField(blank=True)
    # A revert: the audit entry whose before-values this request puts back.
    reverts_ref = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["requested_at", "id"]
        constraints = [
            # One request at a time per status: a second one waits until the first is decided.
            models.UniqueConstraint(
                fields=["account", "status_code"],
                condition=models.Q(state="pending"),
                name="one_pending_request_per_status",
            )
        ]
        permissions = [("approve_changerequest", "Can approve changes that need a second person")]

    def __str__(self) -> str:
        return f"{self.kind} {self.status_code} ({self.state})"

    @property
    def description(self) -> str:
        """What is asked for, in the one wording of changes: "DNC No → Yes"; a create by the
        flags it would have."""
        if self.kind == self.Kind.CREATE:
            return describe_changes(None, self.changes, [])
        before = self.before or {}
        after = {**before, **self.changes}
        return describe_changes(before, after, [f for f in self.changes if f in after])


class Notice(models.Model):
    """A line in a person's notices (the badge in the navigation): a request waits for them,
    or theirs was decided. Beside e-mail, not instead of it: it reaches people with no
    address, and stays until they have read it."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    account = models.CharField(max_length=32)
    text = models.TextField()
    # A path inside the dashboard (the account's own prefix included), never an outside URL.
    link = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "account", "read_at"], name="notice_unread")]

    def __str__(self) -> str:
        return self.text
