"""The labelling page's HTTP routes (Starlette on uvicorn, kavan.serve.server) over a kavan.serve.label_app.LabelApp.

    GET  /                  the page (static/label.html, with static/label.js and static/label.css)
    GET  /api/status        votes so far, the remaining uncertainty, the emotions, the annotator if the server
                            fixes it (--annotator, or the one whose token the request carries)
    GET  /api/next?annotator=NAME[&ticket=T]
                            -> {"ticket", "gif_a", "gif_b", "emotion", "media_a", "media_b", "status"}: the next
                               question, or the one ticket T still holds (a reloaded tab keeps its question)
    POST /api/vote          {"gif_a", "gif_b", "emotion", "winner": "a"|"b"|"neither", "annotator", "ticket"}
                            -> 200 {"status"} once the vote is on disk (kavan.labels.vote_log.VoteLog.append)
    POST /api/undo          {"ticket": <the answered question's ticket>[, "current": <the shown one's>],
                             "annotator"} -> 200 {"undone", "next", "status"}: that vote removed, its question
                               asked again
    GET  /media/<file>      a media file of DIR/gifs, and nothing else

Safe by default: the server listens on 127.0.0.1; another address needs a token (``--token``, one for everyone,
or ``--annotators``, one per annotator: kavan.serve.access), and then every request must carry one: the
``X-Kavan-Token`` header (the page's requests), ``?token=`` (opening the page, or a media file), or the cookie the
page's answer sets (its script, style and pictures; never a POST). With per-annotator tokens the token says who
the annotator is, and the name in the request is not used. A client address that sends ten requests without a
valid token in a minute is answered 429 until the oldest of them is a minute old. Tokens are never logged: the
routes are logged without their query.

The Host and Origin checks are kavan serve's (``kavan.serve.http_checks``). Every refusal is a JSON
``{"error": ...}`` with a 4xx status (a body nested too deep for the JSON parser included); a bug answers 500, is
logged once, and the server goes on.
"""

from __future__ import annotations

import json
import logging
import os
from http import HTTPStatus
from importlib import resources
from typing import Any
from urllib.parse import quote, unquote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from kavan.core.errors import KavanError
from kavan.labels.prior import Predictions
from kavan.serve.access import FailedChecks, matching
from kavan.serve.http_checks import host_names, misdirected
from kavan.serve.label_app import LabelApp, LabelSettings, clean_name
from kavan.serve.server import (
    PLAIN_HEADERS,
    Refused,
    WebServer,
    bytes_response,
    content_length,
    json_response,
    page_app,
    read_body,
    refusal,
)

log = logging.getLogger(__name__)

STATIC_FILES = {"label.js": "text/javascript; charset=utf-8", "label.css": "text/css; charset=utf-8"}
TOKEN_HEADER = "X-Kavan-Token"


