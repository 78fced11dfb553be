"""The forms a person fills in about their own account."""

from __future__ import annotations

import functools
import zoneinfo

from django import forms


@functools.cache
def time_zones() -> frozenset[str]:
    """Every IANA zone name this server knows."""
    return frozenset(zoneinfo.available_timezones())


class TimeZoneForm(forms.Form):
    time_zone = forms.CharField(label="Time zone", required=False, max_length=64)

    def clean_time_zone(self) -> str:
        name = (self.cleaned_data.get("time_zone") or "").strip()
        if name and name not in time_zones():
            raise forms.ValidationError(
                f"{name!r} is not a time zone. Choose one from the list, e.g. Europe/London."
            )
        return name
