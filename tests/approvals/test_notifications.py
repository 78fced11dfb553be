"""The approval notice reaches a real SMTP server (aiosmtpd on loopback) through the settings a
deployer sets: MAILERS built from EMAIL_HOST and EMAIL_PORT."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message

from statusadmin.approvals import services as approvals
from statusadmin.convoso.sandbox import seed
from tests.factories import make_user

pytestmark = pytest.mark.django_db


class Inbox(Message):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[object] = []

    def handle_message(self, message) -> None:  # type: ignore[no-untyped-def]
        self.messages.append(message)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp(settings) -> Iterator[Inbox]:  # type: ignore[no-untyped-def]
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 5},
        }
    }
    try:
        yield inbox
    finally:
        controller.stop()


def test_approvers_get_the_notice_over_smtp(smtp, supervisor, django_capture_on_commit_callbacks):
    seed()
    make_user("april", "Approver", email="april@example.test")
    with django_capture_on_commit_callbacks(execute=True):
        approvals.request_update(
            actor=supervisor, code="XFER", changes={"dnc": "Y"}, reason="Opt-outs by text"
        )
    (message,) = smtp.messages
    assert message["To"] == "april@example.test"
    assert "Approval needed: XFER" in message["Subject"]
    assert "Opt-outs by text" in message.get_payload()


def test_an_smtp_server_that_is_down_blocks_nothing(
    settings, supervisor, django_capture_on_commit_callbacks
):
    seed()
    make_user("april", "Approver", email="april@example.test")
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": free_port(), "timeout": 2},
        }
    }
    with django_capture_on_commit_callbacks(execute=True):
        request = approvals.request_update(
            actor=supervisor, code="XFER", changes={"dnc": "Y"}, reason="Opt-outs by text"
        )
    assert request.state == "pending"
