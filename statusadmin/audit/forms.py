from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils import timezone

from statusadmin.accounts.forms import time_zones
from statusadmin.convoso.status import EDITABLE_FIELDS, FIELD_LABELS

from .models import Action, Outcome
from .selectors import Filters

# Dates far outside any plausible log (like 9999-12-31) are ignored rather than overflowing.
DATE_RANGE = [MinValueValidator(date(2000, 1, 1)), MaxValueValidator(date(2999, 12, 30))]
DATE_WIDGET = forms.DateInput(attrs={"type": "date"})

FIELD_CHOICES = [("", "Any field"), *((f, FIELD_LABELS[f]) for f in EDITABLE_FIELDS)]


class AuditFilterForm(forms.Form):
    """The filters on /audit/. Everything is optional; unreadable values are simply ignored."""

    date_from = forms.DateField(
        label="From", required=False, validators=DATE_RANGE, widget=DATE_WIDGET
    )
    date_to = forms.DateField(label="To", required=False, validators=DATE_RANGE, widget=DATE_WIDGET)
    # Any part of a name, in any case (selectors.people_named); the page lists the people.
    actor = forms.CharField(
        label="Who", required=False, max_length=150,
        widget=forms.TextInput(attrs={"list": "people", "autocomplete": "off"}),
    )  # fmt: skip
    code = forms.CharField(label="Status code", required=False, max_length=64)
    action = forms.ChoiceField(
        label="Action", required=False, choices=[("", "Any action"), *Action.choices]
    )
    outcome = forms.ChoiceField(
        label="Outcome", required=False, choices=[("", "Any outcome"), *Outcome.choices]
    )
    field = forms.ChoiceField(label="Changed field", required=False, choices=FIELD_CHOICES)
    text = forms.CharField(label="Reason contains", required=False, max_length=200)
    approved_by = forms.CharField(
        label="Approved by", required=False, max_length=150,
        widget=forms.TextInput(attrs={"list": "people", "autocomplete": "off"}),
    )  # fmt: skip
    awaiting = forms.BooleanField(label="Awaiting approval", required=False)
    request = forms.IntegerField(
        label="Request number", required=False, min_value=1, max_value=2**63 - 1
    )

    def filters(self) -> Filters:
        if not self.is_valid():
            # Keep what is readable, drop what isn't: a bad date never hides the whole log.
            data = {k: v for k, v in self.cleaned_data.items() if k not in self.errors}
        else:
            data = self.cleaned_data
        return Filters(
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
            actor=(data.get("actor") or "").strip(),
            code=(data.get("code") or "").strip(),
            action=data.get("action") or "",
            outcome=data.get("outcome") or "",
            field=data.get("field") or "",
            text=(data.get("text") or "").strip(),
            approved_by=(data.get("approved_by") or "").strip(),
            awaiting=bool(data.get("awaiting")),
            request=data.get("request"),
        )


class EvidenceForm(forms.Form):
    """The period of an evidence bundle: both dates required, in order."""

    date_from = forms.DateField(label="First day", validators=DATE_RANGE, widget=DATE_WIDGET)
    date_to = forms.DateField(label="Last day", validators=DATE_RANGE, widget=DATE_WIDGET)

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            raise forms.ValidationError("The period must not end before it starts.")
        return data


class MomentForm(forms.Form):
    """A moment of the catalogue, as a person gives it: a date and time on their own clock, in
    their time zone (the one they chose; else the browser's, which the page's script fills in;
    the dashboard's without either), and a second moment to compare it with."""

    at = forms.DateTimeField(
        label="Date and time", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    compare = forms.DateTimeField(
        label="Compare with (optional)",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    tz = forms.CharField(label="Time zone", required=False, max_length=64)
    q = forms.CharField(label="Status code or name", required=False, max_length=100)

    def clean_tz(self) -> zoneinfo.ZoneInfo:
        # Given none: the person's own (TimeZoneMiddleware), else the dashboard's.
        name = (self.cleaned_data.get("tz") or "").strip() or timezone.get_current_timezone_name()
        if name not in time_zones():
            raise forms.ValidationError(f"{name!r} is not a time zone, e.g. Europe/London.")
        return zoneinfo.ZoneInfo(name)

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        zone = data.get("tz")
        if not isinstance(zone, zoneinfo.ZoneInfo):
            return data
        for name in ("at", "compare"):
            if isinstance(value := data.get(name), datetime):
                data[name] = self._on_the_clock(name, value.replace(tzinfo=None), zone)
        return data

    def _on_the_clock(self, name: str, wall: datetime, zone: zoneinfo.ZoneInfo) -> datetime | None:
        """The moment ``wall`` shows on ``zone``'s clocks: refused when the clocks skipped it,
        and the first of the two when they showed it twice (a clock going back)."""
        moment = wall.replace(tzinfo=zone)
        if moment.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != wall:
            self.add_error(
                name,
                f"{wall:%H:%M} on {wall:%d %B %Y} never happened in {zone.key}: the clocks "
                "went forward over it. Choose a time either side.",
            )
            return None
        if moment.astimezone(UTC) > timezone.now():
            self.add_error(name, "That is in the future: the log can only say what was.")
            return None
        return moment
