"""Proof that no secret leaks (the Convoso token, the audit keys): record everything the app
produces during the whole test run (every response, every log record, every audit row), then
grep it all for the secrets the tests configured (tests/tokens.py). Any hit fails the run.

Loaded as a pytest plugin from tests/conftest.py.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.http import HttpRequest, HttpResponse

from tests import tokens

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
_run_dir: Path | None = None


def run_dir() -> Path:
    global _run_dir
    if _run_dir is None:
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        _run_dir = ARTIFACTS / f"secret-scan-{worker}"
        _run_dir.mkdir(parents=True, exist_ok=True)
        for old in _run_dir.iterdir():
            old.unlink()
    return _run_dir


def _append(name: str, text: str) -> None:
    with (run_dir() / name).open("a", encoding="utf-8", errors="replace") as handle:
        handle.write(text + "\n")


class RecordResponsesMiddleware:
    """Outermost middleware, in tests only: keeps a copy of every response, headers included."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        head = f"== {request.method} {request.get_full_path()} {response.status_code}\n"
        head += "\n".join(f"{k}: {v}" for k, v in response.items())
        gzipped = response.get("Content-Encoding") == "gzip"
        if response.streaming:
            response.streaming_content = self._tee(head, response.streaming_content, gzipped)
        else:
            body = gzip.decompress(response.content) if gzipped else response.content
            _append("responses.txt", head + "\n" + body.decode("utf-8", "replace"))
        return response

    @staticmethod
    def _tee(head: str, chunks: Iterator[bytes], gzipped: bool) -> Iterator[bytes]:
        inflate = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzipped else None
        parts = [head]
        for chunk in chunks:
            data = chunk if isinstance(chunk, bytes) else chunk.encode()
            parts.append((inflate.decompress(data) if inflate else data).decode("utf-8", "replace"))
            yield chunk
        _append("responses.txt", "\n".join(parts))


class _Everything(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        extras = {k: str(v) for k, v in record.__dict__.items() if k not in ("msg", "args")}
        _append("logs.txt", record.getMessage() + " " + json.dumps(extras, sort_keys=True))


def dump_audit_rows() -> None:
    from statusadmin.audit.models import AuditEntry

    for row in AuditEntry.objects.values():
        _append("audit.txt", json.dumps(row, default=str))


@pytest.fixture(scope="session", autouse=True)
def _record_everything(django_db_setup) -> Iterator[None]:  # type: ignore[no-untyped-def]
    handler = _Everything(level=logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(handler)
    # Debug records too: a token in a debug line is one LOG_LEVEL change away from a log file.
    level, root.level = root.level, logging.DEBUG
    settings.MIDDLEWARE = ["tests.secret_scan.RecordResponsesMiddleware", *settings.MIDDLEWARE]
    yield
    root.removeHandler(handler)
    root.level = level


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _run_dir is None:
        return
    leaks = []
    for path in sorted(_run_dir.iterdir()):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for token in tokens.ALL:
                if token in line:
                    leaks.append(f"{path.name}:{number}: {line[:200]}")
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    scanned = ", ".join(
        f"{p.name} ({sum(1 for _ in p.open(encoding='utf-8'))} lines)"
        for p in sorted(_run_dir.iterdir())
    )
    if leaks:
        if reporter:
            reporter.write_line("SECRET SCAN FAILED: a secret appeared in output:", red=True)
            for leak in leaks[:20]:
                reporter.write_line("  " + leak, red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    elif reporter:
        reporter.write_line(f"secret scan: no secret in {scanned}")
