"""The write service and the mirror, against the sandbox and a scripted Convoso."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import requests

from statusadmin.audit.models import AuditEntry
from statusadmin.convoso import errors
from statusadmin.convoso.client import parse_status
from statusadmin.convoso.connection import get_client
from statusadmin.convoso.models import SandboxStatus
from statusadmin.convoso.status import EDITABLE_FIELDS
from statusadmin.convoso.validation import InvalidInput
from statusadmin.statuses import mirror, services
from statusadmin.statuses.models import MirrorStatus
from statusadmin.statuses.selectors import status_version
from tests.factories import mirrored
from tests.helpers import status_item

pytestmark = pytest.mark.django_db


class UpdateTests:
    def test_success_updates_convoso_and_the_mirror_at_once(self, supervisor):
        mirror.mirror_refresh()
        result = services.status_update(
            actor=supervisor, code="XFER", changes={"callback": "Y", "color": "#112233"}
        )
        assert result.changed == ["color", "callback"]  # display order
        assert result.before.callback is False
        assert SandboxStatus.objects.get(code="XFER").callback is True
        row = mirrored("XFER")
        assert (row.callback, row.color) == (True, "#112233")
        assert result.status == row.to_status()
        assert (result.stale, result.resolved) == (False, False)

    def test_dnc_needs_a_reason_and_nothing_is_sent_without_one(self, supervisor, monkeypatch):
        sent: list[object] = []
        monkeypatch.setattr(type(get_client()), "call", lambda *a, **k: sent.append(a))
        for reason in ("", "   "):
            with pytest.raises(services.ReasonRequired):
                services.status_update(
                    actor=supervisor, code="XFER", changes={"dnc": "Y"}, reason=reason
                )
        assert sent == []

    @pytest.mark.parametrize("reason", ["\x00", "\u200b", "\u200b\u200d\ufeff", "\t\n", ".."])
    def test_a_reason_made_of_nothing_readable_is_no_reason(self, supervisor, monkeypatch, reason):
        sent: list[object] = []
        monkeypatch.setattr(type(get_client()), "call", lambda *a, **k: sent.append(a))
        with pytest.raises(services.ReasonRequired):
            services.status_update(
                actor=supervisor, code="XFER", changes={"dnc": "Y"}, reason=reason
            )
        assert sent == []

    def test_creating_with_dnc_on_needs_a_reason(self, supervisor, monkeypatch):
        sent: list[object] = []
        monkeypatch.setattr(type(get_client()), "call", lambda *a, **k: sent.append(a))
        for reason in ("", "\x00", "\u200b"):
            with pytest.raises(services.ReasonRequired):
                services.status_create(
                    actor=supervisor, code="OPT2", name="Opt-out", color=None,
                    flags={"dnc": True}, reason=reason,
                )  # fmt: skip
        assert sent == []

    def test_creating_with_dnc_on_audits_the_reason(self, no_approvals, supervisor):
        from statusadmin.audit.models import AuditEntry

        services.status_create(
            actor=supervisor, code="OPT2", name="Opt-out", color=None,
            flags={"dnc": "Y", "final": "N"}, reason="SMS opt-outs",
        )  # fmt: skip
        entry = AuditEntry.objects.get()
        assert entry.reason == "SMS opt-outs"
        assert entry.requested["dnc"] is True
        assert entry.requested["final"] is False
        assert SandboxStatus.objects.get(code="OPT2").dnc is True

    def test_dnc_with_a_reason(self, no_approvals, supervisor):
        result = services.status_update(
            actor=supervisor, code="XFER", changes={"dnc": True}, reason="Customer opt-outs"
        )
        assert result.status.dnc is True
        assert SandboxStatus.objects.get(code="XFER").dnc is True

    def test_overlong_reason_is_refused(self, supervisor):
        with pytest.raises(InvalidInput) as exc:
            services.status_update(
                actor=supervisor, code="XFER", changes={"dnc": True}, reason="x" * 501
            )
        assert exc.value.field == "reason"

    def test_invalid_change_is_refused_before_any_call(self, supervisor, monkeypatch):
        sent: list[object] = []
        monkeypatch.setattr(type(get_client()), "call", lambda *a, **k: sent.append(a))
        with pytest.raises(InvalidInput) as exc:
            services.status_update(actor=supervisor, code="XFER", changes={"color": "red"})
        assert exc.value.field == "color"
        assert sent == []

    def test_system_status_is_rejected_by_convoso(self, supervisor):
        with pytest.raises(errors.StatusNotModifiable):
            services.status_update(actor=supervisor, code="COMP", changes={"final": "N"})
        assert SandboxStatus.objects.get(code="COMP").final is True

    def test_failure_leaves_the_fresh_before_in_the_mirror(self, supervisor, real_convoso):
        real_convoso.serve_catalogue()
        mirror.mirror_refresh()
        real_convoso.catalogue[0]["name"] = "Renamed in Convoso"
        real_convoso.mock.post(real_convoso.url("update"), status=503)
        with pytest.raises(errors.ConvosoUnavailable):
            services.status_update(actor=supervisor, code="XFER", changes={"final": "Y"})
        assert mirrored("XFER", get_client().account).name == "Renamed in Convoso"

    def test_a_status_gone_from_convoso_leaves_the_mirror(self, supervisor):
        mirror.mirror_refresh()
        SandboxStatus.objects.filter(code="HOT").delete()
        with pytest.raises(errors.StatusNotFound):
            services.status_update(actor=supervisor, code="HOT", changes={"final": "Y"})
        assert not MirrorStatus.objects.filter(code="HOT").exists()
        # Only that status: search still finds every other one.
        left = set(MirrorStatus.objects.values_list("code", flat=True))
        assert left == set(SandboxStatus.objects.values_list("code", flat=True))
        assert "XFER" in left

    def test_every_remark_goes_in_the_audit_note(self, supervisor, real_convoso):
        """The page showed another name, and Convoso can't be read back after the update."""
        xfer = status_item("XFER", "Transferred", reached="Y")
        searches: list[object] = []

        def search(request):  # type: ignore[no-untyped-def]
            searches.append(request)
            if len(searches) > 1:
                raise requests.ConnectTimeout("the read-back")
            return 200, {}, json.dumps({"data": [xfer]})

        real_convoso.mock.add_callback("POST", real_convoso.url("search"), callback=search)
        real_convoso.mock.post(real_convoso.url("update"), json={"success": True})
        shown = status_version(replace(parse_status(xfer), name="What the page showed"))
        result = services.status_update(
            actor=supervisor, code="XFER", changes={"final": "Y"}, expected_version=shown
        )
        assert (result.stale, result.status.final) == (True, True)
        assert AuditEntry.objects.get().note == (
            "The status had changed since the page was loaded. Convoso accepted the change "
            "but could not be read back; 'after' is what was sent."
        )

    def test_change_since_the_page_loaded_is_reported(self, supervisor):
        mirror.mirror_refresh()
        loaded = mirrored("XFER").to_status()
        SandboxStatus.objects.filter(code="XFER").update(name="Someone else renamed it")
        result = services.status_update(
            actor=supervisor,
            code="XFER",
            changes={"final": "Y"},
            expected_version=status_version(loaded),
        )
        assert result.stale is True
        assert result.before.name == "Someone else renamed it"
        assert result.status.name == "Someone else renamed it"

    def test_a_conflict_on_a_flag_says_what_the_flag_is_now(self, supervisor):
        """The person's page showed Final off; someone else turned it on; their change asks
        for off again: refused, and told that Final is on now."""
        mirror.mirror_refresh()
        loaded = mirrored("XFER").to_status()
        assert loaded.final is False
        SandboxStatus.objects.filter(code="XFER").update(final=True)
        with pytest.raises(services.EditConflict) as exc:
            services.status_update(
                actor=supervisor, code="XFER", changes={"final": "N", "callback": "Y"},
                expected_version=status_version(loaded),
            )  # fmt: skip
        assert "XFER was changed after your page loaded (now Final on)" in exc.value.explanation
        assert SandboxStatus.objects.get(code="XFER").final is True

    def test_unchanged_since_the_page_loaded(self, supervisor):
        mirror.mirror_refresh()
        loaded = mirrored("XFER").to_status()
        result = services.status_update(
            actor=supervisor, code="XFER", changes={"final": "Y"},
            expected_version=status_version(loaded),
        )  # fmt: skip
        assert result.stale is False


class CreateTests:
    def test_success_lands_in_convoso_and_the_mirror(self, supervisor):
        result = services.status_create(
            actor=supervisor, code="vip1", name="VIP", color="#abcdef", flags={"success": True}
        )
        assert result.status.code == "VIP1"
        assert (result.before, result.changed) == (None, list(EDITABLE_FIELDS))
        assert (result.stale, result.resolved) == (False, False)
        assert SandboxStatus.objects.get(code="VIP1").success is True
        assert mirrored("VIP1").name == "VIP"

    def test_duplicate(self, supervisor):
        with pytest.raises(errors.DuplicateStatus):
            services.status_create(actor=supervisor, code="XFER", name="x", color=None, flags={})
