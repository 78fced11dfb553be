"""The integrity badge says what was verified, and when; "Verify now" asks the worker."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from statusadmin.audit import integrity
from statusadmin.audit.models import AuditEntry, Verification
from tests.factories import add_entry

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


def page(response) -> str:  # type: ignore[no-untyped-def]
    return response.content.decode()


def badge(html: str) -> str:
    return re.search(r"<summary>(.*?)</summary>", html, re.S).group(1)


def verified(entries: int = 3) -> Verification:
    for _ in range(entries):
        add_entry()
    integrity.write_checkpoint()
    result = integrity.run_verification(checkpoints=integrity.checkpoint_path())
    assert result.state == Verification.State.INTACT, result.message
    return result


def entries_as_they_are() -> list[tuple[object, ...]]:
    return list(AuditEntry.objects.order_by("pk").values_list("pk", "seq", "hash", "outcome"))


class BadgeTests:
    def test_fresh_and_complete_is_green_and_says_how_many_and_when(self, compliance_client):
        result = verified(3)
        shown = badge(page(compliance_client.get("/audit/")))
        when = result.ran_at.isoformat()
        assert '<span class="ok">Chain intact</span>' in shown
        said = '<span class="ok" id="verified">3 of 3 entries verified at <time datetime="'
        assert f"{said}{when}" in shown, shown

    def test_an_empty_log_verified_is_green_with_nothing_waiting(self, compliance_client):
        """A new installation: nothing recorded yet, so nothing is waiting to be verified."""
        verified(0)
        shown = badge(page(compliance_client.get("/audit/")))
        assert '<span class="ok" id="verified">0 of 0 entries verified at' in shown, shown
        assert "not verified yet" not in shown

    def test_older_than_its_schedule_is_amber(self, compliance_client, settings):
        settings.VERIFY_AUDIT_EVERY = 3600
        result = verified(3)
        Verification.objects.filter(pk=result.pk).update(ran_at=timezone.now() - timedelta(hours=2))
        shown = badge(page(compliance_client.get("/audit/")))
        assert '<span class="warn" id="verified">3 of 3 entries verified at' in shown
        assert "overdue: it runs every hour" in shown

    def test_fewer_entries_than_exist_is_amber(self, compliance_client):
        verified(3)
        add_entry()
        shown = badge(page(compliance_client.get("/audit/")))
        assert '<span class="warn" id="verified">3 of 4 entries verified at' in shown
        assert "1 newer entry not verified yet" in shown


class VerifyNowTests:
    def test_supervisors_may_not(self, supervisor_client):
        verified(1)
        assert supervisor_client.post("/audit/verify/", **HX).status_code == 403
        assert not DBTaskResult.objects.exists()

    @pytest.mark.django_db(transaction=True)  # the worker closes its connection when done
    def test_compliance_queues_it_and_then_sees_its_result_and_no_entry_changes(
        self, compliance_client
    ):
        verified(2)
        add_entry()
        before = entries_as_they_are()
        assert "Verify now" in page(compliance_client.get("/audit/"))
        html = page(compliance_client.post("/audit/verify/", **HX))
        assert "Verification queued…" in html
        queued = DBTaskResult.objects.get()
        assert queued.task_path.endswith("verify_audit")
        assert Verification.objects.count() == 1  # queued, not run in the web request
        poll = re.search(r'hx-get="(/audit/verify/[0-9a-f-]+/)" hx-trigger="every 2s"', html)
        assert poll, html
        assert "Verification queued…" in page(compliance_client.get(poll.group(1), **HX))
        call_command("db_worker", "--batch", "--no-startup-delay", stdout=io.StringIO())
        html = page(compliance_client.get(poll.group(1), **HX))
        assert "queued" not in html
        assert '<span class="ok" id="verified">3 of 3 entries verified at' in html
        assert Verification.objects.first().ran_by == "carl"
        assert entries_as_they_are() == before

    def test_without_javascript_it_says_so_on_the_page(self, compliance_client):
        response = compliance_client.post("/audit/verify/")
        assert response["Location"] == "/audit/"
        html = page(compliance_client.get("/audit/"))
        assert "Verification queued" in html

    def test_an_unknown_verification_is_not_found(self, compliance_client):
        missing = "/audit/verify/00000000-0000-0000-0000-000000000000/"
        assert compliance_client.get(missing, **HX).status_code == 404
