"""A second factor for whoever approves or administers: set up by the person, passed in the
session before approvals and the admin, and passed again shortly before each decision."""

from __future__ import annotations

import re
import time
from html import unescape

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from django.test import Client

from statusadmin.accounts.identity import FACTOR_AT
from statusadmin.accounts.roles import APPROVER, SUPERVISOR
from statusadmin.approvals import services as approvals
from statusadmin.approvals.models import ChangeRequest
from statusadmin.changesets import services as changesets
from statusadmin.convoso.models import SandboxStatus
from statusadmin.convoso.sandbox import seed
from tests.factories import make_user
from tests.helpers import enrol_totp, pass_second_factor, totp_code

pytestmark = pytest.mark.django_db

ENROL = "/accounts/2fa/"
VERIFY = "/accounts/2fa/reauthenticate/"


@pytest.fixture(autouse=True)
def _catalogue(db):  # type: ignore[no-untyped-def]
    seed()


@pytest.fixture
def april(db):  # type: ignore[no-untyped-def]
    return make_user("april", APPROVER)


@pytest.fixture
def approver(client, april) -> Client:  # type: ignore[no-untyped-def]
    client.force_login(april)
    return client


def waiting_request(code: str = "XFER") -> ChangeRequest:
    return approvals.request_update(
        actor=make_user(f"sue-{code}", SUPERVISOR), code=code, changes={"dnc": "Y"},
        reason="Opt-outs by text",
    )  # fmt: skip


def factor_passed_minutes_ago(client: Client, minutes: float) -> None:
    session = client.session
    session[FACTOR_AT] = time.time() - minutes * 60
    session.save()


def page(response) -> str:  # type: ignore[no-untyped-def]
    return unescape(response.content.decode())


