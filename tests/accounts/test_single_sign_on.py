"""Single sign-on through a real OpenID Connect provider (tests/oidc/, node's oidc-provider on
loopback): discovery, the authorization-code flow with PKCE, state and nonce, the ID token's
signature, roles from groups, people matched by issuer and subject, and every way it fails."""

from __future__ import annotations

from html import unescape
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlsplit

import pytest
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth.models import User
from django.test import Client

from statusadmin import settings as project_settings
from statusadmin.accounts import identity
from statusadmin.accounts.roles import APPROVER, COMPLIANCE, SUPERVISOR
from tests.factories import make_user
from tests.oidc.server import CALLBACK_PATH, OidcProvider

pytestmark = pytest.mark.django_db

ROLE_MAP = {
    "statusadmin-supervisors": SUPERVISOR,
    "statusadmin-compliance": COMPLIANCE,
    "statusadmin-approvers": APPROVER,
}
START = f"/accounts/oidc/{project_settings.OIDC_APP_ID}/login/"


def configure(settings, idp: OidcProvider, name: str = "Acme SSO") -> None:  # type: ignore[no-untyped-def]
    """The environment an operator sets (OIDC_*), as the settings module reads it."""
    settings.OIDC_ISSUER = idp.issuer
    settings.OIDC_CLIENT_ID = idp.client_id
    settings.OIDC_CLIENT_SECRET = idp.client_secret
    settings.OIDC_PROVIDER_NAME = name
    settings.OIDC_ROLE_MAP = ROLE_MAP
    settings.SOCIALACCOUNT_PROVIDERS = project_settings.oidc_providers(
        idp.issuer, idp.client_id, idp.client_secret, name, project_settings.OIDC_SCOPES
    )


@pytest.fixture
def idp(settings, oidc_provider):  # type: ignore[no-untyped-def]
    configure(settings, oidc_provider)
    return oidc_provider


def start(client: Client) -> str:
    """Press the button: where the browser is sent (the provider's authorization URL)."""
    response = client.post(START)
    assert response.status_code == 302, response.content.decode()[:1000]
    return response["Location"]


def back_here(client: Client, callback: str):  # type: ignore[no-untyped-def]
    parts = urlsplit(callback)
    assert parts.path == CALLBACK_PATH
    return client.get(f"{parts.path}?{parts.query}")


def sign_in(client: Client, idp: OidcProvider, login: str, *, mfa: bool = False):  # type: ignore[no-untyped-def]
    return back_here(client, idp.login(start(client), login, mfa=mfa))


def signed_in_user(client: Client) -> User | None:
    pk = client.session.get("_auth_user_id")
    return User.objects.get(pk=pk) if pk else None


def roles(user: User) -> set[str]:
    return set(user.groups.values_list("name", flat=True))


def text(response) -> str:  # type: ignore[no-untyped-def]
    return unescape(response.content.decode())


