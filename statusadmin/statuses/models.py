"""The local mirror of the Convoso catalogue, shared by every worker through the database.

Search reads only this table, so typing never calls Convoso. Rows belong to one Convoso account
(``account``, a fingerprint of API URL and token), so switching token never shows one account's
statuses as another's.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

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
    def status_from(values: tuple[object, ...]) -> Status:
        """A Status from a row of STATUS_FIELDS. Cached (bench: search partial, one character):
        the same row read again, search after search, is the same immutable Status."""
        row: dict[str, Any] = dict(zip(FIELDS, values, strict=True))
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
