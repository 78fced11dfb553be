"""Project middleware."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.contrib.auth.middleware import LoginRequiredMiddleware as DjangoLoginRequired
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django_htmx.http import HttpResponseClientRedirect


class LoginRequiredMiddleware(DjangoLoginRequired):
    """Django's login-required middleware, aware of htmx.

    An htmx request whose session has expired would otherwise follow the redirect and swap the
    login page into a table row. Instead the browser is sent to the login page, coming back to
    the page the user was on.
    """

    def handle_no_permission(self, request: HttpRequest, view_func: object) -> HttpResponse:
        htmx = getattr(request, "htmx", None)
        if htmx:
            back = htmx.current_url_abs_path or "/"
            login = redirect_to_login(back, self.get_login_url(view_func))
            return HttpResponseClientRedirect(login["Location"])
        return super().handle_no_permission(request, view_func)


class SessionIdleTimeoutMiddleware:
    """Sessions end after SESSION_IDLE_TIMEOUT seconds without a request.

    The expiry slides forward when the session is saved. Saving on every request would be a
    database write per keystroke in search, so it is refreshed at most once a minute: the
    timeout is then exact to within that minute.
    """

    REFRESH_EVERY = 60

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            now = int(time.time())
            if now - request.session.get("_seen", 0) >= self.REFRESH_EVERY:
                request.session["_seen"] = now
        return self.get_response(request)
