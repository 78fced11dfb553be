"""A database filled under an old layout migrates forward with nothing lost.

Change requests and change sets were models of the statuses app until they moved to apps of
their own (approvals, changesets). An installation that upgrades must keep every row, every
permission given on them, the queued work that names them, and an audit chain that verifies.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from statusadmin.accounts.roles import APPROVE_CHANGES, APPROVER
from statusadmin.approvals.models import ChangeRequest
from statusadmin.audit import chain
from statusadmin.audit.models import Action, AuditEntry
from statusadmin.changesets.models import ChangeSet, ChangeSetItem
from tests.factories import add_entry, make_user

# Before the move: the statuses app's last migration then, and no approvals or changesets app.
OLD_LAYOUT: list[tuple[str, str | None]] = [
    ("statuses", "0006_change_sets"),
    ("approvals", None),
    ("changesets", None),
]
OLD_TASK = "statusadmin.statuses.tasks.apply_change_set"


def migrate(targets: list[tuple[str, str | None]]) -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    ContentType.objects.clear_cache()


def latest() -> list[tuple[str, str]]:
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


@pytest.mark.django_db(transaction=True)
class OldLayoutTests:
    def test_rows_permissions_queued_work_and_the_chain_survive_the_move(self) -> None:
        approver = make_user("april", APPROVER)
        requester = make_user("sue")
        add_entry(code="XFER")
        migrate(OLD_LAYOUT)
        try:
            self.fill_and_upgrade(approver, requester)
        finally:
            migrate(latest())  # whatever happened, the next test finds the database it expects

    def fill_and_upgrade(self, approver: User, requester: User) -> None:

        # Filled as the old code would have: the models as they stood then.
        old = MigrationExecutor(connection).loader.project_state(OLD_LAYOUT[:1]).apps
        assert old.get_model("statuses", "ChangeRequest")._meta.db_table == (
            "statuses_changerequest"
        )
        now = timezone.now()
        request = old.get_model("statuses", "ChangeRequest").objects.create(
            account="sandbox", status_code="XFER", kind="update", changes={"dnc": True},
            before={"code": "XFER"}, reason="Opt-outs", requested_by_id=requester.pk,
            requested_by_username="sue", requested_at=now, expires_at=now + timedelta(hours=1),
        )  # fmt: skip
        change_set = old.get_model("statuses", "ChangeSet").objects.create(
            account="sandbox", kind="bulk", title="Final on", created_by_id=requester.pk,
            created_by_username="sue", state="queued",
        )  # fmt: skip
        old.get_model("statuses", "ChangeSetItem").objects.create(
            change_set_id=change_set.pk, code="XFER", plan="update", changes={"final": True}
        )
        queued = DBTaskResult.objects.create(
            task_path=OLD_TASK, args_kwargs={"args": [change_set.pk], "kwargs": {}},
            backend_name="default", queue_name="default", priority=0, status="READY",
        )  # fmt: skip
        step = add_entry(
            code="XFER", action=Action.REQUEST, request_ref=request.pk, changed=("dnc",)
        )
        # The permission is held under the old app's name.
        assert User.objects.get(pk=approver.pk).has_perm("statuses.approve_changerequest")

        migrate(latest())
        moved = ChangeRequest.objects.get(pk=request.pk)
        assert (moved.status_code, moved.reason, moved.requested_by_id) == (
            "XFER",
            "Opt-outs",
            requester.pk,
        )
        assert ChangeSet.objects.get(pk=change_set.pk).title == "Final on"
        assert ChangeSetItem.objects.get(change_set_id=change_set.pk).changes == {"final": True}
        assert ChangeRequest._meta.db_table == "approvals_changerequest"
        # New rows go on where the old ones stopped.
        assert (
            ChangeSet.objects.create(
                account="sandbox", kind="bulk", title="Next", created_by_username="sue"
            ).pk
            > change_set.pk
        )
        # Approvers still approve: the Approver group's permission moved with the model.
        assert User.objects.get(pk=approver.pk).has_perm(APPROVE_CHANGES)
        assert (
            Group.objects.get(name=APPROVER)
            .permissions.filter(
                codename="approve_changerequest", content_type__app_label="approvals"
            )
            .exists()
        )
        assert not ContentType.objects.filter(app_label="statuses", model="changerequest").exists()
        # The queued change set still runs: its task names the task's new home.
        queued.refresh_from_db()
        assert queued.task_path == "statusadmin.changesets.tasks.apply_change_set"
        # The log is untouched and still verifies, the request's step included.
        assert AuditEntry.objects.get(pk=step.pk).request_ref == request.pk
        result = chain.verify()
        assert result.ok, result.message
        assert result.checked == 2

    def test_an_empty_database_migrates_from_zero_to_the_new_layout(self) -> None:
        """What a fresh install gets: the tables under the new apps' names, nothing left over."""
        tables = set(connection.introspection.table_names())
        assert {
            "approvals_changerequest",
            "changesets_changeset",
            "changesets_changesetitem",
        } <= tables
        assert not {t for t in tables if t.startswith("statuses_change")}


# Before several Convoso accounts: one account, from the environment or the sandbox.
SINGLE_ACCOUNT: list[tuple[str, str | None]] = [("convoso", "0002_sandbox_fault")]


@pytest.mark.django_db(transaction=True)
class SingleAccountTests:
    def test_an_installation_of_one_account_upgrades_with_no_action(self, client) -> None:
        from statusadmin.convoso.sandbox import seed
        from statusadmin.statuses.mirror import mirror_refresh

        sue = make_user("sue", "Supervisor")
        carl = make_user("carl", "Compliance")
        seed()
        mirror_refresh()
        entry = add_entry(code="XFER", account="sandbox")
        migrate(SINGLE_ACCOUNT)
        try:
            with connection.cursor() as cursor:  # the sandbox as it was: one catalogue
                cursor.execute("SELECT count(*) FROM convoso_sandboxstatus")
                (rows,) = cursor.fetchone()
            assert rows == 15
        finally:
            migrate(latest())
        from statusadmin.convoso.models import SandboxStatus

        # Every row is the default account's: its catalogue, mirror, log and people.
        assert set(SandboxStatus.objects.values_list("tenant", flat=True)) == {""}
        client.force_login(sue)
        page = client.get("/").content.decode()
        assert "Transferred to Closer" in page
        assert "account-switch" not in page
        client.force_login(carl)
        assert client.get(f"/audit/{entry.pk}/").status_code == 200
        assert chain.verify().ok
