"""One JSON log line per request and per Convoso call, tied together by the request id."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import pytest
from django.conf import settings as django_settings
from pythonjsonlogger.json import JsonFormatter

from statusadmin.convoso.sandbox import seed
from statusadmin.logs import RequestContextLogFilter
from tests.helpers import ROOT

pytestmark = pytest.mark.django_db


@pytest.fixture
def json_lines():  # type: ignore[no-untyped-def]
    """Everything logged during the test, formatted as production formats it."""
    lines: list[str] = []
    config = django_settings.LOGGING["formatters"]["json"]
    formatter = JsonFormatter(config["fmt"], rename_fields=config["rename_fields"])

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Collect()
    handler.setFormatter(formatter)
    handler.addFilter(RequestContextLogFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in lines]
    root.removeHandler(handler)
    root.setLevel(old_level)


def test_request_and_convoso_lines(supervisor_client, json_lines):
    seed()
    response = supervisor_client.post(
        "/statuses/XFER/flag/", {"callback": "Y"}, HTTP_HX_REQUEST="true"
    )
    request_id = response["X-Request-ID"]
    records = [r for r in json_lines() if r.get("request_id") == request_id]
    (request_line,) = [r for r in records if r["logger"] == "statusadmin.request"]
    assert request_line["method"] == "POST"
    assert request_line["path"] == "/statuses/XFER/flag/"
    assert request_line["status"] == 200
    assert request_line["user"] == "sue"
    assert request_line["duration_ms"] >= 0
    assert request_line["level"] == "INFO"
    calls = [r for r in records if r["logger"] == "statusadmin.convoso"]
    assert [(c["convoso_endpoint"], c["convoso_outcome"]) for c in calls] == [
        ("search", "ok"),
        ("update", "ok"),
        ("search", "ok"),  # the read-back of what Convoso now holds
    ]
    assert all(c["user"] == "sue" and c["duration_ms"] >= 0 for c in calls)


def test_failed_calls_are_logged_with_their_outcome(supervisor_client, json_lines, real_convoso):
    real_convoso.mock.post(real_convoso.url("search"), status=401)
    supervisor_client.get("/")
    calls = [r for r in json_lines() if r["logger"] == "statusadmin.convoso"]
    assert [
        (c["convoso_endpoint"], c["convoso_outcome"], c["convoso_http_status"]) for c in calls
    ] == [("search", "rejected", 401)]


def test_each_line_is_printed_once_with_debug_on():
    """`make run` runs with DEBUG on: Django's own console handler on the "django" logger must
    not print the worker's task lines a second time beside ours (#26 item 13)."""
    marker = "one-line-only-7f3a"
    env = {**os.environ, "DJANGO_DEBUG": "1", "LOG_FORMAT": "plain"}
    out = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            f"import logging; logging.getLogger('django.tasks').info('{marker}')",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    printed = out.stdout + out.stderr
    assert printed.count(marker) == 1, printed
