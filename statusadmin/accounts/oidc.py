"""Single sign-on over OpenID Connect: django-allauth's provider, made strict, and the rules for
turning an identity provider's person into one of ours.

allauth's generic OpenID Connect provider is used as it is (discovery, the authorization-code
flow, PKCE, state, the token exchange, JWT checks with PyJWT), with two things added that it
leaves out and that we need:
- a nonce: sent with the authorization request, kept with the state, and required back in the
  ID token (``Provider.redirect``, ``SocialAccountAdapter.pre_social_login``);
- the ID token's signature checked against the provider's published keys even when the token
  came straight from the token endpoint (allauth skips it then, as OpenID Connect allows over
  TLS; we check the issuer, audience, expiry and signature always, whatever the transport).

A person here is the pair (issuer, subject): never found, connected or created by e-mail, so an
address that changes at the identity provider neither makes a second person nor takes over a
local account. Their roles are set from the groups claim at every sign-in.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any

import jwt
import requests
from allauth.account.internal.decorators import login_not_required
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.helpers import render_authentication_error
from allauth.socialaccount.internal import jwtkit
from allauth.socialaccount.models import SocialApp, SocialLogin
from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView, OAuth2LoginView
from allauth.socialaccount.providers.openid_connect.provider import OpenIDConnectProvider
from allauth.socialaccount.providers.openid_connect.views import OpenIDConnectOAuth2Adapter
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import path, reverse
from django.utils.http import urlencode

from statusadmin.convoso.models import ConvosoAccount, Membership

from . import access_log, identity

logger = logging.getLogger(__name__)

NONCE = "oidc_nonce"  # where the state keeps the nonce it sent
# allauth's uid column holds 191 characters: a 16-digit issuer digest, a colon, the subject.
SUBJECT_KEPT = 174


class Provider(OpenIDConnectProvider):
    """allauth's OpenID Connect provider, sending a nonce with every authorization request, and
    knowing a person by issuer and subject together."""

    # Its URLs are ours (``urlpatterns`` below), under allauth's names.
    package = "statusadmin.accounts.oidc"

    def extract_uid(self, data: dict[str, Any]) -> str:
        """The issuer and the subject: the same subject from another issuer is someone else.
        The issuer goes in as a digest, to keep within the uid column however long the URL."""
        claims = data.get("id_token") or {}
        subject = str(claims.get("sub") or super().extract_uid(data))
        if len(subject) > SUBJECT_KEPT:  # OpenID Connect allows 255 characters
            subject = "sha256-" + hashlib.sha256(subject.encode()).hexdigest()
        issuer = hashlib.sha256(str(claims.get("iss", "")).encode()).hexdigest()[:16]
        return f"{issuer}:{subject}"

    def redirect(
        self,
        request: HttpRequest,
        process: Any,
        next_url: str | None = None,
        data: Any = None,
        **kwargs: Any,
    ) -> HttpResponse:
        nonce = secrets.token_urlsafe(32)
        auth_params = kwargs.pop("auth_params", None) or self.get_auth_params()
        kwargs[NONCE] = nonce  # kept with the state, server side
        response: HttpResponse = super().redirect(
            request, process, next_url, data, auth_params={**auth_params, "nonce": nonce}, **kwargs
        )
        return response


class Adapter(OpenIDConnectOAuth2Adapter):
    def _decode_id_token(self, app: SocialApp, id_token: str) -> dict[str, Any]:
        data: dict[str, Any] = jwtkit.verify_and_decode(
            credential=id_token,
            keys_url=self.openid_config["jwks_uri"],
            issuer=self.openid_config["issuer"],
            audience=app.client_id,
            lookup_kid=jwtkit.lookup_kid_jwk,
            verify_signature=True,
        )
        return data


@login_not_required
def login(request: HttpRequest, provider_id: str) -> HttpResponse:
    adapter = Adapter(request, provider_id)
    try:
        response: HttpResponse = OAuth2LoginView.adapter_view(adapter)(request)
    except SocialApp.DoesNotExist:
        raise Http404 from None
    except requests.RequestException as exc:
        # Its discovery document couldn't be read: the provider is down or unreachable.
        return render_authentication_error(request, adapter.get_provider(), exception=exc)
    return response


@login_not_required
def callback(request: HttpRequest, provider_id: str) -> HttpResponse:
    adapter = Adapter(request, provider_id)
    try:
        response: HttpResponse = OAuth2CallbackView.adapter_view(adapter)(request)
    except SocialApp.DoesNotExist:
        raise Http404 from None
    except requests.RequestException as exc:
        # allauth reads the discovery document before its own error handling starts.
        return render_authentication_error(request, adapter.get_provider(), exception=exc)
    return response


urlpatterns = [
    path("oidc/<str:provider_id>/login/", login, name="openid_connect_login"),
    path("oidc/<str:provider_id>/login/callback/", callback, name="openid_connect_callback"),
]


def id_token(sociallogin: SocialLogin) -> dict[str, Any]:
    claims = sociallogin.account.extra_data.get("id_token")
    return claims if isinstance(claims, dict) else {}


def groups_of(sociallogin: SocialLogin) -> list[str]:
    """The person's groups at the identity provider (userinfo, else the ID token)."""
    extra = sociallogin.account.extra_data
    for source in (extra.get("userinfo"), extra.get("id_token")):
        groups = source.get(settings.OIDC_GROUPS_CLAIM) if isinstance(source, dict) else None
        if isinstance(groups, list):
            return [str(g) for g in groups]
    return []


