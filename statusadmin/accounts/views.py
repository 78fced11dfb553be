"""Signing in and out: the password form (local accounts, or administrators' break-glass when
LOCAL_LOGIN is off), the single sign-on button, and the pages a sign-in can end on."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods

from statusadmin.htmx import HtmxHttpRequest

from . import access_log, identity, oidc, services
from .forms import TimeZoneForm, time_zones
from .middleware import SIGNED_OUT_BECAUSE, TIME_ZONE
from .models import Preferences

LOCAL_LOGIN_OFF = (
    "Signing in with a password is only for administrators here (break-glass). "
    "Use {provider} instead."
)


def single_sign_on() -> dict[str, str] | None:
    """The identity provider's button: its label and where it posts (None: not configured)."""
    if not settings.OIDC_ISSUER:
        return None
    return {
        "name": settings.OIDC_PROVIDER_NAME,
        "url": reverse("openid_connect_login", args=[settings.OIDC_APP_ID]),
    }


class LoginView(auth_views.LoginView):
    """Django's sign-in page, with the single sign-on button, and saying why the last session
    ended when it ended by itself."""

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["signed_out_because"] = self.request.session.pop(SIGNED_OUT_BECAUSE, None)
        context["sso"] = single_sign_on()
        context["local_login"] = settings.LOCAL_LOGIN
        return context

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        user = form.get_user()
        break_glass = not settings.LOCAL_LOGIN
        if break_glass and not user.is_superuser:
            sso = single_sign_on()
            provider = sso["name"] if sso else "single sign-on"
            refusal = LOCAL_LOGIN_OFF.format(provider=provider)
            form.add_error(None, refusal)
            access_log.sign_in_failed(
                self.request, method=identity.PASSWORD, why=refusal, kind="local_login_off",
                username=user.get_username(),
            )  # fmt: skip
            return self.form_invalid(form)
        response = super().form_valid(form)
        identity.signed_in(self.request, identity.PASSWORD, break_glass=break_glass)
        access_log.signed_in(self.request, user)
        return response


class LogoutView(auth_views.LogoutView):
    """Signing out here; for someone who came through the identity provider, at the provider
    too (on a shared desk, the next person's "Sign in with..." must not find the last person
    still signed in there). The provider then sends the browser back to the sign-in page."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        came_through_the_provider = identity.proof(request).method == identity.OIDC
        response = super().post(request, *args, **kwargs)
        if came_through_the_provider and (end := oidc.end_session_url(request)):
            return redirect(end)
        return response


@require_GET
@login_not_required
def inactive(request: HttpRequest) -> HttpResponse:
    """Where allauth sends a person whose account here is deactivated."""
    return render(request, "registration/inactive.html")


@require_GET
def no_role(request: HttpRequest) -> HttpResponse:
    """A signed-in person with no role: what to ask for, instead of an empty dashboard."""
    return render(
        request,
        "registration/no_role.html",
        {"sso": single_sign_on(), "groups": sorted(settings.OIDC_ROLE_MAP.items())},
    )


@require_http_methods(["GET", "POST"])
def time_zone(request: HtmxHttpRequest) -> HttpResponse:
    """The zone this person's times are shown in: chosen once, remembered (Preferences)."""
    back = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(back, {request.get_host()}, request.is_secure()):
        back = ""
    chosen = (
        Preferences.objects.filter(user=request.user).values_list("time_zone", flat=True).first()
    )
    form = TimeZoneForm(request.POST or None, initial={"time_zone": chosen or ""})
    if request.method == "POST" and form.is_valid():
        name = form.cleaned_data["time_zone"]
        services.preferences_set_time_zone(user=request.user, time_zone=name)
        request.session[TIME_ZONE] = name
        messages.success(request, f"Times are now shown in {name or settings.TIME_ZONE}.")
        return redirect(back or "/")
    return render(
        request,
        "registration/time_zone.html",
        {
            "form": form,
            "next": back,
            "zones": sorted(time_zones()),
            "chosen": chosen is not None,
            "default_zone": settings.TIME_ZONE,
        },
    )
