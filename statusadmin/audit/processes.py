"""The entry points of the processes that verify stretches of a long chain side by side.

A process is started fresh (spawn), and finds these functions by importing this module before
Django is set up, so it imports nothing of Django's at the top.
"""

from __future__ import annotations

import os
from typing import Any


def start(settings_module: str, database: dict[str, Any]) -> None:
    """Set up Django on the caller's database (under the tests, a test database whose name
    differs from the one in the settings)."""
    import django
    from django.conf import settings

    os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
    settings.DATABASES["default"] = database
    django.setup()


def walk_stretch(lo: int, hi: int, key: bytes | None) -> Any:
    from .chain import walk_stretch as walk

    return walk(lo, hi, key)
