"""The HTTP server under `kavan serve` and `kavan label`: uvicorn running a Starlette app, plus what both pages
answer the same way.

uvicorn does the HTTP work: the listen backlog (``BACKLOG``), keep-alive (and its idle timeout), request
parsing (h11, with a bound on the header size), client disconnects (quietly: a client that goes away mid-answer
costs no traceback), and a cap on open connections (``ServerSettings.max_connections``; past it uvicorn answers
503). One event loop serves every connection, so a thousand slow sockets hold a thousand small objects, not
a thousand threads; blocking work (the model, an fsync) runs in a bounded thread pool (anyio's, 40 threads).

uvicorn has no deadline for a request's headers: a client that opens a connection and sends nothing, or a
header line now and then, would keep its place for ever. ``DeadlineH11Protocol`` adds one: the request line and
headers must arrive within ``read_timeout_s`` of the connection (or of the first byte of a keep-alive request),
else the connection is closed. A request body's deadline is the app's (``read_body``).

Nothing here logs a request's query string (the labelling page's token can be in it): uvicorn's access log is
off, and the pages log their routes without the query.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import socket
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import h11
import uvicorn
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route
from uvicorn.protocols.http.h11_impl import H11Protocol

from kavan.core.errors import KavanError

log = logging.getLogger(__name__)

BACKLOG = 1024
"""Connections the kernel queues before they are accepted (the stdlib server's 5 reset 427 of 500 voters)."""
KEEP_ALIVE_S = 5
"""Seconds an idle keep-alive connection stays open."""
GRACEFUL_S = 5
"""Seconds a stopping server waits for requests in progress before it cancels them."""
MAX_HEADER_BYTES = 64 * 1024
"""Largest request line plus headers; a larger one is answered 400 by h11."""
PLAIN_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
"""Sent with every answer: never cached, never sniffed."""


class Refused(Exception):
    """A request answered with an error status and a one-line message (retry_after_s: for a 429 or 503)."""

    def __init__(self, status: HTTPStatus, message: str, retry_after_s: int | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after_s = retry_after_s


def json_response(status: HTTPStatus, payload: dict[str, Any], close: bool = False,
                  headers: dict[str, str] | None = None) -> Response:
    """A whole JSON answer with a Content-Length; ``close``: the connection is not reused."""
    extra = {**PLAIN_HEADERS, **(headers or {})}
    if close:
        extra["Connection"] = "close"
    return Response(json.dumps(payload).encode("utf-8"), int(status), extra, "application/json")


def refusal(refused: Refused, close: bool = False) -> Response:
    """The JSON answer ``{"error": message}`` of a refused request (with Retry-After when it has one)."""
    headers = {"Retry-After": str(refused.retry_after_s)} if refused.retry_after_s is not None else None
    return json_response(refused.status, {"error": refused.message}, close, headers)


def bytes_response(body: bytes, content_type: str, headers: dict[str, str] | None = None) -> Response:
    return Response(body, 200, {**PLAIN_HEADERS, **(headers or {})}, content_type)


async def read_body(request: Request, length: int, timeout_s: float, keep: bool = True,
                    what: str = "the body") -> bytes | None:
    """The request body of ``length`` bytes (keep=False: read and dropped) within ``timeout_s`` in all.

    Refused 408 at the deadline (a client sending a byte now and then cannot hold its place for ever), 400 when
    the body is longer or shorter than declared; None when the client went away."""
    parts: list[bytes] = []
    received = 0
    try:
        async with asyncio.timeout(timeout_s):
            async for chunk in request.stream():
                received += len(chunk)
                if received > length:
                    raise Refused(HTTPStatus.BAD_REQUEST, f"{what} is longer than its Content-Length")
                if keep:
                    parts.append(chunk)
    except TimeoutError:
        raise Refused(HTTPStatus.REQUEST_TIMEOUT, f"{what} was not received within {timeout_s:g} s") from None
    except ClientDisconnect:
        return None
    if received < length:
        raise Refused(HTTPStatus.BAD_REQUEST, f"{what} is shorter than its Content-Length")
    return b"".join(parts)


def content_length(request: Request, limit: int, what: str = "the body") -> int:
    """The declared Content-Length, or Refused: 411 without one, 400 when it is not a number, 413 over ``limit``."""
    header = request.headers.get("content-length")
    if header is None:
        raise Refused(HTTPStatus.LENGTH_REQUIRED, "the request must declare its Content-Length")
    try:
        length = int(header)
    except ValueError:
        length = -1
    if length < 0:
        raise Refused(HTTPStatus.BAD_REQUEST, f"bad Content-Length {header!r}")
    if length > limit:
        raise Refused(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"{what} is over {limit} bytes")
    return length


METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")


def page_app(handle: Callable[[Request], Awaitable[Response]]) -> Starlette:
    """A Starlette application that hands every request, whatever its path and method, to ``handle``; a method
    outside METHODS (a made-up one) is answered with the pages' JSON 405 too."""

    async def not_allowed(request: Request, exc: Exception) -> Response:
        return json_response(HTTPStatus.METHOD_NOT_ALLOWED, {"error": f"{request.method} is not allowed; use GET or "
                                                                      "POST"}, close=True, headers={"Allow": "GET, POST"})

    return Starlette(routes=[Route("/{path:path}", handle, methods=list(METHODS))],
                     exception_handlers={HTTPStatus.METHOD_NOT_ALLOWED: not_allowed})


class DeadlineH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request's line and headers (``header_timeout_s``)."""

    header_timeout_s: float = 30.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_deadline: asyncio.TimerHandle | None = None
        self._arm_header_deadline()

    def _arm_header_deadline(self) -> None:
        if self._header_deadline is None:
            self._header_deadline = self.loop.call_later(self.header_timeout_s, self._headers_too_slow)

    def _disarm_header_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        # h11 stays IDLE until a request's headers are complete: the deadline runs while a request is partial.
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self._arm_header_deadline()
        else:
            self._disarm_header_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._disarm_header_deadline()  # the keep-alive timeout takes over until the next request's first byte

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        super().connection_lost(exc)

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            log.debug("%s: no complete request within %g s; connection closed", self.client, self.header_timeout_s)
            self.transport.close()


@dataclass(frozen=True)
class ServerSettings:
    """Where a page listens and what its connections may cost: ``read_timeout_s`` for a request's headers (and
    the app's deadline for its body), ``max_connections`` open at once (past it: 503)."""

    host: str = "127.0.0.1"
    port: int = 8000
    read_timeout_s: float = 30.0
    max_connections: int = 1000

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise KavanError(f"the port must be in 0..65535, got {self.port}")
        if not (math.isfinite(self.read_timeout_s) and self.read_timeout_s > 0):
            raise KavanError(f"the read timeout must be a finite number of seconds > 0, got {self.read_timeout_s}")
        if self.max_connections < 1:
            raise KavanError(f"max_connections must be >= 1, got {self.max_connections}")


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (port 0: a free one); KavanError naming the address when it cannot."""
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
    except (OSError, OverflowError) as err:
        raise KavanError(f"cannot listen on {host}:{port} ({getattr(err, 'strerror', None) or err})") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(BACKLOG)
    except (OSError, OverflowError) as err:
        sock.close()
        raise KavanError(f"cannot listen on {host}:{port} ({getattr(err, 'strerror', None) or err})") from None
    sock.setblocking(False)
    return sock


class WebServer:
    """A bound (not yet serving) uvicorn server of one ASGI app, with the calls of socketserver's servers:
    ``serve_forever()`` (blocks; in the main thread Ctrl-C stops it), ``shutdown()`` from another thread (returns
    once it stopped) and ``server_close()`` (closes the socket and then ``app.close()`` when the app has one).

    ``app``: the page's logic, kept as ``self.app``; ``asgi``: makes the ASGI application that serves it, given
    this server once it is bound (its port and URL are known then)."""

    def __init__(self, app: Any, asgi: Callable[[WebServer], Any], settings: ServerSettings):
        self.app = app
        self.socket = bind(settings.host, settings.port)
        self.server_address = self.socket.getsockname()
        protocol = type("PageProtocol", (DeadlineH11Protocol,), {"header_timeout_s": settings.read_timeout_s})
        config = uvicorn.Config(asgi(self), http=protocol, loop="asyncio", lifespan="off", access_log=False,
                                log_config=None, server_header=False, date_header=True,
                                timeout_keep_alive=KEEP_ALIVE_S, timeout_graceful_shutdown=GRACEFUL_S,
                                limit_concurrency=settings.max_connections, backlog=BACKLOG,
                                h11_max_incomplete_event_size=MAX_HEADER_BYTES)
        self._server = uvicorn.Server(config)
        self._stopped = threading.Event()
        self._serving = False
        self._closed = False

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"

    def serve_forever(self) -> None:
        self._serving = True
        try:
            self._server.run(sockets=[self.socket])
        finally:
            self._stopped.set()

    def shutdown(self, timeout_s: float = 30.0) -> None:
        """Ask the serving loop to stop and wait until it has (up to ``timeout_s``)."""
        self._server.should_exit = True
        if self._serving:
            self._stopped.wait(timeout_s)

    def server_close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.socket.close()
        close = getattr(self.app, "close", None)
        if close is not None:
            close()


def quiet_uvicorn(verbose: bool = False) -> None:
    """uvicorn's own lines at ERROR unless verbose: its start-up chatter repeats what the command prints, and its
    one warning per malformed request (answered 400) would let any client fill the log."""
    level = logging.DEBUG if verbose else logging.ERROR
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).setLevel(level)
    logging.getLogger("uvicorn.access").disabled = True
