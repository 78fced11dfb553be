from __future__ import annotations

from django import forms


class ImportForm(forms.Form):
    file = forms.FileField(
        label="Catalogue file",
        help_text="CSV or JSON, as the catalogue export writes it. Nothing is sent until you "
        "have seen the plan and pressed Apply.",
    )
