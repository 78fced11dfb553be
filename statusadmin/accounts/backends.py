"""Django's model backend, with each user (and their permissions) kept in the cache.

Every request loads the user, and every screen checks permissions, which Django looks up again
on every request (three queries in all). Search runs on every keystroke, so here the user and
their permissions are cached together.

The cache key carries a stamp of everything that decides what the person may do: their password
hash, active, staff and superuser flags, their groups, their own permissions and their groups'
permissions. The stamp is read from the database on every request, in one query, so a change
made anywhere (the admin, a management command in another process, a queryset update(), raw SQL)
gives a new key at the very next request, and the old rights are never served again. Signals
could not promise that: update() and SQL send none, and other processes have their own.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, User
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import connection

# Dead keys (a user's old stamps) are never read again; this only bounds how long they linger.
TIMEOUT = 300


def _stamp_sql() -> str:
    user = User._meta.db_table
    user_groups = User.groups.through._meta.db_table
    user_perms = User.user_permissions.through._meta.db_table
    group_perms = Group.permissions.through._meta.db_table
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
    )


def rights_stamp(user_id: Any) -> str | None:
    """A digest of what decides this user's rights, or None if there is no such user."""
    try:
        pk = User._meta.pk.to_python(user_id)
    except ValidationError:  # a session holding something that is no user id
        return None
    with connection.cursor() as cursor:
        cursor.execute(_stamp_sql(), [pk] * 4)
        rows = sorted(cursor.fetchall())
    if not rows or rows[0][0] != 0:
        return None
    return hashlib.blake2b(repr(rows).encode(), digest_size=16).hexdigest()


def _key(user_id: Any, stamp: str) -> str:
    return f"auth-user:{user_id}:{stamp}"


class CachedUserBackend(ModelBackend):
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
                # Cached only if nothing changed while it loaded: otherwise this object might
                # hold rights the stamp doesn't describe, and a later return to that stamp
                # would find them.
                if rights_stamp(user_id) == stamp:
                    cache.set(_key(user_id, stamp), user, TIMEOUT)
        return user
