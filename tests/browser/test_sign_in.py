"""Signing in through the identity provider, and a newcomer approver setting up a second factor,
in a real browser: the redirects, the provider's own pages, the CSP's form-action (which a
browser holds a form's redirect to) and allauth's pages in our layout."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from django.utils.csp import CSP
from playwright.sync_api import expect

from statusadmin import settings as project_settings
from statusadmin.accounts.roles import ensure_roles
from tests.accounts.test_single_sign_on import configure
from tests.browser.helpers import BrowserSession
from tests.oidc.server import CALLBACK_PATH, OidcProvider

pytestmark = pytest.mark.browser


@pytest.fixture
def idp(settings, live_server) -> Iterator[OidcProvider]:  # type: ignore[no-untyped-def]
    ensure_roles()  # the groups migrate made, which an earlier transactional test flushed
    with OidcProvider(redirect_uris=[live_server.url + CALLBACK_PATH]).start() as provider:
        configure(settings, provider)
        # What settings.py derives from OIDC_ISSUER at start: the form's redirect may go there.
        csp = dict(project_settings.SECURE_CSP)
        csp["form-action"] = [CSP.SELF, provider.issuer]
        settings.SECURE_CSP = csp
        yield provider


def sign_in_at_the_idp(session: BrowserSession, login: str, *, mfa: bool = False) -> None:
    page = session.open("/accounts/login/")
    page.get_by_role("button", name="Sign in with Acme SSO").click()
    page.wait_for_url(re.compile(r"/interaction/"))
    page.locator('input[name="login"]').fill(login)
    if mfa:
        page.locator('input[name="mfa"]').check()
    page.get_by_role("button", name="Sign in", exact=True).click()


def test_one_click_single_sign_on(session, idp):
    sign_in_at_the_idp(session, "sue")
    page = session.page
    expect(page).to_have_url(session.base_url + "/")
    expect(page.locator(".account .who")).to_have_text("sue")
    expect(page.get_by_role("heading", name="Custom statuses")).to_be_visible()
    assert not [line for line in session.console if "Content Security Policy" in line]


def test_a_person_with_no_role_is_told_so(session, idp):
    sign_in_at_the_idp(session, "nora")
    expect(session.page).to_have_url(session.base_url + "/accounts/no-role/")
    expect(
        session.page.get_by_role("heading", name="Your account has no role here")
    ).to_be_visible()


def test_a_newcomer_approver_is_walked_through_setting_up_a_factor(session, idp):
    idp.set_groups("sue", ["statusadmin-approvers"])
    sign_in_at_the_idp(session, "sue")  # no MFA at the IdP
    expect(session.page).to_have_url(session.base_url + "/")
    page = session.open("/approvals/")
    expect(page).to_have_url(session.base_url + "/accounts/2fa/")
    expect(page.get_by_text("Approving and administering need a second factor")).to_be_visible()
    page.goto(session.base_url + "/accounts/2fa/totp/activate/")
    secret = page.locator("#authenticator_secret").input_value()
    assert re.fullmatch(r"[A-Z2-7]{16,}", secret), "the secret is shown as text"
    expect(page.locator('img[src^="data:image/svg+xml"]')).to_be_visible()  # the QR code
    page.locator('input[name="code"]').fill(
        format_hotp_value(hotp_value(secret, int(time.time()) // 30))
    )
    page.get_by_role("button", name="Activate").click()
    page.get_by_role("link", name="Carry on where you were").click()
    expect(page).to_have_url(session.base_url + "/approvals/")
    expect(page.get_by_role("heading", name="Changes waiting for approval")).to_be_visible()
    assert not [line for line in session.console if "Content Security Policy" in line]


def test_signing_out_ends_the_idps_session_too(session, idp):
    """On a shared desk the next person's "Sign in with..." must meet the provider's sign-in
    form, not the last person's session there."""
    sign_in_at_the_idp(session, "sue")
    page = session.page
    expect(page).to_have_url(session.base_url + "/")
    page.get_by_role("button", name="Log out").click()
    page.get_by_role("button", name=re.compile("sign me out", re.I)).click()
    expect(page).to_have_url(session.base_url + "/accounts/login/")
    page.get_by_role("button", name="Sign in with Acme SSO").click()
    expect(page.locator('input[name="login"]')).to_be_visible()  # asked again


def test_a_security_key_can_be_set_up_and_passes_the_gate(session, approver_user, settings):
    """WebAuthn for real: Chromium's virtual authenticator answers allauth's scripts, under the
    site's CSP and Permissions-Policy (which must let this site use publickey-credentials)."""
    settings.MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = True  # http://localhost, as in development
    page = session.login_as(approver_user)
    cdp = session.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2", "transport": "usb", "hasResidentKey": True,
                "hasUserVerification": True, "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )  # fmt: skip
    session.open("/accounts/2fa/webauthn/add/")
    page.get_by_label("Name").fill("My key")
    page.get_by_role("button", name="Add").click()
    expect(page).not_to_have_url(re.compile(r"/webauthn/add/"))
    from allauth.mfa.models import Authenticator

    assert Authenticator.objects.filter(user=approver_user, type="webauthn").count() == 1
    session.open("/approvals/")
    expect(page).to_have_url(session.base_url + "/approvals/")
    assert not [line for line in session.console if "Content Security Policy" in line]
