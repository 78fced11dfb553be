"""Who came and went, and how they proved it, as audit entries: sign-ins (password, single
sign-on, a superuser's break-glass), failed sign-ins, sign-outs, and second factors set up,
removed or failed. The entries a person's actions make carry the same facts (Origin)."""

from __future__ import annotations

from typing import Any

from allauth.mfa.models import Authenticator
from django.contrib.auth.models import User
from django.http import HttpRequest

from statusadmin.audit.models import Action
from statusadmin.audit.services import Origin, record_access
from statusadmin.request_context import origin_from_request

from . import identity

# allauth's kinds of authenticator, in words.
FACTOR_KINDS = {
    Authenticator.Type.TOTP: "authenticator app",
    Authenticator.Type.WEBAUTHN: "security key or passkey",
    Authenticator.Type.RECOVERY_CODES: "recovery codes",
}


def _origin(request: HttpRequest | None) -> Origin | None:
    return origin_from_request(request) if request is not None else None


def signed_in(request: HttpRequest, user: User) -> None:
    """After login() and identity.signed_in(): the session says how."""
    proof = identity.proof(request)
    detail: dict[str, object] = {"method": proof.method}
    if proof.break_glass:
        detail["break_glass"] = True
    record_access(actor=user, action=Action.SIGN_IN, origin=_origin(request), detail=detail)


def sign_in_failed(
    request: HttpRequest | None, *, method: str, why: str, kind: str, username: str = ""
) -> None:
    record_access(
        actor=None, action=Action.SIGN_IN_FAILED, origin=_origin(request), username=username,
        detail={"method": method}, failure=why, failure_kind=kind,
    )  # fmt: skip


def password_refused(
    sender: object, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    """Django's signal for a failed authenticate(): the name typed, never the password."""
    sign_in_failed(
        request,
        method=identity.PASSWORD,
        why="The username and password didn't match.",
        kind="password",
        username=str(credentials.get("username", "")),
    )


def signed_out(sender: object, request: HttpRequest, user: User | None, **kwargs: Any) -> None:
    if user is None:  # a session that ended by itself (its person deactivated, say)
        return
    record_access(actor=user, action=Action.SIGN_OUT, origin=_origin(request))


def factor_event(action: str) -> Any:
    def receiver(
        sender: object, request: HttpRequest, user: User, authenticator: Authenticator, **kw: Any
    ) -> None:
        detail = {"factor": FACTOR_KINDS.get(authenticator.type, str(authenticator.type))}
        failure = "The code or key didn't match." if action == Action.FACTOR_FAILED else ""
        record_access(
            actor=user, action=action, origin=_origin(request), detail=detail,
            failure=failure, failure_kind="second_factor" if failure else "",
        )  # fmt: skip

    return receiver


def connect() -> None:
    """Called once, from the app's ready(): every process records the same."""
    from allauth.mfa import signals as mfa
    from django.contrib.auth.signals import user_logged_out, user_login_failed

    user_login_failed.connect(password_refused, dispatch_uid="access-password-refused")
    user_logged_out.connect(signed_out, dispatch_uid="access-signed-out")
    for signal, action in (
        (mfa.authenticator_added, Action.FACTOR_ADDED),
        (mfa.authenticator_removed, Action.FACTOR_REMOVED),
        (mfa.authentication_failed, Action.FACTOR_FAILED),
    ):
        signal.connect(factor_event(action), dispatch_uid=f"access-{action}", weak=False)
