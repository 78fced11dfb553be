from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from statusadmin.convoso.client import ConvosoClient
from statusadmin.convoso.sandbox import SANDBOX_TOKEN, Sandbox, make_server


class SandboxServer:
    """The Convoso sandbox served over a real socket on 127.0.0.1.

    Each request runs in its own thread with its own database connection (tests use a database
    file, not SQLite's per-connection in-memory one), so tests that use it need transactional_db.
    """

    def __init__(self, sandbox: Sandbox) -> None:
        self.httpd = make_server("127.0.0.1", 0, sandbox, quiet=True)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/v1"
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def client(self, token: str = SANDBOX_TOKEN, **kwargs: object) -> ConvosoClient:
        kwargs.setdefault("read_timeout", 5)
        kwargs.setdefault("backoff", 0)
        return ConvosoClient(api_url=self.url, token=token, **kwargs)  # type: ignore[arg-type]

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(5)


@pytest.fixture(scope="session")
def _sandbox_server_process() -> Iterator[SandboxServer]:
    server = SandboxServer(Sandbox())
    yield server
    server.stop()


@pytest.fixture
def sandbox_server(_sandbox_server_process: SandboxServer, transactional_db: None) -> SandboxServer:
    return _sandbox_server_process