def roles_for(groups: list[str]) -> set[str]:
    """The default account's roles of these groups ("Role" in OIDC_ROLE_MAP)."""
    mapped = (settings.OIDC_ROLE_MAP[g] for g in groups if g in settings.OIDC_ROLE_MAP)
    return {role for role in mapped if ":" not in role}


def set_roles(user: User, groups: list[str]) -> None:
    """The person's roles are exactly the mapped roles of their groups, added and removed: in
    the default account, and in each other Convoso account OIDC_ROLE_MAP names ("account:
    Role"). Roles in accounts it doesn't name are the admins' to manage, and left alone."""
    user.groups.set(Group.objects.filter(name__in=roles_for(groups)))
    named = [r.rpartition(":") for r in settings.OIDC_ROLE_MAP.values() if ":" in r]
    managed = {slug for slug, _, _ in named}
    if not managed:
        return
    wanted = {
        tuple(settings.OIDC_ROLE_MAP[g].split(":", 1)) for g in groups
        if ":" in settings.OIDC_ROLE_MAP.get(g, "")
    }  # fmt: skip
    accounts = dict(ConvosoAccount.objects.filter(slug__in=managed).values_list("slug", "pk"))
    if unknown := managed - set(accounts):
        logger.warning("OIDC_ROLE_MAP names accounts that don't exist: %s", sorted(unknown))
    with transaction.atomic():
        held = Membership.objects.filter(user=user, account__slug__in=managed)
        for membership in held.select_related("account"):
            if (membership.account.slug, membership.role) not in wanted:
                membership.delete()
        for slug, role in wanted:
            if slug in accounts:
                Membership.objects.get_or_create(user=user, account_id=accounts[slug], role=role)


def idp_did_mfa(sociallogin: SocialLogin) -> bool:
    amr = id_token(sociallogin).get("amr")
    return isinstance(amr, list) and bool(identity.MFA_AMR & {str(a) for a in amr})


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest, sociallogin: SocialLogin) -> bool:
        return True  # whoever the identity provider vouches for; their groups decide the rest

    def is_auto_signup_allowed(self, request: HttpRequest, sociallogin: SocialLogin) -> bool:
        return True

    def pre_social_login(self, request: HttpRequest, sociallogin: SocialLogin) -> None:
        claims = id_token(sociallogin)
        sent = sociallogin.state.get(NONCE)
        if not sent or not secrets.compare_digest(str(claims.get("nonce", "")), str(sent)):
            self._refuse(request, sociallogin, "nonce")
        if sociallogin.is_existing:
            # Before allauth decides where they land: a person with no role any more is told.
            set_roles(sociallogin.user, groups_of(sociallogin))

    def save_user(self, request: HttpRequest, sociallogin: SocialLogin, form: Any = None) -> User:
        """A person the identity provider vouches for, here for the first time."""
        user: User = super().save_user(request, sociallogin, form)
        set_roles(user, groups_of(sociallogin))
        return user

    def populate_user(
        self, request: HttpRequest, sociallogin: SocialLogin, data: dict[str, Any]
    ) -> User:
        user: User = super().populate_user(request, sociallogin, data)
        claims = sociallogin.account.extra_data.get("userinfo") or id_token(sociallogin)
        user.username = str(claims.get("preferred_username") or sociallogin.account.uid)[:150]
        return user

    def on_authentication_error(
        self,
        request: HttpRequest,
        provider: Any,
        error: str | None = None,
        exception: Exception | None = None,
        extra_context: dict[str, Any] | None = None,
    ) -> None:
        """Every failed sign-in ends on a page that says what happened (the template reads
        ``failure``), and nobody is signed in."""
        context = extra_context if extra_context is not None else {}
        context["failure"] = failed = failure(error, exception, context)
        access_log.sign_in_failed(request, method=identity.OIDC, why=failed.words, kind=failed.kind)
        super().on_authentication_error(request, provider, error, exception, extra_context)

    def _refuse(self, request: HttpRequest, sociallogin: SocialLogin, error: str) -> None:
        raise ImmediateHttpResponse(
            render_authentication_error(request, sociallogin.provider, error=error)
        )