class EnrolmentTests:
    def test_an_approver_with_no_factor_is_sent_to_set_one_up(self, approver):
        response = approver.get("/approvals/")
        assert (response.status_code, response["Location"]) == (302, ENROL)
        assert "Approving and administering need a second factor" in page(approver.get(ENROL))

    # Committed for real: allauth announces the new app once its row is committed, inside the
    # request, as in production (a test transaction would hold that back past the response).
    @pytest.mark.django_db(transaction=True)
    def test_setting_up_an_app_shows_its_secret_as_text_and_leads_back(self, approver):
        approver.get("/approvals/")  # sent to set one up, from here
        activate = page(approver.get("/accounts/2fa/totp/activate/"))
        secret = re.search(r'id="authenticator_secret"[^>]*value="([A-Z2-7]+)"', activate)
        assert secret, "the secret is not shown as text"
        assert 'src="data:image/svg+xml' in activate  # the QR code beside it
        code = format_hotp_value(hotp_value(secret.group(1), int(time.time()) // 30))
        response = approver.post("/accounts/2fa/totp/activate/", {"code": code})
        assert response.status_code == 302
        # Proving the app while setting it up counts as passing it: straight on to approvals.
        assert 'href="/approvals/">Carry on where you were' in page(approver.get(ENROL))
        assert approver.get("/approvals/").status_code == 200
        assert "Carry on where you were" not in page(approver.get(ENROL))

    def test_recovery_codes_alone_are_not_a_second_factor(self, approver, april):
        RecoveryCodes.activate(april)
        assert approver.get("/approvals/")["Location"] == ENROL


class VerificationTests:
    def test_set_up_but_not_passed_in_this_session_asks_for_it(self, approver, april):
        enrol_totp(april)
        response = approver.get("/approvals/")
        assert response["Location"] == f"{VERIFY}?next=%2Fapprovals%2F"
        wrong = approver.post(VERIFY, {"code": "000000"})
        assert wrong.status_code == 200
        assert approver.get("/approvals/").status_code == 302  # still asked
        passed = approver.post(f"{VERIFY}?next=/approvals/", {"code": totp_code(april)})
        assert passed["Location"] == "/approvals/"
        assert approver.get("/approvals/").status_code == 200

    def test_a_recovery_code_passes_it_when_the_phone_is_lost(self, approver, april):
        enrol_totp(april)
        codes = RecoveryCodes.activate(april).get_unused_codes()
        response = approver.post(f"{VERIFY}?next=/approvals/", {"code": codes[0]})
        assert response["Location"] == "/approvals/"
        assert approver.get("/approvals/").status_code == 200

    def test_the_code_form_is_rate_limited(self, approver, april):
        enrol_totp(april)
        statuses = [approver.post(VERIFY, {"code": "000000"}).status_code for _ in range(11)]
        assert statuses[:10] == [200] * 10
        assert statuses[10] == 429
        # Even the right code waits until the limit lifts.
        assert approver.post(VERIFY, {"code": totp_code(april)}).status_code == 429


class StepUpTests:
    def test_a_decision_needs_a_factor_from_the_last_minutes_and_keeps_the_note(
        self, approver, april, settings
    ):
        settings.MFA_STEP_UP_MINUTES = 10
        request = waiting_request()
        pass_second_factor(approver, april)
        factor_passed_minutes_ago(approver, 11)
        assert approver.get("/approvals/").status_code == 200  # looking needs no step-up
        asked = approver.post(f"/approvals/{request.pk}/approve/", {"note": "Checked with legal"})
        assert asked["Location"] == f"{VERIFY}?next=%2Fapprovals%2F"
        assert SandboxStatus.objects.get(code="XFER").dnc is False  # nothing was sent
        assert ChangeRequest.objects.get(pk=request.pk).state == ChangeRequest.State.PENDING
        form = page(approver.get("/approvals/"))
        assert (
            f'id="approve-note-{request.pk}" name="note" maxlength="500" value="Checked with legal"'
            in form
        )
        # Said once: the next visit starts afresh.
        assert "Checked with legal" not in page(approver.get("/approvals/"))
        pass_second_factor(approver, april)
        done = approver.post(f"/approvals/{request.pk}/approve/", {"note": "Checked with legal"})
        assert done["Location"] == "/approvals/"
        assert SandboxStatus.objects.get(code="XFER").dnc is True

    def test_a_rejection_likewise(self, approver, april):
        request = waiting_request()
        pass_second_factor(approver, april)
        factor_passed_minutes_ago(approver, 60)
        approver.post(f"/approvals/{request.pk}/reject/", {"note": "Not on a Friday"})
        assert ChangeRequest.objects.get(pk=request.pk).state == ChangeRequest.State.PENDING
        assert 'required value="Not on a Friday"' in page(approver.get("/approvals/"))

    def test_a_change_set_decision_likewise(self, approver, april):
        planner = make_user("sue", SUPERVISOR)
        plan = changesets.plan_bulk(
            actor=planner, codes=["XFER"], changes={"dnc": True}, title="DNC on"
        )
        changesets.apply(change_set_id=plan.pk, actor=planner, reason="Opt-out campaign")
        pass_second_factor(approver, april)
        factor_passed_minutes_ago(approver, 60)
        asked = approver.post(
            f"/changes/{plan.pk}/decide/", {"decision": "approve", "note": "Go ahead"}
        )
        assert asked["Location"] == f"{VERIFY}?next=%2Fchanges%2F{plan.pk}%2F"
        plan.refresh_from_db()
        assert plan.state == "awaiting"
        assert 'value="Go ahead"' in page(approver.get(f"/changes/{plan.pk}/"))

    def test_within_the_minutes_no_step_up(self, approver, april):
        request = waiting_request()
        pass_second_factor(approver, april)
        factor_passed_minutes_ago(approver, 5)
        assert approver.post(f"/approvals/{request.pk}/approve/")["Location"] == "/approvals/"


class AdminTests:
    def test_staff_pass_a_factor_before_the_admin(self, client):
        ada = make_user("ada", is_staff=True, is_superuser=True)
        client.force_login(ada)
        assert client.get("/admin/")["Location"] == ENROL
        enrol_totp(ada)
        assert client.get("/admin/")["Location"] == f"{VERIFY}?next=%2Fadmin%2F"
        pass_second_factor(client, ada)
        assert client.get("/admin/").status_code == 200

    def test_an_admin_write_is_gated_too(self, client):
        ada = make_user("ada", is_staff=True, is_superuser=True)
        nora = make_user("nora")
        client.force_login(ada)
        response = client.post(
            f"/admin/auth/user/{nora.pk}/change/", {"username": "renamed", "is_active": "on"}
        )
        assert response["Location"].startswith(ENROL)
        nora.refresh_from_db()
        assert nora.username == "nora"


GATED = [
    ("get", "/approvals/"),
    ("post", "/approvals/{request}/approve/"),
    ("post", "/approvals/{request}/reject/"),
    ("post", "/approvals/{request}/withdraw/"),
    ("post", "/changes/{plan}/decide/"),
    ("get", "/admin/"),
    ("get", "/admin/auth/user/"),
    ("post", "/admin/auth/user/add/"),
]


@pytest.mark.parametrize(("method", "url"), GATED)
def test_every_url_that_approves_or_administers_is_gated(client, method, url):
    ada = make_user("ada", APPROVER, is_staff=True, is_superuser=True)
    request = waiting_request()
    plan = changesets.plan_bulk(
        actor=make_user("sue", SUPERVISOR), codes=["HOT"], changes={"final": True}, title="t"
    )
    client.force_login(ada)
    response = getattr(client, method)(url.format(request=request.pk, plan=plan.pk))
    assert (response.status_code, response["Location"]) == (302, ENROL)
    assert ChangeRequest.objects.get(pk=request.pk).state == ChangeRequest.State.PENDING


class WhoIsAskedTests:
    def test_supervisors_are_not_asked(self, client):
        sue = make_user("sue", SUPERVISOR)
        client.force_login(sue)
        request = waiting_request()
        ChangeRequest.objects.filter(pk=request.pk).update(requested_by=sue)
        assert client.get("/").status_code == 200
        response = client.post(f"/approvals/{request.pk}/withdraw/")
        assert not response.get("Location", "").startswith(ENROL)
        assert ChangeRequest.objects.get(pk=request.pk).state == ChangeRequest.State.WITHDRAWN

    def test_the_groups_that_must_are_configurable(self, approver, settings):
        settings.MFA_REQUIRED_GROUPS = []
        assert approver.get("/approvals/").status_code == 200

    def test_a_supervisor_may_set_one_up_too(self, client):
        client.force_login(make_user("sue", SUPERVISOR))
        assert client.get("/accounts/2fa/totp/activate/").status_code == 200


def test_changing_a_factor_that_exists_asks_for_it_first(approver, april):
    """Setting up the first one asks for nothing more than signing in; replacing or adding one
    once there is one (which would let a borrowed session keep its own) asks for it."""
    enrol_totp(april)
    response = approver.get("/accounts/2fa/webauthn/add/")
    assert response.status_code == 302
    assert response["Location"].startswith(VERIFY)
    assert Authenticator.objects.filter(user=april).count() == 1
