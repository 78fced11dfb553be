"""Change sets and change requests can be found again, and a change set's page reads like the
audit log: the reason, DNC lines marked, the same wording, unchanged statuses on demand (#26
item 7)."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime

import pytest
from django.core.management import call_command

from statusadmin.accounts.roles import SUPERVISOR
from statusadmin.approvals import services as approvals
from statusadmin.changesets import services as changesets
from statusadmin.changesets.models import ChangeSet
from statusadmin.convoso.sandbox import seed
from tests.factories import make_user
from tests.helpers import signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _catalogue(db):  # type: ignore[no-untyped-def]
    seed()


def page(response) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == 200
    return response.content.decode()


def bulk(user, codes: list[str], **changes: object):  # type: ignore[no-untyped-def]
    return changesets.plan_bulk(
        actor=user, codes=codes, changes=changes, title=f"{sorted(changes)} for {codes}"
    )


class ChangeSetListTests:
    def test_every_change_set_of_the_account_is_listed_newest_first(self, supervisor):
        other = make_user("olga", SUPERVISOR)
        first = bulk(supervisor, ["XFER"], final=True)
        second = bulk(other, ["HOT"], voicemail=True)
        html = page(signed_in(supervisor).get("/changes/"))
        assert html.index(f'href="/changes/{second.pk}/"') < html.index(
            f'href="/changes/{first.pk}/"'
        )
        assert "olga" in html
        assert "Planned: nothing sent yet" in html

    def test_mine_shows_only_the_persons_own(self, supervisor):
        other = make_user("olga", SUPERVISOR)
        mine = bulk(supervisor, ["XFER"], final=True)
        theirs = bulk(other, ["HOT"], voicemail=True)
        html = page(signed_in(supervisor).get("/changes/", {"mine": "1"}))
        assert f'href="/changes/{mine.pk}/"' in html
        assert f'href="/changes/{theirs.pk}/"' not in html

    def test_none_yet_says_so(self, supervisor):
        assert "No change sets yet" in page(signed_in(supervisor).get("/changes/"))

    def test_the_navigation_leads_to_both_lists(self, supervisor):
        html = page(signed_in(supervisor).get("/"))
        nav = html[html.index('<nav aria-label="Main">') : html.index("</nav>")]
        assert 'href="/changes/"' in nav
        assert 'href="/requests/"' in nav


class MyRequestsTests:
    def test_a_supervisor_sees_their_requests_and_what_became_of_them(
        self, supervisor, approver_user
    ):
        waiting = approvals.request_update(
            actor=supervisor, code="HOT", changes={"dnc": "Y"}, reason="Customer opted out"
        )
        done = approvals.request_update(
            actor=supervisor, code="XFER", changes={"dnc": "Y"}, reason="Regulator asked"
        )
        approvals.reject(request_id=done.pk, approver=approver_user, note="Wrong status")
        html = page(signed_in(supervisor).get("/requests/"))
        assert "DNC No → Yes" in html
        assert "Customer opted out" in html
        assert "Waiting for approval" in html
        assert "Rejected" in html
        assert "april" in html
        assert "Wrong status" in html
        assert f'action="/approvals/{waiting.pk}/withdraw/"' in html
        assert f'action="/approvals/{done.pk}/withdraw/"' not in html

    def test_only_the_persons_own_requests(self, supervisor):
        other = make_user("olga", SUPERVISOR)
        approvals.request_update(actor=other, code="HOT", changes={"dnc": "Y"}, reason="Theirs")
        html = page(signed_in(supervisor).get("/requests/"))
        assert "Theirs" not in html
        assert "You have not asked for any change that needs approval" in html


class ChangeSetPageTests:
    def test_a_plan_not_applied_says_nothing_about_progress(self, supervisor):
        plan = bulk(supervisor, ["XFER", "HOT"], dnc=True)
        html = page(signed_in(supervisor).get(f"/changes/{plan.pk}/"))
        assert "Waiting" not in html
        assert "Done:" not in html
        assert "Not sent yet" in html

    def test_dnc_lines_are_marked_and_worded_as_in_the_audit_log(self, supervisor):
        plan = bulk(supervisor, ["XFER", "HOT"], dnc=True)
        html = page(signed_in(supervisor).get(f"/changes/{plan.pk}/"))
        rows = re.findall(r'<tr class="([^"]*)">\s*<td>[^<]*</td>\s*<td class="code">(\w+)', html)
        assert all("dnc" in classes.split() for classes, _ in rows), rows
        assert "DNC No → Yes" in html
        assert "dnc → Y" not in html

    def test_unchanged_statuses_are_listed_on_demand(self, supervisor):
        plan = bulk(supervisor, ["XFER", "LVM"], voicemail=True)  # LVM already has it on
        html = page(signed_in(supervisor).get(f"/changes/{plan.pk}/"))
        details = html[html.index("<details") : html.index("</details>")]
        assert "1 unchanged" in details
        assert "LVM" in details

    @pytest.mark.django_db(transaction=True)
    def test_the_requesters_reason_and_the_outcome_read_once(self, supervisor, no_approvals):
        plan = bulk(supervisor, ["XFER"], dnc=True)
        client = signed_in(supervisor)
        client.post(f"/changes/{plan.pk}/apply/", {"reason": "Regulator asked"})
        call_command("worker", "--batch", stdout=io.StringIO(), stderr=io.StringIO())
        html = page(client.get(f"/changes/{plan.pk}/"))
        assert "Regulator asked" in html
        assert "Done: Done." not in html
        assert "Sent" in html


class ChangeSetTimesTests:
    """When it was planned, decided, handed to the worker and finished: what an auditor asks
    of a change set first, shown as the audit log shows times."""

    MOMENTS = {
        "created_at": datetime(2026, 3, 2, 9, 15, 7, tzinfo=UTC),
        "decided_at": datetime(2026, 3, 2, 10, 40, 0, tzinfo=UTC),
        "applied_at": datetime(2026, 3, 2, 10, 40, 1, tzinfo=UTC),
        "finished_at": datetime(2026, 3, 2, 10, 41, 30, tzinfo=UTC),
    }

    def test_each_moment_is_on_the_page(self, supervisor):
        plan = bulk(supervisor, ["XFER"], dnc=True)
        ChangeSet.objects.filter(pk=plan.pk).update(
            state=ChangeSet.State.FINISHED, decided_by_username="april", **self.MOMENTS
        )
        html = page(signed_in(supervisor).get(f"/changes/{plan.pk}/"))
        text = " ".join(re.sub(r"<[^>]+>", "", html).split())
        for moment in self.MOMENTS.values():
            assert f'<time datetime="{moment.isoformat()}"' in html, moment
        assert "planned by sue on 2026-03-02 09:15 UTC." in text
        assert "Finished; approved by april on 2026-03-02 10:40 UTC" in text
        queued = "Queued for sending on 2026-03-02 10:40 UTC; finished on 2026-03-02 10:41 UTC."
        assert queued in text

    def test_a_plan_shows_only_when_it_was_planned(self, supervisor):
        plan = bulk(supervisor, ["XFER"], dnc=True)
        html = page(signed_in(supervisor).get(f"/changes/{plan.pk}/"))
        assert html.count("<time ") == 1
        assert f'<time datetime="{plan.created_at.astimezone(UTC).isoformat()}"' in html
        assert "Queued for sending" not in html