class SignInTests:
    def test_the_login_page_offers_the_button(self, client, idp):
        page = text(client.get("/accounts/login/"))
        assert "Sign in with Acme SSO" in page
        assert f'action="{START}"' in page
        assert 'name="username"' in page  # LOCAL_LOGIN on: the password form too

    def test_without_an_issuer_there_is_no_button(self, client):
        assert "Sign in with" not in text(client.get("/accounts/login/"))

    def test_the_request_carries_pkce_state_and_nonce(self, client, idp):
        query = parse_qs(urlsplit(start(client)).query)
        assert query["code_challenge_method"] == ["S256"]
        assert len(query["code_challenge"][0]) >= 43
        assert query["state"][0]
        assert query["nonce"][0]
        assert query["response_type"] == ["code"]
        assert "openid" in query["scope"][0].split()

    def test_a_supervisor_signs_in_with_one_click_and_gets_the_role(self, client, idp):
        response = sign_in(client, idp, "sue")
        assert (response.status_code, response["Location"]) == (302, "/")
        user = signed_in_user(client)
        assert user is not None
        assert user.username == "sue"
        assert roles(user) == {SUPERVISOR}
        assert client.get("/").status_code == 200
        facts = client.session[identity.SIGNED_IN]
        assert facts == {"method": "oidc", "issuer": idp.issuer, "subject": "idp-sue-0001"}

    def test_roles_follow_the_groups_at_every_sign_in(self, client, idp):
        sign_in(client, idp, "sue")
        sue = signed_in_user(client)
        idp.set_groups("sue", ["statusadmin-compliance", "statusadmin-approvers", "other"])
        sign_in(Client(), idp, "sue")
        assert roles(sue) == {COMPLIANCE, APPROVER}
        idp.set_groups("sue", [])  # taken out of every group at the IdP
        fresh = Client()
        response = sign_in(fresh, idp, "sue")
        assert roles(sue) == set()
        assert response["Location"] == "/accounts/no-role/"

    def test_groups_give_roles_in_other_convoso_accounts(self, client, idp, settings):
        from statusadmin.convoso.models import Membership
        from tests.tenancy.conftest import add_account

        add_account("east", "East office")
        add_account("west", "West client")
        north = add_account("north", "North office")
        settings.OIDC_ROLE_MAP = {
            **ROLE_MAP, "cc-east-supervisors": "east:Supervisor",
            "cc-west-audit": "west:Compliance",
        }  # fmt: skip

        def held(user: User) -> set[tuple[str, str]]:
            return set(Membership.objects.filter(user=user).values_list("account__slug", "role"))

        idp.set_groups("sue", ["cc-east-supervisors", "cc-west-audit"])
        response = sign_in(client, idp, "sue")
        sue = signed_in_user(client)
        assert sue is not None
        assert held(sue) == {("east", SUPERVISOR), ("west", COMPLIANCE)}
        assert roles(sue) == set()  # none in the default account
        # Landing on the home page, she is taken to an account she has a role in.
        assert response["Location"] == "/"
        assert client.get("/")["Location"] == "/a/east/"
        assert client.get("/a/east/").status_code == 200
        # Taken out of the east group at the IdP, she loses that role at the next sign-in; a
        # role in an account the map doesn't name is the admins' to manage, and stays.
        Membership.objects.create(user=sue, account_id=north.pk, role=APPROVER)
        idp.set_groups("sue", ["cc-west-audit"])
        again = Client()
        sign_in(again, idp, "sue")
        assert held(sue) == {("west", COMPLIANCE), ("north", APPROVER)}
        assert again.get("/a/east/").status_code == 404

    def test_no_mapped_group_gets_a_clear_page_not_an_empty_dashboard(self, client, idp):
        response = sign_in(client, idp, "nora")
        assert response["Location"] == "/accounts/no-role/"
        page = text(client.get("/accounts/no-role/"))
        assert "Your account has no role here" in page
        assert "statusadmin-supervisors" in page
        assert client.get("/").status_code == 403


class MatchingTests:
    def test_the_same_email_as_a_local_account_is_someone_else(self, client, idp):
        local = make_user("sue", SUPERVISOR, email="sue@example.com")
        sign_in(client, idp, "sue")
        person = signed_in_user(client)
        assert person is not None
        assert person.pk != local.pk
        assert not SocialAccount.objects.filter(user=local).exists()
        local.refresh_from_db()
        assert local.check_password("pw-sue")  # the local one is untouched

    def test_an_email_that_changes_at_the_idp_is_still_the_same_person(self, client, idp):
        sign_in(client, idp, "sue")
        first = signed_in_user(client)
        idp.set_email("sue", "sue.smith@example.com")
        other = Client()
        sign_in(other, idp, "sue")
        assert signed_in_user(other) == first
        assert User.objects.count() == 1

    def test_the_same_subject_from_another_issuer_is_someone_else(self, client, idp, settings):
        sign_in(client, idp, "sue")
        first = signed_in_user(client)
        with OidcProvider().start() as elsewhere:  # another IdP whose sue has the same sub
            configure(settings, elsewhere)
            other = Client()
            sign_in(other, elsewhere, "sue")
            second = signed_in_user(other)
        assert second is not None
        assert second.pk != first.pk
        assert SocialAccount.objects.count() == 2


