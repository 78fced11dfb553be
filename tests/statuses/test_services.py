"""The write service and the mirror, against the sandbox and a scripted Convoso."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from django.utils import timezone

from statusadmin.audit.models import AuditEntry
from statusadmin.convoso import errors
from statusadmin.convoso.client import parse_status
from statusadmin.convoso.connection import SANDBOX_ACCOUNT, get_client
from statusadmin.convoso.models import SandboxStatus
from statusadmin.convoso.validation import EDITABLE_FIELDS, InvalidInput
from statusadmin.statuses import services
from statusadmin.statuses.models import MirrorStatus, MirrorSync
from statusadmin.statuses.selectors import status_version
from tests.conftest import age_mirror, refused, status_item

pytestmark = pytest.mark.django_db


def mirrored(code: str, account: str = SANDBOX_ACCOUNT) -> MirrorStatus:
    return MirrorStatus.objects.get(account=account, code=code)


class MirrorRefreshTests:
    def test_first_refresh_copies_the_catalogue(self):
        sync = services.mirror_refresh()
        assert sync.synced_at is not None
        assert sync.last_error == ""
        codes = set(MirrorStatus.objects.values_list("code", flat=True))
        assert {"COMP", "XFER", "DNC"} <= codes
        assert mirrored("XFER").custom is True
        assert mirrored("COMP").custom is False

    def test_a_fresh_mirror_is_not_refreshed(self, settings, monkeypatch):
        services.mirror_refresh()
        calls: list[str] = []
        monkeypatch.setattr(type(get_client()), "search", lambda self, q="": calls.append(q))
        services.mirror_refresh()
        assert calls == []

    def test_a_stale_mirror_is_refreshed(self, settings):
        services.mirror_refresh()
        SandboxStatus.objects.filter(code="XFER").update(name="Changed in Convoso")
        age_mirror(61)
        services.mirror_refresh()
        assert mirrored("XFER").name == "Changed in Convoso"

    def test_max_age_is_configurable(self, settings):
        settings.MIRROR_MAX_AGE = 5
        services.mirror_refresh()
        SandboxStatus.objects.filter(code="XFER").update(name="Renamed")
        age_mirror(6)
        services.mirror_refresh()
        assert mirrored("XFER").name == "Renamed"

    def test_statuses_removed_in_convoso_leave_the_mirror(self):
        services.mirror_refresh()
        SandboxStatus.objects.filter(code="HOT").delete()
        services.mirror_refresh(force=True)
        assert not MirrorStatus.objects.filter(code="HOT").exists()

    def test_a_refresh_in_progress_elsewhere_is_not_repeated(self, monkeypatch):
        MirrorSync.objects.create(
            account=SANDBOX_ACCOUNT, lease_until=timezone.now() + timedelta(seconds=30)
        )
        calls: list[str] = []
        monkeypatch.setattr(type(get_client()), "search", lambda self, q="": calls.append(q))
        services.mirror_refresh(force=True)
        assert calls == []

    def test_failure_is_recorded_and_the_copy_kept(self, real_convoso):
        real_convoso.serve_catalogue()
        services.mirror_refresh()
        real_convoso.mock.replace("POST", real_convoso.url("search"), body=refused())
        sync = services.mirror_refresh(force=True)
        assert "could not be reached" in sync.last_error
        assert sync.lease_until is None
        assert MirrorStatus.objects.filter(account=get_client().account).count() == 2

    def test_a_good_refresh_clears_the_last_error(self, real_convoso):
        real_convoso.mock.post(real_convoso.url("search"), body=refused())
        assert "could not be reached" in services.mirror_refresh().last_error
        real_convoso.mock.remove("POST", real_convoso.url("search"))
        real_convoso.serve_catalogue()
        sync = services.mirror_refresh(force=True)
        assert (sync.last_error, sync.lease_until) == ("", None)
        assert mirrored("XFER", get_client().account).name == "Transferred"

    def test_a_row_holds_what_its_columns_can(self, real_convoso):
        item = status_item("LONG", "Long workflow")
        item.update(hex_color="", workflow_disposition_event_option="w" * 300)
        real_convoso.catalogue.append(item)
        real_convoso.serve_catalogue()
        services.mirror_refresh()
        row = mirrored("LONG", get_client().account)
        # No colour is an empty column; PostgreSQL refuses a workflow over 255 characters.
        assert (row.color, row.workflow) == ("", "w" * 255)
        assert row.to_status().color is None

    def test_after_a_failure_the_next_try_waits(self, real_convoso):
        real_convoso.mock.post(real_convoso.url("search"), body=refused())
        services.mirror_refresh()
        services.mirror_refresh()
        assert real_convoso.calls_to("search") == 1

    def test_each_account_has_its_own_mirror(self, real_convoso):
        real_convoso.serve_catalogue()
        services.mirror_refresh()
        real_account = get_client().account
        assert real_account != SANDBOX_ACCOUNT
        assert set(
            MirrorStatus.objects.filter(account=real_account).values_list("code", flat=True)
        ) == {"XFER", "COMP"}
        assert not MirrorStatus.objects.filter(account=SANDBOX_ACCOUNT).exists()


class UpdateTests:
    def test_success_updates_convoso_and_the_mirror_at_once(self, supervisor):
        services.mirror_refresh()
        result = services.status_update(
            actor=supervisor, code="XFER", changes={"callback": "Y", "color": "#112233"}
        )
        assert result.changed == ["callback", "color"]
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

    def test_creating_with_dnc_on_audits_the_reason(self, supervisor):
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

    def test_dnc_with_a_reason(self, supervisor):
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
        services.mirror_refresh()
        real_convoso.catalogue[0]["name"] = "Renamed in Convoso"
        real_convoso.mock.post(real_convoso.url("update"), status=503)
        with pytest.raises(errors.ConvosoUnavailable):
            services.status_update(actor=supervisor, code="XFER", changes={"final": "Y"})
        assert mirrored("XFER", get_client().account).name == "Renamed in Convoso"

    def test_a_status_gone_from_convoso_leaves_the_mirror(self, supervisor):
        services.mirror_refresh()
        SandboxStatus.objects.filter(code="HOT").delete()
        with pytest.raises(errors.StatusNotFound):
            services.status_update(actor=supervisor, code="HOT", changes={"final": "Y"})
        assert not MirrorStatus.objects.filter(code="HOT").exists()

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
        services.mirror_refresh()
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

    def test_unchanged_since_the_page_loaded(self, supervisor):
        services.mirror_refresh()
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


def test_the_service_is_the_only_writer():
    """Nothing but statuses/services.py may call the client's insert or update."""
    root = Path(__file__).resolve().parents[2] / "statusadmin"
    # A client however it is reached: client, self._client, get_client(), build_client(...).
    call = re.compile(r"client(\([^()]*\))?\s*\.\s*(insert|update)\(")
    for form in ("client.insert(", "get_client().update(", "self._client.update("):
        assert call.search(form), form
    writers = {
        path.relative_to(root).as_posix()
        for path in root.rglob("*.py")
        if call.search(path.read_text())
    }
    assert writers == {"statuses/services.py"}
