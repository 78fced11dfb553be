"""ChangeRequest went to the approvals app, ChangeSet and ChangeSetItem to the changesets app
(their 0001 migrations took over the tables): this app lets go of them in Django's state only."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("statuses", "0006_change_sets"),
        ("approvals", "0001_initial"),
        ("changesets", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="ChangeSetItem"),
                migrations.DeleteModel(name="ChangeSet"),
                migrations.DeleteModel(name="ChangeRequest"),
            ],
            database_operations=[],
        ),
    ]
