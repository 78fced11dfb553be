"""What only real HTTP shows: Retry-After, refused connections, and redirects not followed."""

from __future__ import annotations

import json
import socket
import socketserver
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import urllib3.util.connection
import urllib3.util.retry

from statusadmin.convoso import errors
from statusadmin.convoso.client import MAX_RETRY_AFTER_SECONDS, ConvosoClient

SEARCH_OK = json.dumps({"data": [{"status": "COMP", "name": "Completed"}]}).encode()


class ScriptedServer:
    """Answers POSTs from a script of (status, headers, body); the last entry repeats."""

    def __init__(self, script: list[tuple[int, dict[str, str], bytes]]) -> None:
        self.script = script
        self.paths: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.paths.append(self.path)
                status, headers, body = outer.script[min(len(outer.paths), len(outer.script)) - 1]
                self.send_response(status)
                for name, value in {**headers, "Content-Length": str(len(body))}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/v1"
        threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class RecordingServer:
    """Accepts any TCP connection on 127.0.0.1 and keeps every byte that arrives on it."""

    def __init__(self) -> None:
        self.received: list[bytes] = []
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                self.request.settimeout(1)
                data = b""
                try:
                    while chunk := self.request.recv(65536):
                        data += chunk
                        if b"\r\n\r\n" in data:
                            break  # enough to prove something arrived; answer so nobody waits
                except TimeoutError:
                    pass
                outer.received.append(data)
                self.request.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 16\r\nConnection: close\r\n\r\n"
                    b'{"success":true}'
                )

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/grab"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Records urllib3's back-off and Retry-After sleeps instead of sleeping."""
    recorded: list[float] = []
    monkeypatch.setattr(urllib3.util.retry.time, "sleep", recorded.append)
    return recorded


@pytest.fixture
def scripted() -> Iterator[type[ScriptedServer]]:
    servers: list[ScriptedServer] = []

    def start(script):  # type: ignore[no-untyped-def]
        servers.append(ScriptedServer(script))
        return servers[-1]

    yield start  # type: ignore[misc]
    for server in servers:
        server.close()


class RetryAfterTests:
    def test_429_waits_as_told_then_succeeds(self, scripted, sleeps):
        server = scripted([(429, {"Retry-After": "2"}, b"slow down"), (200, {}, SEARCH_OK)])
        client = ConvosoClient(api_url=server.url, token="t", backoff=0)
        assert client.search()[0].code == "COMP"
        assert len(server.paths) == 2
        assert sleeps == [2.0]

    def test_a_huge_retry_after_is_capped(self, scripted, sleeps):
        server = scripted([(503, {"Retry-After": "3600"}, b""), (200, {}, SEARCH_OK)])
        client = ConvosoClient(api_url=server.url, token="t", backoff=0)
        client.search()
        assert sleeps == [MAX_RETRY_AFTER_SECONDS]

    def test_an_insert_refused_with_429_waits_as_told_then_is_sent_again(self, scripted, sleeps):
        insert_ok = b'{"success": true, "code": 200, "data": {"new": "1", "status": "SALE"}}'
        server = scripted([(429, {"Retry-After": "1"}, b""), (200, {}, insert_ok)])
        client = ConvosoClient(api_url=server.url, token="t", backoff=0)
        assert client.insert(code="SALE", name="Sale", flags={}).code == "SALE"
        assert server.paths == ["/v1/status/insert", "/v1/status/insert"]
        assert sleeps == [1.0]

    def test_an_insert_that_fails_otherwise_is_not_sent_again(self, scripted, sleeps):
        server = scripted([(503, {"Retry-After": "1"}, b"")])
        client = ConvosoClient(api_url=server.url, token="t", backoff=0)
        with pytest.raises(errors.ConvosoUnavailable):
            client.insert(code="SALE", name="Sale", flags={})
        assert server.paths == ["/v1/status/insert"]
        assert sleeps == []


class RefusedConnectionTests:
    def test_search_retries_a_refused_connection(self, scripted, sleeps, monkeypatch):
        server = scripted([(200, {}, SEARCH_OK)])
        real = urllib3.util.connection.create_connection
        attempts: list[object] = []

        def refuse_first(address, *args, **kwargs):  # type: ignore[no-untyped-def]
            attempts.append(address)
            if len(attempts) <= 2:
                raise ConnectionRefusedError(111, "Connection refused")
            return real(address, *args, **kwargs)

        monkeypatch.setattr(urllib3.connection.connection, "create_connection", refuse_first)
        client = ConvosoClient(api_url=server.url, token="t", backoff=0.1)
        assert client.search()[0].code == "COMP"
        assert len(attempts) == 3
        assert len(server.paths) == 1
        # urllib3 retries the first failure at once, then backs off exponentially: 0.1 * 2**1.
        assert sleeps == [0.2]

    def test_an_insert_tries_to_connect_once(self, scripted, sleeps, monkeypatch):
        # Not even a refused connection is retried: the insert's own adapter has no retries.
        server = scripted([(200, {}, b'{"success": true}')])
        attempts: list[object] = []

        def refuse(address, *args, **kwargs):  # type: ignore[no-untyped-def]
            attempts.append(address)
            raise ConnectionRefusedError(111, "Connection refused")

        monkeypatch.setattr(urllib3.connection.connection, "create_connection", refuse)
        client = ConvosoClient(api_url=server.url, token="t", backoff=0)
        with pytest.raises(errors.ConvosoUnavailable) as exc:
            client.insert(code="SALE", name="Sale", flags={})
        assert (exc.value.kind, exc.value.outcome) == ("connection", "failed")
        assert len(attempts) == 1
        assert server.paths == []
        assert sleeps == []

    def test_nothing_listening_is_a_connection_failure(self):
        with socket.socket() as probe:  # find a free port, then leave it closed
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        client = ConvosoClient(api_url=f"http://127.0.0.1:{port}/v1", token="t", backoff=0)
        with pytest.raises(errors.ConvosoUnavailable) as exc:
            client.search()
        assert (exc.value.kind, exc.value.outcome) == ("connection", "failed")


class RedirectTests:
    @pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
    @pytest.mark.parametrize("endpoint", ["search", "insert", "update"])
    def test_the_token_is_never_sent_where_a_redirect_points(self, scripted, status, endpoint):
        elsewhere = RecordingServer()
        try:
            server = scripted([(status, {"Location": elsewhere.url}, b"")])
            client = ConvosoClient(api_url=server.url, token="tok-redirect-me", backoff=0)
            with pytest.raises(errors.ConvosoUnavailable) as exc:
                client.call(endpoint, {"status": "XFER"})
        finally:
            elsewhere.close()
        assert elsewhere.received == []
        assert server.paths == [f"/v1/status/{endpoint}"]
        assert (exc.value.kind, exc.value.outcome) == ("redirect", "failed")
        assert exc.value.upstream_message == f"HTTP {status}"
