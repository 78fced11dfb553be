"""Writes through the service when Convoso's reply is not a reply: what the audit log records."""

from __future__ import annotations

import pytest

from statusadmin.audit.models import AuditEntry
from statusadmin.convoso import errors
from statusadmin.statuses import services

pytestmark = pytest.mark.django_db

ELSEWHERE = "https://elsewhere.test/grab"


@pytest.fixture
def redirected(real_convoso):  # type: ignore[no-untyped-def]
    """Convoso's write endpoints answer 307 towards a host that would accept anything."""
    real_convoso.serve_catalogue()
    for endpoint in ("insert", "update"):
        real_convoso.mock.post(
            real_convoso.url(endpoint), status=307, headers={"Location": ELSEWHERE}
        )
    real_convoso.mock.post(ELSEWHERE, json={"success": True, "data": {"status": "NEW1"}})
    return real_convoso


class RedirectedWriteTests:
    def test_create_is_audited_as_failed_with_the_http_status(self, supervisor, redirected):
        with pytest.raises(errors.ConvosoUnavailable):
            services.status_create(actor=supervisor, code="NEW1", name="New", color=None, flags={})
        entry = AuditEntry.objects.get()
        assert (entry.action, entry.status_code, entry.outcome) == ("create", "NEW1", "failed")
        assert entry.failure_kind == "redirect"
        assert "HTTP 307" in entry.error_message
        assert not any(ELSEWHERE in c.request.url for c in redirected.mock.calls)

    def test_update_is_audited_as_failed_with_the_http_status(self, supervisor, redirected):
        with pytest.raises(errors.ConvosoUnavailable):
            services.status_update(actor=supervisor, code="XFER", changes={"final": True})
        entry = AuditEntry.objects.get()
        assert (entry.action, entry.outcome, entry.failure_kind) == ("update", "failed", "redirect")
        assert "HTTP 307" in entry.error_message
        assert entry.after is None
        assert not any(ELSEWHERE in c.request.url for c in redirected.mock.calls)


class OverlongCodeTests:
    def test_a_code_too_long_to_be_a_status_is_left_out_of_the_mirror(
        self, supervisor_client, real_convoso, caplog
    ):
        from statusadmin.statuses.models import MirrorStatus, MirrorSync
        from tests.helpers import status_item

        real_convoso.catalogue.append(status_item("X" * 65, "Long"))
        real_convoso.serve_catalogue()
        response = supervisor_client.get("/")
        assert response.status_code == 200
        assert "XFER" in response.content.decode()
        assert not MirrorStatus.objects.filter(code__startswith="XXXX").exists()
        assert "code longer than 64 characters" in caplog.text
        assert MirrorSync.objects.get().lease_until is None
