"""The mirror: refreshed from Convoso when stale, by one worker at a time, failures recorded."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from statusadmin.convoso.connection import SANDBOX_ACCOUNT, get_client
from statusadmin.convoso.models import SandboxStatus
from statusadmin.statuses import mirror
from statusadmin.statuses.models import MirrorStatus, MirrorSync
from tests.factories import mirrored
from tests.helpers import age_mirror, refused, status_item

pytestmark = pytest.mark.django_db


class MirrorRefreshTests:
    def test_first_refresh_copies_the_catalogue(self):
        sync = mirror.mirror_refresh()
        assert sync.synced_at is not None
        assert sync.last_error == ""
        codes = set(MirrorStatus.objects.values_list("code", flat=True))
        assert {"COMP", "XFER", "DNC"} <= codes
        assert mirrored("XFER").custom is True
        assert mirrored("COMP").custom is False

    def test_the_search_finds_a_mirrored_status_by_code_or_name(self):
        from statusadmin.statuses.selectors import status_page

        mirror.mirror_refresh()
        SandboxStatus.objects.filter(code="XFER").update(name="Warm Handover")
        mirror.mirror_refresh(force=True)  # renamed in Convoso: the row is updated
        for query in ("xfer", "warm hand"):
            found = status_page(account=SANDBOX_ACCOUNT, query=query, custom=True)
            assert [s.code for s in found.statuses] == ["XFER"], query

    def test_a_fresh_mirror_is_not_refreshed(self, settings, monkeypatch):
        mirror.mirror_refresh()
        calls: list[str] = []
        monkeypatch.setattr(type(get_client()), "search", lambda self, q="": calls.append(q))
        mirror.mirror_refresh()
        assert calls == []

    def test_a_stale_mirror_is_refreshed(self, settings):
        mirror.mirror_refresh()
        SandboxStatus.objects.filter(code="XFER").update(name="Changed in Convoso")
        age_mirror(61)
        mirror.mirror_refresh()
        assert mirrored("XFER").name == "Changed in Convoso"

    def test_max_age_is_configurable(self, settings):
        settings.MIRROR_MAX_AGE = 5
        mirror.mirror_refresh()
        SandboxStatus.objects.filter(code="XFER").update(name="Renamed")
        age_mirror(6)
        mirror.mirror_refresh()
        assert mirrored("XFER").name == "Renamed"

    def test_statuses_removed_in_convoso_leave_the_mirror(self):
        mirror.mirror_refresh()
        SandboxStatus.objects.filter(code="HOT").delete()
        mirror.mirror_refresh(force=True)
        assert not MirrorStatus.objects.filter(code="HOT").exists()

    def test_a_status_gone_from_one_account_stays_in_anothers_mirror(self):
        mirror.mirror_refresh()
        MirrorStatus.objects.create(
            account="other", code="HOT", name="Hot lead", search_text="hot hot lead",
            synced_at=timezone.now(),
        )  # fmt: skip
        mirror.mirror_remove(account=SANDBOX_ACCOUNT, code="HOT")
        assert not MirrorStatus.objects.filter(account=SANDBOX_ACCOUNT, code="HOT").exists()
        assert MirrorStatus.objects.filter(account="other", code="HOT").exists()

    def test_a_refresh_that_fails_midway_leaves_no_lease_behind(self, monkeypatch):
        """Else the next refresh would wait for the lease to run out, its copy kept stale."""
        mirror.mirror_refresh()

        def broken(*args: object, **kwargs: object) -> None:
            raise RuntimeError("failed midway")

        monkeypatch.setattr(mirror, "_replace_mirror", broken)
        with pytest.raises(RuntimeError):
            mirror.mirror_refresh(force=True)
        assert MirrorSync.objects.get(account=SANDBOX_ACCOUNT).lease_until is None

    def test_a_mirror_found_fresh_is_refreshed_once_its_age_has_passed(self, settings, monkeypatch):
        """A page view that found the mirror fresh a moment before its age ran out doesn't
        keep it 'fresh' after: the next view once the age has passed refreshes it."""
        settings.MIRROR_MAX_AGE = 60
        mirror.mirror_refresh()
        MirrorSync.objects.filter(account=SANDBOX_ACCOUNT).update(
            attempted_at=timezone.now() - timedelta(seconds=59.5)
        )
        cache.clear()  # what the first refresh shared, as if it were long ago
        calls: list[str] = []
        original = type(get_client()).search
        monkeypatch.setattr(
            type(get_client()), "search", lambda self, q="": calls.append(q) or original(self, q)
        )
        mirror.mirror_refresh()  # still fresh, for half a second
        assert calls == []
        time.sleep(0.7)
        mirror.mirror_refresh()
        assert calls == [""]

    def test_a_refresh_in_progress_elsewhere_is_not_repeated(self, monkeypatch):
        MirrorSync.objects.create(
            account=SANDBOX_ACCOUNT, lease_until=timezone.now() + timedelta(seconds=30)
        )
        calls: list[str] = []
        monkeypatch.setattr(type(get_client()), "search", lambda self, q="": calls.append(q))
        mirror.mirror_refresh(force=True)
        assert calls == []

    def test_failure_is_recorded_and_the_copy_kept(self, real_convoso):
        real_convoso.serve_catalogue()
        mirror.mirror_refresh()
        real_convoso.mock.replace("POST", real_convoso.url("search"), body=refused())
        sync = mirror.mirror_refresh(force=True)
        assert "could not be reached" in sync.last_error
        assert sync.lease_until is None
        assert MirrorStatus.objects.filter(account=get_client().account).count() == 2

    def test_a_good_refresh_clears_the_last_error(self, real_convoso):
        real_convoso.mock.post(real_convoso.url("search"), body=refused())
        assert "could not be reached" in mirror.mirror_refresh().last_error
        real_convoso.mock.remove("POST", real_convoso.url("search"))
        real_convoso.serve_catalogue()
        sync = mirror.mirror_refresh(force=True)
        assert (sync.last_error, sync.lease_until) == ("", None)
        assert mirrored("XFER", get_client().account).name == "Transferred"

    def test_a_row_holds_what_its_columns_can(self, real_convoso):
        item = status_item("LONG", "Long workflow")
        item.update(hex_color="", workflow_disposition_event_option="w" * 300)
        real_convoso.catalogue.append(item)
        real_convoso.serve_catalogue()
        mirror.mirror_refresh()
        row = mirrored("LONG", get_client().account)
        # No colour is an empty column; PostgreSQL refuses a workflow over 255 characters.
        assert (row.color, row.workflow) == ("", "w" * 255)
        assert row.to_status().color is None

    def test_codes_too_long_to_mirror_are_counted_in_the_log(self, real_convoso, caplog):
        # An operator reading the log learns how many statuses the dashboard does not show.
        for n in (1, 2):
            real_convoso.catalogue.append(status_item("Z" * 70 + str(n), "Too long"))
        real_convoso.serve_catalogue()
        with caplog.at_level("WARNING", logger="statusadmin.statuses.mirror"):
            mirror.mirror_refresh()
        assert "Convoso listed 2 status(es) with a code longer than 64 characters" in caplog.text
        assert set(
            MirrorStatus.objects.filter(account=get_client().account).values_list("code", flat=True)
        ) == {"XFER", "COMP"}

    def test_after_a_failure_the_next_try_waits(self, real_convoso):
        real_convoso.mock.post(real_convoso.url("search"), body=refused())
        mirror.mirror_refresh()
        mirror.mirror_refresh()
        assert real_convoso.calls_to("search") == 1

    def test_each_account_has_its_own_mirror(self, real_convoso):
        real_convoso.serve_catalogue()
        mirror.mirror_refresh()
        real_account = get_client().account
        assert real_account != SANDBOX_ACCOUNT
        assert set(
            MirrorStatus.objects.filter(account=real_account).values_list("code", flat=True)
        ) == {"XFER", "COMP"}
        assert not MirrorStatus.objects.filter(account=SANDBOX_ACCOUNT).exists()
