"""The status mirror in the Django admin, read-only (it is a copy of Convoso, not the truth)."""

from __future__ import annotations

from django.contrib import admin

from statusadmin.readonly_admin import ReadOnlyAdmin

from .models import MirrorStatus


@admin.register(MirrorStatus)
class MirrorStatusAdmin(ReadOnlyAdmin):
    list_display = ("code", "name", "custom", "final", "reached", "success", "dnc", "account")
    list_filter = ("custom", "account")
    search_fields = ("code", "name")
    ordering = ("-custom", "code")
