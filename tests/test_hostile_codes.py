"""Whatever codes Convoso returns, every screen that shows them renders them, escaped.

Codes reach us from Convoso (the sandbox catalogue, then the mirror) and from the audit log,
and were created elsewhere, so none of our rules shaped them: spaces, '/', '?', '#', '%',
quotes, markup, unicode, right-to-left overrides, emoji, a lone '-', more than 64 characters.
"""

from __future__ import annotations

import re

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.utils import timezone
from django.utils.html import escape
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from statusadmin.audit.models import AuditEntry
from statusadmin.convoso.connection import get_client
from statusadmin.convoso.models import SandboxStatus
from statusadmin.convoso.sandbox import CUSTOM_STATUSES, SYSTEM_STATUSES, seed
from statusadmin.convoso.status import Status, addressable
from statusadmin.statuses import mirror
from statusadmin.statuses.models import MirrorStatus
from tests.factories import add_entry
from tests.helpers import pass_second_factor

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}
SQLITE = django_settings.DATABASES["default"]["ENGINE"].endswith("sqlite3")
# The mirror keeps codes of up to 64 characters (longer ones are no real status, and a refresh
# leaves them out: tests/statuses/test_services_upstream.py). PostgreSQL also holds the
# sandbox to 32; SQLite stores whatever it is given.
LONGEST = MirrorStatus.CODE_MAX_LENGTH
SANDBOX_LONGEST = LONGEST if SQLITE else 32
SEEDED = {spec[0] for spec in (*SYSTEM_STATUSES, *CUSTOM_STATUSES)}

FIXED = ["A B", "A/B", "A?B", "A#B", "100%", "%2F", 'say "hi"', "it's", "a&amp;b",
         "<script>alert(1)</script>", "{{ code }}", "ÄRGER", "\u202eREFX", "\U0001f4a5",
         "-", ".", "..", "X" * 64, "Y" * 65, "Z" * 33]  # fmt: skip
# Text PostgreSQL can store (no NUL, no lone surrogate), as the client keeps it (stripped).
storable = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")
codes = st.one_of(st.sampled_from(FIXED), st.text(storable, min_size=1, max_size=LONGEST)).filter(
    lambda code: code == code.strip() and code and code not in SEEDED and len(code) <= LONGEST
)


@pytest.fixture
def admin(admin_user) -> Client:  # type: ignore[no-untyped-def]
    seed()
    mirror.mirror_refresh(force=True)
    browser = Client()
    browser.force_login(admin_user)
    pass_second_factor(browser, admin_user)
    return browser


def place(picked: list[tuple[str, bool]]) -> None:
    """Put each code in Convoso's catalogue, and so through a sync in the mirror; a code the
    sandbox can't hold goes straight into the mirror, after the sync (which would drop it)."""
    mirror_only = []
    for code, custom in picked:
        status = Status(code, f"Hostile {code}", dnc=True, custom=custom)
        if len(code) <= SANDBOX_LONGEST:
            SandboxStatus.objects.create(code=code, name=status.name, custom=custom, dnc=True)
        else:
            mirror_only.append(status)
    mirror.mirror_refresh(force=True)
    account = get_client().account
    for status in mirror_only:
        MirrorStatus.objects.create(
            account=account,
            code=status.code,
            synced_at=timezone.now(),
            **MirrorStatus.values_from(status),
        )


def shown(response, code: str) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, (response.status_code, code)
    html = response.content.decode()
    assert escape(code) in html, code
    if re.search(r"<[A-Za-z/!?]", code):  # it could open a tag, unless it was escaped
        assert code not in html
    return html


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    picked=st.lists(
        st.tuples(codes, st.booleans()), min_size=1, max_size=3, unique_by=lambda p: p[0]
    )
)
def test_every_screen_shows_any_code(admin, picked):
    place(picked)
    account = get_client().account
    entries = [
        add_entry(code=code, account=account, action="external_update", outcome="observed",
                  reason=f"seen {code}")
        for code, _ in picked
    ]  # fmt: skip
    try:
        for (code, _), entry in zip(picked, entries, strict=True):
            check_status_screen(admin, code)
            check_audit_screens(admin, code, entry)
        check_admin(admin, [code for code, _ in picked])
    finally:
        SandboxStatus.objects.filter(code__in=[c for c, _ in picked]).delete()
        MirrorStatus.objects.filter(code__in=[c for c, _ in picked]).delete()


def check_status_screen(admin: Client, code: str) -> None:
    for headers in ({}, HX):
        shown(admin.get("/", {"q": code}, **headers), code)
        shown(admin.get("/", {"created": code}, **headers), code)
    if addressable(code):
        row = shown(admin.get(f"/statuses/{code}/", **HX), code)
        assert f'href="/statuses/{code}/history/"' in row


def check_audit_screens(admin: Client, code: str, entry: AuditEntry) -> None:
    for headers in ({}, HX):
        shown(admin.get("/audit/", **headers), code)
    detail = shown(admin.get(f"/audit/{entry.pk}/"), code)
    history = f"/statuses/{code}/history/"
    if addressable(code):
        assert f'href="{history}"' in detail
        assert f"Reason: seen {escape(code)}" in shown(admin.get(history), code)
    else:
        assert f"{escape(code)} has no history page" in detail
        assert not re.search(r'href="[^"]*/history/"', detail)


def check_admin(admin: Client, picked: list[str]) -> None:
    mirror = admin.get("/admin/statuses/mirrorstatus/")
    audit = admin.get("/admin/audit/auditentry/")
    for code in picked:
        shown(mirror, code)
        shown(audit, code)


@pytest.mark.parametrize(
    "item",
    [{"status": "L" * 65, "name": "Longer than the mirror's code column"},
     {"status": "NUL", "name": "a\x00b"}],
    ids=["code-of-65-characters", "name-with-NUL"],
)  # fmt: skip
def test_a_catalogue_entry_the_mirror_cannot_store(real_convoso, supervisor_client, item):
    real_convoso.catalogue.append(item)
    real_convoso.serve_catalogue()
    page = supervisor_client.get("/")
    assert page.status_code == 200
    assert 'id="row-XFER"' in page.content.decode()


@pytest.mark.parametrize("code", ["new", "import", "bulk"])
def test_a_code_that_is_also_a_page_gets_no_page_of_its_own(admin, code):
    """Found by the property test above: a status coded "bulk" had its row at the bulk edit's
    address. Such a code is shown, with no link to a page that isn't its own."""
    place([(code, True)])
    html = shown(admin.get("/", {"q": code}), code)
    for own in ("flag/", "color/", "name/", "history/"):  # its controls and its history link
        assert f"/statuses/{code}/{own}" not in html
