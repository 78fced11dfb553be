from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.core.exceptions import ValidationError
from django.http import QueryDict

from statusadmin.convoso import validation
from statusadmin.convoso.status import FLAG_HINTS, FLAG_LABELS, FLAGS

QUERY_MAX_LENGTH = 100


def search_query(params: QueryDict) -> str:
    """The search text from a query string or a form. NUL is dropped: PostgreSQL can't hold
    it in a SQL string, and no code or name contains one."""
    return params.get("q", "").replace("\x00", "").strip()[:QUERY_MAX_LENGTH]


def _convoso_rule(rule: Callable[[object], object], value: object) -> object:
    """Apply one of Convoso's rules (validation.py), reporting a break as a form error."""
    try:
        return rule(value)
    except validation.InvalidInput as exc:
        raise ValidationError(exc.message, code="invalid") from None


class StatusCreateForm(forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=6,
        help_text="2 to 6 letters or digits, stored in capitals. It can't be changed later.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    name = forms.CharField(label="Name", help_text="What agents see in the dialler.")
    # Typed as hex (a picker beside it fills it in), or "no colour" ticked.
    color = forms.CharField(
        label="Colour",
        initial="#0077CC",
        required=False,
        help_text="Six hexadecimal digits, like #00AA00, or pick one.",
        widget=forms.TextInput(
            attrs={"maxlength": 7, "autocomplete": "off", "spellcheck": "false", "size": 8}
        ),
    )
    no_color = forms.BooleanField(label="No colour", required=False)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        if not self.is_bound:
            # A fresh form starts in its first field; after errors, the summary takes focus.
            self.fields["code"].widget.attrs["autofocus"] = True
        for flag in FLAGS:
            self.fields[flag] = forms.BooleanField(
                label=FLAG_LABELS[flag], help_text=FLAG_HINTS[flag], required=False
            )

        # After the flags, so the question follows the DNC box it depends on.
        self.fields["reason"] = forms.CharField(
            label="Why is DNC on?",
            required=False,
            widget=forms.TextInput(attrs={"maxlength": validation.REASON_MAX_LENGTH}),
            help_text="Needed when DNC is ticked: leads given this status are added to the "
            "Do-Not-Call list. Your reason is kept in the audit log.",
        )

    def flag_fields(self) -> list[forms.BoundField]:
        return [self[flag] for flag in FLAGS]

    def clean_code(self) -> object:
        return _convoso_rule(validation.clean_code, self.cleaned_data["code"])

    def clean_name(self) -> object:
        return _convoso_rule(validation.clean_name, self.cleaned_data["name"])

    def clean_color(self) -> object:
        if self.data.get("no_color"):
            return None
        if not self.cleaned_data["color"].strip():
            raise forms.ValidationError("Type a colour like #00AA00, or tick No colour.")
        return _convoso_rule(validation.clean_color, self.cleaned_data["color"])

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if not data.get("dnc"):
            data["reason"] = ""  # asked only about DNC; nothing else to explain
            return data
        # The same rule as turning DNC on for an existing status.
        try:
            data["reason"] = validation.clean_reason(data.get("reason", ""))
        except validation.InvalidInput as exc:
            self.add_error("reason", exc.message)
        return data
