"""On PostgreSQL, a trigram index makes `search_text LIKE '%...%'` use an index for queries of
three characters or more. Needs the pg_trgm extension (trusted: a database owner may create it);
where it can't be created the index is skipped and search simply scans the (small) table."""

import logging

from django.db import DatabaseError, migrations, transaction

logger = logging.getLogger(__name__)

INDEX = "mirror_search_trgm"


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic(), schema_editor.connection.cursor() as cursor:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            cursor.execute(
                f"CREATE INDEX IF NOT EXISTS {INDEX} ON statuses_mirrorstatus "
                "USING gin (search_text gin_trgm_ops)"
            )
    except DatabaseError as exc:
        logger.warning("Search trigram index not created (%s); search still works.", exc)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("statuses", "0002_search_index_order")]

    operations = [migrations.RunPython(create, drop)]
