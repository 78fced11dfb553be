"""A save that changes nothing sends nothing to Convoso, and the audit log says so: an entry
whose outcome is "No change", never "Succeeded" (README: the audit trail)."""

from __future__ import annotations

from statusadmin.audit.models import AuditEntry, Outcome
from statusadmin.convoso.sandbox import Sandbox, seed
from statusadmin.statuses import services

HX = {"HTTP_HX_REQUEST": "true"}


class NoChangeTests:
    def test_nothing_is_sent_and_the_entry_says_no_change(self, supervisor, real_convoso):
        real_convoso.serve_catalogue()
        # XFER's Final is off already (the demo catalogue).
        result = services.status_update(actor=supervisor, code="XFER", changes={"final": "N"})
        assert real_convoso.calls_to("update") == 0
        assert result.changed == []
        entry = AuditEntry.objects.get(pk=result.entry)
        assert entry.outcome == Outcome.UNCHANGED
        assert entry.get_outcome_display() == "No change"
        assert entry.after is None
        assert entry.changed_fields == []
        assert entry.note == "Convoso already held these values, so nothing was sent."

    def test_a_real_change_beside_an_unchanged_field_is_sent(self, supervisor, monkeypatch):
        sent = []
        real = Sandbox._update
        monkeypatch.setattr(
            Sandbox,
            "_update",
            lambda self, form, tenant: sent.append(form) or real(self, form, tenant),
        )
        seed()
        result = services.status_update(
            actor=supervisor, code="XFER", changes={"final": "N", "callback": "Y"}
        )
        assert len(sent) == 1
        assert result.changed == ["callback"]
        assert AuditEntry.objects.get(pk=result.entry).outcome == Outcome.SUCCEEDED

    def test_the_row_says_nothing_needed_saving(self, supervisor_client):
        response = supervisor_client.post("/statuses/XFER/flag/", {"callback": "N"}, **HX)
        assert "Nothing to save: XFER already had these values." in response.content.decode()
        assert AuditEntry.objects.get(status_code="XFER").outcome == Outcome.UNCHANGED

    def test_the_audit_list_shows_it_plainly(self, supervisor, compliance_client):
        services.status_update(actor=supervisor, code="XFER", changes={"final": "N"})
        page = compliance_client.get("/audit/").content.decode()
        assert "No change" in page
        assert "Succeeded" not in page.split("<tbody", 1)[1]
