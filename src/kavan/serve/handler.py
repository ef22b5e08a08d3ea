"""The HTTP plumbing `kavan serve` and `kavan label` share: a threading server that carries its app, and a
request handler whose every answer is a whole response with a Content-Length, never cached and never sniffed.

A server using it has an ``app`` with ``settings.read_timeout_s``: a client that stops sending for that long
is cut off, so a half-sent request cannot hold a thread. Standard library only.
"""

from __future__ import annotations

import json
import logging
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

log = logging.getLogger(__name__)


class JsonHandler(BaseHTTPRequestHandler):
    """Keep-alive HTTP/1.1 with whole responses; ``_send`` for bytes, ``_json`` for a JSON payload."""

    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        self.timeout = self.server.app.settings.read_timeout_s
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
        log.debug("%s %s", self.address_string(), format % args)

    def _send(self, status: HTTPStatus, body: bytes, content_type: str, close: bool = False,
              extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: HTTPStatus, payload: dict[str, Any], close: bool = False,
              extra: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(payload).encode("utf-8"), "application/json", close, extra)


class AppServer(ThreadingHTTPServer):
    """A threading HTTP server bound to ``app.settings.host`` and ``port`` that carries the app its ``handler``
    class uses (as ``self.server.app``); request threads do not keep the process alive."""

    daemon_threads = True
    handler: type[JsonHandler]

    def __init__(self, app: Any):
        self.app = app
        super().__init__((app.settings.host, app.settings.port), self.handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"
