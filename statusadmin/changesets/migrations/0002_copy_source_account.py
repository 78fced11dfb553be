"""Copies from another account: the COPY kind, and the account a copy reads from."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("changesets", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="changeset",
            name="source_account",
            field=models.CharField(blank=True, default="", max_length=32),
        ),
        migrations.AlterField(
            model_name="changeset",
            name="kind",
            field=models.CharField(
                choices=[
                    ("bulk", "Bulk edit"),
                    ("import", "Catalogue import"),
                    ("copy", "Copy from another account"),
                ],
                max_length=10,
            ),
        ),
    ]
