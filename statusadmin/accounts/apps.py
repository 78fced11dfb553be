from typing import Any

from django.apps import AppConfig, apps
from django.core.management import call_command
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "statusadmin.accounts"
    label = "accounts"
    verbose_name = "Users and roles"

    def ready(self) -> None:
        # Auth's post_migrate comes once per migrate, and login is what needs the cache.
        post_migrate.connect(create_cache_table, sender=apps.get_app_config("auth"))
        from allauth.account.signals import user_logged_in

        from .oidc import signed_in_through_the_provider

        user_logged_in.connect(signed_in_through_the_provider, dispatch_uid="oidc-sign-in")
        from allauth.mfa.signals import authenticator_added, authenticator_used

        from .identity import factor_set_up, factor_used

        authenticator_added.connect(factor_set_up, dispatch_uid="factor-set-up")
        authenticator_used.connect(factor_used, dispatch_uid="factor-used")
        from . import access_log

        access_log.connect()


def create_cache_table(using: str, **kwargs: Any) -> None:
    """Logging in reads the cache (sessions, the cached user backend). With the default
    database cache its table must exist, and deployers run `migrate`, not `createcachetable`:
    so `migrate` makes it. Idempotent, and a no-op for any other cache backend."""
    call_command("createcachetable", database=using, verbosity=0)
