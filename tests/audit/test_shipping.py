"""Checkpoints leave the server: syslog (UDP, TCP) and HTTP POST, to listeners on 127.0.0.1.

A destination that fails never costs the checkpoint (the file is written first); the failure is
reported by the command's exit status and a log line, neither of which quotes a secret.
"""

from __future__ import annotations

import io
import json
import logging
import re
import socket
import socketserver
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from statusadmin.audit import evidence_verifier as ev
from tests import tokens
from tests.factories import add_entry

pytestmark = pytest.mark.django_db


class Receiver(BaseHTTPRequestHandler):
    """Keeps each request; answers with the server's ``reply`` (status, extra headers)."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append((self.path, dict(self.headers), body))  # type: ignore[attr-defined]
        status, headers = self.server.reply  # type: ignore[attr-defined]
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass


def http_server(reply: tuple[int, dict[str, str]] = (204, {})) -> HTTPServer:
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    server.received, server.reply = [], reply  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def receiver() -> Iterator[HTTPServer]:
    server = http_server()
    yield server
    server.shutdown()
    server.server_close()


def checkpoint() -> tuple[int, str]:
    err = io.StringIO()
    try:
        call_command("audit_checkpoint", stderr=err)
    except CommandError as exc:
        return exc.returncode, err.getvalue() + str(exc)
    return 0, err.getvalue()


def file_lines(settings) -> list[dict]:  # type: ignore[no-untyped-def]
    return [json.loads(x) for x in Path(settings.AUDIT_CHECKPOINT_FILE).read_text().splitlines()]


class HttpTests:
    def test_the_signed_checkpoint_is_posted(self, receiver, settings, signing_key):
        port = receiver.server_address[1]
        settings.AUDIT_CHECKPOINT_URL = f"http://127.0.0.1:{port}/checkpoints"
        settings.AUDIT_CHECKPOINT_URL_TOKEN = tokens.CHECKPOINT_URL_TOKEN
        add_entry()
        status, said = checkpoint()
        assert status == 0, said
        assert f"Sent to http://127.0.0.1:{port}/checkpoints" in said
        [(path, headers, body)] = receiver.received
        assert path == "/checkpoints"
        assert headers["Content-Type"] == "application/json"
        assert headers["Authorization"] == f"Bearer {tokens.CHECKPOINT_URL_TOKEN}"
        sent = json.loads(body)
        assert sent == file_lines(settings)[0]
        public = {ev.key_id(signing_key.public_key()): signing_key.public_key()}
        assert ev.check_signature(sent, public) == ev.VALID

    def test_a_redirect_is_not_followed(self, receiver, settings):
        elsewhere = http_server()
        try:
            receiver.reply = (307, {"Location": f"http://127.0.0.1:{elsewhere.server_address[1]}/"})
            settings.AUDIT_CHECKPOINT_URL = f"http://127.0.0.1:{receiver.server_address[1]}/cp"
            settings.AUDIT_CHECKPOINT_URL_TOKEN = tokens.CHECKPOINT_URL_TOKEN
            status, said = checkpoint()
            assert status == 1
            assert "could not be sent to http://127.0.0.1" in said
            assert "HTTP 307 (a redirect, not followed)" in said
            assert len(receiver.received) == 1
            assert elsewhere.received == []
        finally:
            elsewhere.shutdown()
            elsewhere.server_close()
        assert len(file_lines(settings)) == 1  # the file has it all the same

    def test_a_failure_is_reported_without_credentials(self, settings, caplog):
        with socket.socket() as probe:  # a port nobody listens on
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        settings.AUDIT_CHECKPOINT_URL = (
            f"http://user:{tokens.CHECKPOINT_URL_TOKEN}@127.0.0.1:{port}/cp?key={tokens.CHAIN_KEY}"
        )
        settings.AUDIT_CHECKPOINT_URL_TOKEN = tokens.CHECKPOINT_URL_TOKEN
        with caplog.at_level(logging.WARNING, logger="statusadmin.audit.shipping"):
            status, said = checkpoint()
        assert status == 1
        assert f"could not be sent to http://127.0.0.1:{port}/cp (ConnectionError)" in said
        logged = " ".join(r.getMessage() for r in caplog.records)
        assert f"not sent to http://127.0.0.1:{port}/cp: ConnectionError" in logged
        for secret in (tokens.CHECKPOINT_URL_TOKEN, tokens.CHAIN_KEY):
            assert secret not in said
            assert secret not in logged
        assert len(file_lines(settings)) == 1

    def test_a_server_error_is_reported(self, receiver, settings):
        receiver.reply = (500, {})
        settings.AUDIT_CHECKPOINT_URL = f"http://127.0.0.1:{receiver.server_address[1]}/"
        status, said = checkpoint()
        assert status == 1
        assert "(HTTP 500 (not a success))" in said

    @pytest.mark.parametrize(("code", "ok"), [(200, True), (299, True), (300, False), (199, False)])
    def test_only_a_2xx_reply_counts_as_received(self, receiver, settings, code, ok):
        receiver.reply = (code, {})
        settings.AUDIT_CHECKPOINT_URL = f"http://127.0.0.1:{receiver.server_address[1]}/"
        status, said = checkpoint()
        assert status == (0 if ok else 1), said
        assert (f"HTTP {code}" in said) is not ok


class SyslogTests:
    def test_udp(self, settings):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listener:
            listener.bind(("127.0.0.1", 0))
            listener.settimeout(5)
            port = listener.getsockname()[1]
            settings.AUDIT_CHECKPOINT_SYSLOG = f"127.0.0.1:{port}"
            add_entry()
            status, said = checkpoint()
            assert status == 0, said
            assert f"Sent to syslog udp://127.0.0.1:{port}" in said
            message = listener.recv(65535).decode()
        header, _, line = message.partition(" audit-checkpoint - ")
        # RFC 5424: <PRI>VERSION TIMESTAMP HOST APP PROCID MSGID; facility 13, severity 5.
        assert re.fullmatch(r"<109>1 \S+Z \S+ statusadmin -", header), header
        assert json.loads(line) == file_lines(settings)[0]

    def test_tcp_with_octet_counting(self, settings):
        got: list[bytes] = []

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                got.append(self.rfile.read())

        with socketserver.TCPServer(("127.0.0.1", 0), Handler) as server:
            server.timeout = 5
            serving = threading.Thread(target=server.handle_request, daemon=True)
            serving.start()
            settings.AUDIT_CHECKPOINT_SYSLOG = f"tcp://127.0.0.1:{server.server_address[1]}"
            status, said = checkpoint()
            assert status == 0, said
            serving.join(5)
        length, _, message = got[0].partition(b" ")
        assert int(length) == len(message)
        assert json.loads(message.split(b" audit-checkpoint - ")[1]) == file_lines(settings)[0]

    def test_an_unreachable_tcp_collector_is_reported(self, settings):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        settings.AUDIT_CHECKPOINT_SYSLOG = f"tcp://127.0.0.1:{port}"
        status, said = checkpoint()
        assert status == 1
        assert f"syslog tcp://127.0.0.1:{port} (ConnectionRefusedError)" in said
        assert len(file_lines(settings)) == 1

    def test_a_malformed_setting_is_reported(self, settings):
        settings.AUDIT_CHECKPOINT_SYSLOG = "ftp://127.0.0.1:21"
        status, said = checkpoint()
        assert status == 1
        assert "syslog (AUDIT_CHECKPOINT_SYSLOG is not udp://host:port or tcp://host:port)" in said


class WorkerTests:
    """The worker writes the scheduled checkpoints: signed and sent like the command's."""

    def test_the_scheduled_checkpoint_is_signed_and_posted(self, receiver, settings, signing_key):
        from statusadmin.worker import tasks

        settings.AUDIT_CHECKPOINT_URL = f"http://127.0.0.1:{receiver.server_address[1]}/cp"
        add_entry()
        result = tasks.audit_checkpoint.call()
        [line] = file_lines(settings)
        assert ev.check_signature(line, {line["key_id"]: signing_key.public_key()}) == ev.VALID
        assert [json.loads(body) for _, _, body in receiver.received] == [line]
        assert result == f"checkpoint at entry {line['seq']}, signed, sent to 1 destination(s)"

    @pytest.mark.usefixtures("no_audit_keys")
    def test_a_failed_destination_is_logged_and_returned(self, settings, caplog):
        from statusadmin.worker import tasks

        with socket.socket() as closed:  # a port nothing listens on
            closed.bind(("127.0.0.1", 0))
            port = closed.getsockname()[1]
        settings.AUDIT_CHECKPOINT_URL = f"http://127.0.0.1:{port}/cp"
        add_entry()
        with caplog.at_level(logging.ERROR, logger="statusadmin.worker.tasks"):
            result = tasks.audit_checkpoint.call()
        assert len(file_lines(settings)) == 1  # the file has it all the same
        assert "unsigned" in result
        assert f"127.0.0.1:{port}" in result
        assert any(f"127.0.0.1:{port}" in r.getMessage() for r in caplog.records)
