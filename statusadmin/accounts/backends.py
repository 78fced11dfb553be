"""Django's model backend, with each user (and their permissions) kept in the cache.

Every request loads the user, and every screen checks permissions, which Django looks up again
on every request (three queries in all). Search runs on every keystroke, so here the user and
their permissions are cached together.

The cache key carries a stamp of everything that decides what the person may do: their password
hash, active, staff and superuser flags, their groups, their own permissions, their groups'
permissions and their roles in each Convoso account (memberships). The stamp is read from the
database on every request, in one query, so a change made anywhere (the admin, a management
command in another process, a queryset update(), raw SQL) gives a new key at the very next
request, and the old rights are never served again. Signals could not promise that: update()
and SQL send none, and other processes have their own.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, User
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import connection

from statusadmin.accounts.roles import ROLE_PERMISSIONS
from statusadmin.convoso import tenancy
from statusadmin.convoso.models import Membership

# Dead keys (a user's old stamps) are never read again; this only bounds how long they linger.
TIMEOUT = 300


def _stamp_sql() -> str:
    user = User._meta.db_table
    user_groups = User.groups.through._meta.db_table
    user_perms = User.user_permissions.through._meta.db_table
    group_perms = Group.permissions.through._meta.db_table
    memberships = Membership._meta.db_table
    flags = " || ".join(
        f"CASE WHEN {flag} THEN '{mark}' ELSE '-' END"
        for flag, mark in (("is_active", "a"), ("is_staff", "s"), ("is_superuser", "S"))
    )
    return (
        f"SELECT 0, id, password || '|' || {flags} FROM {user} WHERE id = %s"  # noqa: S608
        f" UNION ALL SELECT 1, group_id, '' FROM {user_groups} WHERE user_id = %s"
        f" UNION ALL SELECT 2, permission_id, '' FROM {user_perms} WHERE user_id = %s"
        f" UNION ALL SELECT 3, gp.permission_id, '' FROM {group_perms} gp"
        f" JOIN {user_groups} ug ON ug.group_id = gp.group_id WHERE ug.user_id = %s"
        f" UNION ALL SELECT 4, account_id, role FROM {memberships} WHERE user_id = %s"
    )


def rights_stamp(user_id: Any) -> str | None:
    """A digest of what decides this user's rights, or None if there is no such user."""
    try:
        pk = User._meta.pk.to_python(user_id)
    except ValidationError:  # a session holding something that is no user id
        return None
    with connection.cursor() as cursor:
        cursor.execute(_stamp_sql(), [pk] * 5)
        rows = sorted(cursor.fetchall())
    if not rows or rows[0][0] != 0:
        return None
    return hashlib.blake2b(repr(rows).encode(), digest_size=16).hexdigest()


def _key(user_id: Any, stamp: str) -> str:
    return f"auth-user:{user_id}:{stamp}"


def _account_permissions(user: Any) -> dict[str, set[str]]:
    """The person's permissions in each Convoso account but the default, by account key. Kept
    on the user object, like Django's own _perm_cache, so cached with it under the stamp that
    describes these very memberships."""
    kept: dict[str, set[str]] | None = user.__dict__.get("_account_perm_cache")
    if kept is None:
        kept = {}
        for key, role in Membership.objects.filter(user=user).values_list("account__slug", "role"):
            kept.setdefault(key, set()).update(ROLE_PERMISSIONS.get(role, []))
        user._account_perm_cache = kept
    return kept


class CachedUserBackend(ModelBackend):
    """Also answers every permission question for the Convoso account in use (tenancy.current):
    in the default account a person's rights are their groups' and their own, as before there
    were several; in another, only those of their roles there (memberships), superusers all.
    So no view or template can check a permission in the wrong account: none names one."""

    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        if obj is not None and not isinstance(obj, tenancy.Account):
            return set()
        account = obj or tenancy.current()
        if account.is_default or user_obj.is_superuser:
            return super().get_all_permissions(user_obj) if user_obj.is_active else set()
        if not user_obj.is_active or user_obj.is_anonymous:
            return set()
        return _account_permissions(user_obj).get(account.key, set())

    def get_user(self, user_id: Any) -> Any:
        stamp = rights_stamp(user_id)
        if stamp is None:
            return None
        user = cache.get(_key(user_id, stamp))
        if user is None:
            user = super().get_user(user_id)
            if user is not None:
                # Django keeps the permissions it computes on the user object (_perm_cache),
                # so computing them now caches them with the user.
                super().get_all_permissions(user)
                _account_permissions(user)
                # Cached only if nothing changed while it loaded: otherwise this object might
                # hold rights the stamp doesn't describe, and a later return to that stamp
                # would find them.
                if rights_stamp(user_id) == stamp:
                    cache.set(_key(user_id, stamp), user, TIMEOUT)
        return user
