"""WSGI entry point for gunicorn (and runserver): ``gunicorn statusadmin.wsgi``."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from django.core.wsgi import get_wsgi_application
from django.utils.http import parse_header_parameters

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "statusadmin.settings")

django_application = get_wsgi_application()

from statusadmin.audit.checks import refuse_to_start_without_keys  # noqa: E402  (needs settings)
from statusadmin.middleware import BAD_CHARSET, names_utf8  # noqa: E402

refuse_to_start_without_keys()


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Django, behind one check it can't make itself: a request naming a charset other than
    UTF-8 is refused here. Django decodes the query string in that charset while it builds
    the request, before any middleware runs, and a codec such as rot13 then ends in a 500."""
    _, params = parse_header_parameters(environ.get("CONTENT_TYPE", ""))
    charset = params.get("charset")
    if charset is not None and not names_utf8(charset):
        start_response("400 Bad Request", [("Content-Type", "text/plain; charset=utf-8")])
        return [BAD_CHARSET.encode()]
    return django_application(environ, start_response)
