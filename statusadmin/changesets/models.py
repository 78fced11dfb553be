"""Change sets: bulk edits, catalogue imports and copies from another account, planned,
reviewed, then applied."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ChangeSet(models.Model):
    """A planned group of changes (a bulk edit, a catalogue import or a copy from another
    account): reviewed, then applied by a background worker (runner.py), each change through
    the one write service, in ``account`` only."""

    class Kind(models.TextChoices):
        BULK = "bulk", "Bulk edit"
        IMPORT = "import", "Catalogue import"
        COPY = "copy", "Copy from another account"

    class State(models.TextChoices):
        PLANNED = "planned", "Planned: nothing sent yet"
        AWAITING_APPROVAL = "awaiting", "Waiting for approval"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Being applied"
        FINISHED = "finished", "Finished"
        REJECTED = "rejected", "Rejected"
        DISCARDED = "discarded", "Discarded"

    account = models.CharField(max_length=32)
    # A copy's source (its key, as ``account``): only read, to plan; nothing is sent to it.
    # Empty for the other kinds: no account's key is "" (Django's rule for text, not NULL).
    source_account = models.CharField(max_length=32, blank=True, default="")
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
