"""The audit log: one row per write attempt (and per change seen outside the dashboard).

Append-only on three levels: the ORM refuses updates and deletes (only a pending entry may be
completed, once), database triggers refuse them (triggers.py), and every completed entry is
linked into a SHA-256 hash chain (chain.py), tagged with the chain key when one is configured,
whose head is checkpointed (and signed) outside the database.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC
from functools import cached_property
from typing import Any, NamedTuple

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from statusadmin.convoso.status import (
    FIELD_LABELS,
    FLAGS,
    SENSITIVE_FIELDS,
    VALUE_FIELDS,
    addressable,
    describe_changes,
    describe_field,
)


class AuditLogIsAppendOnly(Exception):
    """An attempt to change or delete an audit entry."""


class Outcome(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    REJECTED = "rejected", "Rejected"
    FAILED = "failed", "Failed"
    UNKNOWN = "unknown", "Unknown"
    OBSERVED = "observed", "Observed"  # a change made outside the dashboard, seen at a sync
    # A step of the four-eyes workflow (a request, a decision): nothing was sent to Convoso.
    RECORDED = "recorded", "Recorded"
    # A save whose values Convoso already held: nothing was sent (statuses/services.py).
    UNCHANGED = "unchanged", "No change"
    # An approval the dashboard held back because the status changed since the request: the
    # approver must look and confirm ("Approve anyway"). Nothing was sent; nothing was refused.
    TO_CONFIRM = "to_confirm", "Not sent: needs confirmation"


class Action(models.TextChoices):
    CREATE = "create", "Create"
    UPDATE = "update", "Update"
    EXTERNAL_CREATE = "external_create", "Created outside the dashboard"
    EXTERNAL_UPDATE = "external_update", "Changed outside the dashboard"
    EXTERNAL_REMOVE = "external_remove", "Removed outside the dashboard"
    # What a later read of Convoso showed about an attempt whose reply was lost.
    RESOLVE = "resolve", "Outcome checked"
    # The four-eyes workflow (approvals/services.py); the change itself, once approved, is an
    # ordinary CREATE or UPDATE naming both people.
    REQUEST = "request", "Change requested"
    APPROVE = "approve", "Approved"
    REJECT = "reject", "Rejected"
    WITHDRAW = "withdraw", "Withdrawn"
    EXPIRE = "expire", "Expired"
    # The whole catalogue as the dashboard first copied it: where history starts (history.py).
    CATALOGUE_COPY = "catalogue_copy", "Catalogue copied"
    # Who came and went, and how they proved it (accounts/access_log.py).
    SIGN_IN = "sign_in", "Signed in"
    SIGN_IN_FAILED = "sign_in_failed", "Sign-in failed"
    SIGN_OUT = "sign_out", "Signed out"
    FACTOR_ADDED = "factor_added", "Second factor set up"
    FACTOR_REMOVED = "factor_removed", "Second factor removed"
    FACTOR_FAILED = "factor_failed", "Second factor failed"


# The workflow's steps, as opposed to changes and their outcomes.
DECISIONS = (Action.APPROVE, Action.REJECT, Action.WITHDRAW, Action.EXPIRE)
# Entries about people's access, not about a status.
ACCESS = (
    Action.SIGN_IN, Action.SIGN_IN_FAILED, Action.SIGN_OUT,
    Action.FACTOR_ADDED, Action.FACTOR_REMOVED, Action.FACTOR_FAILED,
)  # fmt: skip
# How the person behind an entry proved who they are (auth_method), in words.
AUTH_METHODS = {"password": "password", "oidc": "single sign-on"}


OUTSIDE_ACTOR = "outside the dashboard"
# The dashboard itself, for what nobody did by hand (a change request expiring).
DASHBOARD_ACTOR = "the dashboard"

# What an entry records when the attempt begins; completing it must leave these as they were.
FIXED_AT_START = (
    "created_at",
    "actor_user_id",
    "actor_username",
    "remote_ip",
    "user_agent",
    "request_id",
    "account",
    "action",
    "status_code",
    "requested",
    "reason",
    "request_ref",
    "requested_by",
    "approval_note",
    "reverts_ref",
    "change_set_ref",
    "auth_method",
    "auth_issuer",
    "auth_subject",
    "second_factor",
    "approved_by",
)
# What completing it adds.
OUTCOME_FIELDS = (
    "completed_at",
    "before",
    "after",
    "changed_fields",
    "outcome",
    "error_code",
    "error_message",
    "failure_kind",
    "note",
)


@dataclass(frozen=True, slots=True)
class FieldDiff:
    """One field of an entry: what it was, what was asked for, what it became."""

    name: str
    label: str
    before: object
    requested: object
    after: object
    changed: bool
    sensitive: bool


class AuditEntryQuerySet(models.QuerySet["AuditEntry"]):
    def touching(self, field: str) -> AuditEntryQuerySet:
        """Entries that changed ``field``: one LIKE on ``touched``, on every database.

        A create records every field as changed; for a flag it counts only when the status
        was created with the flag on ("DNC changed" is not every create with DNC off).
        """
        changed = models.Q(touched__contains=f" {field} ")
        if field in FLAGS:
            changed &= ~(models.Q(action=Action.CREATE) & ~models.Q(**{f"after__{field}": True}))
        # The four-eyes steps of a change of that field: the request (which asks for it)
        # and its decisions, which changed nothing themselves.
        asked = AuditEntry.objects.filter(action=Action.REQUEST, requested__has_key=field)
        steps = models.Q(action=Action.REQUEST, requested__has_key=field) | models.Q(
            action__in=DECISIONS,
            request_ref__in=asked.exclude(request_ref=None).values("request_ref"),
        )
        return self.filter(changed | steps)

    def approved_by(self, usernames: Iterable[str]) -> AuditEntryQuerySet:
        """Approvers' approvals, and the changes sent by their approval (of a request or of a
        change set; before approved_by was recorded, a request's change named its approver
        as its actor)."""
        names = list(usernames)
        return self.filter(
            models.Q(approved_by__in=names)
            | models.Q(actor_username__in=names, action=Action.APPROVE)
            | models.Q(
                actor_username__in=names, approved_by="", request_ref__isnull=False,
                action__in=[Action.CREATE, Action.UPDATE],
            )
        )  # fmt: skip

    def awaiting_approval(self) -> AuditEntryQuerySet:
        """Change requests with no decision (approval, rejection, withdrawal, expiry) yet."""
        decided = AuditEntry.objects.filter(action__in=DECISIONS, request_ref__isnull=False)
        return self.filter(action=Action.REQUEST).exclude(
            request_ref__in=decided.values("request_ref")
        )

    def update(self, **kwargs: Any) -> int:
        raise AuditLogIsAppendOnly("Audit entries can't be updated.")

    def bulk_update(self, *args: Any, **kwargs: Any) -> int:
        raise AuditLogIsAppendOnly("Audit entries can't be updated.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AuditLogIsAppendOnly("Audit entries can't be deleted.")

    def _complete_pending(self, pk: int, **fields: Any) -> int:
        """The one permitted change: a pending entry receives its outcome, once."""
        pending = self.filter(pk=pk, outcome=Outcome.PENDING)
        return models.QuerySet.update(pending, **fields)


class FourEyes(NamedTuple):
    requested_by: str
    approved_by: str
    note: str


class AuditEntry(models.Model):
    # When the attempt began (server clock, UTC) and when its outcome was recorded.
    created_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    # Copied so the record outlives the user, and hashed: the chain covers who acted, while
    # the foreign key may only ever go from this id to NULL (when the user is deleted).
    actor_user_id = models.BigIntegerField(null=True, blank=True)
    # Copied so the record outlives the user; OUTSIDE_ACTOR for changes seen at a sync.
    actor_username = models.CharField(max_length=150)
    remote_ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    # Which Convoso account (a fingerprint of API URL and token, never the token).
    account = models.CharField(max_length=32)

    action = models.CharField(max_length=20, choices=Action.choices)
    status_code = models.CharField(max_length=64)
    before = models.JSONField(null=True, blank=True)  # read fresh from Convoso
    requested = models.JSONField(default=dict, blank=True)
    after = models.JSONField(null=True, blank=True)
    changed_fields = models.JSONField(default=list, blank=True)
    # " name dnc ": the same list as text, so "touched DNC" is one LIKE on every database.
    touched = models.CharField(max_length=200, blank=True, editable=False)
    reason = models.TextField(blank=True)

    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    error_code = models.IntegerField(null=True, blank=True)
    error_message = models.TextField(blank=True)
    failure_kind = models.CharField(max_length=20, blank=True)
    note = models.TextField(blank=True)
    # The four-eyes workflow: which change request this entry belongs to; on the change that
    # was sent after approval, who asked (the actor is the approver) and the approver's note
    # (``reason`` is the requester's).
    request_ref = models.BigIntegerField(null=True, blank=True)
    requested_by = models.CharField(max_length=150, blank=True, default="", db_default="")
    approval_note = models.TextField(blank=True, default="", db_default="")
    # Who approved the change this entry sends (a request's approver, who is also its actor;
    # or the approver of the change set it belongs to, whose planner is its actor).
    approved_by = models.CharField(max_length=150, blank=True, default="", db_default="")
    # A change that puts back the values an earlier entry replaced: that entry's id.
    reverts_ref = models.BigIntegerField(null=True, blank=True)
    # A change made as part of a change set (a bulk edit or an import): the set's id.
    change_set_ref = models.BigIntegerField(null=True, blank=True)
    # How the person proved who they are, as their session knew it: "password" or "oidc" (with
    # the identity provider's issuer and subject), and "passed" or "not passed" for a second
    # factor in that session. Empty when nobody signed in acted (the dashboard, the worker).
    auth_method = models.CharField(max_length=20, blank=True, default="", db_default="")
    auth_issuer = models.CharField(max_length=255, blank=True, default="", db_default="")
    auth_subject = models.CharField(max_length=255, blank=True, default="", db_default="")
    second_factor = models.CharField(max_length=10, blank=True, default="", db_default="")
    # For a RESOLVE entry: the attempt (outcome unknown) whose result it records.
    resolves = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="resolutions"
    )

    # The chain: position, the previous entry's hash, and this entry's hash. Set on completion.
    seq = models.BigIntegerField(null=True, blank=True, unique=True)
    prev_hash = models.CharField(max_length=64, blank=True)
    hash = models.CharField(max_length=64, blank=True)
    # HMAC-SHA256 of ``hash`` with the chain key (audit/keys.py), set on completion; empty for
    # entries written while no chain key was configured.
    mac = models.CharField(max_length=64, blank=True, default="", db_default="")

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        verbose_name = "audit entry"
        verbose_name_plural = "audit entries"
        ordering = ["-created_at", "-id"]
        # Keyset pagination walks (created_at, id) backwards, alone or after one equality filter.
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="audit_time_idx"),
            # The catalogue's rebuild: the last entry done by a moment (audit/history.py).
            models.Index(fields=["completed_at", "seq"], name="audit_done_idx"),
            models.Index(fields=["actor_username", "-created_at", "-id"], name="audit_actor_idx"),
            models.Index(fields=["status_code", "-created_at", "-id"], name="audit_code_idx"),
            models.Index(fields=["outcome", "-created_at", "-id"], name="audit_outcome_idx"),
            models.Index(fields=["action", "-created_at", "-id"], name="audit_action_idx"),
        ]
        permissions = [
            ("export_auditentry", "Can export the audit log"),
            ("verify_auditentry", "Can run the audit chain verification"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq or '-'} {self.action} {self.status_code} by {self.actor_username}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AuditLogIsAppendOnly("Audit entries can't be changed once written.")
        self.touched = touched_text(self.changed_fields)
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("audit:detail", args=[self.pk])

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AuditLogIsAppendOnly("Audit entries can't be deleted.")

    @property
    def is_external(self) -> bool:
        return self.action.startswith("external_")

    @property
    def history_url(self) -> str:
        """The history of this entry's status; empty when its code can't be part of a URL
        (a code made outside the dashboard may hold any characters)."""
        if not addressable(self.status_code):
            return ""
        return reverse("audit:status_history", args=[self.status_code])

    @property
    def revertible(self) -> bool:
        """A change that took effect, with the values it replaced: they can be put back."""
        took_effect = (self.action, self.outcome) in {
            (Action.UPDATE, Outcome.SUCCEEDED),
            (Action.RESOLVE, Outcome.SUCCEEDED),
            (Action.EXTERNAL_UPDATE, Outcome.OBSERVED),
        }
        return took_effect and bool(self.before) and bool(self.changed_fields)

    @cached_property
    def summary(self) -> str:
        """What changed, in the dashboard's one wording (status.describe_changes); for an entry
        about access, what it was about."""
        if self.action == Action.CATALOGUE_COPY:
            copied = len((self.after or {}).get("catalogue", []))
            return f"{copied} status{'es' if copied != 1 else ''} as Convoso held them"
        if self.action in ACCESS:
            detail = self.requested or {}
            if "factor" in detail:
                return str(detail["factor"]).capitalize()
            method = AUTH_METHODS.get(str(detail.get("method", "")), "")
            return (f"With {method}" if method else "") + (
                " (break-glass)" if detail.get("break_glass") else ""
            )
        if self.action == Action.REQUEST or (self.action in DECISIONS and self.requested):
            # What was asked for: the request's change, against the status as it stood then.
            asked = self.requested or {}
            return describe_changes(self.before, {**(self.before or {}), **asked}, list(asked))
        return describe_changes(self.before, self.after, self.changed_fields or [])

    @cached_property
    def four_eyes(self) -> FourEyes:
        """Who asked, who approved and the approver's note, whichever step this entry is:
        the request (its actor asked), the decision (its actor decided; ``reason`` holds the
        note), or the change sent after approval (before approved_by was recorded, a
        request's change named its approver as its actor)."""
        if self.action == Action.REQUEST:
            return FourEyes(self.requested_by or self.actor_username, "", "")
        if self.action == Action.APPROVE:
            return FourEyes(self.requested_by, self.actor_username, self.reason)
        if self.action in DECISIONS:
            return FourEyes(self.requested_by, "", self.reason)
        approver = self.approved_by or (
            self.actor_username if self.request_ref and self.requested_by else ""
        )
        return FourEyes(self.requested_by, approver, self.approval_note if approver else "")

    @cached_property
    def trail(self) -> list[tuple[str, str]]:
        """The four-eyes trail as the list shows it on the entry, each part with its link (or
        ""): requested by, approved by, the request (its trail in the list), the change set."""
        people = self.four_eyes
        parts = [
            (f"requested by {people.requested_by}", "") if people.requested_by else None,
            (f"approved by {people.approved_by}", "") if people.approved_by else None,
            (f"request {self.request_ref}", f"?request={self.request_ref}")
            if self.request_ref else None,
            (
                f"change set {self.change_set_ref}",
                reverse("statuses:change_set", args=[self.change_set_ref]),
            ) if self.change_set_ref else None,
        ]  # fmt: skip
        return [part for part in parts if part is not None]

    @property
    def proof_text(self) -> str:
        """How the person proved who they were, in a few words ("" for the dashboard):
        "single sign-on, second factor"."""
        method = AUTH_METHODS.get(self.auth_method, "")
        if not method:
            return ""
        return method + (", second factor" if self.second_factor == "passed" else "")

    @cached_property
    def summary_html(self) -> SafeString:
        """The summary for the list, each colour change with its two swatches."""
        if self.before is None or not self.changed_fields:
            return format_html("{}", self.summary or "—")  # access entries too
        before, after = self.before or {}, self.after or {}
        return format_html_join(
            ", ",
            "{}",
            (
                (_colour_change(before.get(name), after.get(name)),)
                if name == "color"
                else (describe_field(name, before.get(name), after.get(name)),)
                for name in self.changed_fields
            ),
        )

    @property
    def explanation(self) -> str:
        """Why an attempt didn't take effect, in plain words (Convoso's reason, or ours)."""
        return self.error_message if self.outcome != Outcome.SUCCEEDED else ""

    @cached_property
    def sensitive(self) -> bool:
        """DNC or Final changed, or a status was created with DNC or Final on."""
        if self.before is None and self.after:
            return any(self.after.get(f) for f in SENSITIVE_FIELDS)
        return bool(SENSITIVE_FIELDS & set(self.changed_fields or []))

    def diff(self) -> list[FieldDiff]:
        """Every field the entry recorded a value for, in display order."""
        before, after = self.before or {}, self.after or {}
        requested = self.requested or {}
        changed = set(self.changed_fields or [])
        return [
            FieldDiff(
                name,
                FIELD_LABELS[name],
                before.get(name),
                requested.get(name),
                after.get(name),
                name in changed,
                name in SENSITIVE_FIELDS and name in changed,
            )
            for name in VALUE_FIELDS
            if name in before or name in after or name in requested
        ]

    # Worked out here, not by template filters: a few thousand lines of date formatting cost
    # more than the rest of an export. In UTC, as every export is.
    @property
    def when_text(self) -> str:
        return self.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _swatch(colour: object) -> SafeString:
    if not colour:
        return format_html("{}", "none")
    return format_html(
        '<svg class="swatch-inline" width="12" height="12" aria-hidden="true"><rect width="12" '
        'height="12" rx="2" fill="{}" stroke="#0004"/></svg>{}',
        colour,
        colour,
    )


def _colour_change(old: object, new: object) -> SafeString:
    return format_html("{} {} → {}", FIELD_LABELS["color"], _swatch(old), _swatch(new))


def touched_text(fields: list[str] | None) -> str:
    return f" {' '.join(fields)} " if fields else ""


class CatalogueSnapshot(models.Model):
    """The catalogue of an account as the log's replay left it after entry ``seq``
    (audit/history.py): a cache, derived from the log, which a question about a moment starts
    from instead of the log's first entry. Never a source of truth: deleting every snapshot
    loses nothing, and the tests check them against a replay from the start."""

    account = models.CharField(max_length=32)
    seq = models.BigIntegerField()
    # The latest completion among the entries it rests on: it answers for moments from then.
    upto_at = models.DateTimeField()
    state = models.JSONField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "seq"], name="catalogue_snapshot_once")
        ]
        indexes = [models.Index(fields=["account", "upto_at", "seq"], name="catalogue_snapshot_at")]

    def __str__(self) -> str:
        return f"{self.account} after entry {self.seq}"


