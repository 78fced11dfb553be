"""For migrations that move a model from one app to another without touching its rows.

A model's content type names its app, and its permissions hang off the content type. Moving
the content type (rather than letting Django create a new one for the new app) keeps every
group's and person's permissions on the moved model exactly as they were.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any


def move_content_types(old: str, new: str, models: Iterable[str]) -> Callable[[Any, Any], None]:
    """A RunPython function that moves ``models``' content types from app ``old`` to ``new``."""
    names = tuple(models)

    def move(apps: Any, schema_editor: Any) -> None:
        content_types = apps.get_model("contenttypes", "ContentType")
        permissions = apps.get_model("auth", "Permission")
        for model in names:
            moving = content_types.objects.filter(app_label=old, model=model).first()
            if moving is None:
                continue  # a database migrated from zero: content types come after migrate
            there = content_types.objects.filter(app_label=new, model=model).first()
            if there is None:
                moving.app_label = new
                moving.save(update_fields=["app_label"])
                continue
            # Both exist (something created the new one first): whoever held a permission on
            # the old one holds its twin on the new one.
            for permission in permissions.objects.filter(content_type=moving):
                twin = permissions.objects.filter(
                    content_type=there, codename=permission.codename
                ).first()
                if twin is None:
                    permission.content_type = there
                    permission.save(update_fields=["content_type"])
                    continue
                for group in permission.group_set.all():
                    group.permissions.add(twin)
                for user in permission.user_set.all():
                    user.user_permissions.add(twin)
                permission.delete()
            moving.delete()

    return move
