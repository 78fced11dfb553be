"""Django's model backend, with each user (and their permissions) kept in the cache.

Every request loads the user, and every screen checks permissions, which Django looks up again
on every request (three queries in all). Search runs on every keystroke, so here the user and
their permissions are cached together (one cache read) until something changes: the signals
below clear it the moment a user is saved or deleted, or any user's groups, any user's or
group's permissions change.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission, User
from django.core.cache import cache
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

TIMEOUT = 300  # seconds; invalidation is explicit, this only bounds a missed signal


def _key(user_id: Any) -> str:
    return f"auth-user:{user_id}"


class CachedUserBackend(ModelBackend):
    def get_user(self, user_id: Any) -> Any:
        user = cache.get(_key(user_id))
        if user is None:
            user = super().get_user(user_id)
            if user is not None:
                # Django keeps the permissions it computes on the user object (_perm_cache),
                # so computing them now caches them with the user.
                super().get_all_permissions(user)
                cache.set(_key(user_id), user, TIMEOUT)
        return user


def forget_everyone() -> None:
    """Roles change rarely and a call centre has few users: on any change, start afresh."""
    cache.delete_many([_key(pk) for pk in User.objects.values_list("pk", flat=True)])


@receiver(m2m_changed, sender=User.groups.through)
@receiver(m2m_changed, sender=User.user_permissions.through)
@receiver(m2m_changed, sender=Group.permissions.through)
def _links_changed(sender: Any, **kwargs: Any) -> None:
    if kwargs["action"] in ("post_add", "post_remove", "pre_clear", "post_clear"):
        forget_everyone()


@receiver(post_save, sender=User)
@receiver(post_delete, sender=User)
@receiver(post_delete, sender=Group)
@receiver(post_delete, sender=Permission)
def _saved_or_deleted(sender: Any, **kwargs: Any) -> None:
    # is_active and is_superuser live on the user row; deleting a group drops its links.
    forget_everyone()