@dataclass(frozen=True, slots=True)
class Failure:
    kind: str
    words: str


FAILURES = {
    "idp_down": "The identity provider didn't answer, so nobody could be signed in. Try again "
    "in a moment; if it keeps happening, tell your administrator.",
    "cancelled": "The sign-in was cancelled at the identity provider. Nothing was signed in.",
    "denied": "The identity provider refused the sign-in.",
    "state": "This sign-in didn't start here, or it started too long ago (the state didn't "
    "match). Start again from the sign-in page.",
    "nonce": "The identity provider's answer didn't belong to this sign-in (the nonce didn't "
    "match), so it was refused.",
    "expired": "The identity provider's token had already expired, so it was refused. Check "
    "that this server's clock is right, and try again.",
    "audience": "The identity provider's token was issued for another application (wrong "
    "audience), so it was refused. OIDC_CLIENT_ID may not match the provider's client.",
    "signature": "The identity provider's token wasn't signed with any of its published keys, "
    "so it was refused.",
    "issuer": "The token names another identity provider than OIDC_ISSUER, so it was refused.",
    "unknown": "The sign-in through the identity provider failed, and nothing was signed in.",
}


def failure(error: str | None, exception: BaseException | None, context: dict[str, Any]) -> Failure:
    """What went wrong with a sign-in, by kind, in plain words."""
    causes = []
    while exception is not None:
        causes.append(exception)
        exception = exception.__cause__ or exception.__context__
    kind = "unknown"
    if error == "nonce":
        kind = "nonce"
    elif error == "cancelled":
        kind = "cancelled"
    elif any(isinstance(e, requests.RequestException) for e in causes):
        kind = "idp_down"
    elif any(isinstance(e, jwt.ExpiredSignatureError) for e in causes):
        kind = "expired"
    elif any(isinstance(e, jwt.InvalidAudienceError) for e in causes):
        kind = "audience"
    elif any(isinstance(e, jwt.InvalidIssuerError) for e in causes):
        kind = "issuer"
    elif any(isinstance(e, jwt.InvalidSignatureError) or "Invalid 'kid'" in str(e) for e in causes):
        kind = "signature"
    elif "state_id" in context or any(isinstance(e, PermissionDenied) for e in causes):
        kind = "state"
    elif error == "denied":
        kind = "denied"
    return Failure(kind, FAILURES[kind])


def signed_in_through_the_provider(
    request: HttpRequest, user: User, sociallogin: SocialLogin | None = None, **kwargs: Any
) -> None:
    """allauth's signal after a sign-in: for one through the identity provider, how the person
    proved who they are (their roles were set before: SocialAccountAdapter)."""
    if sociallogin is None:
        return
    claims = id_token(sociallogin)
    identity.signed_in(
        request,
        identity.OIDC,
        issuer=str(claims.get("iss", "")),
        subject=str(claims.get("sub", "")),
    )
    if idp_did_mfa(sociallogin):
        request.session[identity.IDP_MFA_AT] = time.time()
    access_log.signed_in(request, user)


def end_session_url(request: HttpRequest) -> str:
    """Where to send the browser to end its session at the identity provider, coming back to
    our sign-in page ("" if the provider offers no end-session endpoint or can't be asked)."""
    from allauth.socialaccount.adapter import get_adapter

    try:
        with get_adapter().get_requests_session() as session:
            response = session.get(
                settings.OIDC_ISSUER + "/.well-known/openid-configuration", timeout=5
            )
            response.raise_for_status()
            endpoint = str(response.json().get("end_session_endpoint") or "")
    except (requests.RequestException, ValueError):
        return ""
    if not endpoint:
        return ""
    back = request.build_absolute_uri(reverse("login"))
    query = urlencode({"client_id": settings.OIDC_CLIENT_ID, "post_logout_redirect_uri": back})
    return f"{endpoint}?{query}"
