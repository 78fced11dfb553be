"""Approvers are the second person of the four-eyes control: they see statuses and approve."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

PERMISSIONS = [("statuses", "view_mirrorstatus"), ("statuses", "approve_changerequest")]


def grant(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name="Approver")
    for app_label, codename in PERMISSIONS:
        group.permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )


def remove(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name="Approver").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_compliance_audit_permissions"),
        ("statuses", "0005_change_request"),
    ]

    operations = [migrations.RunPython(grant, remove)]
