"""The local mirror of the Convoso catalogue, shared by every worker through the database.

Search reads only this table, so typing never calls Convoso. Rows belong to one Convoso account
(``account``, a fingerprint of API URL and token), so switching token never shows one account's
statuses as another's.
"""

from __future__ import annotations

from functools import lru_cache

from django.conf import settings
from django.db import models

from statusadmin.convoso.models import StatusFlags
from statusadmin.convoso.status import FIELDS, VALUE_FIELDS, Status
from statusadmin.convoso.validation import safe_color


class MirrorStatus(StatusFlags):
    # Convoso's own codes are short; a longer one is no real status, and couldn't be indexed.
    CODE_MAX_LENGTH = 64

    account = models.CharField(max_length=32)
    code = models.CharField(max_length=CODE_MAX_LENGTH)
    # Upstream names are untrusted and unbounded: TextField, always escaped when shown.
    name = models.TextField()
    # Lower-cased "code name", so search is one LIKE on one column.
    search_text = models.TextField(editable=False)
    color = models.CharField(max_length=7, blank=True)  # '#RRGGBB', validated, or ''
    workflow = models.CharField(max_length=255, blank=True)
    custom = models.BooleanField(default=False)
    synced_at = models.DateTimeField()

    class Meta:
        verbose_name = "status (mirror)"
        verbose_name_plural = "statuses (mirror)"
        constraints = [
            models.UniqueConstraint(fields=["account", "code"], name="mirror_account_code_uniq")
        ]
        # Every search filters on account and lists custom statuses first, then by code: in
        # this index's order, so the first 200 matches are read without sorting the rest.
        indexes = [models.Index(fields=["account", "-custom", "code"], name="mirror_list_idx")]
        permissions = [("edit_status", "Can create and change Convoso statuses")]

    def __str__(self) -> str:
        return self.code

    # The columns that hold Convoso's values (everything but the key and the sync time).
    VALUE_FIELDS = (*VALUE_FIELDS, "search_text")

    @staticmethod
    def search_text_for(code: str, name: str) -> str:
        return f"{code} {name}".casefold()

    # The columns a Status is read from: its fields, in its own order.
    STATUS_FIELDS = FIELDS

    def to_status(self) -> Status:
        return self.status_from(tuple(getattr(self, f) for f in self.STATUS_FIELDS))

    @staticmethod
    @lru_cache(maxsize=20_000)
    def status_from(values: tuple) -> Status:  # type: ignore[type-arg]
        """A Status from a row of STATUS_FIELDS. Cached (bench: search partial, one character):
        the same row read again, search after search, is the same immutable Status."""
        row = dict(zip(FIELDS, values, strict=True))
        # Re-validated on the way out: only '#RRGGBB' may ever reach a swatch.
        row["color"] = safe_color(row["color"])
        row["workflow"] = row["workflow"] or None
        return Status(**row)

    @classmethod
    def values_from(cls, status: Status) -> dict[str, object]:
        return {
            "name": status.name,
            "search_text": cls.search_text_for(status.code, status.name),
            "color": status.color or "",
            "workflow": (status.workflow or "")[:255],
            "custom": status.custom,
            **status.flags(),
        }


class MirrorSync(models.Model):
    """When the mirror of one account was last refreshed, and how the last attempt went."""

    account = models.CharField(max_length=32, primary_key=True)
    synced_at = models.DateTimeField(null=True)
    attempted_at = models.DateTimeField(null=True)
    last_error = models.TextField(blank=True)
    # A refresh in progress holds this lease, so concurrent workers don't all call Convoso.
    lease_until = models.DateTimeField(null=True)

    def __str__(self) -> str:
        return f"{self.account} synced {self.synced_at}"


class StatusWriteLease(models.Model):
    """On SQLite, who is writing a status right now (see locks.py); PostgreSQL uses advisory
    locks instead. A row lives only while its write does, or until ``expires_at`` if the
    process holding it died."""

    account = models.CharField(max_length=32)
    code = models.CharField(max_length=64)
    holder = models.CharField(max_length=32)
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "code"], name="write_lease_account_code")
        ]

    def __str__(self) -> str:
        return f"{self.account}:{self.code} until {self.expires_at}"


class ChangeRequest(models.Model):
    """A change that waits for a second person before anything is sent to Convoso (four eyes).

    Which fields need it is settings.APPROVAL_FIELDS. Each step (request, approval, rejection,
    withdrawal, expiry) is also an audit entry naming this request (``request_ref``); this row
    is the workflow's current state, which the screens read.
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


class ChangeSet(models.Model):
    """A planned group of changes (a bulk edit or a catalogue import): reviewed, then applied by
    a background worker, each change through the one write service (changesets.py)."""

    class Kind(models.TextChoices):
        BULK = "bulk", "Bulk edit"
        IMPORT = "import", "Catalogue import"

    class State(models.TextChoices):
        PLANNED = "planned", "Planned: nothing sent yet"
        AWAITING_APPROVAL = "awaiting", "Waiting for approval"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Being applied"
        FINISHED = "finished", "Finished"
        REJECTED = "rejected", "Rejected"
        DISCARDED = "discarded", "Discarded"

    account = models.CharField(max_length=32)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    title = models.CharField(max_length=200)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by_username = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PLANNED)
    # Touches a field under APPROVAL_FIELDS: one approval by a second person, for the whole set.
    needs_approval = models.BooleanField(default=False)
    reason = models.TextField(blank=True)
    decided_by_username = models.CharField(max_length=150, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The worker applying it proves it is alive; a stale heartbeat means it died (resumed).
    worker_token = models.CharField(max_length=32, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"change set {self.pk}: {self.title}"


class ChangeSetItem(models.Model):
    """One status in a change set: what the plan found, and what applying it did."""

    class Plan(models.TextChoices):
        CREATE = "create", "Create"
        UPDATE = "update", "Update"
        UNCHANGED = "unchanged", "Unchanged"
        INVALID = "invalid", "Can't be applied"

    class State(models.TextChoices):
        PLANNED = "planned", "Waiting"
        SENDING = "sending", "Being sent"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Nothing to send"

    change_set = models.ForeignKey(ChangeSet, on_delete=models.CASCADE, related_name="items")
    line = models.IntegerField(null=True, blank=True)  # in the imported file
    code = models.CharField(max_length=64)
    plan = models.CharField(max_length=10, choices=Plan.choices)
    # Cleaned, as the write service takes them: only the fields that differ, for an update.
    changes = models.JSONField(default=dict)
    before = models.JSONField(null=True, blank=True)
    problem = models.TextField(blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PLANNED)
    outcome = models.TextField(blank=True)
    entry_id = models.BigIntegerField(null=True, blank=True)  # the audit entry of the write

    class Meta:
        ordering = ["change_set", "id"]
        indexes = [models.Index(fields=["change_set", "state"], name="changeset_item_state")]

    def __str__(self) -> str:
        return f"{self.plan} {self.code}"
