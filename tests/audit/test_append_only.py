"""Audit entries can't be changed or deleted: not through Django, not in SQL."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from statusadmin.audit import chain
from statusadmin.audit.models import Action, AuditEntry, AuditLogIsAppendOnly, Outcome
from statusadmin.audit.services import begin
from tests.factories import add_entry
from tests.helpers import pass_second_factor, raw

pytestmark = pytest.mark.django_db

TABLE = "audit_auditentry"


def refused(sql: str, params: list | None = None) -> bool:
    """Run SQL in a savepoint; True if the append-only trigger refused it.

    Any other database error (a typo, a constraint) is re-raised, so it can't pass for the
    trigger's refusal.
    """
    try:
        with transaction.atomic():
            raw(sql, params)
    except (DatabaseError, IntegrityError) as exc:
        if "audit entr" not in str(exc):
            raise
        return True
    return False


@pytest.fixture
def pending(supervisor):  # type: ignore[no-untyped-def]
    return begin(
        actor=supervisor, origin=None, action=Action.UPDATE, code="XFER", account="sandbox",
        requested={"dnc": True}, reason="why",
    )  # fmt: skip


class OrmTests:
    def test_save_of_an_existing_entry(self):
        entry = add_entry()
        entry.reason = "rewritten"
        with pytest.raises(AuditLogIsAppendOnly):
            entry.save()

    def test_delete(self):
        entry = add_entry()
        with pytest.raises(AuditLogIsAppendOnly):
            entry.delete()

    def test_queryset_update_and_delete(self):
        add_entry()
        with pytest.raises(AuditLogIsAppendOnly):
            AuditEntry.objects.filter(status_code="XFER").update(reason="x")
        with pytest.raises(AuditLogIsAppendOnly):
            AuditEntry.objects.all().delete()
        with pytest.raises(AuditLogIsAppendOnly):
            AuditEntry.objects.bulk_update(list(AuditEntry.objects.all()), ["reason"])
        assert AuditEntry.objects.get().reason == ""

    def test_a_pending_entry_is_completed_once(self, pending):
        chain.complete(pending, outcome=Outcome.SUCCEEDED, completed_at=timezone.now())
        with pytest.raises(ValueError, match="not pending"):
            chain.complete(pending, outcome=Outcome.FAILED)
        assert AuditEntry.objects.get().outcome == "succeeded"


class DatabaseTriggerTests:
    """The same rules enforced by the database itself (SQLite and PostgreSQL triggers)."""

    def test_update_of_a_completed_entry(self):
        entry = add_entry()
        assert refused(f"UPDATE {TABLE} SET reason = 'x' WHERE id = %s", [entry.pk])
        assert refused(f"UPDATE {TABLE} SET outcome = 'failed' WHERE id = %s", [entry.pk])
        assert AuditEntry.objects.get().reason == ""

    def test_delete_of_a_completed_entry(self):
        entry = add_entry()
        assert refused(f"DELETE FROM {TABLE} WHERE id = %s", [entry.pk])
        assert AuditEntry.objects.count() == 1

    def test_delete_of_a_pending_entry(self, pending):
        assert refused(f"DELETE FROM {TABLE} WHERE id = %s", [pending.pk])

    def test_completing_a_pending_entry_is_allowed_once(self, pending):
        assert not refused(
            f"UPDATE {TABLE} SET outcome = 'failed', error_message = 'x' WHERE id = %s",
            [pending.pk],
        )
        assert refused(f"UPDATE {TABLE} SET outcome = 'succeeded' WHERE id = %s", [pending.pk])

    def test_completion_cannot_rewrite_what_was_recorded_at_the_start(self, pending):
        assert refused(
            f"UPDATE {TABLE} SET outcome = 'failed', reason = 'other' WHERE id = %s",
            [pending.pk],
        )
        assert refused(
            f"UPDATE {TABLE} SET outcome = 'failed', actor_username = 'bob' WHERE id = %s",
            [pending.pk],
        )

    def test_columns_added_later_are_guarded_too(self, pending):
        assert refused(
            f"UPDATE {TABLE} SET outcome = 'failed', actor_user_id = 999 WHERE id = %s",
            [pending.pk],
        )
        entry = add_entry()
        assert refused(f"UPDATE {TABLE} SET resolves_id = %s WHERE id = %s", [pending.pk, entry.pk])
        assert refused(f"UPDATE {TABLE} SET actor_user_id = 5 WHERE id = %s", [entry.pk])

    def test_a_pending_entry_cannot_be_edited_while_pending(self, pending):
        assert refused(f"UPDATE {TABLE} SET reason = 'other' WHERE id = %s", [pending.pk])

    def test_only_the_actor_link_may_be_cleared(self, supervisor):
        entry = add_entry(actor_username="sue")
        raw(f"UPDATE {TABLE} SET actor_id = NULL WHERE id = %s", [entry.pk])  # fine
        assert refused(
            f"UPDATE {TABLE} SET actor_id = NULL, actor_username = 'x' WHERE id = %s", [entry.pk]
        )
        assert refused(f"UPDATE {TABLE} SET actor_id = %s WHERE id = %s", [supervisor.pk, entry.pk])


class AdminTests:
    def test_admin_is_read_only(self, client, admin_user):
        entry = add_entry()
        client.force_login(admin_user)
        pass_second_factor(client, admin_user)
        assert client.get("/admin/audit/auditentry/").status_code == 200
        assert client.get("/admin/audit/auditentry/add/").status_code == 403
        page = client.get(f"/admin/audit/auditentry/{entry.pk}/change/")
        assert page.status_code == 200
        assert b'name="_save"' not in page.content
        delete = client.post(f"/admin/audit/auditentry/{entry.pk}/delete/", {"post": "yes"})
        assert delete.status_code == 403
        changelist = client.post(
            "/admin/audit/auditentry/",
            {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"},
        )
        assert changelist.status_code in (200, 302)
        assert AuditEntry.objects.filter(pk=entry.pk).exists()


class SystemCheckTests:
    """`manage.py check` says so when the database has lost the guard."""

    def test_check_passes_with_the_guard(self):
        call_command("check", stdout=io.StringIO())

    def test_check_fails_without_a_trigger(self):
        from django.db import connection

        from statusadmin.audit import triggers

        triggers.remove(connection)  # undone with the test's transaction
        with pytest.raises(SystemCheckError, match=r"audit\.E001"):
            call_command("check", stdout=io.StringIO(), stderr=io.StringIO())

    def test_a_disabled_postgresql_trigger_counts_as_missing(self):
        from django.db import connection

        from statusadmin.audit import triggers

        if connection.vendor != "postgresql":
            # SQLite can't disable a trigger, only drop it (the test above).
            assert triggers.missing(connection) == []
            return
        raw(f"ALTER TABLE {TABLE} DISABLE TRIGGER audit_entry_append_only")
        assert triggers.missing(connection) == ["audit_entry_append_only"]

    @pytest.mark.django_db(transaction=True)
    def test_truncate_is_refused_on_postgresql(self):
        from django.db import connection

        add_entry()
        if connection.vendor == "postgresql":
            assert refused(f"TRUNCATE {TABLE}")
        assert AuditEntry.objects.count() == 1
