"""Logging helpers. Imported by the logging configuration, so nothing here touches models."""

from __future__ import annotations

import logging
from contextvars import ContextVar

current_request_id: ContextVar[str] = ContextVar("request_id", default="")
current_user: ContextVar[str] = ContextVar("user", default="")


class RequestContextLogFilter(logging.Filter):
    """Adds the request id and the user to every record made while a request is handled, so
    a Convoso call's log line can be tied to the request and the person behind it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = current_request_id.get()
        if not getattr(record, "user", None):
            record.user = current_user.get()
        return True
