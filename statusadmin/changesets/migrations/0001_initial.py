"""ChangeSet and ChangeSetItem move here from the statuses app, rows and all.

As approvals.0001 does for ChangeRequest: taken over in Django's state only, content types
moved, tables renamed. Queued work follows them: the database task queue's rows that name the
old task are pointed at its new home, so a change set queued before the upgrade still runs.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from statusadmin.moved_models import move_content_types

OLD_TASK = "statusadmin.statuses.tasks.apply_change_set"
NEW_TASK = "statusadmin.changesets.tasks.apply_change_set"


def queued_tasks(old: str, new: str):  # type: ignore[no-untyped-def]
    def point(apps, schema_editor):  # type: ignore[no-untyped-def]
        tasks = apps.get_model("django_tasks_database", "DBTaskResult")
        tasks.objects.filter(task_path=old).update(task_path=new)

    return point


class Migration(migrations.Migration):
    dependencies = [
        ("statuses", "0006_change_sets"),
        ("accounts", "0003_approver_role"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("django_tasks_database", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="ChangeSet",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("account", models.CharField(max_length=32)),
                        (
                            "kind",
                            models.CharField(
                                choices=[("bulk", "Bulk edit"), ("import", "Catalogue import")],
                                max_length=10,
                            ),
                        ),
                        ("title", models.CharField(max_length=200)),
                        ("created_by_username", models.CharField(max_length=150)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        (
                            "state",
                            models.CharField(
                                choices=[
                                    ("planned", "Planned: nothing sent yet"),
                                    ("awaiting", "Waiting for approval"),
                                    ("queued", "Queued"),
                                    ("running", "Being applied"),
                                    ("finished", "Finished"),
                                    ("rejected", "Rejected"),
                                    ("discarded", "Discarded"),
                                ],
                                default="planned",
                                max_length=10,
                            ),
                        ),
                        ("needs_approval", models.BooleanField(default=False)),
                        ("reason", models.TextField(blank=True)),
                        ("decided_by_username", models.CharField(blank=True, max_length=150)),
                        ("decided_at", models.DateTimeField(blank=True, null=True)),
                        ("decision_note", models.TextField(blank=True)),
                        ("applied_at", models.DateTimeField(blank=True, null=True)),
                        ("finished_at", models.DateTimeField(blank=True, null=True)),
                        ("worker_token", models.CharField(blank=True, max_length=32)),
                        ("heartbeat_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "created_by",
                            models.ForeignKey(
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "statuses_changeset",
                        "ordering": ["-created_at", "-id"],
                    },
                ),
                migrations.CreateModel(
                    name="ChangeSetItem",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("line", models.IntegerField(blank=True, null=True)),
                        ("code", models.CharField(max_length=64)),
                        (
                            "plan",
                            models.CharField(
                                choices=[
                                    ("create", "Create"),
                                    ("update", "Update"),
                                    ("unchanged", "Unchanged"),
                                    ("invalid", "Can't be applied"),
                                ],
                                max_length=10,
                            ),
                        ),
                        ("changes", models.JSONField(default=dict)),
                        ("before", models.JSONField(blank=True, null=True)),
                        ("problem", models.TextField(blank=True)),
                        (
                            "state",
                            models.CharField(
                                choices=[
                                    ("planned", "Waiting"),
                                    ("sending", "Being sent"),
                                    ("done", "Done"),
                                    ("failed", "Failed"),
                                    ("skipped", "Nothing to send"),
                                ],
                                default="planned",
                                max_length=10,
                            ),
                        ),
                        ("outcome", models.TextField(blank=True)),
                        ("entry_id", models.BigIntegerField(blank=True, null=True)),
                        (
                            "change_set",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="items",
                                to="changesets.changeset",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "statuses_changesetitem",
                        "ordering": ["change_set", "id"],
                        "indexes": [
                            models.Index(
                                fields=["change_set", "state"], name="changeset_item_state"
                            )
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(
            move_content_types("statuses", "changesets", ["changeset", "changesetitem"]),
            move_content_types("changesets", "statuses", ["changeset", "changesetitem"]),
        ),
        migrations.RunPython(queued_tasks(OLD_TASK, NEW_TASK), queued_tasks(NEW_TASK, OLD_TASK)),
        migrations.AlterModelTable(name="changeset", table=None),
        migrations.AlterModelTable(name="changesetitem", table=None),
    ]
