from django.apps import AppConfig


class ApprovalsConfig(AppConfig):
    name = "statusadmin.approvals"
    label = "approvals"
    verbose_name = "Four-eyes approvals"
