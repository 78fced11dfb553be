from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "statusadmin.accounts"
    label = "accounts"
    verbose_name = "Users and roles"
