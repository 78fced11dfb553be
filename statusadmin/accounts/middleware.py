"""Sessions that end because the person's account changed under them."""

from __future__ import annotations

from collections.abc import Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import SESSION_KEY, get_user_model, logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django_htmx.http import HttpResponseClientRedirect

from . import identity
from .models import Preferences

# Where the sign-in page finds why the last session ended (read once, then gone).
SIGNED_OUT_BECAUSE = "signed_out_because"
# The person's chosen time zone ("" for the dashboard's), read from their Preferences once a
# session and kept here.
TIME_ZONE = "time_zone"


class EndRevokedSessionsMiddleware:
    """Ends a session whose person was deactivated, deleted or given a new password.

    Django already refuses such a session's user (the backend returns no inactive user; a
    password change breaks the session's hash), but it leaves the person wondering why they
    are at the sign-in page, and leaves a deactivated person's session alive should the account
    come back. Here the session ends for good and the sign-in page says why. Must run before
    anything else reads request.user, so that the session still says who it was for.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user_id = request.session.get(SESSION_KEY)
        if user_id is not None and not request.user.is_authenticated:
            reason = why_signed_out(user_id)
            logout(request)
            request.session[SIGNED_OUT_BECAUSE] = reason
        return self.get_response(request)


def why_signed_out(user_id: str | int) -> str:
    user = get_user_model().objects.filter(pk=user_id).first()
    if user is None:
        return "Your account no longer exists, so you were signed out."
    if not user.is_active:
        return (
            "Your account has been deactivated, so you were signed out. "
            "Ask an administrator if you need access again."
        )
    return (
        "Your password was changed since you signed in, so you were signed out. "
        "Sign in again with the new password."
    )


# The screens that approve or administer, by URL name (or namespace), and which of them are
# decisions that need a factor passed within MFA_STEP_UP_MINUTES.
GATED_NAMES = frozenset(
    {
        "statuses:approvals", "statuses:approve", "statuses:reject", "statuses:withdraw",
        "statuses:decide_change_set",
    }
)  # fmt: skip
GATED_NAMESPACES = frozenset({"admin"})
DECISIONS = frozenset({"statuses:approve", "statuses:reject", "statuses:decide_change_set"})
KEPT_DECISION = identity.KEPT_DECISION
# The fields of a decision worth keeping (never a CSRF token).
KEPT_FIELDS = ("note", "decision", "confirmed")


class SecondFactorMiddleware:
    """Approvers, staff and superusers pass a second factor before approving or administering.

    Until they have set one up, the approvals and the admin send them to set one up; until
    they have passed it in this session, to pass it; and a decision (approve, reject) needs it
    passed within MFA_STEP_UP_MINUTES, else it asks again and keeps what they typed.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view_func: object, args: object, kwargs: object
    ) -> HttpResponse | None:
        match = request.resolver_match
        if match is None or not (
            match.view_name in GATED_NAMES or match.namespace in GATED_NAMESPACES
        ):
            return None
        user = request.user
        if not identity.needs_second_factor(user):
            return None
        passed = identity.second_factor_at(request)
        if passed is not None and (
            match.view_name not in DECISIONS or identity.factor_is_recent(request)
        ):
            request.session.pop(identity.ENROL_NEXT, None)  # arrived: nothing to carry on to
            return None
        back = request.get_full_path() if request.method == "GET" else _page_of(request)
        if request.method == "POST":
            request.session[KEPT_DECISION] = {
                "path": request.path,
                "user": request.user.pk,
                **{name: request.POST[name] for name in KEPT_FIELDS if name in request.POST},
            }
        if identity.enrolled(user):  # type: ignore[arg-type]
            messages.info(
                request,
                "Confirm it's you with your second factor"
                + (" again: decisions need it from the last few minutes." if passed else "."),
            )
            return _go(request, f"{reverse('mfa_reauthenticate')}?{urlencode({'next': back})}")
        if passed is not None:
            # Only the identity provider's MFA vouched for this session: it asks again, with
            # the person signing in afresh there (not the provider's lasting session).
            messages.info(request, "Decisions need a fresh sign-in: sign in again to carry on.")
            fresh = urlencode({"prompt": "login", "max_age": "0"})
            again = {"next": back, "auth_params": fresh}
            return _go(request, f"{oidc_start()}?{urlencode(again)}")
        messages.info(
            request,
            "Approving and administering need a second factor. Set one up here (an "
            "authenticator app or a security key), then carry on.",
        )
        request.session[identity.ENROL_NEXT] = back
        return _go(request, reverse("mfa_index"))


def kept_decision(request: HttpRequest, path: str) -> dict[str, str]:
    """What this person typed into the decision at ``path`` before it waited for the second
    factor (read once)."""
    kept = request.session.pop(KEPT_DECISION, None) or {}
    if kept.get("path") != path or kept.get("user") != request.user.pk:
        return {}
    return kept


def oidc_start() -> str:
    return reverse("openid_connect_login", args=[settings.OIDC_APP_ID])


def _page_of(request: HttpRequest) -> str:
    """Where a decision's page is: the approvals list, or the change set's own page."""
    match = request.resolver_match
    if match is not None and match.view_name == "statuses:decide_change_set":
        return reverse("statuses:change_set", args=match.args, kwargs=match.kwargs)
    return reverse("statuses:approvals")


def _go(request: HttpRequest, url: str) -> HttpResponse:
    if getattr(request, "htmx", False):
        return HttpResponseClientRedirect(url)
    return redirect(url)


class TimeZoneMiddleware:
    """Shows times in the zone the person chose (accounts.Preferences): Django's current time
    zone, for this request only. Exports write UTC whatever it is."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        zone = chosen_zone(request)
        if zone is None:
            timezone.deactivate()
        else:
            timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


def chosen_zone(request: HttpRequest) -> ZoneInfo | None:
    if not request.user.is_authenticated:
        return None
    name = request.session.get(TIME_ZONE)
    if name is None:
        name = (
            Preferences.objects.filter(user=request.user)
            .values_list("time_zone", flat=True)
            .first()
        ) or ""
        request.session[TIME_ZONE] = name
    try:
        return ZoneInfo(name) if name else None
    except (ZoneInfoNotFoundError, ValueError):
        return None  # a zone this server's tz database no longer has: the dashboard's
