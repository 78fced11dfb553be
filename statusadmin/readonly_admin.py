"""A Django admin that shows and never changes (the audit log; the mirror of Convoso)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.views.main import ERROR_FLAG
from django.db import DataError, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        """Django's changelist, with the values it can't turn into a query (year 0, a month
        too large for C, an integer beyond 64 bits, NUL or a bad address on PostgreSQL) sent
        back to the list with its "invalid filter" flag, as it does for unknown lookups: they
        only fail once the query runs, while the page renders."""
        try:
            with transaction.atomic():
                response = super().changelist_view(request, extra_context)
                if hasattr(response, "render"):
                    response.render()
        except (ValueError, OverflowError, DataError):
            return HttpResponseRedirect(f"{request.path}?{ERROR_FLAG}=1")
        return response
