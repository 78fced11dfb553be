"""What a person chose once about how the dashboard shows things to them."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Preferences(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="preferences",
    )
    # An IANA zone name ("Europe/London") the person's times are shown in; "" for the
    # dashboard's (settings.TIME_ZONE). Exports are in UTC whatever it says.
    time_zone = models.CharField(max_length=64, blank=True)

    class Meta:
        verbose_name_plural = "preferences"

    def __str__(self) -> str:
        return f"preferences of user {self.user_id}"
