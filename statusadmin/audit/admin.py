"""The audit log in the Django admin: readable, never writable."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from statusadmin.convoso.status import EDITABLE_FIELDS, FIELD_LABELS
from statusadmin.readonly_admin import ReadOnlyAdmin

from .models import AuditEntry


class ChangedFieldFilter(admin.SimpleListFilter):
    title = "changed field"
    parameter_name = "changed"

    def lookups(self, request, model_admin):  # type: ignore[no-untyped-def]
        return [(f, FIELD_LABELS[f]) for f in EDITABLE_FIELDS]

    def queryset(self, request, queryset):  # type: ignore[no-untyped-def]
        if self.value():
            return queryset.touching(self.value())
        return queryset


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "actor_username", "status_code", "action", "outcome", "seq")
    list_filter = ("action", "outcome", ChangedFieldFilter)
    list_per_page = 50
    search_fields = ("status_code", "actor_username", "reason")
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")

    def get_readonly_fields(self, request: HttpRequest, obj: AuditEntry | None = None):  # type: ignore[no-untyped-def]
        return [field.name for field in self.model._meta.fields]
