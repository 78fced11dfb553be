"""Project middleware."""

from __future__ import annotations

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
