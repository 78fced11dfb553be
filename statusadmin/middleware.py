"""Project middleware."""

from __future__ import annotations

import codecs
import gzip
import re
import secrets
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.middleware import LoginRequiredMiddleware as DjangoLoginRequired
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import BadRequest, SuspiciousOperation
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseBase,
    HttpResponseRedirect,
    UnreadablePostError,
)
from django.http.multipartparser import MultiPartParserError
from django.http.response import HttpResponseRedirectBase
from django.middleware.gzip import GZipMiddleware as DjangoGZip
from django.middleware.gzip import re_accepts_gzip
from django.urls import Resolver404, resolve
from django.utils.cache import patch_vary_headers
from django.views.defaults import page_not_found
from django_htmx.http import HttpResponseClientRedirect

from statusadmin.accounts.roles import VIEW_STATUSES
from statusadmin.convoso import tenancy


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


ACCOUNT_PATH = re.compile(r"^/a/([a-z0-9-]{1,24})/")
# The URL namespaces of one account's screens (statusadmin/urls.py: account_screens).
ACCOUNT_NAMESPACES = {"statuses", "audit"}


class ConvosoAccountMiddleware:
    """Which Convoso account a request works on: /a/<slug>/... is that account's, anything
    else the default account's (convoso/tenancy.py). It sets the account in use for the whole
    request (so the client and every permission check are that account's), and the request's
    URLconf (so every link it makes stays in that account).

    An account that doesn't exist, is disabled, or in which the person has no role is a 404,
    whatever the rest of the URL: nobody learns what another account holds, not even whether
    a status, a request or an entry with that id exists there. A person with no role in the
    default account but one elsewhere is taken there from the home page.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from statusadmin.urls import account_urlconf

        found = ACCOUNT_PATH.match(request.path_info)
        account = tenancy.by_slug(found.group(1)) if found else tenancy.default_account()
        if account is None:
            raise Http404("No such account.")
        if found:
            # Django takes a URLconf module as well as its dotted name (stubs say only str).
            request.urlconf = account_urlconf(account.slug)  # type: ignore[assignment]
        request.convoso_account = account  # type: ignore[attr-defined]
        with tenancy.use(account):
            return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view_func: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponseBase | None:
        match = request.resolver_match
        if match is None or not ACCOUNT_NAMESPACES & set(match.namespaces):
            return None
        user = request.user
        if not user.is_authenticated or user.has_perm(VIEW_STATUSES):
            return None
        account: tenancy.Account = request.convoso_account  # type: ignore[attr-defined]
        if account.is_default:
            usable = tenancy.usable_by(user)
            if usable and request.path_info == "/":
                return HttpResponseRedirect(usable[0].url("/"))
            return None  # as before: the screens say the person has no role
        raise Http404("No such account.")


class DebugNotFoundMiddleware:
    """With DEBUG on (`make run`, the embedded default), a missing page is the site's own 404.

    Django answers a 404 with its technical page when DEBUG is on (every URL pattern, for a
    developer); a supervisor trying the dashboard with `make run` should meet the same page as in
    production. Without DEBUG this does nothing: Django's handler404 already renders 404.html.
    Inside the CSP middleware, so the page it renders gets the same policy and nonce.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if settings.DEBUG and response.status_code == 404 and not _resolves(request):
            return page_not_found(request, Http404())
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if settings.DEBUG and isinstance(exception, Http404):
            return page_not_found(request, exception)
        return None


def _resolves(request: HttpRequest) -> bool:
    try:
        resolve(request.path_info, getattr(request, "urlconf", None))
    except Resolver404:
        return False
    return True


class GZipMiddleware(DjangoGZip):
    """Django's GZipMiddleware, at the level settings.GZIP_LEVEL gives instead of its fixed 6.

    Search answers every keystroke with up to 50 rows of switches, about 70 KB of HTML. Level 6
    took a sixth of a worker's time under load; level 3 takes under half of that for about a
    tenth more bytes (README, Performance). Neither Django nor django-http-compression lets the
    level be chosen, so a whole response is compressed here, with the same checks and the same
    BREACH padding (a random-length file name in the gzip header) as Django; streaming
    responses are still Django's."""

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> Any:
        if (
            response.streaming
            or not isinstance(response, HttpResponse)
            or len(response.content) < 200
            or response.has_header("Content-Encoding")
        ):
            return super().process_response(request, response)
        patch_vary_headers(response, ("Accept-Encoding",))
        if not re_accepts_gzip.search(request.META.get("HTTP_ACCEPT_ENCODING", "")):
            return response
        data = gzip.compress(response.content, compresslevel=settings.GZIP_LEVEL, mtime=0)
        name = b"a" * secrets.randbelow(self.max_random_bytes) + b"\x00"
        padded = data[:3] + bytes([data[3] | gzip.FNAME]) + data[4:10] + name + data[10:]
        if len(padded) >= len(response.content):
            return response
        response.content = padded
        response.headers["Content-Length"] = str(len(padded))
        etag = response.get("ETag")
        if etag and etag.startswith('"'):
            response.headers["ETag"] = "W/" + etag
        response.headers["Content-Encoding"] = "gzip"
        return response
