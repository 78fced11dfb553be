"""ChangeRequest moves here from the statuses app, rows and all.

The model was created by statuses.0005; this takes it over in Django's state only (no table is
created), moves its content type (so the Approver group keeps its permission), then renames
the table to this app's name. statuses.0007 lets go of it.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from statusadmin.moved_models import move_content_types


class Migration(migrations.Migration):
    dependencies = [
        ("statuses", "0006_change_sets"),
        # After every migration that creates permissions under the old app name.
        ("accounts", "0003_approver_role"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="ChangeRequest",
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
                        ("status_code", models.CharField(max_length=64)),
                        (
                            "kind",
                            models.CharField(
                                choices=[("create", "Create"), ("update", "Update")],
                                max_length=10,
                            ),
                        ),
                        ("changes", models.JSONField()),
                        ("before", models.JSONField(blank=True, null=True)),
                        ("reason", models.TextField()),
                        ("requested_by_username", models.CharField(max_length=150)),
                        ("requested_at", models.DateTimeField()),
                        ("expires_at", models.DateTimeField()),
                        (
                            "state",
                            models.CharField(
                                choices=[
                                    ("pending", "Waiting for approval"),
                                    ("applied", "Approved and sent"),
                                    ("failed", "Approved, but Convoso did not take it"),
                                    ("rejected", "Rejected"),
                                    ("withdrawn", "Withdrawn"),
                                    ("expired", "Expired"),
                                ],
                                default="pending",
                                max_length=10,
                            ),
                        ),
                        ("decided_by_username", models.CharField(blank=True, max_length=150)),
                        ("decided_at", models.DateTimeField(blank=True, null=True)),
                        ("decision_note", models.TextField(blank=True)),
                        ("failure", models.TextField(blank=True)),
                        ("reverts_ref", models.BigIntegerField(blank=True, null=True)),
                        (
                            "decided_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "requested_by",
                            models.ForeignKey(
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "statuses_changerequest",
                        "ordering": ["requested_at", "id"],
                        "permissions": [
                            (
                                "approve_changerequest",
                                "Can approve changes that need a second person",
                            )
                        ],
                        "constraints": [
                            models.UniqueConstraint(
                                condition=models.Q(("state", "pending")),
                                fields=("account", "status_code"),
                                name="one_pending_request_per_status",
                            )
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(
            move_content_types("statuses", "approvals", ["changerequest"]),
            move_content_types("approvals", "statuses", ["changerequest"]),
        ),
        migrations.AlterModelTable(name="changerequest", table=None),
    ]
