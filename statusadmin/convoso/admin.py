"""The Convoso accounts in the Django admin, for superusers only: an account's token opens a
whole Convoso account, so staff who manage users must not be able to read its ending, point it
elsewhere or give themselves a role in it.

The token is write-only: never rendered back, blank keeps the stored one, a new one is tried
with a search before it is saved. Accounts are disabled, never deleted (the audit log names
them). People's roles are memberships, inline; the permission backend's stamp covers them, so
a change counts from the person's next request (accounts/backends.py).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from . import services, tokens
from .models import ConvosoAccount, Membership


def _superuser(request: HttpRequest) -> bool:
    user = request.user
    return bool(user.is_active and user.is_superuser)


class ConvosoAccountForm(forms.ModelForm[ConvosoAccount]):
    token = forms.CharField(
        label="API token",
        required=False,
        # render_value=False: not even a form sent back with errors shows it; "new-password"
        # keeps browsers from filling in the signed-in person's own password.
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )

    class Meta:
        model = ConvosoAccount
        fields = ["name", "slug", "api_url", "enabled"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        token = self.fields["token"]
        if self.instance.pk is None:
            token.required = True
            token.help_text = (
                "Tried with a search on Convoso before it is saved. It is stored encrypted "
                "and never shown again, only its last four characters."
            )
        else:
            token.help_text = (
                f"The token saved ends in {_ending(self.instance)}. Leave this blank to keep "
                "it; a new one is tried with a search on Convoso before it is saved."
            )

    def clean_api_url(self) -> str:
        api_url: str = self.cleaned_data["api_url"].rstrip("/")
        services.api_url_check(api_url)
        return api_url

    def _post_clean(self) -> None:
        # After the model's own checks (short name reserved or taken), as Django's
        # UserCreationForm checks a password: Convoso is asked only about an account that is
        # otherwise right.
        super()._post_clean()  # type: ignore[misc]  # django-stubs leave it out
        if not self.errors:
            self._try_token()

    def _try_token(self) -> None:
        token = self.cleaned_data.get("token", "")
        if not token and "api_url" in self.changed_data and self.instance.pk is not None:
            # The stored token, at the new address: it may belong to the old one only.
            try:
                token = tokens.decrypt(self.instance.token_encrypted)
            except tokens.TokenUnreadable as exc:
                self.add_error("token", f"{exc} Enter the token to save the new API URL.")
                return
        if token:
            try:
                services.token_check(api_url=self.cleaned_data["api_url"], token=token)
            except services.TokenNotAccepted as exc:
                self.add_error("token", f"{exc} Nothing was saved.")

    def save(self, commit: bool = True) -> ConvosoAccount:
        if token := self.cleaned_data.get("token"):
            services.account_set_token(self.instance, token)
        return super().save(commit)


def _ending(account: ConvosoAccount) -> str:
    return f"••••{account.token_last4}" if account.token_last4 else "••••"


class MembershipInline(admin.TabularInline[Membership, ConvosoAccount]):
    model = Membership
    fields = ["user", "role"]
    autocomplete_fields = ["user"]
    extra = 1
    verbose_name = "person's role"
    verbose_name_plural = "people's roles in this account"

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _superuser(request)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _superuser(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _superuser(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _superuser(request)


@admin.register(ConvosoAccount)
class ConvosoAccountAdmin(admin.ModelAdmin[ConvosoAccount]):
    form = ConvosoAccountForm
    inlines = [MembershipInline]
    list_display = ["name", "slug", "api_url", "enabled", "token_ending", "members"]
    list_filter = ["enabled"]
    search_fields = ["name", "slug"]
    fields = ["name", "slug", "api_url", "token", "enabled"]

    @admin.display(description="token")
    def token_ending(self, account: ConvosoAccount) -> str:
        return f"ends in {_ending(account)}"

    @admin.display(description="people")
    def members(self, account: ConvosoAccount) -> int:
        return account.memberships.values("user").distinct().count()

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["slug"] if obj is not None else []  # URLs and audit entries carry it

    def has_module_permission(self, request: HttpRequest) -> bool:
        return _superuser(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _superuser(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return _superuser(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _superuser(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # disabled instead: the audit log names the account for good
