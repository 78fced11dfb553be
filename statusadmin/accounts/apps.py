from typing import Any

from django.apps import AppConfig, apps
from django.core.management import call_command
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "statusadmin.accounts"
    label = "accounts"
    verbose_name = "Users and roles"

    def ready(self) -> None:
        # This app has no models, so Django sends it no post_migrate; auth's comes once per
        # migrate, and login is what needs the cache.
        post_migrate.connect(create_cache_table, sender=apps.get_app_config("auth"))


def create_cache_table(using: str, **kwargs: Any) -> None:
    """Logging in reads the cache (sessions, the cached user backend). With the default
    database cache its table must exist, and deployers run `migrate`, not `createcachetable`:
    so `migrate` makes it. Idempotent, and a no-op for any other cache backend."""
    call_command("createcachetable", database=using, verbosity=0)
