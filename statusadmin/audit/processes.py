"""The start of the processes that verify stretches of a long chain side by side.

A process is started fresh (spawn) and runs ``start`` before anything else: it finds it by
importing this module before Django is set up, so this imports nothing of Django's at the top.
The work it is then given (chain.walk_stretch) is imported after ``start`` has set Django up.
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
    settings.DATABASES["default"] = database  # type: ignore[assignment]  # a settings dict, as the parent had it
    django.setup()
