"""How a person proved who they are: the sign-in method, the identity provider's issuer and
subject when there is one, and the second factor (when it was last passed).

The session remembers it from the moment of signing in (``signed_in``), and every audit entry
the person causes copies it (request_context.origin_from_request). The second factor is one
set up or used in this session (allauth's signals), or the identity provider's own MFA (its
ID token's ``amr``) when MFA_TRUST_IDP is on.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context as allauth_context
from allauth.mfa.models import Authenticator
from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.http import HttpRequest
from django.urls import reverse

from statusadmin.convoso import tenancy

# Where the session keeps how its person signed in.
SIGNED_IN = "signed_in_with"
# When the identity provider said it did MFA for this session (seconds since the epoch).
IDP_MFA_AT = "idp_mfa_at"
# Where to carry on once a second factor is set up.
ENROL_NEXT = "second_factor_next"
# What a person typed into a decision that had to wait for the second factor.
KEPT_DECISION = "kept_decision"
# What a fresh sign-in through the identity provider keeps of the session it replaces.
CARRIED = (KEPT_DECISION,)
# When a second factor was last passed in this session (seconds since the epoch): proving
# it while setting it up counts, as does using it, or a recovery code.
FACTOR_AT = "second_factor_at"
PASSWORD, OIDC = "password", "oidc"
# The ID token's amr values that mean a second factor (RFC 8176): MFA, a one-time password,
# a hardware or a software key.
MFA_AMR = frozenset({"mfa", "otp", "hwk", "swk"})
# What counts as having a second factor set up (recovery codes are only its fallback).
FACTORS = [Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN]
CACHED_BACKEND = "statusadmin.accounts.backends.CachedUserBackend"


@dataclass(frozen=True, slots=True)
class Proof:
    """How the person behind a request proved who they are."""

    method: str = ""  # PASSWORD, OIDC, or "" (nobody signed in: the dashboard itself)
    issuer: str = ""
    subject: str = ""
    second_factor: bool = False
    break_glass: bool = False  # a superuser's password while LOCAL_LOGIN is off


def signed_in(
    request: HttpRequest, method: str, *, issuer: str = "", subject: str = "", **extra: Any
) -> None:
    """Remember how this session's person signed in (call right after login())."""
    request.session[SIGNED_IN] = {"method": method, "issuer": issuer, "subject": subject, **extra}


def proof(request: HttpRequest) -> Proof:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return Proof()
    facts = request.session.get(SIGNED_IN) or {}
    return Proof(
        method=str(facts.get("method", "")),
        issuer=str(facts.get("issuer", "")),
        subject=str(facts.get("subject", "")),
        second_factor=second_factor_at(request) is not None,
        break_glass=bool(facts.get("break_glass")),
    )


def second_factor_at(request: HttpRequest) -> float | None:
    """When a second factor was last passed in this session (None: never)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    passed = [float(at)] if (at := request.session.get(FACTOR_AT)) else []
    if settings.MFA_TRUST_IDP and (at := request.session.get(IDP_MFA_AT)):
        passed.append(float(at))
    return max(passed, default=None)


def factor_set_up(request: HttpRequest, authenticator: Authenticator, **kwargs: Any) -> None:
    """allauth's signal: setting up an app or a key proves it (a code, a signature); a new set
    of recovery codes proves nothing."""
    if authenticator.type in FACTORS:
        request.session[FACTOR_AT] = time.time()


def factor_used(request: HttpRequest, **kwargs: Any) -> None:
    """allauth's signal: a code, a key or a recovery code passed."""
    request.session[FACTOR_AT] = time.time()


def factor_is_recent(request: HttpRequest) -> bool:
    """Passed within MFA_STEP_UP_MINUTES: what a decision needs (step-up)."""
    at = second_factor_at(request)
    return at is not None and time.time() - at <= settings.MFA_STEP_UP_MINUTES * 60


def needs_second_factor(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Approvers (MFA_REQUIRED_GROUPS), staff and superusers."""
    if not isinstance(user, User) or not user.is_authenticated:
        return False
    if user.is_staff or user.is_superuser:
        return True
    return user.groups.filter(name__in=settings.MFA_REQUIRED_GROUPS).exists()


def enrolled(user: User) -> bool:
    return is_mfa_enabled(user, FACTORS)


class AccountAdapter(DefaultAccountAdapter):
    """allauth's account side: only single sign-on and second factors use it."""

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        # Local accounts are made by administrators; people from the IdP come through the
        # social account adapter, which has its own answer.
        return False

    def logout(self, request: HttpRequest) -> None:
        # allauth signs the person out before a fresh sign-in through the identity provider
        # (a step-up): what they had typed into a decision waits for them on the other side
        # (the pages show it only to the same person: kept_decision).
        carried = {key: request.session[key] for key in CARRIED if key in request.session}
        super().logout(request)
        request.session.update(carried)

    def login(self, request: HttpRequest, user: AbstractBaseUser) -> None:
        # The session must name the backend that checks rights afresh on every request
        # (accounts/backends.py), not whichever comes first in AUTHENTICATION_BACKENDS.
        user.backend = CACHED_BACKEND
        super().login(request, user)

    def get_login_redirect_url(self, request: HttpRequest) -> str:
        # Someone the identity provider vouches for, with no group mapped to a role here (in
        # any Convoso account), is told so instead of landing on an empty dashboard.
        if not tenancy.usable_by(request.user):
            return reverse("no_role")
        url: str = super().get_login_redirect_url(request)
        return url

    def get_reauthentication_methods(self, user: AbstractBaseUser | AnonymousUser) -> list[dict]:
        """Only second factors confirm it's you here: a password is what was given at sign-in,
        and single sign-on users may have none."""
        if not isinstance(user, User) or not user.is_authenticated:
            return []
        kinds = set(Authenticator.objects.filter(user=user).values_list("type", flat=True))
        methods = []
        if kinds & {Authenticator.Type.TOTP, Authenticator.Type.RECOVERY_CODES}:
            methods.append(
                {
                    "id": "mfa_reauthenticate",
                    "description": "Use your authenticator app or a recovery code",
                    "url": reverse("mfa_reauthenticate"),
                }
            )
        if Authenticator.Type.WEBAUTHN in kinds:
            methods.append(
                {
                    "id": "mfa_reauthenticate:webauthn",
                    "description": "Use a security key or passkey",
                    "url": reverse("mfa_reauthenticate_webauthn"),
                }
            )
        return methods

    def is_reauthentication_required(self, *, app: str, **kwargs: Any) -> bool:
        if app == "allauth.mfa":
            # Setting up a first factor asks nothing more than signing in did: there is no
            # factor yet to ask for. Changing factors, once one exists, asks for one.
            user = getattr(allauth_context.request, "user", None)
            return isinstance(user, User) and enrolled(user)
        required: bool = super().is_reauthentication_required(app=app, **kwargs)
        return required

    def get_signup_redirect_url(self, request: HttpRequest) -> str:
        # Someone new from the identity provider lands where a returning person would.
        return self.get_login_redirect_url(request)

    def get_login_stages(self) -> list[str]:
        # The second factor is asked where it is needed (SecondFactorMiddleware: approvals
        # and the admin), the same way for password and single sign-on.
        return [
            stage for stage in super().get_login_stages() if not stage.startswith("allauth.mfa")
        ]


def carry_on(request: HttpRequest) -> dict[str, object]:
    """For allauth's pages: where to carry on, once the second factor someone was sent to set
    up is set up and passed."""
    session = getattr(request, "session", None)
    if session is None or FACTOR_AT not in session:
        return {}
    return {"second_factor_next": session.get(ENROL_NEXT)}
