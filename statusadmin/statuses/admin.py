"""The status mirror in the Django admin, read-only (it is a copy of Convoso, not the truth)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from .models import MirrorStatus


@admin.register(MirrorStatus)
class MirrorStatusAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "custom", "final", "reached", "success", "dnc", "account")
    list_filter = ("custom", "account")
    search_fields = ("code", "name")
    ordering = ("-custom", "code")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: MirrorStatus | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: MirrorStatus | None = None) -> bool:
        return False
