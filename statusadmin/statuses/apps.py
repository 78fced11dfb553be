from django.apps import AppConfig


class StatusesConfig(AppConfig):
    name = "statusadmin.statuses"
    label = "statuses"
    verbose_name = "Lead statuses"