def parse_json_object(blob: bytes) -> dict[str, Any]:
    """The JSON object of a request body, or Refused (400): not UTF-8, not JSON, nested too deep, not an object."""
    try:
        body = json.loads(blob.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise Refused(HTTPStatus.BAD_REQUEST, "the body is not JSON") from None
    except RecursionError:
        raise Refused(HTTPStatus.BAD_REQUEST, "the body is nested too deeply to be a request") from None
    if not isinstance(body, dict):
        raise Refused(HTTPStatus.BAD_REQUEST, "the body must be a JSON object")
    return body


class LabelRoutes:
    """The routes of one LabelApp served by ``server`` (its port and URL make the Host check)."""

    def __init__(self, app: LabelApp, server: WebServer):
        self.app = app
        self.server = server
        self.port = server.server_address[1]
        self.tokens = app.settings.tokens()
        self.failures = FailedChecks()
        self.cookie = f"kavan_label_{self.port}"

    # -- is the request meant for this server, and allowed? ---------------------------------------------------

    def check(self, request: Request) -> str | None:
        """Refused unless the request is for this server (Host, Origin) and carries a valid token when the server
        has tokens; returns the annotator the token names (None without per-annotator tokens).

        A POST must carry it in the header or the query: a cookie would also come with a request another page
        makes."""
        settings = self.app.settings
        names = host_names(settings.host, settings.allowed_hosts, request.scope["server"][0])
        problem = misdirected(request.headers, request.method, self.port, names, self.server.url,
                              program="kavan label", what="request")
        if problem is not None:
            raise Refused(*problem)
        if not self.tokens:
            return None
        address = request.client.host if request.client else "?"
        wait = self.failures.retry_after(address)
        if wait is not None:
            raise Refused(HTTPStatus.TOO_MANY_REQUESTS, f"too many requests without a valid token; try again in "
                                                        f"{wait} s", wait)
        given = [request.headers.get(TOKEN_HEADER), request.query_params.get("token")]
        if request.method == "GET":
            given.append(request.cookies.get(self.cookie))
        for value in given:
            name = matching(value, self.tokens)
            if name is not None:
                return name or None
        self.failures.record(address)
        raise Refused(HTTPStatus.FORBIDDEN, f"this server needs a token: open the page at the URL kavan label "
                                            f"printed (with ?token=), or send the {TOKEN_HEADER} header")

    def who(self, token_name: str | None, given: Any) -> str:
        """The annotator a request acts as: the one its token names, else the name it gives (checked)."""
        return token_name if token_name is not None else self.app.annotator(given)

    # -- routes -----------------------------------------------------------------------------------------

    async def handle(self, request: Request) -> Response:
        """Every request of the page: a refusal is its JSON answer, a bug a 500 (logged) while the server goes on."""
        log.debug("%s %s %s", request.client.host if request.client else "?", request.method, request.url.path)
        try:
            if request.method == "GET":
                return await self.get(request)
            if request.method == "POST":
                return await self.post(request)
            return json_response(HTTPStatus.METHOD_NOT_ALLOWED, {"error": f"{request.method} is not allowed; use "
                                                                          "GET or POST"},
                                 close=True, headers={"Allow": "GET, POST"})
        except Refused as refused:
            log.info("refused %s %s: %s", request.method, request.url.path, refused.message)
            return refusal(refused, close=request.method == "POST")
        except Exception:
            log.exception("%s %s failed", request.method, request.url.path)
            return json_response(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": "internal error (see the server log)"})

    async def get(self, request: Request) -> Response:
        token_name = self.check(request)
        app = self.app
        route = request.url.path
        if route in ("/api/vote", "/api/undo"):
            raise Refused(HTTPStatus.METHOD_NOT_ALLOWED, f"{route} takes POST")
        if route == "/":
            return self.page(request)
        if route.startswith("/static/") and route.removeprefix("/static/") in STATIC_FILES:
            name = route.removeprefix("/static/")
            static = resources.files("kavan.serve").joinpath("static")
            return bytes_response(static.joinpath(name).read_bytes(), STATIC_FILES[name])
        if route == "/api/status":
            annotator = token_name or clean_name(request.query_params.get("annotator"))
            status = await run_in_threadpool(app.current_status, annotator)
            if token_name is not None:
                status["annotator"] = token_name
            return json_response(HTTPStatus.OK, status)
        if route == "/api/next":
            annotator = self.who(token_name, request.query_params.get("annotator"))
            question = await run_in_threadpool(app.next_question, annotator, request.query_params.get("ticket"))
            return json_response(HTTPStatus.OK, question)
        if route.startswith("/media/"):
            media = await run_in_threadpool(app.open_media, unquote(route.removeprefix("/media/")))
            return StreamingResponse(media.chunks(), 200, {**PLAIN_HEADERS, "Content-Length": str(media.size)},
                                     media.content_type)
        raise Refused(HTTPStatus.NOT_FOUND, f"{route}: not found")

    def page(self, request: Request) -> Response:
        """The page; with a token, a cookie that lets its script, style and pictures through."""
        page = resources.files("kavan.serve").joinpath("static", "label.html").read_bytes()
        headers = None
        if self.tokens:
            given = request.query_params.get("token") or request.headers.get(TOKEN_HEADER) \
                or request.cookies.get(self.cookie)
            headers = {"Set-Cookie": f"{self.cookie}={quote(given or '')}; Path=/; HttpOnly; SameSite=Strict"}
        return bytes_response(page, "text/html; charset=utf-8", headers)

    async def post(self, request: Request) -> Response:
        length = content_length(request, self.app.settings.max_body_bytes)
        token_name = self.check(request)
        route = request.url.path
        actions = {"/api/vote": self.app.vote, "/api/undo": self.app.undo}
        if route not in actions:
            status = HTTPStatus.METHOD_NOT_ALLOWED if route in ("/", "/api/next", "/api/status") \
                else HTTPStatus.NOT_FOUND
            raise Refused(status, f"{route}: {'takes GET' if status == 405 else 'not found'}")
        blob = await read_body(request, length, self.app.settings.read_timeout_s)
        if blob is None:
            return Response(status_code=HTTPStatus.BAD_REQUEST)  # the client went away: nobody reads this
        body = parse_json_object(blob)
        annotator = self.who(token_name, body.get("annotator"))
        return json_response(HTTPStatus.OK, await run_in_threadpool(actions[route], body, annotator))


class LabelServer(WebServer):
    """The server of a LabelApp."""

    app: LabelApp

    @property
    def page_url(self) -> str:
        """The page's address to open: with ``?token=`` when the server has a shared token."""
        token = self.app.settings.token
        return self.url + (f"?token={quote(token)}" if token else "")

    def page_urls(self) -> dict[str, str]:
        """Each annotator's own address of the page (per-annotator tokens), else {"": page_url}."""
        tokens = self.app.settings.annotator_tokens
        if not tokens:
            return {"": self.page_url}
        return {name: f"{self.url}?token={quote(token)}" for name, token in tokens}


def make_label_server(root: str | os.PathLike[str], settings: LabelSettings = LabelSettings(),
                      prior: Predictions | None = None) -> LabelServer:
    """A bound (not yet serving) labelling server for the dataset folder ``root``; call ``serve_forever()`` and, when
    done, ``shutdown()`` (from another thread) and ``server_close()`` (which also releases votes.csv). ``prior``: see
    ``LabelApp``."""
    app = LabelApp(root, settings, prior)
    try:
        return LabelServer(app, lambda server: page_app(LabelRoutes(app, server).handle), settings.server())
    except KavanError:
        app.close()
        raise
