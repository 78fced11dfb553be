from django.apps import AppConfig


class ConvosoConfig(AppConfig):
    name = "statusadmin.convoso"
    label = "convoso"
    verbose_name = "Convoso API and sandbox"
