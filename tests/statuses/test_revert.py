"""Restore previous values: any change that took effect can be put back, shown first."""

from __future__ import annotations

import re

import pytest

from statusadmin.approvals import services as approvals
from statusadmin.approvals.models import ChangeRequest
from statusadmin.audit.models import Action, AuditEntry
from statusadmin.convoso.models import SandboxStatus
from statusadmin.convoso.sandbox import seed
from statusadmin.statuses import services

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _catalogue(db):  # type: ignore[no-untyped-def]
    seed()


def html(response) -> str:  # type: ignore[no-untyped-def]
    return response.content.decode()


def test_history_offers_it_to_supervisors_only(supervisor_client, compliance_user, supervisor):
    from django.test import Client

    services.status_update(actor=supervisor, code="XFER", changes={"callback": "Y"})
    entry = AuditEntry.objects.get()
    link = f'<a href="/statuses/XFER/revert/{entry.pk}/">Restore previous values</a>'
    assert link in html(supervisor_client.get("/statuses/XFER/history/"))
    compliance = Client()
    compliance.force_login(compliance_user)
    assert link not in html(compliance.get("/statuses/XFER/history/"))


def test_shown_first_then_sent_and_linked(supervisor_client, supervisor):
    services.status_update(
        actor=supervisor, code="XFER", changes={"callback": "Y", "color": "#112233"}
    )
    entry = AuditEntry.objects.get()
    page = html(supervisor_client.get(f"/statuses/XFER/revert/{entry.pk}/"))
    assert "Colour #112233 → #6711D1, Callback Yes → No" in page
    assert SandboxStatus.objects.get(code="XFER").callback is True  # nothing sent yet
    version = re.search(r'name="v" value="(\w+)"', page).group(1)
    response = supervisor_client.post(
        f"/statuses/XFER/revert/{entry.pk}/", {"v": version, "reason": "Wrong status"}
    )
    assert response.status_code == 302
    row = SandboxStatus.objects.get(code="XFER")
    assert (row.callback, row.hex_color) == (False, "6711D1")
    restore = AuditEntry.objects.order_by("seq").last()
    assert (restore.action, restore.outcome, restore.reverts_ref) == (
        "update", "succeeded", entry.pk,
    )  # fmt: skip


def test_restoring_dnc_waits_for_approval(supervisor_client, supervisor, no_approvals, settings):
    services.status_update(actor=supervisor, code="XFER", changes={"dnc": "Y"}, reason="Opt-outs")
    entry = AuditEntry.objects.get()
    settings.APPROVAL_FIELDS = ["dnc"]
    page = html(supervisor_client.get(f"/statuses/XFER/revert/{entry.pk}/"))
    assert "Why (required)" in page
    supervisor_client.post(f"/statuses/XFER/revert/{entry.pk}/", {"reason": "Was right before"})
    request = ChangeRequest.objects.get()
    assert (request.changes, request.reverts_ref) == ({"dnc": False}, entry.pk)
    assert SandboxStatus.objects.get(code="XFER").dnc is True
    from tests.factories import make_user

    approvals.approve(request_id=request.pk, approver=make_user("april", "Approver"))
    assert SandboxStatus.objects.get(code="XFER").dnc is False
    applied = AuditEntry.objects.get(action=Action.UPDATE, request_ref=request.pk)
    assert applied.reverts_ref == entry.pk


def test_nothing_to_restore_and_no_such_entry(supervisor_client, supervisor):
    services.status_update(actor=supervisor, code="XFER", changes={"callback": "Y"})
    services.status_update(actor=supervisor, code="XFER", changes={"callback": "N"})
    first = AuditEntry.objects.order_by("seq").first()
    assert "nothing to restore" in html(supervisor_client.get(f"/statuses/XFER/revert/{first.pk}/"))
    # No such entry (or another account's, or another status's): nothing says which.
    assert supervisor_client.get("/statuses/HOT/revert/999999/").status_code == 404
    assert supervisor_client.get(f"/statuses/HOT/revert/{first.pk}/").status_code == 404
