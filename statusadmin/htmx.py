"""What every view needs from htmx, in one place (as NetBox keeps utilities/htmx.py)."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    """The request as django-htmx's middleware leaves it (the django-stubs pattern), from a
    signed-in person: every view that takes one is behind LoginRequiredMiddleware."""

    htmx: HtmxDetails
    user: User


def wants_partial(request: HtmxHttpRequest) -> bool:
    """Whether to answer with a fragment. A history restore (back/forward after htmx's cache
    was skipped) needs the whole page."""
    return bool(request.htmx) and not request.htmx.history_restore_request
