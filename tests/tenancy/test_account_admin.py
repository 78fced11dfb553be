"""The Convoso accounts in the Django admin: superusers only; the token write-only, tried with
Convoso before it is saved; disabled, never deleted; people's roles there as an inline."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from statusadmin.convoso import tokens
from statusadmin.convoso.models import ConvosoAccount, Membership
from statusadmin.convoso.sandbox import token_for
from tests.factories import make_user
from tests.helpers import REAL_API, pass_second_factor
from tests.tenancy.token_check import accepts, refuses

LIST = "/admin/convoso/convosoaccount/"
ADD = LIST + "add/"


def change_url(slug: str) -> str:
    return f"{LIST}{ConvosoAccount.objects.get(slug=slug).pk}/change/"


def fake_token() -> str:
    return "tok-" + secrets.token_hex(12)


def form(
    account: ConvosoAccount | None = None, memberships: list[dict[str, Any]] | None = None,
    **fields: Any,
) -> dict[str, Any]:  # fmt: skip
    """What the admin's form posts: the account's fields, and its memberships inline."""
    existing = list(account.memberships.all()) if account else []
    data: dict[str, Any] = {
        "name": account.name if account else "East office",
        "api_url": account.api_url if account else REAL_API,
        "enabled": "on" if account is None or account.enabled else "",
        "token": "",
    }
    if account is None:
        data["slug"] = "east"
    rows = [{"id": m.pk, "user": m.user_id, "role": m.role} for m in existing]
    rows += memberships or []
    data.update({
        "memberships-TOTAL_FORMS": str(len(rows)),
        "memberships-INITIAL_FORMS": str(len(existing)),
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
    })  # fmt: skip
    for i, row in enumerate(rows):
        for key, value in row.items():
            data[f"memberships-{i}-{key}"] = "on" if value is True else value
    data.update(fields)
    return {k: v for k, v in data.items() if v is not None}


@pytest.fixture
def superuser_client(db):  # type: ignore[no-untyped-def]
    ada = make_user("ada", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(ada)
    pass_second_factor(client, ada)
    return client


class AddTests:
    def test_a_superuser_adds_an_account(self, superuser_client, convoso):
        accepts(convoso)
        token = fake_token()
        response = superuser_client.post(ADD, form(token=token))
        assert response.status_code == 302, response.content.decode()[:3000]
        row = ConvosoAccount.objects.get(slug="east")
        assert tokens.decrypt(row.token_encrypted) == token
        assert row.token_last4 == token[-4:]
        assert len(convoso.calls) == 1
        page = superuser_client.get(LIST).content.decode()
        assert f"••••{token[-4:]}" in page
        assert token not in page

    def test_a_refused_token_is_a_form_error(self, superuser_client, convoso):
        refuses(convoso)
        token = fake_token()
        response = superuser_client.post(ADD, form(token=token))
        assert response.status_code == 200
        page = response.content.decode()
        assert "Convoso refused this token (Invalid authentication token)" in page
        assert token not in page
        assert not ConvosoAccount.objects.exists()

    def test_a_token_is_required_to_add(self, superuser_client, convoso):
        response = superuser_client.post(ADD, form())
        assert response.status_code == 200
        assert "This field is required" in response.content.decode()
        assert not convoso.calls
        assert not ConvosoAccount.objects.exists()

    def test_a_reserved_slug_calls_no_one(self, superuser_client, convoso):
        response = superuser_client.post(ADD, form(slug="sandbox", token=fake_token()))
        assert "is reserved" in response.content.decode()
        assert not convoso.calls

    def test_an_ftp_url_is_refused(self, superuser_client, convoso):
        response = superuser_client.post(
            ADD, form(api_url="ftp://convoso.test/v1", token=fake_token())
        )
        assert "Enter the API&#x27;s web address" in response.content.decode()
        assert not convoso.calls


class ChangeTests:
    def test_the_token_is_never_rendered_back(self, superuser_client, east):
        page = superuser_client.get(change_url("east")).content.decode()
        token = token_for("east")
        row = ConvosoAccount.objects.get(slug="east")
        assert token not in page
        assert row.token_encrypted not in page
        assert f"ends in ••••{token[-4:]}" in page
        assert 'type="password"' in page
        # The short name never changes once the account exists.
        assert 'name="slug"' not in page

    def test_a_blank_token_keeps_the_old_one(self, superuser_client, east, convoso):
        row = ConvosoAccount.objects.get(slug="east")
        before = row.token_encrypted
        response = superuser_client.post(change_url("east"), form(row, name="East office 2"))
        assert response.status_code == 302, response.content.decode()[:3000]
        row.refresh_from_db()
        assert (row.name, row.token_encrypted) == ("East office 2", before)
        assert not convoso.calls

    def test_a_new_token_is_tried_then_saved(self, superuser_client, east, convoso):
        row = ConvosoAccount.objects.get(slug="east")
        token = fake_token()
        accepts(convoso)
        response = superuser_client.post(
            change_url("east"), form(row, api_url=REAL_API, token=token)
        )
        assert response.status_code == 302, response.content.decode()[:3000]
        row.refresh_from_db()
        assert tokens.decrypt(row.token_encrypted) == token
        assert row.token_last4 == token[-4:]
        [call] = convoso.calls
        assert f"auth_token={token}" in call.request.body

    def test_a_refused_new_token_keeps_the_old_one(self, superuser_client, east, convoso):
        row = ConvosoAccount.objects.get(slug="east")
        before = row.token_encrypted
        refuses(convoso)
        token = fake_token()
        response = superuser_client.post(
            change_url("east"), form(row, api_url=REAL_API, token=token)
        )
        assert response.status_code == 200
        page = response.content.decode()
        assert "Convoso refused this token" in page
        assert token not in page
        row.refresh_from_db()
        assert row.token_encrypted == before
        assert row.api_url != REAL_API

    def test_a_new_url_is_tried_with_the_stored_token(self, superuser_client, east, convoso):
        row = ConvosoAccount.objects.get(slug="east")
        refuses(convoso)
        response = superuser_client.post(change_url("east"), form(row, api_url=REAL_API))
        assert "Convoso refused this token" in response.content.decode()
        [call] = convoso.calls
        assert f"auth_token={token_for('east')}" in call.request.body
        row.refresh_from_db()
        assert row.api_url != REAL_API

    def test_disabled_never_deleted(self, superuser_client, east):
        row = ConvosoAccount.objects.get(slug="east")
        assert superuser_client.get(f"{LIST}{row.pk}/delete/").status_code == 403
        assert "delete_selected" not in superuser_client.get(LIST).content.decode()
        response = superuser_client.post(change_url("east"), form(row, enabled=""))
        assert response.status_code == 302, response.content.decode()[:3000]
        row.refresh_from_db()
        assert not row.enabled


class MembershipTests:
    def test_a_role_given_or_taken_away_counts_at_the_next_request(self, superuser_client, east):
        row = ConvosoAccount.objects.get(slug="east")
        ed = make_user("ed")
        person = Client()
        person.force_login(ed)
        assert person.get("/a/east/").status_code == 404

        given = [{"user": ed.pk, "role": "Supervisor"}]
        response = superuser_client.post(change_url("east"), form(row, memberships=given))
        assert response.status_code == 302, response.content.decode()[:3000]
        assert Membership.objects.filter(user=ed, account=row, role="Supervisor").exists()
        assert person.get("/a/east/").status_code == 200

        membership = Membership.objects.get(user=ed)
        taken = form(row)
        index = next(
            k.split("-")[1] for k, v in taken.items() if k.endswith("-id") and v == membership.pk
        )
        taken[f"memberships-{index}-DELETE"] = "on"
        response = superuser_client.post(change_url("east"), taken)
        assert response.status_code == 302, response.content.decode()[:3000]
        assert not Membership.objects.filter(user=ed).exists()
        assert person.get("/a/east/").status_code == 404

    def test_people_are_found_by_name(self, superuser_client, east):
        make_user("edwina")
        response = superuser_client.get(
            "/admin/autocomplete/",
            {"app_label": "convoso", "model_name": "membership", "field_name": "user",
             "term": "edw"},
        )  # fmt: skip
        assert response.status_code == 200
        assert [r["text"] for r in response.json()["results"]] == ["edwina"]


class StaffTests:
    @pytest.fixture
    def staff_client(self, db):  # type: ignore[no-untyped-def]
        stan = make_user("stan", is_staff=True)
        # Even with every permission on accounts and memberships: they are superusers' only.
        stan.user_permissions.set(
            Permission.objects.filter(content_type__app_label="convoso", codename__contains="")
        )
        client = Client()
        client.force_login(stan)
        pass_second_factor(client, stan)
        return client

    def test_staff_neither_see_nor_change_accounts(self, staff_client, east):
        row = ConvosoAccount.objects.get(slug="east")
        assert "convosoaccount" not in staff_client.get("/admin/").content.decode()
        for url in (LIST, ADD, change_url("east"), f"{LIST}{row.pk}/delete/"):
            assert staff_client.get(url).status_code == 403, url
        response = staff_client.post(change_url("east"), form(row, name="Taken over"))
        assert response.status_code == 403
        row.refresh_from_db()
        assert row.name == "East office"

    def test_staff_cannot_add_memberships_either(self, staff_client, east):
        assert staff_client.get("/admin/convoso/membership/").status_code in (403, 404)
