from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "statusadmin.audit"
    label = "audit"
    verbose_name = "Audit trail"
