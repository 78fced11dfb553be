"""Compare two accounts and copy statuses from one (the source) to the account in use (the
target): planned as a change set, approved as usual, sent to the target's Convoso only."""

from __future__ import annotations

import pytest

from statusadmin.audit.models import Action, AuditEntry
from statusadmin.changesets import runner
from statusadmin.changesets import selectors as changeset_selectors
from statusadmin.changesets import services as changesets
from statusadmin.changesets.models import ChangeSet, ChangeSetItem
from statusadmin.convoso import tenancy
from statusadmin.convoso.models import SandboxStatus
from statusadmin.convoso.status import FLAGS
from statusadmin.statuses import services
from statusadmin.statuses.mirror import mirror_refresh
from tests.tenancy.conftest import add_account, member

COPIED = "Copied from East office (east)"


def diverge_east() -> None:
    """East, the source, differs from the demo catalogue west still has: HOT renamed, XFER
    recoloured, DNC on for LVM, and NEWX only in east. CBHOLD and OPTOUT are as in west."""
    east = SandboxStatus.objects.filter(tenant="east")
    east.filter(code="HOT").update(name="Hot Lead (East)")
    east.filter(code="XFER").update(hex_color="123456")
    east.filter(code="LVM").update(dnc=True)
    SandboxStatus.objects.create(
        tenant="east", code="NEWX", name="New in east", hex_color="ABCDEF", final=True
    )
    with tenancy.use(tenancy.by_slug("east")):  # type: ignore[arg-type]
        mirror_refresh(force=True)


def items(change_set: ChangeSet) -> dict[str, ChangeSetItem]:
    return {i.code: i for i in change_set.items.all()}


@pytest.fixture
def east(db):  # type: ignore[no-untyped-def]
    account = add_account("east", "East office")
    diverge_east()
    return account


@pytest.fixture
def west(db):  # type: ignore[no-untyped-def]
    return add_account("west", "West client")


@pytest.fixture
def wendy(east, west):  # type: ignore[no-untyped-def]
    """A supervisor in both accounts."""
    user = member("wendy", west, "Supervisor")
    from statusadmin.convoso.models import Membership

    Membership.objects.create(user=user, account_id=east.pk, role="Supervisor")
    return user


def plan(actor, source, codes, reason=""):  # type: ignore[no-untyped-def]
    with tenancy.use(tenancy.by_slug("west")):  # type: ignore[arg-type]
        return changesets.plan_copy(actor=actor, source=source, codes=codes, reason=reason)


@pytest.mark.django_db
class CompareTests:
    def test_only_what_differs_is_listed_field_by_field(self, east, west):
        comparison = changeset_selectors.copy_compare(source=east, target=west)
        found = {d.code: d for d in comparison.differences}
        assert sorted(found) == ["HOT", "LVM", "NEWX", "XFER"]
        assert found["NEWX"].missing
        assert found["HOT"].fields == [("Name", "Hot Lead", "Hot Lead (East)")]
        assert found["XFER"].fields == [("Colour", "#6711D1", "#123456")]
        assert found["LVM"].fields == [("DNC", "No", "Yes")]
        assert comparison.identical == 2  # CBHOLD and OPTOUT
        assert comparison.system == 10  # Convoso can't change them: not compared


