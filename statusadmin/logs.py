"""Logging helpers. Imported by the logging configuration, so nothing here touches models."""

from __future__ import annotations

import logging
from contextvars import ContextVar

current_request_id: ContextVar[str] = ContextVar("request_id", default="")


class RequestIdLogFilter(logging.Filter):
    """Adds ``request_id`` to every log record made while a request is being handled."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = current_request_id.get()
        return True
