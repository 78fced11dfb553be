"""People learn about decisions in the dashboard too, beside e-mail: a badge in the navigation
and a list of notices, for approvers (a request waits) and requesters (it was decided) (#26
item 12)."""

from __future__ import annotations

import pytest
from django.test import Client

from statusadmin.accounts.roles import APPROVER, SUPERVISOR
from statusadmin.approvals import services as approvals
from statusadmin.convoso.sandbox import seed
from tests.factories import make_user
from tests.helpers import signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _catalogue(db):  # type: ignore[no-untyped-def]
    seed()


def nav(client: Client) -> str:
    html = client.get("/").content.decode()
    return html[html.index('<nav aria-label="Main">') : html.index("</nav>")]


def test_an_approver_is_told_a_request_waits_even_without_email(
    django_capture_on_commit_callbacks,
):
    sue = make_user("sue", SUPERVISOR)
    april = make_user("april", APPROVER)  # no e-mail address: the dashboard still tells her
    with django_capture_on_commit_callbacks(execute=True):
        approvals.request_update(
            actor=sue, code="HOT", changes={"dnc": "Y"}, reason="Customer opted out"
        )
    client = signed_in(april)
    assert 'aria-label="1 unread notice"' in nav(client)
    html = client.get("/notices/").content.decode()
    assert "sue asks for a change to HOT: DNC No → Yes" in html
    assert 'href="/approvals/"' in html
    # The requester is not told of their own request.
    assert "unread notice" not in nav(signed_in(sue))


def test_the_requester_is_told_of_the_decision_and_its_note(django_capture_on_commit_callbacks):
    sue = make_user("sue", SUPERVISOR)
    april = make_user("april", APPROVER)
    with django_capture_on_commit_callbacks(execute=True):
        request = approvals.request_update(
            actor=sue, code="HOT", changes={"dnc": "Y"}, reason="Customer opted out"
        )
    with django_capture_on_commit_callbacks(execute=True):
        approvals.reject(request_id=request.pk, approver=april, note="Wrong status")
    client = signed_in(sue)
    assert 'aria-label="1 unread notice"' in nav(client)
    html = client.get("/notices/").content.decode()
    assert "Your change to HOT (DNC No → Yes) was rejected by april: “Wrong status”" in html
    assert 'href="/requests/"' in html


def test_read_notices_leave_the_badge(django_capture_on_commit_callbacks):
    sue = make_user("sue", SUPERVISOR)
    april = make_user("april", APPROVER)
    with django_capture_on_commit_callbacks(execute=True):
        approvals.request_update(actor=sue, code="HOT", changes={"dnc": "Y"}, reason="Opt-out")
    client = signed_in(april)
    response = client.post("/notices/read/")
    assert response.status_code == 302
    assert "unread notice" not in nav(client)
    # Read, not gone: the list still has it.
    assert "sue asks for a change to HOT" in client.get("/notices/").content.decode()


def test_nobody_sees_anothers_notices(django_capture_on_commit_callbacks):
    sue = make_user("sue", SUPERVISOR)
    make_user("april", APPROVER)
    with django_capture_on_commit_callbacks(execute=True):
        approvals.request_update(actor=sue, code="HOT", changes={"dnc": "Y"}, reason="Opt-out")
    other = make_user("olga", SUPERVISOR)
    html = signed_in(other).get("/notices/").content.decode()
    assert "asks for a change" not in html
    assert "No notices yet" in html


def test_change_sets_waiting_and_decided_are_noticed_too(django_capture_on_commit_callbacks):
    from statusadmin.changesets import services as changesets

    sue = make_user("sue", SUPERVISOR)
    april = make_user("april", APPROVER)
    plan = changesets.plan_bulk(actor=sue, codes=["XFER"], changes={"dnc": True}, title="DNC on")
    with django_capture_on_commit_callbacks(execute=True):
        changesets.apply(change_set_id=plan.pk, actor=sue, reason="Opt-outs")
    approver = signed_in(april)
    html = approver.get("/notices/").content.decode()
    assert f"sue asks for approval of change set {plan.pk}: DNC on" in html
    assert f'href="/changes/{plan.pk}/"' in html
    with django_capture_on_commit_callbacks(execute=True):
        changesets.decide(change_set_id=plan.pk, approver=april, approve=False, note="Not now")
    html = signed_in(sue).get("/notices/").content.decode()
    assert f"Your change set {plan.pk} (DNC on) was rejected by april: “Not now”" in html