@pytest.mark.django_db
class PlanTests:
    def test_missing_different_and_identical(self, wendy, east):
        change_set = plan(wendy, east, ["NEWX", "HOT", "XFER", "CBHOLD"], reason="Align offices")
        planned = items(change_set)
        assert planned["NEWX"].plan == "create"
        assert planned["NEWX"].changes == {
            "code": "NEWX", "name": "New in east", "color": "#ABCDEF",
            **{f: f == "final" for f in FLAGS},
        }  # fmt: skip
        assert (planned["HOT"].plan, planned["HOT"].changes) == (
            "update", {"name": "Hot Lead (East)"},
        )  # fmt: skip
        assert planned["XFER"].changes == {"color": "#123456"}
        assert (planned["CBHOLD"].plan, planned["CBHOLD"].state) == ("unchanged", "skipped")
        assert change_set.kind == "copy"
        assert (change_set.account, change_set.source_account) == ("west", "east")
        assert change_set.title == "Copy from East office"
        assert change_set.reason == f"{COPIED}: Align offices"
        assert not change_set.needs_approval  # no DNC, nothing else gated
        assert SandboxStatus.objects.get(tenant="west", code="HOT").name == "Hot Lead"

    def test_a_dnc_change_needs_approval(self, wendy, east):
        change_set = plan(wendy, east, ["LVM", "HOT"])
        assert change_set.needs_approval
        assert items(change_set)["LVM"].changes == {"dnc": True}
        assert change_set.reason == COPIED
        # Naming the source is no reason for a DNC change: one is asked for, as for one change.
        with tenancy.use(tenancy.by_slug("west")), pytest.raises(services.ReasonRequired):  # type: ignore[arg-type]
            changesets.apply(change_set_id=change_set.pk, actor=wendy)

    def test_a_system_status_of_the_target_is_not_changed(self, wendy, east, west):
        SandboxStatus.objects.filter(tenant="west", code="HOT").update(custom=False)
        with tenancy.use(west):
            mirror_refresh(force=True)
        comparison = changeset_selectors.copy_compare(source=east, target=west)
        assert not {d.code: d for d in comparison.differences}["HOT"].copyable
        planned = items(plan(wendy, east, ["HOT"]))
        assert planned["HOT"].plan == "invalid"
        assert planned["HOT"].problem == "is a system status: Convoso can't change it"

    def test_a_status_the_source_doesnt_have_cant_be_copied(self, wendy, east):
        planned = items(plan(wendy, east, ["NOPE"]))
        assert planned["NOPE"].plan == "invalid"
        assert planned["NOPE"].problem == "is not in East office's catalogue"

    def test_a_source_without_a_role_there_is_refused(self, east, west):
        wally = member("wally", west, "Supervisor")  # nothing in east
        with pytest.raises(changesets.ChangeSetError):
            plan(wally, east, ["HOT"])
        assert not ChangeSet.objects.exists()

    def test_the_source_cant_be_the_target(self, wendy, west):
        with pytest.raises(changesets.ChangeSetError):
            plan(wendy, west, ["HOT"])


@pytest.mark.django_db(transaction=True)  # the runner's threads have connections of their own
class ApplyTests:
    def test_dnc_waits_for_a_second_person_then_goes_to_the_target_only(self, wendy, east, west):
        east_log = list(AuditEntry.objects.filter(account="east").values_list("pk", flat=True))
        change_set = plan(wendy, east, ["LVM", "HOT", "NEWX"], reason="Align offices")
        with tenancy.use(west):
            changesets.apply(change_set_id=change_set.pk, actor=wendy, reason="Opt-out list")
        assert runner.run(change_set.pk) == "not queued, or another worker is applying it"
        assert SandboxStatus.objects.get(tenant="west", code="HOT").name == "Hot Lead"
        with tenancy.use(west), pytest.raises(changesets.ChangeSetError, match="another"):
            changesets.decide(change_set_id=change_set.pk, approver=wendy, approve=True)
        anna = member("anna", west, "Approver")
        with tenancy.use(west):
            changesets.decide(change_set_id=change_set.pk, approver=anna, approve=True)
        assert runner.run(change_set.pk) == "3 done, 0 failed"
        west_rows = SandboxStatus.objects.filter(tenant="west")
        assert west_rows.get(code="LVM").dnc is True
        assert west_rows.get(code="HOT").name == "Hot Lead (East)"
        assert west_rows.get(code="NEWX").name == "New in east"
        # The source is only read: east is as it was, and its log has nothing new (what it
        # has is the drift diverge_east made outside the dashboard).
        assert SandboxStatus.objects.filter(tenant="east", code="HOT").get().name == (
            "Hot Lead (East)"
        )
        assert list(AuditEntry.objects.filter(account="east").values_list("pk", flat=True)) == (
            east_log
        )
        assert not ChangeSet.objects.filter(account="east").exists()
        entries = AuditEntry.objects.filter(change_set_ref=change_set.pk)
        assert set(entries.values_list("account", flat=True)) == {"west"}
        writes = entries.filter(action__in=[Action.UPDATE, Action.CREATE])
        assert sorted(e.status_code for e in writes) == ["HOT", "LVM", "NEWX"]
        assert {e.reason for e in writes} == {f"{COPIED}: Align offices; Opt-out list"}
        assert {e.approved_by for e in writes} == {"anna"}
        request = entries.get(action=Action.REQUEST)
        assert request.reason.startswith(COPIED)

    def test_without_dnc_it_is_sent_at_once_with_the_source_named(self, wendy, east, west):
        change_set = plan(wendy, east, ["HOT"])
        with tenancy.use(west):
            changesets.apply(change_set_id=change_set.pk, actor=wendy)
        assert runner.run(change_set.pk) == "1 done, 0 failed"
        entry = AuditEntry.objects.get(change_set_ref=change_set.pk, action=Action.UPDATE)
        assert (entry.account, entry.reason) == ("west", COPIED)


