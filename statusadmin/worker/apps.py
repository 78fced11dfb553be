from django.apps import AppConfig


class WorkerConfig(AppConfig):
    name = "statusadmin.worker"
    label = "worker"
    verbose_name = "Background work"
