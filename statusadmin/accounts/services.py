"""Writes about a person's own account: their preferences."""

from __future__ import annotations

from django.contrib.auth.models import User

from .models import Preferences


def preferences_set_time_zone(*, user: User, time_zone: str) -> Preferences:
    """Remember the zone ``user`` reads times in ("" for the dashboard's); already checked to
    be a zone (forms.TimeZoneForm)."""
    preferences, _ = Preferences.objects.update_or_create(
        user=user, defaults={"time_zone": time_zone}
    )
    return preferences
