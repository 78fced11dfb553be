"""403, 404, 500 and CSRF refusals: the site's layout, plain words, where to go."""

from __future__ import annotations

import pytest
from django.test import Client

from statusadmin.convoso.sandbox import seed
from tests.helpers import pass_second_factor

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def production(settings):  # type: ignore[no-untyped-def]
    settings.DEBUG = False
    seed()


def body(response) -> str:  # type: ignore[no-untyped-def]
    return response.content.decode()


def in_layout(html: str) -> bool:
    return '<nav aria-label="Main">' in html and 'href="/"' in html and "<main" in html


class ErrorPageTests:
    def test_a_supervisor_is_told_who_the_audit_log_is_for(self, supervisor_client):
        response = supervisor_client.get("/audit/")
        assert response.status_code == 403
        html = body(response)
        assert "The audit log is for compliance officers and administrators." in html
        assert in_layout(html)
        assert "go to the status list" in html

    def test_a_compliance_officer_is_told_who_changes_statuses(self, compliance_client):
        response = compliance_client.post("/statuses/XFER/flag/", {"final": "Y"})
        assert response.status_code == 403
        assert "Changing statuses is for supervisors" in body(response)

    def test_approvals_are_for_approvers(self, supervisor_client):
        response = supervisor_client.get("/approvals/")
        assert response.status_code == 403
        assert "Approving changes is for approvers." in body(response)

    def test_not_found(self, supervisor_client):
        response = supervisor_client.get("/no/such/page/")
        assert response.status_code == 404
        html = body(response)
        assert "There is no such page" in html
        assert in_layout(html)
        assert "Traceback" not in html

    def test_a_server_error_shows_the_layout_and_no_debug_page(self, supervisor, monkeypatch):
        from statusadmin.statuses import views

        def broken(*args: object, **kwargs: object) -> None:
            raise RuntimeError("secret internals")

        monkeypatch.setattr(views.selectors, "status_search", broken)
        browser = Client(raise_request_exception=False)
        browser.force_login(supervisor)
        response = browser.get("/")
        assert response.status_code == 500
        html = body(response)
        assert "Something went wrong on the dashboard" in html
        assert '<nav aria-label="Main">' in html
        assert "secret internals" not in html
        assert "Traceback" not in html

    def test_an_expired_form_says_to_reload(self, supervisor):
        browser = Client(enforce_csrf_checks=True)
        browser.force_login(supervisor)
        response = browser.post("/statuses/XFER/flag/", {"final": "Y"})
        assert response.status_code == 403
        html = body(response)
        assert "That form had expired" in html
        assert "Nothing was changed" in html
        assert in_layout(html)


def test_the_admin_is_branded(admin_user, client):
    client.force_login(admin_user)
    pass_second_factor(client, admin_user)
    html = body(client.get("/admin/"))
    assert "| statusadmin</title>" in html
    assert "statusadmin administration" in html


def test_a_code_says_it_opens_its_history(supervisor_client):
    html = body(supervisor_client.get("/", {"q": "xfer"}))
    assert '<a class="history" href="/statuses/XFER/history/" title="History of XFER">XFER' in html
    assert '<span class="vh"> (history)</span>' in html


class RefusalWordingTests:
    def test_no_role_yet(self, client):
        from tests.factories import make_user

        client.force_login(make_user("nora"))
        html = body(client.get("/"))
        assert "Your account has no role yet" in html
        assert "you can look" not in html

    def test_verification_is_for_compliance_and_administrators(self, supervisor_client):
        html = body(supervisor_client.post("/audit/verify/"))
        assert "The audit log is for compliance officers and administrators." in html

    def test_a_refusal_that_says_why_is_shown(self, supervisor_client, monkeypatch):
        from django.core.exceptions import PermissionDenied

        from statusadmin.statuses import views

        def refuse(*args: object, **kwargs: object) -> None:
            raise PermissionDenied("Only the requester can withdraw a request.")

        monkeypatch.setattr(views, "list_context", refuse)
        html = body(supervisor_client.get("/"))
        assert "Only the requester can withdraw a request." in html


class DebugNotFoundTests:
    """`make run` serves with DEBUG on; a missing page is still the site's own 404, not
    Django's technical page listing every URL pattern (#26 item 13)."""

    @pytest.fixture(autouse=True)
    def debug(self, settings):  # type: ignore[no-untyped-def]
        settings.DEBUG = True

    def test_an_address_that_matches_nothing(self, supervisor_client):
        response = supervisor_client.get("/no-such-page/")
        assert response.status_code == 404
        html = body(response)
        assert "There is no such page" in html
        assert in_layout(html)
        assert "URLconf" not in html
        assert "script-src" in response["Content-Security-Policy"]

    def test_a_view_that_finds_nothing(self, supervisor_client):
        response = supervisor_client.get("/changes/999999/")
        assert response.status_code == 404
        html = body(response)
        assert "There is no such page" in html
        assert "Raised by" not in html

    def test_a_missing_slash_is_still_added(self, supervisor_client):
        response = supervisor_client.get("/audit")
        assert response.status_code == 301
        assert response["Location"] == "/audit/"
