from django.apps import AppConfig


class ChangeSetsConfig(AppConfig):
    name = "statusadmin.changesets"
    label = "changesets"
    verbose_name = "Change sets"
