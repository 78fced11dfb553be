"""Rights taken away take effect at the very next request, whichever way they were taken away.

A supervisor is signed in and has just made a change (so whatever the dashboard keeps about
them is warm). Then their rights change: through the Django admin, in another process (a
management command), with a queryset update() that sends no signals, or with raw SQL. Their
next write must be refused, and nothing may reach Convoso.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import pytest
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group, Permission, User
from django.db import connection
from django.test import Client

from statusadmin.accounts.roles import COMPLIANCE, EDIT_STATUSES, SUPERVISOR
from tests.factories import make_user
from tests.helpers import ROOT, RealConvoso, pass_second_factor, subprocess_environment

HX = {"HTTP_HX_REQUEST": "true"}
NEW_PASSWORD = "a-new-password-4821"

# What was taken away, and how the next write must fail: a person who is still signed in but
# lacks the right gets 403; a person whose session ended is sent to sign in again.
FORBIDDEN = "forbidden"
SIGNED_OUT = "signed out"
CHANGES = {
    "group removed": FORBIDDEN,
    "permission removed from the group": FORBIDDEN,
    "user deactivated": SIGNED_OUT,
    "password changed": SIGNED_OUT,
    "superuser flag cleared": FORBIDDEN,
}


def edit_permission() -> Permission:
    app_label, codename = EDIT_STATUSES.split(".")
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)


def the_person(change: str) -> User:
    """A supervisor, or for the superuser case a superuser with no role at all (their rights
    come from the flag alone)."""
    if change == "superuser flag cleared":
        return make_user("sam", is_superuser=True)
    return make_user("sue", SUPERVISOR)


def toggle(client: Client, value: str):  # type: ignore[no-untyped-def]
    return client.post("/statuses/XFER/flag/", {"callback": value}, **HX)


# --- the ways in ------------------------------------------------------------------------------


def through_the_admin(change: str, person: User) -> None:
    admin = Client()
    ada = make_user("ada", is_staff=True, is_superuser=True)
    admin.force_login(ada)
    pass_second_factor(admin, ada)
    if change == "password changed":
        response = admin.post(
            f"/admin/auth/user/{person.pk}/password/",
            {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
        )
        assert response.status_code == 302, response.content.decode()[:2000]
        return
    if change == "permission removed from the group":
        group = Group.objects.get(name=SUPERVISOR)
        keep = group.permissions.exclude(pk=edit_permission().pk)
        response = admin.post(
            f"/admin/auth/group/{group.pk}/change/",
            {"name": group.name, "permissions": [p.pk for p in keep]},
        )
        assert response.status_code == 302, response.content.decode()[:2000]
        return
    form = {
        "username": person.username,
        "first_name": "",
        "last_name": "",
        "email": "",
        "date_joined_0": person.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": person.date_joined.strftime("%H:%M:%S"),
        "initial-date_joined_0": person.date_joined.strftime("%Y-%m-%d"),
        "initial-date_joined_1": person.date_joined.strftime("%H:%M:%S"),
        "groups": [g.pk for g in person.groups.all()],
    }
    if person.is_active:
        form["is_active"] = "on"
    if person.is_superuser:
        form["is_superuser"] = "on"
    if change == "group removed":
        form["groups"] = []
    elif change == "user deactivated":
        del form["is_active"]
    elif change == "superuser flag cleared":
        del form["is_superuser"]
    response = admin.post(f"/admin/auth/user/{person.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]


SHELL_CODE = {
    "group removed": "u.groups.remove(Group.objects.get(name={SUPERVISOR!r}))",
    "permission removed from the group": (
        "Group.objects.get(name={SUPERVISOR!r}).permissions.remove("
        "Permission.objects.get(content_type__app_label={app!r}, codename={codename!r}))"
    ),
    "user deactivated": "u.is_active = False; u.save()",
    "password changed": "u.set_password({NEW_PASSWORD!r}); u.save()",
    "superuser flag cleared": "u.is_superuser = False; u.save()",
}


def in_another_process(change: str, person: User) -> None:
    """`manage.py shell -c`, as an admin would run it on the server: its own process, its own
    Django, nothing shared with the web process but the database (and the cache it names)."""
    app, codename = EDIT_STATUSES.split(".")
    code = "from django.contrib.auth.models import Group, Permission, User\n"
    code += f"u = User.objects.get(pk={person.pk})\n"
    code += SHELL_CODE[change].format(
        SUPERVISOR=SUPERVISOR, app=app, codename=codename, NEW_PASSWORD=NEW_PASSWORD
    )
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=subprocess_environment(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]


def with_queryset_update(change: str, person: User) -> None:
    """QuerySet.update() sends no signals at all."""
    people = User.objects.filter(pk=person.pk)
    supervisor = Group.objects.get(name=SUPERVISOR)
    if change == "group removed":
        # Moved to another role in one UPDATE of the link table.
        User.groups.through.objects.filter(user=person, group=supervisor).update(
            group=Group.objects.get(name=COMPLIANCE)
        )
    elif change == "permission removed from the group":
        harmless = Permission.objects.get(content_type__app_label="auth", codename="view_group")
        Group.permissions.through.objects.filter(
            group=supervisor, permission=edit_permission()
        ).update(permission=harmless)
    elif change == "user deactivated":
        people.update(is_active=False)
    elif change == "password changed":
        people.update(password=make_password(NEW_PASSWORD))
    elif change == "superuser flag cleared":
        people.update(is_superuser=False)


def with_raw_sql(change: str, person: User) -> None:
    user_table = User._meta.db_table
    links = User.groups.through._meta.db_table
    group_perms = Group.permissions.through._meta.db_table
    supervisor = Group.objects.get(name=SUPERVISOR).pk
    statements: dict[str, tuple[str, list[object]]] = {
        "group removed": (
            f"DELETE FROM {links} WHERE user_id = %s AND group_id = %s", [person.pk, supervisor]
        ),
        "permission removed from the group": (
            f"DELETE FROM {group_perms} WHERE group_id = %s AND permission_id = %s",
            [supervisor, edit_permission().pk],
        ),
        "user deactivated": (
            f"UPDATE {user_table} SET is_active = %s WHERE id = %s", [False, person.pk]
        ),
        "password changed": (
            f"UPDATE {user_table} SET password = %s WHERE id = %s",
            [make_password(NEW_PASSWORD), person.pk],
        ),
        "superuser flag cleared": (
            f"UPDATE {user_table} SET is_superuser = %s WHERE id = %s", [False, person.pk]
        ),
    }  # fmt: skip
    sql, params = statements[change]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


WAYS: dict[str, Callable[[str, User], None]] = {
    "the Django admin": through_the_admin,
    "a management command in another process": in_another_process,
    "a queryset update()": with_queryset_update,
    "raw SQL": with_raw_sql,
}


def signed_in_and_warm(client: Client, real_convoso: RealConvoso, change: str) -> User:
    person = the_person(change)
    client.force_login(person)
    real_convoso.serve_catalogue()
    real_convoso.mock.post(real_convoso.url("update"), json={"success": True})
    client.get("/")
    # Their rights work, and the dashboard now holds whatever it keeps about them.
    assert toggle(client, "Y").status_code == 200
    assert real_convoso.calls_to("update") == 1
    return person


def assert_refused(response, how: str) -> None:  # type: ignore[no-untyped-def]
    if how == FORBIDDEN:
        assert response.status_code == 403
    else:
        # htmx is told to send the whole page to the sign-in form, not to swap it into a row.
        assert response.status_code == 200
        assert response.headers["HX-Redirect"].startswith("/accounts/login/")


def check_the_next_write_is_refused(client, real_convoso, way: str, change: str) -> None:  # type: ignore[no-untyped-def]
    person = signed_in_and_warm(client, real_convoso, change)
    WAYS[way](change, person)
    assert_refused(toggle(client, "N"), CHANGES[change])
    assert real_convoso.calls_to("update") == 1, "the write reached Convoso"


@pytest.mark.django_db
class InProcessRevocationTests:
    @pytest.mark.parametrize("change", CHANGES)
    @pytest.mark.parametrize("way", ["the Django admin", "a queryset update()", "raw SQL"])
    def test_the_next_write_is_refused(self, client, real_convoso, way, change):
        check_the_next_write_is_refused(client, real_convoso, way, change)


@pytest.mark.django_db(transaction=True)
class OtherProcessRevocationTests:
    @pytest.mark.parametrize("change", CHANGES)
    def test_the_next_write_is_refused(self, client, real_convoso, change):
        check_the_next_write_is_refused(
            client, real_convoso, "a management command in another process", change
        )


@pytest.mark.django_db
class SessionEndTests:
    """A deactivated person, or one whose password changed, is signed out at their next
    request, and the sign-in page says why."""

    @pytest.mark.parametrize(
        ("change", "words"),
        [
            ("user deactivated", "Your account has been deactivated"),
            ("password changed", "Your password was changed"),
        ],
    )
    def test_signed_out_with_the_reason(self, client, change, words):
        person = make_user("sue", SUPERVISOR)
        client.force_login(person)
        assert client.get("/").status_code == 200
        with_raw_sql(change, person)
        response = client.get("/", follow=True)
        assert response.redirect_chain[-1][0].startswith("/accounts/login/")
        assert words in response.content.decode()
        assert "_auth_user_id" not in client.session
        # Said once: the next visit to the sign-in page is an ordinary one.
        assert words not in client.get("/accounts/login/").content.decode()

    def test_the_ended_session_stays_ended_when_the_account_comes_back(self, client):
        person = make_user("sue", SUPERVISOR)
        client.force_login(person)
        client.get("/")
        User.objects.filter(pk=person.pk).update(is_active=False)
        client.get("/")
        User.objects.filter(pk=person.pk).update(is_active=True)
        response = client.get("/")
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")

    def test_an_ordinary_sign_out_says_nothing_of_the_kind(self, client):
        person = make_user("sue", SUPERVISOR)
        client.force_login(person)
        client.post("/accounts/logout/")
        page = client.get("/accounts/login/").content.decode()
        assert "deactivated" not in page
        assert "password was changed" not in page

    def test_rights_given_also_take_effect_at_once(self, client):
        """The same mechanism, the other way: no stale refusal either."""
        person = make_user("carl", COMPLIANCE)
        client.force_login(person)
        assert client.get("/statuses/new/").status_code == 403
        User.groups.through.objects.create(user=person, group=Group.objects.get(name=SUPERVISOR))
        assert client.get("/statuses/new/").status_code == 200


@pytest.mark.django_db
class LoadRaceTests:
    def test_rights_given_and_taken_back_while_loading_are_not_kept(self, client, monkeypatch):
        """A role added while the user loads, then taken back: the copy loaded with the role
        must not be kept for the state the person is back in."""
        person = make_user("carl", COMPLIANCE)
        client.force_login(person)
        supervisor = Group.objects.get(name=SUPERVISOR)
        load = ModelBackend.get_user

        def role_added_mid_load(self, user_id):  # type: ignore[no-untyped-def]
            person.groups.add(supervisor)
            return load(self, user_id)

        monkeypatch.setattr(ModelBackend, "get_user", role_added_mid_load)
        client.get("/")
        monkeypatch.setattr(ModelBackend, "get_user", load)
        person.groups.remove(supervisor)
        assert client.get("/statuses/new/").status_code == 403
