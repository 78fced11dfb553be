"""Work done away from a request (the worker, the change-set runner, e-mail) happens in the
account it belongs to."""

from __future__ import annotations

import pytest

from statusadmin.approvals import notifications
from statusadmin.approvals import services as approvals
from statusadmin.audit.models import Action, AuditEntry
from statusadmin.changesets import runner
from statusadmin.changesets import services as changesets
from statusadmin.changesets.models import ChangeSet, ChangeSetItem
from statusadmin.convoso import tenancy
from statusadmin.convoso.models import ConvosoAccount, SandboxStatus
from statusadmin.statuses.models import MirrorStatus
from statusadmin.worker.tasks import refresh_mirror
from tests.factories import make_user
from tests.tenancy.conftest import member


def final(tenant: str, code: str) -> bool:
    return SandboxStatus.objects.get(tenant=tenant, code=code).final


class WorkerTests:
    def test_the_mirror_of_every_account_is_refreshed(self, east, west):
        SandboxStatus.objects.filter(tenant="west", code="HOT").update(name="Renamed at Convoso")
        summary = refresh_mirror.call()
        assert "synced" in summary
        assert MirrorStatus.objects.get(account="west", code="HOT").name == "Renamed at Convoso"
        assert MirrorStatus.objects.get(account="east", code="HOT").name == "Hot Lead"
        drift = AuditEntry.objects.get(action=Action.EXTERNAL_UPDATE)
        assert drift.account == "west"

    def test_one_account_failing_never_stops_the_others(self, east, west):
        ConvosoAccount.objects.filter(slug="east").update(token_encrypted="not a fernet token")
        SandboxStatus.objects.filter(tenant="west", code="HOT").update(name="Renamed")
        summary = refresh_mirror.call()
        assert "East office: No key in CONVOSO_TOKEN_KEYS opens this account's token" in summary
        assert MirrorStatus.objects.get(account="west", code="HOT").name == "Renamed"


@pytest.mark.django_db(transaction=True)  # the runner's threads have connections of their own
class ChangeSetTests:
    def plan(self, account: tenancy.Account) -> ChangeSet:
        planner = member(f"planner-{account.slug}", account)
        with tenancy.use(account):
            plan = changesets.plan_bulk(
                actor=planner, codes=["HOT", "XFER"], changes={"final": "Y"}, title="Finals"
            )
            return changesets.apply(change_set_id=plan.pk, actor=planner)

    def test_a_change_set_is_sent_to_its_own_account_from_every_thread(self, east, west):
        plan = self.plan(west)
        assert runner.run(plan.pk) == "2 done, 0 failed"
        assert (final("west", "HOT"), final("west", "XFER")) == (True, True)
        assert final("east", "HOT") is False
        assert not SandboxStatus.objects.filter(tenant="", final=True, code="HOT").exists()
        sent = AuditEntry.objects.filter(change_set_ref=plan.pk, action=Action.UPDATE)
        assert set(sent.values_list("account", flat=True)) == {"west"}

    def test_one_whose_account_was_disabled_sends_nothing(self, east, west):
        plan = self.plan(west)
        ConvosoAccount.objects.filter(slug="west").update(enabled=False)
        runner.run(plan.pk)
        outcomes = set(
            ChangeSetItem.objects.filter(change_set=plan).values_list("outcome", flat=True)
        )
        assert outcomes == {"Not sent: its Convoso account was disabled."}
        assert final("west", "HOT") is False

    def test_the_planners_rights_are_read_in_the_sets_account(self, east, west):
        plan = self.plan(west)
        # The planner's role in west is taken away; a Supervisor group (the default
        # account's) is no right in west.
        planner = plan.created_by
        planner.convoso_memberships.all().delete()
        planner.groups.add(make_user("x", "Supervisor").groups.get())
        runner.run(plan.pk)
        assert final("west", "HOT") is False
        item = ChangeSetItem.objects.filter(change_set=plan).first()
        assert item.outcome.startswith(f"Not sent: {planner.username} may no longer")


class NotificationTests:
    def test_approvers_of_the_account_only_hear_of_its_requests(
        self, east, west, mailoutbox, django_capture_on_commit_callbacks
    ):
        member("wanda", west, "Approver").__class__.objects.filter(username="wanda").update(
            email="wanda@example.com"
        )
        make_user("dora", "Approver", email="dora@example.com")  # the default account's
        member("ed", east, "Approver").__class__.objects.filter(username="ed").update(
            email="ed@example.com"
        )
        wendy = member("wendy", west, "Supervisor")
        with tenancy.use(west), django_capture_on_commit_callbacks(execute=True):
            approvals.request_update(
                actor=wendy, code="HOT", changes={"dnc": "Y"}, reason="Client asked"
            )
        assert notifications.approvers("west", excluding=None) == ["wanda@example.com"]
        (mail,) = [m for m in mailoutbox if m.subject.startswith("Approval needed")]
        assert mail.to == ["wanda@example.com"]
        assert "/a/west/approvals/" in mail.body

    @pytest.mark.parametrize("who", ["default", "east"])
    def test_the_waiting_count_is_the_accounts_own(self, client, east, west, who):
        wendy = member("wendy", west, "Supervisor")
        with tenancy.use(west):
            approvals.request_update(
                actor=wendy, code="HOT", changes={"dnc": "Y"}, reason="Client asked"
            )
        if who == "east":
            approver = member("ed", east, "Approver")
            prefix = "/a/east"
        else:
            approver, prefix = make_user("dora", "Approver"), ""
        client.force_login(approver)
        from tests.helpers import pass_second_factor

        pass_second_factor(client, approver)
        page = client.get(prefix + "/approvals/").content.decode()
        assert 'class="nav-count"' not in page
        assert "Client asked" not in page


class CommandTests:
    def test_the_catalogue_of_an_account_at_a_moment(self, east, west):
        import io
        import json

        from django.core.management import CommandError, call_command
        from django.utils import timezone

        SandboxStatus.objects.filter(tenant="west", code="HOT").update(name="West's own")
        with tenancy.use(west):
            from statusadmin.statuses.mirror import mirror_refresh

            mirror_refresh(force=True)
        out = io.StringIO()
        at = timezone.now().isoformat()
        call_command(
            "catalogue_as_of", "--at", at, "--account", "west", "--code", "HOT", stdout=out
        )
        assert json.loads(out.getvalue())[0]["name"] == "West's own"
        with pytest.raises(CommandError, match="no enabled Convoso account 'nowhere'"):
            call_command("catalogue_as_of", "--at", at, "--account", "nowhere")
