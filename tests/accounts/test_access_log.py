"""The audit log says how each person proved who they were: every entry carries the sign-in
method (with the identity provider's issuer and subject) and whether a second factor was
passed, and signing in and out, failing to, and second factors are entries themselves."""

from __future__ import annotations

import re
import time

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from django.test import Client

from statusadmin.audit import chain
from statusadmin.audit.models import Action, AuditEntry, Outcome
from statusadmin.convoso.sandbox import seed
from tests.accounts.test_single_sign_on import back_here, configure, sign_in, start
from tests.factories import make_user
from tests.helpers import enrol_totp, pass_second_factor, totp_code

pytestmark = pytest.mark.django_db


def entries(action: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action).order_by("seq"))


def only(action: str) -> AuditEntry:
    (entry,) = entries(action)
    return entry


@pytest.fixture
def idp(settings, oidc_provider):  # type: ignore[no-untyped-def]
    configure(settings, oidc_provider)
    return oidc_provider


class PasswordTests:
    def test_a_sign_in_and_a_sign_out(self, client):
        make_user("sue", "Supervisor")
        client.post("/accounts/login/", {"username": "sue", "password": "pw-sue"})
        entry = only(Action.SIGN_IN)
        assert (entry.actor_username, entry.outcome) == ("sue", Outcome.RECORDED)
        assert (entry.auth_method, entry.second_factor) == ("password", "not passed")
        assert entry.summary == "With password"
        client.post("/accounts/logout/")
        assert only(Action.SIGN_OUT).actor_username == "sue"

    def test_a_failed_sign_in_names_who_was_tried_never_the_password(self, client):
        make_user("sue", "Supervisor")
        client.post("/accounts/login/", {"username": "sue", "password": "guess-1234"})
        entry = only(Action.SIGN_IN_FAILED)
        assert (entry.actor_username, entry.outcome) == ("sue", Outcome.FAILED)
        assert entry.error_message == "The username and password didn't match."
        assert entry.actor_user_id is None
        assert "guess-1234" not in str(AuditEntry.objects.values())

    def test_break_glass_is_recorded_as_such(self, client, settings):
        settings.LOCAL_LOGIN = False
        make_user("ada", is_staff=True, is_superuser=True)
        client.post("/accounts/login/", {"username": "ada", "password": "pw-ada"})
        assert only(Action.SIGN_IN).summary == "With password (break-glass)"

    def test_a_password_refused_because_local_login_is_off(self, client, settings):
        settings.LOCAL_LOGIN = False
        make_user("sue", "Supervisor")
        client.post("/accounts/login/", {"username": "sue", "password": "pw-sue"})
        entry = only(Action.SIGN_IN_FAILED)
        assert (entry.actor_username, entry.failure_kind) == ("sue", "local_login_off")
        assert not entries(Action.SIGN_IN)


class SingleSignOnTests:
    def test_a_sign_in_names_the_issuer_and_subject_and_the_idps_mfa(self, client, idp):
        sign_in(client, idp, "april", mfa=True)
        entry = only(Action.SIGN_IN)
        assert (entry.auth_method, entry.auth_issuer, entry.auth_subject) == (
            "oidc", idp.issuer, "idp-april-0003",
        )  # fmt: skip
        assert entry.second_factor == "passed"
        assert entry.summary == "With single sign-on"

    @pytest.mark.parametrize(("fault", "kind"), [("expired", "expired"), ("wrong_nonce", "nonce")])
    def test_a_failed_sign_in_is_an_entry_with_why(self, client, idp, fault, kind):
        auth_url = start(client)
        idp.set_next_id_token(fault)
        back_here(client, idp.login(auth_url, "sue"))
        entry = only(Action.SIGN_IN_FAILED)
        assert (entry.outcome, entry.failure_kind, entry.auth_method) == (
            Outcome.FAILED, kind, "",
        )  # fmt: skip
        assert entry.requested == {"method": "oidc"}
        assert entry.error_message

    def test_a_cancelled_one_too(self, client, idp):
        back_here(client, idp.cancel(start(client)))
        assert only(Action.SIGN_IN_FAILED).failure_kind == "cancelled"

    def test_the_idp_down_too(self, client, idp):
        idp.set_down(True)
        client.post("/accounts/oidc/statusadmin/login/")
        assert only(Action.SIGN_IN_FAILED).failure_kind == "idp_down"

    def test_every_change_says_how_its_person_signed_in(self, client, idp, settings):
        settings.APPROVAL_FIELDS = []
        seed()
        sign_in(client, idp, "sue")
        client.post("/statuses/XFER/flag/", {"callback": "Y"}, HTTP_HX_REQUEST="true")
        change = only(Action.UPDATE)
        assert (change.actor_username, change.outcome) == ("sue", Outcome.SUCCEEDED)
        assert (change.auth_method, change.auth_subject, change.second_factor) == (
            "oidc", "idp-sue-0001", "not passed",
        )  # fmt: skip
        # The chain covers it: it verifies, and the facts are part of what is hashed.
        assert chain.verify().ok
        assert "auth_subject" in chain.content(change.__dict__, change.seq)
        # Shown where compliance reads it, and carried by the exports.
        reviewer = Client()
        reviewer.force_login(make_user("carl", "Compliance"))
        assert "single sign-on" in reviewer.get("/audit/").content.decode()
        detail = reviewer.get(f"/audit/{change.pk}/").content.decode()
        assert idp.issuer in detail
        assert "idp-sue-0001" in detail
        csv = b"".join(reviewer.get("/audit/export.csv").streaming_content).decode()
        assert "idp-sue-0001" in csv


class SecondFactorTests:
    def test_set_up_failed_and_removed_are_entries(
        self, client, django_capture_on_commit_callbacks
    ):
        april = make_user("april", "Approver")
        client.force_login(april)
        enrol_totp(april)
        client.post("/accounts/2fa/reauthenticate/", {"code": "000000"})
        failed = only(Action.FACTOR_FAILED)
        assert (failed.actor_username, failed.outcome) == ("april", Outcome.FAILED)
        assert failed.summary == "Authenticator app"
        pass_second_factor(client, april)
        with django_capture_on_commit_callbacks(execute=True):
            client.post("/accounts/2fa/totp/deactivate/")
        assert only(Action.FACTOR_REMOVED).summary == "Authenticator app"
        assert not Authenticator.objects.filter(user=april, type="totp").exists()

    @pytest.mark.django_db(transaction=True)
    def test_setting_one_up_is_an_entry(self, client):
        """Committed for real: allauth announces a new factor once its row is committed."""
        april = make_user("april", "Approver")
        client.force_login(april)
        page = client.get("/accounts/2fa/totp/activate/").content.decode()
        secret = re.search(r'id="authenticator_secret"[^>]*value="([A-Z2-7]+)"', page).group(1)
        code = format_hotp_value(hotp_value(secret, int(time.time()) // 30))
        client.post("/accounts/2fa/totp/activate/", {"code": code})
        added = [e.summary for e in entries(Action.FACTOR_ADDED)]
        assert "Authenticator app" in added
        assert totp_code(april)