@pytest.mark.django_db
class ScreenTests:
    def test_compare_select_and_plan(self, client, wendy, east):
        client.force_login(wendy)
        page = client.get("/a/west/changes/compare/", {"from": "east"}).content.decode()
        assert "Hot Lead (East)" in page
        assert 'value="NEWX"' in page
        assert 'value="CBHOLD"' not in page  # identical: counted, not listed
        assert "2 identical" in page
        response = client.post(
            "/a/west/changes/compare/plan/",
            {"from": "east", "codes": ["HOT", "NEWX"], "reason": ""},
        )
        change_set = ChangeSet.objects.get()
        assert response["Location"] == f"/a/west/changes/{change_set.pk}/"
        plan_page = client.get(response["Location"]).content.decode()
        assert "Copy from East office" in plan_page
        assert "1 to create, 1 to update" in plan_page

    def test_the_htmx_request_gets_the_differences_only(self, client, wendy, east):
        client.force_login(wendy)
        page = client.get(
            "/a/west/changes/compare/", {"from": "east"}, HTTP_HX_REQUEST="true"
        ).content.decode()
        assert page.lstrip().startswith('<div id="differences"')

    def test_only_accounts_with_a_role_are_offered(self, client, east, west):
        wally = member("wally", west, "Supervisor")
        add_account("north", "North office")
        client.force_login(wally)
        page = client.get("/a/west/changes/compare/").content.decode()
        assert "East office" not in page
        assert "North office" not in page

    @pytest.mark.parametrize("source", ["east", "nowhere", "west"])
    def test_a_source_without_a_role_is_a_404(self, client, east, west, source):
        wally = member("wally", west, "Supervisor")  # no role in east
        client.force_login(wally)
        assert client.get("/a/west/changes/compare/", {"from": source}).status_code == 404
        response = client.post("/a/west/changes/compare/plan/", {"from": source, "codes": ["HOT"]})
        assert response.status_code == 404
        assert not ChangeSet.objects.exists()

    def test_only_a_supervisor_of_the_target_may_compare(self, client, east, west):
        carl = member("carl", west, "Compliance")
        client.force_login(carl)
        assert client.get("/a/west/changes/compare/", {"from": "east"}).status_code == 403

    def test_the_link_shows_only_with_more_than_one_account(self, client, wendy, east):
        client.force_login(wendy)
        assert "/a/west/changes/compare/" in client.get("/a/west/statuses/import/").content.decode()
        wally = member("wally", tenancy.by_slug("west"), "Supervisor")
        client.force_login(wally)
        assert "changes/compare/" not in client.get("/a/west/statuses/import/").content.decode()