def refused(response, client: Client, words: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code in (401, 403), response.status_code
    assert words in text(response)
    assert signed_in_user(client) is None


class FailureTests:
    @pytest.mark.parametrize(
        ("fault", "words"),
        [
            ("bad_signature", "wasn't signed with any of its published keys"),
            ("unknown_key", "wasn't signed with any of its published keys"),
            ("wrong_audience", "issued for another application"),
            ("expired", "had already expired"),
            ("wrong_nonce", "the nonce didn't match"),
        ],
    )
    def test_a_token_that_isnt_right_is_refused_in_plain_words(self, client, idp, fault, words):
        auth_url = start(client)
        idp.set_next_id_token(fault)
        refused(back_here(client, idp.login(auth_url, "sue")), client, words)
        assert not User.objects.exists()

    def test_the_idp_down_when_signing_in_starts(self, client, idp):
        idp.set_down(True)
        refused(client.post(START), client, "The identity provider didn't answer")

    def test_the_idp_down_when_the_code_is_exchanged(self, client, idp):
        auth_url = start(client)
        callback = idp.login(auth_url, "sue")
        idp.set_down(True)
        refused(back_here(client, callback), client, "The identity provider didn't answer")

    def test_the_person_cancelled(self, client, idp):
        response = back_here(client, idp.cancel(start(client)))
        assert response["Location"] == "/accounts/social/login/cancelled/"
        page = text(client.get(response["Location"]))
        assert "The sign-in was cancelled at the identity provider" in page
        assert signed_in_user(client) is None

    def test_a_state_that_isnt_ours(self, client, idp):
        callback = idp.login(start(client), "sue")
        forged = callback.replace("state=", "state=forged", 1)
        refused(back_here(client, forged), client, "the state didn't match")

    def test_a_callback_replayed_into_another_session(self, client, idp):
        callback = idp.login(start(client), "sue")
        refused(back_here(Client(), callback), Client(), "the state didn't match")

    def test_a_code_used_twice(self, client, idp):
        callback = idp.login(start(client), "sue")
        back_here(client, callback)
        again = Client()
        again.cookies = client.cookies
        assert signed_in_user(client) is not None
        response = back_here(Client(), callback)
        assert response.status_code == 401


class SecondFactorFromTheIdpTests:
    def test_the_idps_mfa_counts_when_trusted(self, client, idp, settings):
        settings.MFA_TRUST_IDP = True
        sign_in(client, idp, "april", mfa=True)
        assert client.get("/approvals/").status_code == 200

    def test_not_when_distrusted(self, client, idp, settings):
        settings.MFA_TRUST_IDP = False
        sign_in(client, idp, "april", mfa=True)
        assert client.get("/approvals/")["Location"] == "/accounts/2fa/"

    def test_a_password_only_sign_in_at_the_idp_is_not_a_second_factor(self, client, idp):
        idp.set_groups("sue", ["statusadmin-approvers"])
        sign_in(client, idp, "sue", mfa=False)
        assert client.get("/approvals/")["Location"] == "/accounts/2fa/"


class LocalLoginTests:
    def test_off_hides_the_form_but_for_break_glass(self, client, idp, settings):
        settings.LOCAL_LOGIN = False
        page = text(client.get("/accounts/login/"))
        assert "Administrator sign-in with a password (break-glass)" in page
        make_user("sue", SUPERVISOR)
        response = client.post("/accounts/login/", {"username": "sue", "password": "pw-sue"})
        assert "only for administrators here (break-glass). Use Acme SSO instead." in text(response)
        assert signed_in_user(client) is None

    def test_a_superuser_may_break_glass_and_it_is_recorded(self, client, idp, settings):
        settings.LOCAL_LOGIN = False
        make_user("ada", is_staff=True, is_superuser=True)
        response = client.post("/accounts/login/", {"username": "ada", "password": "pw-ada"})
        assert response.status_code == 302
        assert client.session[identity.SIGNED_IN]["break_glass"] is True

    def test_on_a_password_sign_in_is_just_that(self, client):
        make_user("sue", SUPERVISOR)
        client.post("/accounts/login/", {"username": "sue", "password": "pw-sue"})
        assert client.session[identity.SIGNED_IN] == {
            "method": "password", "issuer": "", "subject": "", "break_glass": False,
        }  # fmt: skip


class StepUpThroughTheIdpTests:
    def test_a_decision_past_the_minutes_signs_in_afresh_at_the_idp(self, client, idp, settings):
        from statusadmin.approvals import services as approvals
        from statusadmin.convoso.sandbox import seed

        seed()
        request = approvals.request_update(
            actor=make_user("ben", SUPERVISOR), code="XFER", changes={"dnc": "Y"},
            reason="Opt-outs by text",
        )  # fmt: skip
        sign_in(client, idp, "april", mfa=True)
        session = client.session
        session[identity.IDP_MFA_AT] -= settings.MFA_STEP_UP_MINUTES * 60 + 1
        session.save()
        asked = client.post(f"/approvals/{request.pk}/approve/", {"note": "Fine by me"})
        location = urlsplit(asked["Location"])
        assert location.path == START
        query = parse_qs(location.query)
        assert query["next"] == ["/approvals/"]
        assert parse_qs(query["auth_params"][0]) == {"prompt": ["login"], "max_age": ["0"]}
        # Following it: a confirmation page, then the provider, then back with a fresh MFA.
        assert "Sign in with Acme SSO" in text(client.get(asked["Location"]))
        started = client.post(asked["Location"])
        auth_query = parse_qs(urlsplit(started["Location"]).query)
        assert auth_query["prompt"] == ["login"]
        landed = back_here(client, idp.login(started["Location"], "april", mfa=True))
        assert landed["Location"] == "/approvals/"
        assert 'value="Fine by me"' in text(client.get("/approvals/"))
        done = client.post(f"/approvals/{request.pk}/approve/", {"note": "Fine by me"})
        assert done["Location"] == "/approvals/"


class SignOutTests:
    def test_signing_out_ends_the_session_for_good(self, client):
        """Ended on the server, not just forgotten by this browser: a copy of the cookie (a
        second tab, a stolen cookie) is signed out too."""
        make_user("sue", SUPERVISOR)
        client.post("/accounts/login/", {"username": "sue", "password": "pw-sue"})
        copy = Client()
        copy.cookies = SimpleCookie(client.cookies.output(header="", sep=";"))
        assert copy.get("/").status_code == 200
        client.post("/accounts/logout/")
        assert copy.get("/")["Location"].startswith("/accounts/login/")

    def test_after_single_sign_on_it_ends_the_session_at_the_idp_too(self, client, idp):
        sign_in(client, idp, "sue")
        response = client.post("/accounts/logout/")
        end = urlsplit(response["Location"])
        assert f"{end.scheme}://{end.netloc}" == idp.issuer
        query = parse_qs(end.query)
        assert query["client_id"] == [idp.client_id]
        assert query["post_logout_redirect_uri"] == ["http://testserver/accounts/login/"]
        assert signed_in_user(client) is None
        # The provider itself accepts the request (it knows where to send the browser back).
        assert idp.confirm_sign_out(response["Location"]) == "http://testserver/accounts/login/"

    def test_the_idp_down_still_signs_out_here(self, client, idp):
        sign_in(client, idp, "sue")
        idp.set_down(True)
        response = client.post("/accounts/logout/")
        assert response["Location"] == "/accounts/login/"
        assert signed_in_user(client) is None

    def test_a_password_sign_in_signs_out_here_only(self, client, idp):
        make_user("sue", SUPERVISOR)
        client.post("/accounts/login/", {"username": "sue", "password": "pw-sue"})
        assert client.post("/accounts/logout/")["Location"] == "/accounts/login/"


class RoleMapTests:
    def test_roles_in_the_default_account_and_in_others(self):
        from statusadmin.settings import role_map

        assert role_map(" cc-sup = Supervisor, cc-east=east:Approver ") == {
            "cc-sup": SUPERVISOR, "cc-east": "east:Approver",
        }  # fmt: skip

    @pytest.mark.parametrize("bad", ["cc=Boss", "cc=east:Boss", "cc=:Supervisor", "=Supervisor"])
    def test_anything_else_stops_the_start_in_plain_words(self, bad):
        from django.core.exceptions import ImproperlyConfigured

        from statusadmin.settings import role_map

        with pytest.raises(ImproperlyConfigured, match="is not idp-group=Role or idp-group="):
            role_map(bad)
