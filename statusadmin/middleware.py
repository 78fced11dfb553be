"""Project middleware."""

from __future__ import annotations

import codecs
import time
from collections.abc import Callable

from django.contrib.auth.middleware import LoginRequiredMiddleware as DjangoLoginRequired
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import BadRequest, SuspiciousOperation
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseBase,
    UnreadablePostError,
)
from django.http.multipartparser import MultiPartParserError
from django.http.response import HttpResponseRedirectBase
from django_htmx.http import HttpResponseClientRedirect


class RequestBodyMiddleware:
    """Answers 400, before anything else reads it, to a request body Django can't read.

    Django decodes request.GET and request.POST lazily, in the charset the Content-Type names,
    and the first to read them is usually the CSRF middleware; when that read fails inside an
    error page, the request ends in a 500:
    - a form (x-www-form-urlencoded) in any charset but one spelt exactly "utf-8" raises
      BadRequest, and raises again when the 400 page's CSRF check reads the form;
    - codecs that aren't text encodings (rot13, base64, zlib) or can't decode at all
      (undefined, idna) raise LookupError or UnicodeError from the multipart parser, and from
      request.GET whenever the query string holds a %-escape;
    - a POST to an unknown URL is first read by the 404 page's CSRF check, and a broken
      multipart body (no boundary, too many parts) raises there.
    The dashboard's pages are UTF-8 and browsers send their forms in UTF-8 (as the HTML and URL
    standards require for form-urlencoded), so refusing other charsets loses nothing; UTF-8
    under another name (utf8, UTF8, u8) is read as "utf-8". Reading a POST's form here costs
    nothing extra: the CSRF middleware reads every one anyway.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        charset = (request.content_params or {}).get("charset")
        if charset is not None:
            if not names_utf8(charset):
                return _bad_request(BAD_CHARSET)
            request.encoding = "utf-8"
        if request.method == "POST":
            try:
                request.POST  # noqa: B018 - parsed now, while a failure can still be a 400
            except (MultiPartParserError, BadRequest, SuspiciousOperation, UnreadablePostError):
                return _bad_request("The form could not be read.\n")
        return self.get_response(request)


BAD_CHARSET = "Send forms as UTF-8.\n"


def _bad_request(message: str) -> HttpResponse:
    return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")


def names_utf8(charset: str) -> bool:
    try:
        return codecs.lookup(charset).name == "utf-8"
    except (LookupError, ValueError):  # ValueError: a name with a NUL in it
        return False


class LoginRequiredMiddleware(DjangoLoginRequired):
    """Django's login-required middleware, aware of htmx.

    An htmx request whose session has expired would otherwise follow the redirect and swap the
    login page into a table row. Instead the browser is sent to the login page, coming back to
    the page the user was on.
    """

    # htmx gets a client-side redirect (a 200 with HX-Redirect), not the 302 the parent promises.
    def handle_no_permission(  # type: ignore[override]
        self, request: HttpRequest, view_func: Callable[..., HttpResponseBase]
    ) -> HttpResponseRedirectBase:
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
