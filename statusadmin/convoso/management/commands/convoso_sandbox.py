"""Serve the embedded Convoso sandbox over real HTTP, e.g. for integration tests or curiosity.

python manage.py convoso_sandbox --port 8765
curl -d auth_token=sandbox-token -d query= http://127.0.0.1:8765/v1/status/search
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from statusadmin.convoso.sandbox import SANDBOX_TOKEN, Sandbox, make_server, seed


class Command(BaseCommand):
    help = "Serve the Convoso Status API sandbox over HTTP (state lives in this database)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument("--token", default=SANDBOX_TOKEN, help="auth_token to accept")
        parser.add_argument("--latency-ms", type=float, default=0, help="delay every reply")

    def handle(self, *args: Any, **options: Any) -> None:
        seed()
        sandbox = Sandbox(token=options["token"], latency_ms=options["latency_ms"])
        server = make_server(options["host"], options["port"], sandbox)
        host, port = str(server.server_address[0]), server.server_address[1]
        self.stdout.write(f"Convoso sandbox on http://{host}:{port}/v1 (Ctrl-C to stop)")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
