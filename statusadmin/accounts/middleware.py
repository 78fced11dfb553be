"""Sessions that end because the person's account changed under them."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth import SESSION_KEY, get_user_model, logout
from django.http import HttpRequest, HttpResponse

# Where the sign-in page finds why the last session ended (read once, then gone).
SIGNED_OUT_BECAUSE = "signed_out_because"


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
