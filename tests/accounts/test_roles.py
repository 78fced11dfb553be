import io

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import RequestFactory, override_settings

from statusadmin.accounts.roles import (
    APPROVE_CHANGES,
    APPROVER,
    COMPLIANCE,
    EDIT_STATUSES,
    SUPERVISOR,
    VIEW_STATUSES,
)

pytestmark = pytest.mark.django_db


def login_check(**credentials: str):  # type: ignore[no-untyped-def]
    # django-axes needs the request (it locks out per username and address).
    return authenticate(RequestFactory().post("/accounts/login/"), **credentials)


def perms(group: str) -> set[str]:
    return {
        f"{p.content_type.app_label}.{p.codename}"
        for p in Group.objects.get(name=group).permissions.all()
    }


class RoleMigrationTests:
    def test_groups_exist_with_their_permissions(self):
        assert {VIEW_STATUSES, EDIT_STATUSES} <= perms(SUPERVISOR)
        assert VIEW_STATUSES in perms(COMPLIANCE)
        assert EDIT_STATUSES not in perms(COMPLIANCE)
        assert perms(APPROVER) == {VIEW_STATUSES, APPROVE_CHANGES}


class SeedDemoTests:
    def test_sandbox_creates_demo_users_with_roles(self):
        out = io.StringIO()
        call_command("seed_demo", "--url", "http://127.0.0.1:9000/", stdout=out)
        supervisor = login_check(username="supervisor", password="supervisor")
        compliance = login_check(username="compliance", password="compliance")
        assert supervisor.has_perm(EDIT_STATUSES)
        assert compliance.has_perm(VIEW_STATUSES)
        assert not compliance.has_perm(EDIT_STATUSES)
        text = out.getvalue()
        assert "http://127.0.0.1:9000/" in text
        assert "supervisor / supervisor" in text
        assert "compliance / compliance" in text
        approver = login_check(username="approver", password="approver")
        assert approver.has_perm(APPROVE_CHANGES)
        assert not approver.has_perm(EDIT_STATUSES)
        assert "approver / approver" in text

    def test_two_more_accounts_to_switch_between(self, client):
        from statusadmin.convoso.models import ConvosoAccount, Membership

        out = io.StringIO()
        call_command("seed_demo", stdout=out)
        call_command("seed_demo", stdout=io.StringIO())  # once only, however often run
        assert list(ConvosoAccount.objects.values_list("slug", flat=True)) == ["east", "west"]
        assert "Three Convoso accounts (Sandbox, East office, West client)" in out.getvalue()
        east = login_check(username="east", password="east")
        assert list(Membership.objects.filter(user=east).values_list("role", flat=True)) == [
            SUPERVISOR
        ]
        client.force_login(east)
        assert client.get("/")["Location"] == "/a/east/"
        page = client.get("/a/east/").content.decode()
        assert "Transferred to Closer" in page  # the emulated account's own catalogue
        assert client.get("/a/west/").status_code == 404

    def test_demo_people_have_addresses_so_the_console_shows_notices(self):
        # make run prints e-mail to the console: with addresses, approval notices show there.
        call_command("seed_demo", stdout=io.StringIO())
        emails = dict(get_user_model().objects.values_list("username", "email"))
        assert emails["supervisor"] == "supervisor@example.com"
        assert emails["approver"] == "approver@example.com"
        assert emails["compliance"] == "compliance@example.com"

    def test_running_again_keeps_changed_passwords(self):
        call_command("seed_demo", stdout=io.StringIO())
        user = get_user_model().objects.get(username="supervisor")
        user.set_password("a-better-one-123")
        user.save()
        call_command("seed_demo", stdout=io.StringIO())
        assert login_check(username="supervisor", password="a-better-one-123") is not None
        assert get_user_model().objects.filter(username="supervisor").count() == 1

    @override_settings(CONVOSO_SANDBOX=False, CONVOSO_AUTH_TOKEN="real")
    def test_never_with_a_real_token(self):
        out = io.StringIO()
        call_command("seed_demo", stdout=out)
        assert (
            not get_user_model()
            .objects.filter(username__in=["supervisor", "compliance", "approver"])
            .exists()
        )
        assert "createsuperuser" in out.getvalue()