class Checkpoint(models.Model):
    """A copy of a chain head that was also written outside the database (see the command).

    A signed copy is as good as the file's line: nobody without the signing key can forge
    one. An unsigned copy proves nothing, since whoever can rewrite the log can rewrite it.
    """

    created_at = models.DateTimeField(auto_now_add=True)
    seq = models.BigIntegerField()
    hash = models.CharField(max_length=64)
    location = models.CharField(max_length=500, blank=True)
    # The rest of the checkpoint as written and signed (empty on copies made before signing).
    at = models.CharField(max_length=40, blank=True, default="", db_default="")
    count = models.BigIntegerField(null=True, blank=True)
    keyed = models.BooleanField(default=False, db_default=False)
    key_id = models.CharField(max_length=16, blank=True, default="", db_default="")
    signature = models.CharField(max_length=100, blank=True, default="", db_default="")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"checkpoint {self.seq} at {self.created_at}"


class Verification(models.Model):
    """The result of one run of the chain verification, for the integrity panel."""

    class State(models.TextChoices):
        INTACT = "intact", "Intact"
        # Consistent as far as the database shows, but no checkpoint kept outside it covers
        # the log: a cut tail or a recomputed chain would not show.
        UNANCHORED = "unanchored", "Not checkpointed"
        # Consistent, but the database no longer refuses changes to entries.
        UNGUARDED = "unguarded", "Unguarded"
        # Consistent as far as could be checked, but something couldn't be: entries tagged
        # with the chain key while no key is configured here, or checkpoints signed with a key
        # whose public half is unknown.
        UNCHECKED = "unchecked", "Not fully checked"
        TAMPERED = "tampered", "Tampered"

    ran_at = models.DateTimeField(auto_now_add=True)
    ran_by = models.CharField(max_length=150, blank=True)
    # The chain is consistent (state is not TAMPERED); the state says how far that goes.
    ok = models.BooleanField()
    state = models.CharField(max_length=12, choices=State.choices, default=State.INTACT)
    covered_seq = models.BigIntegerField(default=0)
    checked = models.BigIntegerField(default=0)
    head_seq = models.BigIntegerField(null=True, blank=True)
    first_bad_seq = models.BigIntegerField(null=True, blank=True)
    message = models.TextField(blank=True)

    class Meta:
        ordering = ["-ran_at"]

    def __str__(self) -> str:
        return f"verification {'ok' if self.ok else 'FAILED'} at {self.ran_at}"

    @property
    def plain_message(self) -> str:
        """The result for a compliance officer: what it means, without the commands and
        settings the full message names for administrators."""
        checked = f"{self.checked} entr{'y' if self.checked == 1 else 'ies'}"
        State = self.State
        if self.state == State.TAMPERED:
            where = f", first at entry {self.first_bad_seq}" if self.first_bad_seq else ""
            return (
                f"The log was changed after it was written{where}. Keep this page's details "
                "and tell an administrator; the evidence bundle shows the auditor the same."
            )
        if self.state == State.UNANCHORED:
            return (
                f"{checked} follow each other and match their hashes, but no checkpoint kept "
                "outside the database covers the newest ones yet."
            )
        if self.state == State.UNGUARDED:
            return (
                f"{checked} follow each other and match their hashes, but the database no "
                "longer refuses changes to them. An administrator must put the guard back."
            )
        if self.state == State.UNCHECKED:
            return (
                f"{checked} are consistent as far as this server can check; part of the "
                "evidence needs a key that is not available here."
            )
        covered = ""
        if self.covered_seq:
            covered = f", up to entry {self.covered_seq} confirmed by a checkpoint"
        return f"{checked} follow each other and match their hashes{covered}."
