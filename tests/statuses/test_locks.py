"""The per-status write lock, the version a page carries, and what a write reads back."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from statusadmin.audit.models import AuditEntry
from statusadmin.convoso.connection import get_client
from statusadmin.convoso.models import SandboxStatus
from statusadmin.statuses import locks, services
from statusadmin.statuses.models import StatusWriteLease
from statusadmin.statuses.selectors import changed_since, status_version
from tests.helpers import status_held_by_another_writer, status_item


class VersionTests:
    def test_a_version_names_exactly_the_fields_that_changed_since(self, db):
        shown = get_client().get("XFER")
        version = status_version(shown)
        assert changed_since(version, shown) == set()
        later = replace(shown, dnc=True, color=None, name="Renamed")
        assert changed_since(version, later) == {"dnc", "color", "name"}
        assert changed_since(status_version(later), shown) == {"dnc", "color", "name"}

    def test_a_status_without_a_colour(self, db):
        shown = replace(get_client().get("XFER"), color=None)
        version = status_version(shown)
        assert changed_since(version, shown) == set()
        assert changed_since(version, replace(shown, color="#00AA00")) == {"color"}

    @pytest.mark.parametrize(
        "version", ["", "x", "NYYNNYN6711D1", "nyynnyn6711d1ce48c5a0", "ğ" * 21]
    )
    def test_an_unreadable_version_is_unknown(self, db, version):
        assert changed_since(version, get_client().get("XFER")) is None

    def test_an_unreadable_version_refuses_a_change_that_would_overwrite(self, supervisor):
        with pytest.raises(services.EditConflict):
            services.status_update(
                actor=supervisor, code="XFER", changes={"final": "Y"}, expected_version="old"
            )
        assert SandboxStatus.objects.get(code="XFER").final is False

    def test_asking_for_the_value_a_field_already_has_is_no_conflict(self, supervisor):
        shown = get_client().get("XFER")
        SandboxStatus.objects.filter(code="XFER").update(final=True)
        result = services.status_update(
            actor=supervisor, code="XFER", changes={"final": "Y"},
            expected_version=status_version(shown),
        )  # fmt: skip
        assert (result.changed, result.stale) == ([], True)


class LockKeyTests:
    """PostgreSQL's advisory locks are named by two 32-bit integers (locks._key gives the
    second)."""

    def test_a_status_has_the_same_key_in_every_process_and_every_release(self):
        # Not hash(), which differs per process; and fixed, so that during a rolling deploy an
        # old and a new worker still keep each other out.
        assert locks._key("sandbox", "XFER") == -705066633
        assert locks._key("sandbox", "HOT") == 1761636186
        assert locks._key("0123456789abcdef", "XFER") == 372428223

    def test_keys_fit_an_integer_and_tell_statuses_apart(self):
        keys = {locks._key(account, f"C{n}") for account in ("a", "b") for n in range(500)}
        assert len(keys) == 1000
        assert all(-(2**31) <= key < 2**31 for key in keys)
        assert min(keys) < 0 < max(keys)


class LockTests:
    @pytest.mark.django_db(transaction=True)
    def test_a_status_busy_for_too_long_is_refused_and_audited(self, settings, supervisor):
        settings.CONVOSO_CONNECT_TIMEOUT = 0.05
        settings.CONVOSO_READ_TIMEOUT = 0.05
        with status_held_by_another_writer("XFER"):
            with pytest.raises(services.StatusBusy, match="still being sent to Convoso"):
                services.status_update(actor=supervisor, code="XFER", changes={"final": "Y"})
            # Another status is not held up by it.
            services.status_update(actor=supervisor, code="HOT", changes={"final": "Y"})
        busy = AuditEntry.objects.get(status_code="XFER")
        assert (busy.outcome, busy.failure_kind) == ("failed", "busy")
        assert SandboxStatus.objects.get(code="XFER").final is False
        assert SandboxStatus.objects.get(code="HOT").final is True
        # Once released, the status can be written again.
        services.status_update(actor=supervisor, code="XFER", changes={"final": "Y"})
        assert SandboxStatus.objects.get(code="XFER").final is True

    def test_a_lease_left_by_a_dead_process_ends_at_its_expiry(self, db):
        StatusWriteLease.objects.create(
            account="a", code="XFER", holder="dead",
            expires_at=timezone.now() - timedelta(seconds=1),
        )  # fmt: skip
        with locks._lease("a", "XFER", wait=0.2, lease=30):
            (lease,) = StatusWriteLease.objects.all()
            assert lease.holder != "dead"
        assert not StatusWriteLease.objects.exists()

    def test_a_live_lease_is_waited_for_then_refused(self, db):
        StatusWriteLease.objects.create(
            account="a", code="XFER", holder="alive",
            expires_at=timezone.now() + timedelta(seconds=30),
        )  # fmt: skip
        with pytest.raises(locks.LockTimeout), locks._lease("a", "XFER", wait=0.2, lease=30):
            pass
        assert StatusWriteLease.objects.get().holder == "alive"


class ReadBackTests:
    def test_after_is_what_convoso_holds_not_what_was_sent(self, supervisor, real_convoso):
        before = status_item("XFER", "Transferred", reached="Y")
        normalised = status_item("XFER", "Transferred", reached="Y", callback="Y")
        normalised["name"] = "TRANSFERRED"  # Convoso changed something on its own
        for item in (before, normalised):
            real_convoso.mock.post(real_convoso.url("search"), json={"data": [item]})
        real_convoso.mock.post(real_convoso.url("update"), json={"success": True})
        result = services.status_update(actor=supervisor, code="XFER", changes={"callback": "Y"})
        assert result.status.name == "TRANSFERRED"
        assert result.changed == ["name", "callback"]
        entry = AuditEntry.objects.get()
        assert entry.after["name"] == "TRANSFERRED"
        assert "not asked for: name." in entry.note

    def test_a_failed_read_back_keeps_what_was_sent_and_says_so(self, supervisor, real_convoso):
        real_convoso.mock.post(
            real_convoso.url("search"), json={"data": [status_item("XFER", "Transferred")]}
        )
        real_convoso.mock.post(real_convoso.url("update"), json={"success": True})
        real_convoso.mock.post(real_convoso.url("search"), body=requests.ConnectionError("down"))
        result = services.status_update(actor=supervisor, code="XFER", changes={"final": "Y"})
        assert result.status.final is True
        entry = AuditEntry.objects.get()
        assert (entry.outcome, entry.after["final"]) == ("succeeded", True)
        assert entry.note == services.READ_BACK_FAILED
