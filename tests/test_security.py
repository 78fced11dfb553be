"""Security: the role matrix over every URL, CSRF, headers, login throttling, idle sessions,
and hostile data from upstream."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from statusadmin.convoso.models import SandboxStatus
from statusadmin.convoso.sandbox import seed
from tests.factories import add_entry
from tests.helpers import pass_second_factor, status_item

pytestmark = pytest.mark.django_db

ANON, SUPERVISOR, COMPLIANCE, APPROVER, ADMIN = (
    "anonymous", "supervisor", "compliance", "approver", "admin",
)  # fmt: skip
ROLES = (ANON, SUPERVISOR, COMPLIANCE, APPROVER, ADMIN)

# What each role gets from each URL, in the order anonymous, supervisor, compliance, approver,
# admin:
# L = sent to log in, O = served (or redirected somewhere other than a login page), F = 403.
MATRIX = {
    "login":                  ("get",  {},                   "OOOOO"),
    "logout":                 ("post", {},                   "LLLLL"),
    "password_change":        ("get",  {},                   "LOOOO"),
    "password_change_done":   ("get",  {},                   "LOOOO"),
    "statuses:index":         ("get",  {},                   "LOOOO"),
    "statuses:refresh":       ("post", {"q": ""},            "LOOOO"),
    "statuses:row":           ("get",  {},                   "LOOOO"),
    "statuses:create":        ("get",  {},                   "LOFFO"),
    "statuses:flag":          ("post", {"callback": "Y"},    "LOFFO"),
    "statuses:color":         ("post", {"color": "#123456"}, "LOFFO"),
    "statuses:name":          ("get",  {},                   "LOFFO"),
    "audit:list":             ("get",  {},                   "LFOFO"),
    "audit:detail":           ("get",  {},                   "LFOFO"),
    "audit:export_csv":       ("get",  {},                   "LFOFO"),
    "audit:export_report":    ("get",  {},                   "LFOFO"),
    "audit:export_jsonl":     ("get",  {},                   "LFOFO"),
    "audit:verify":           ("post", {},                   "LFOFO"),
    "audit:verification":     ("get",  {},                   "LFOFO"),
    "audit:evidence":         ("get",  {"date_from": "2026-01-01", "date_to": "2026-01-31"},
                                                             "LFOFO"),
    "audit:status_history":   ("get",  {},                   "LOOOO"),
    "audit:catalogue":        ("get",  {"at": "2026-01-01T10:00"}, "LFOFO"),
    "audit:catalogue_csv":    ("get",  {"at": "2026-01-01T10:00"}, "LFOFO"),
    "statuses:revert":        ("get",  {},                   "LOFFO"),
    "statuses:export_csv":    ("get",  {},                   "LOOOO"),
    "statuses:export_json":   ("get",  {},                   "LOOOO"),
    "statuses:import":        ("get",  {},                   "LOFFO"),
    "statuses:bulk":          ("post", {"codes": "XFER", "action": "final", "value": "Y"},
                                                             "LOFFO"),
    "statuses:compare":       ("get",  {},                   "LOFFO"),
    # No account of theirs to copy from: a 404, whoever may copy (tests/changesets/test_copy).
    "statuses:plan_copy":     ("post", {"from": "nowhere", "codes": "XFER"}, "LNFFN"),
    "statuses:change_set":    ("get",  {},                   "LOOOO"),
    "statuses:change_sets":   ("get",  {"mine": "1"},        "LOOOO"),
    "statuses:my_requests":   ("get",  {},                   "LOOOO"),
    "statuses:notices":       ("get",  {},                   "LOOOO"),
    "statuses:read_notices":  ("post", {},                   "LOOOO"),
    "statuses:apply_change_set":   ("post", {},              "LOFFO"),
    "statuses:discard_change_set": ("post", {},              "LOFFO"),
    "statuses:decide_change_set":  ("post", {"decision": "approve"}, "LFFOO"),
    "statuses:approvals":     ("get",  {},                   "LFFOO"),
    "statuses:approve":       ("post", {"note": "ok"},       "LFFOO"),
    "statuses:reject":        ("post", {"note": "no way"},   "LFFOO"),
    "statuses:withdraw":      ("post", {},                   "LOOOO"),
    # Signing in and out, single sign-on (not configured here: no such provider) and allauth's
    # pages for it, and second factors (anyone signed in may set one up; the approver and the
    # admin of these tests have one, the others don't, so what needs one is refused them).
    "account_login":          ("get",  {},                   "OOOOO"),
    "account_logout":         ("post", {},                   "LLLLL"),
    "account_inactive":       ("get",  {},                   "OOOOO"),
    "no_role":                ("get",  {},                   "LOOOO"),
    "time_zone":              ("get",  {},                   "LOOOO"),
    "openid_connect_login":   ("post", {},                   "NNNNN"),
    "openid_connect_callback": ("get", {},                   "NNNNN"),
    "socialaccount_login_cancelled": ("get", {},             "OOOOO"),
    "socialaccount_login_error": ("get", {},                 "LNNNN"),
    "socialaccount_signup":   ("get",  {},                   "LLLLL"),
    "mfa_index":              ("get",  {},                   "LOOOO"),
    "mfa_activate_totp":      ("get",  {},                   "LOOOO"),
    "mfa_deactivate_totp":    ("get",  {},                   "LNNOO"),
    "mfa_add_webauthn":       ("get",  {},                   "LOOOO"),
    "mfa_list_webauthn":      ("get",  {},                   "LOOOO"),
    "mfa_edit_webauthn":      ("get",  {},                   "LNNNN"),
    "mfa_remove_webauthn":    ("get",  {},                   "LNNNN"),
    "mfa_generate_recovery_codes": ("get", {},               "LOOOO"),
    "mfa_view_recovery_codes": ("get", {},                   "LNNNN"),
    "mfa_download_recovery_codes": ("get", {},               "LNNNN"),
    "mfa_authenticate":       ("get",  {},                   "LOOOO"),
    "mfa_reauthenticate":     ("get",  {},                   "LFFOO"),
    "mfa_reauthenticate_webauthn": ("get", {},               "LFFOO"),
}  # fmt: skip
# The Django admin is one rule: staff only; everyone else is sent to log in (as staff).
ADMIN_RULE = "LLLLO"
ADMIN_SAMPLES = [
    "admin:index",
    "admin:audit_auditentry_changelist",
    "admin:auth_user_changelist",
    "admin:axes_accessattempt_changelist",
    "admin:statuses_mirrorstatus_changelist",
]


def url_names(resolver: URLResolver | None = None, namespace: str = "") -> set[str]:
    names = set()
    for pattern in (resolver or get_resolver()).url_patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            names |= url_names(pattern, inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            names.add(namespace + pattern.name)
    return names


def test_every_url_has_a_row_in_the_matrix():
    names = {n for n in url_names() if not n.startswith("admin:")}
    assert names == set(MATRIX), f"add rows for: {sorted(names - set(MATRIX))}"


@pytest.fixture
def clients(supervisor, compliance_user, approver_user, admin_user):  # type: ignore[no-untyped-def]
    seed()
    made = {ANON: Client()}
    for role, user in (
        (SUPERVISOR, supervisor),
        (COMPLIANCE, compliance_user),
        (APPROVER, approver_user),
        (ADMIN, admin_user),
    ):
        made[role] = Client()
        made[role].force_login(user)
        if role in (APPROVER, ADMIN):  # what their rights allow, once they pass a factor
            pass_second_factor(made[role], user)
    return made


def reverse_sample(name: str, entry_pk: int) -> str:
    kwargs = {}
    if name in ("statuses:row", "statuses:flag", "statuses:color", "statuses:name",
                "audit:status_history"):  # fmt: skip
        kwargs = {"code": "XFER"}
    elif name == "audit:detail":
        kwargs = {"pk": entry_pk}
    elif name == "statuses:revert":
        kwargs = {"code": "XFER", "pk": entry_pk}
    elif name in ("statuses:change_set", "statuses:apply_change_set",
                  "statuses:discard_change_set", "statuses:decide_change_set"):  # fmt: skip
        from statusadmin.changesets.models import ChangeSet

        plan = ChangeSet.objects.create(
            account="sandbox", kind="bulk", title="A plan", created_by_username="someone"
        )
        kwargs = {"pk": plan.pk}
    elif name in ("statuses:approve", "statuses:reject", "statuses:withdraw"):
        # One decided already: refused in plain words to whoever may decide it, sending
        # nothing (another account's id, or none at all, is a 404: tests/tenancy).
        from django.utils import timezone

        from statusadmin.approvals.models import ChangeRequest

        decided = ChangeRequest.objects.create(
            account="sandbox", status_code="XFER", kind="update", changes={"final": True},
            reason="Sample", requested_by_username="someone", requested_at=timezone.now(),
            expires_at=timezone.now(), state=ChangeRequest.State.REJECTED,
        )  # fmt: skip
        kwargs = {"pk": decided.pk}
    elif name == "audit:verification":
        from statusadmin.worker.tasks import verify_audit

        kwargs = {"result_id": verify_audit.enqueue().id}
    elif name in ("openid_connect_login", "openid_connect_callback"):
        kwargs = {"provider_id": "statusadmin"}
    elif name in ("mfa_edit_webauthn", "mfa_remove_webauthn"):
        kwargs = {"pk": 999_999}
    return reverse(name, kwargs=kwargs)


def outcome(response) -> str:  # type: ignore[no-untyped-def]
    if response.status_code == 403:
        return "F"
    if response.status_code in (401, 404):  # no such thing, or a sign-in that failed
        return "N"
    location = response.get("Location", "")
    if response.status_code == 302 and location.startswith(("/accounts/login/", "/admin/login/")):
        return "L"
    assert response.status_code < 400, response.status_code
    return "O"


@pytest.mark.parametrize("name", sorted(MATRIX))
def test_role_matrix(clients, name):
    method, data, expected = MATRIX[name]
    url = reverse_sample(name, add_entry().pk)
    got = "".join(outcome(getattr(clients[role], method)(url, data)) for role in ROLES)
    assert got == expected


@pytest.mark.parametrize("name", ADMIN_SAMPLES)
def test_admin_is_staff_only(clients, name):
    url = reverse(name)
    assert "".join(outcome(clients[role].get(url)) for role in ROLES) == ADMIN_RULE


# Every URL that takes a POST, with a body it accepts.
CSRF_POSTS = {
    "logout": {},
    "statuses:refresh": {"q": ""},
    "statuses:flag": {"callback": "Y"},
    "statuses:color": {"color": "#123456"},
    "statuses:name": {"name": "Transferred"},
    "statuses:create": {"code": "AB1", "name": "x", "color": "#000000"},
    "audit:verify": {},
    "time_zone": {"time_zone": "Europe/Paris"},
    "statuses:approve": {"note": "ok"},
    "statuses:reject": {"note": "no way"},
    "statuses:withdraw": {},
    "statuses:read_notices": {},
    "statuses:revert": {"reason": "Put it back"},
    "statuses:bulk": {"codes": "XFER", "action": "final", "value": "Y"},
    "statuses:apply_change_set": {},
    "statuses:discard_change_set": {},
    "statuses:decide_change_set": {"decision": "approve"},
    "statuses:plan_copy": {"from": "nowhere", "codes": "XFER"},  # no such account: past CSRF, a 404
    "account_logout": {},
    "openid_connect_login": {},  # no identity provider here: past CSRF, a 404
}
# Past CSRF, these answer 404: nothing for them to work on here.
CSRF_NOT_FOUND = {"openid_connect_login", "statuses:plan_copy"}


def test_csrf_samples_cover_every_post_in_the_matrix():
    assert {name for name, (method, _, _) in MATRIX.items() if method == "post"} <= set(CSRF_POSTS)


@pytest.mark.parametrize("name", sorted(CSRF_POSTS))
def test_csrf_is_enforced_on_every_post_including_htmx(admin_user, name):
    seed()
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(admin_user)
    pass_second_factor(browser, admin_user)
    browser.get("/")  # sets the CSRF cookie, as a page load does
    url = reverse_sample(name, add_entry().pk)
    data = CSRF_POSTS[name]
    refused = browser.post(url, data, HTTP_HX_REQUEST="true")
    assert refused.status_code == 403
    assert b"CSRF" in refused.content
    token = browser.cookies["csrftoken"].value
    # htmx sends the token in a header (hx-headers on <body>), not in the form.
    allowed = browser.post(url, data, HTTP_HX_REQUEST="true", HTTP_X_CSRFTOKEN=token)
    assert allowed.status_code == 404 if name in CSRF_NOT_FOUND else allowed.status_code < 400, (
        allowed.status_code
    )
    if name == "statuses:create":
        assert allowed["HX-Redirect"].startswith("/?created=AB1")
        assert SandboxStatus.objects.filter(code="AB1").exists()


class HeaderTests:
    def test_content_security_policy_with_nonces(self, supervisor_client):
        seed()
        response = supervisor_client.get("/")
        policy = response["Content-Security-Policy"]
        nonce = re.search(r"'nonce-([^']+)'", policy).group(1)
        assert "script-src 'self' 'nonce-" in policy
        assert "style-src 'self'" in policy
        assert "frame-ancestors 'none'" in policy
        assert "unsafe-inline" not in policy
        assert "unsafe-eval" not in policy
        html = response.content.decode()
        scripts = re.findall(r"<script[^>]*>", html)
        assert scripts
        assert all(f'nonce="{nonce}"' in tag and "src=" in tag for tag in scripts)
        assert "style=" not in html
        assert " hx-on" not in html
        assert "js:" not in html

    def test_other_headers(self, client):
        response = client.get("/accounts/login/")
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Referrer-Policy"] == "same-origin"
        assert response["X-Frame-Options"] == "DENY"
        assert response["Cross-Origin-Opener-Policy"] == "same-origin"
        assert "camera=()" in response["Permissions-Policy"]
        assert "microphone=()" in response["Permissions-Policy"]


class LoginThrottleTests:
    def attempt(self, password: str, ip: str = "192.0.2.10"):  # type: ignore[no-untyped-def]
        return Client(REMOTE_ADDR=ip).post(
            "/accounts/login/", {"username": "sue", "password": password}
        )

    def test_repeated_failures_lock_the_username_from_that_address(self, supervisor, settings):
        for _ in range(settings.AXES_FAILURE_LIMIT - 1):
            assert self.attempt("wrong").status_code == 200
        locked = self.attempt("wrong")
        assert locked.status_code == 429
        assert b"Too many failed logins" in locked.content
        # Even the right password is refused while locked.
        assert self.attempt("pw-sue").status_code == 429
        # Failures are recorded (the admin lists them) ...
        attempt = AccessAttempt.objects.get(username="sue")
        assert attempt.failures_since_start >= settings.AXES_FAILURE_LIMIT
        assert attempt.ip_address == "192.0.2.10"
        assert (
            AccessFailureLog.objects.filter(username="sue").count() >= settings.AXES_FAILURE_LIMIT
        )
        # ... and the rest of the floor, behind another address, can still log in.
        assert self.attempt("pw-sue", ip="192.0.2.99").status_code == 302

    def test_success_resets_the_count(self, supervisor, settings):
        for _ in range(settings.AXES_FAILURE_LIMIT - 1):
            self.attempt("wrong")
        assert self.attempt("pw-sue").status_code == 302
        assert self.attempt("wrong").status_code == 200

    def test_locked_out_page_renders_without_a_server_error(self, supervisor, settings):
        settings.AXES_FAILURE_LIMIT = 1
        response = self.attempt("wrong")
        assert response.status_code == 429
        assert b"Too many failed logins" in response.content

    def test_the_locked_out_page_says_how_long_in_plain_words(self, supervisor, settings):
        settings.AXES_FAILURE_LIMIT = 1
        html = self.attempt("wrong").content.decode()
        assert "Wait 15 minutes and try again" in html
        assert "PT15M" not in html


class IdleSessionTests:
    def test_sessions_expire_after_the_idle_timeout(self, supervisor_client, settings):
        seed()
        supervisor_client.get("/")
        session = Session.objects.get()
        remaining = session.expire_date - timezone.now()
        assert timedelta(seconds=settings.SESSION_IDLE_TIMEOUT - 60) < remaining
        assert remaining <= timedelta(seconds=settings.SESSION_IDLE_TIMEOUT)
        Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))
        assert supervisor_client.get("/")["Location"].startswith("/accounts/login/")

    def test_activity_slides_the_expiry(self, supervisor_client):
        seed()
        supervisor_client.get("/")
        first = Session.objects.get().expire_date
        # A minute later (as far as the middleware can tell), activity pushes expiry forward.
        session = supervisor_client.session
        session["_seen"] = 0
        session.save()
        Session.objects.update(expire_date=first - timedelta(minutes=5))
        supervisor_client.get("/")
        assert Session.objects.get().expire_date > first - timedelta(seconds=5)

    def test_default_is_thirty_minutes(self, settings):
        assert settings.SESSION_IDLE_TIMEOUT == 1800


class HostileUpstreamTests:
    def test_hostile_statuses_render_safely(self, supervisor_client, real_convoso):
        hostile = [
            {**status_item("XSS1", '<script>alert("x")</script><img src=x onerror=alert(1)>'),
             "hex_color": "red;background:url(javascript:alert(1))"},
            {**status_item("HUGE", "N" * 20_000), "hex_color": "#12345"},
            {"status": "ODD/CODE", "name": ["not", "text"], "final": 1, "dnc": None,
             "custom_status": "maybe", "workflow_dispositon_event_option": {"x": 1}},
            {"status": 12345, "name": 3.5, "hex_color": 123456},
            "not even an object",
        ]  # fmt: skip
        real_convoso.catalogue = hostile
        real_convoso.serve_catalogue()
        response = supervisor_client.get("/")
        assert response.status_code == 200
        html = response.content.decode()
        assert "<script>alert" not in html
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
        assert "onerror=alert" not in html.replace("&lt;img src=x onerror=alert(1)&gt;", "")
        assert "javascript:" not in html
        assert "red;" not in html
        # Bad colours fall back to the neutral "no colour" swatch.
        xss_row = re.search(r'<tbody id="row-XSS1".*?</tbody>', html, re.S).group(0)
        assert 'value="#000000"' in xss_row
        assert '<span class="muted">none</span>' in xss_row
        assert "N" * 20_000 in html  # shown, escaped, wrapped by CSS
        assert 'id="row-ODD/CODE"' in html
        assert "/statuses/ODD/CODE/" not in html  # a code that can't be a URL gets no links
        assert 'id="row-12345"' in html
