"""The labelling page behind `kavan label DIR`: GIFGIF's question, answered into DIR/votes.csv (stdlib http.server).

    GET  /                  the page (static/label.html, with static/label.js and static/label.css)
    GET  /api/status        votes so far, the remaining uncertainty, the emotions, the fixed annotator name if any
    GET  /api/next?annotator=NAME[&ticket=T]
                            -> {"ticket", "gif_a", "gif_b", "emotion", "media_a", "media_b", "status"}: the next
                               question, or the one ticket T still holds (a reloaded tab keeps its question)
    POST /api/vote          {"gif_a", "gif_b", "emotion", "winner": "a"|"b"|"neither", "annotator", "ticket"}
                            -> 200 {"status"} once the vote is on disk (kavan.labels.vote_log.VoteLog.append)
    POST /api/undo          {"annotator"[, "ticket"]} -> 200 {"undone", "next", "status"}: the annotator's last
                               vote removed, and that question asked again
    GET  /media/<file>      a media file of DIR/gifs, and nothing else

Several annotators (or tabs) at once get different questions: a question handed out is held for ``hold_s``
seconds or until it is answered, and held questions are passed to ``PairSelector.next`` as busy. With
``--pairing asap`` the selector runs ASAP's batch mode: annotators working at once get different pairs of one
batch (a minimum spanning tree over the candidate pairs, kavan.labels.asap). On start the
votes already in votes.csv are replayed into the selector, so a restart continues where the last run stopped;
an undo resets the selector and replays the file again.

Safe by default: the server listens on 127.0.0.1; another address needs a token (``LabelSettings.token``), and
then every request must carry it: the ``X-Kavan-Token`` header (the page's requests), ``?token=`` (opening the
page, or a media file), or the cookie the page's answer sets (its script, style and pictures). The Host and
Origin checks are kavan serve's (``kavan.serve.http_checks``). /media/ serves only the files found in DIR/gifs with
a media suffix, by exact name, and only while the file's resolved path is still inside that folder (no ``..``, no
symlink out). Every refusal is a JSON ``{"error": ...}`` with a 4xx status; a bug answers 500 and the server goes
on.
"""

from __future__ import annotations

import hmac
import json
import logging
import math
import os
import secrets
import threading
import time
import unicodedata
from collections import Counter, OrderedDict
from dataclasses import dataclass
from http import HTTPStatus
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from kavan.core.emotions import EMOTIONS
from kavan.core.errors import KavanError
from kavan.core.issues import closest_name
from kavan.labels.pairing import STRATEGIES, PairSelector
from kavan.labels.prior import PRIOR_SIGMA, Predictions
from kavan.labels.vote_log import WINNERS, Vote, VoteLog, utc_now
from kavan.media.layout import MEDIA_DIR, MEDIA_SUFFIXES
from kavan.serve.handler import AppServer, JsonHandler
from kavan.serve.http_checks import host_names, is_loopback, misdirected

log = logging.getLogger(__name__)

VOTES_FILE = "votes.csv"
STATIC_FILES = {"label.js": "text/javascript; charset=utf-8", "label.css": "text/css; charset=utf-8"}
MEDIA_TYPES = {".gif": "image/gif", ".mp4": "video/mp4", ".webm": "video/webm"}
TOKEN_HEADER = "X-Kavan-Token"
MAX_NAME_CHARS = 64
ANSWERED_KEPT = 10_000
"""Answered tickets remembered, so that a vote sent twice (a double click, a retried request) counts once."""
RETRY_AFTER_S = 5


def parse_emotions(text: str) -> tuple[str, ...]:
    """``--emotions a,b``: GIFGIF emotion names, comma-separated, in EMOTIONS order; KavanError naming a bad one."""
    names = [name.strip().lower() for name in text.split(",") if name.strip()]
    if not names:
        raise KavanError("--emotions names no emotion; give GIFGIF emotions separated by commas")
    for name in names:
        if name not in EMOTIONS:
            guess = closest_name(name, EMOTIONS)
            hint = f"did you mean {guess!r}?" if guess else f"the emotions are {', '.join(EMOTIONS)}"
            raise KavanError(f"--emotions: {name!r} is not a GIFGIF emotion; {hint}")
    return tuple(e for e in EMOTIONS if e in names)


def clean_name(value: Any) -> str | None:
    """An annotator name as stored: stripped, 1-64 characters, no control characters; None when it is not one."""
    if not isinstance(value, str):
        return None
    name = value.strip()
    if not 0 < len(name) <= MAX_NAME_CHARS or any(unicodedata.category(ch).startswith("C") for ch in name):
        return None
    return name


@dataclass(frozen=True)
class LabelSettings:
    """How the labelling server listens and asks.

    host, port: where to listen (port 0: any free port). token: the secret every request must carry; required
    for any address but loopback. allowed_hosts: names besides the bound address under which clients reach the
    server. emotions: the emotions asked about. pairing: ``PairSelector``'s strategy (``asap`` runs in its batch
    mode, so that annotators working at once get different pairs of one batch). prior_sigma: the sigma of a model
    prior (``LabelApp(prior=...)``). seed: the selector's random stream.
    annotator: a fixed annotator name (else the page asks). hold_s: how long a question handed out stays
    reserved for its annotator. read_timeout_s: the time a client has to send its request. max_body_bytes: the
    largest JSON body taken.
    """

    host: str = "127.0.0.1"
    port: int = 8000
    token: str | None = None
    allowed_hosts: tuple[str, ...] = ()
    emotions: tuple[str, ...] = EMOTIONS
    pairing: str = "active"
    prior_sigma: float = PRIOR_SIGMA
    seed: int = 0
    annotator: str | None = None
    hold_s: float = 300.0
    read_timeout_s: float = 30.0
    max_body_bytes: int = 16 * 1024

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise KavanError(f"the port must be in 0..65535, got {self.port}")
        if self.token is not None and len(self.token) < 8:
            raise KavanError("the token must be at least 8 characters long")
        if not is_loopback(self.host) and not self.token:
            raise KavanError(f"--host {self.host} can be reached from other machines: give a --token, which every "
                             "request must then carry (the page's URL holds it)")
        unknown = [e for e in self.emotions if e not in EMOTIONS]
        if unknown or not self.emotions:
            raise KavanError(f"unknown or no emotions {unknown}; the emotions are {', '.join(EMOTIONS)}")
        if self.pairing not in STRATEGIES:
            raise KavanError(f"unknown pairing {self.pairing!r}; choose one of {', '.join(STRATEGIES)}")
        if not (math.isfinite(self.prior_sigma) and self.prior_sigma > 0):
            raise KavanError(f"the prior sigma must be a finite number > 0, got {self.prior_sigma}")
        if self.annotator is not None and clean_name(self.annotator) is None:
            raise KavanError(f"the annotator name must be 1-{MAX_NAME_CHARS} characters without control characters")
        if not (math.isfinite(self.hold_s) and self.hold_s > 0):
            raise KavanError(f"the hold time must be a finite number of seconds > 0, got {self.hold_s}")


class Refused(Exception):
    """A request answered with an error status and a message (retry_after_s: for a 503)."""

    def __init__(self, status: HTTPStatus, message: str, retry_after_s: int | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after_s = retry_after_s


def media_files(root: Path) -> dict[str, Path]:
    """The media file of each GIF id in ``root/gifs`` (name stem -> path); KavanError when there are fewer than
    two or an id has two files. A file whose resolved path leaves the folder (a symlink out) is left out, with a
    warning: the page shows only what the folder holds."""
    folder = root / MEDIA_DIR
    if not folder.is_dir():
        raise KavanError(f"no {MEDIA_DIR}/ folder: put one file per GIF in {MEDIA_DIR}/<id>.gif", root)
    inside = folder.resolve()
    found: dict[str, Path] = {}
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        path = Path(entry.path)
        if path.suffix.lower() not in MEDIA_SUFFIXES or not entry.is_file():
            continue
        if path.resolve().parent != inside:
            log.warning("%s: it points outside %s and is not shown", path, folder)
            continue
        if path.stem in found:
            raise KavanError(f"id {path.stem!r} has two media files ({found[path.stem].name}, {path.name}); keep "
                             "one", folder)
        found[path.stem] = path
    if len(found) < 2:
        raise KavanError(f"{MEDIA_DIR}/ holds {len(found)} media file(s); labelling needs at least two", root)
    return found


def _unordered(pair: tuple[str, str, str]) -> tuple[str, str, str]:
    """A question whichever side each GIF is shown on."""
    gif_a, gif_b, emotion = pair
    return min(gif_a, gif_b), max(gif_a, gif_b), emotion


@dataclass
class Handout:
    """A question handed to an annotator and not yet answered; reserved until ``expires`` (time.monotonic)."""

    ticket: str
    pair: tuple[str, str, str]
    annotator: str
    expires: float


class LabelApp:
    """What the endpoints do, apart from HTTP: the selector, the held questions and the vote log of one folder.

    ``prior``: a model's predictions (``kavan.labels.prior.Predictions``) that set the selector's starting ratings,
    so that its first questions already avoid pairs the model calls easy; the votes file is not affected."""

    def __init__(self, root: str | os.PathLike[str], settings: LabelSettings = LabelSettings(),
                 prior: Predictions | None = None):
        self.root = Path(root)
        self.settings = settings
        if not self.root.is_dir():
            raise KavanError("dataset folder not found", self.root)
        self.media = media_files(self.root)
        self._served = {path.name: path for path in self.media.values()}
        ids = sorted(self.media)
        self.prior = prior
        intensities = None if prior is None else prior.intensities(ids, settings.emotions)
        self.selector = PairSelector(ids, list(settings.emotions), settings.pairing, settings.seed,
                                     prior=intensities, prior_sigma=settings.prior_sigma,
                                     batch=settings.pairing == "asap")
        self.votes = VoteLog(self.root / VOTES_FILE)
        self._lock = threading.Lock()
        self._held: dict[str, Handout] = {}
        self._answered: OrderedDict[str, None] = OrderedDict()
        skipped = self._replay()
        log.info("%s: %d votes replayed, uncertainty %.3f", self.votes.path, self.selector.n_votes,
                 self.selector.uncertainty())
        if skipped:
            log.warning("%s: %d vote(s) name GIFs not in %s/ or emotions not asked about; they stay in the file "
                        "but do not steer the questions", self.votes.path, skipped, MEDIA_DIR)

    def close(self) -> None:
        self.votes.close()

    # -- the selector ---------------------------------------------------------------------------------------

    def _replay(self) -> int:
        """Observe every vote of the file in order; returns how many were left out (other GIFs or emotions)."""
        skipped = 0
        for vote in self.votes.votes():
            winner = self._winner_word(vote)
            known = vote.gif_a in self.media and vote.gif_b in self.media and vote.gif_a != vote.gif_b
            if winner is None or not known or vote.emotion.lower() not in self.settings.emotions:
                skipped += 1
                continue
            self.selector.observe(vote.gif_a, vote.gif_b, vote.emotion.lower(), winner)
        return skipped

    @staticmethod
    def _winner_word(vote: Vote) -> str | None:
        """a, b or neither, also from a winner written as gif_a's or gif_b's id (as kavan.labels.ratings reads)."""
        word = vote.winner.lower()
        if word in WINNERS:
            return word
        return "a" if vote.winner == vote.gif_a else "b" if vote.winner == vote.gif_b else None

    def current_status(self, annotator: str | None = None) -> dict[str, Any]:
        """``status`` between two updates (an undo's replay is not seen half way)."""
        with self._lock:
            return self.status(annotator)

    def status(self, annotator: str | None = None) -> dict[str, Any]:
        """Votes so far (in the file; the annotator's), the selector's remaining uncertainty, what is asked.
        The caller holds the lock."""
        votes = self.votes.votes()
        mine = Counter(v.annotator for v in votes)[annotator] if annotator else 0
        return {"votes": len(votes), "annotator_votes": mine, "counted": self.selector.n_votes,
                "uncertainty": round(self.selector.uncertainty(), 4), "emotions": list(self.settings.emotions),
                "pairing": self.settings.pairing, "prior": self.prior is not None, "gifs": len(self.media),
                "dataset": self.root.name,
                "annotator": self.settings.annotator}

    # -- questions --------------------------------------------------------------------------------------

    def _expire(self) -> None:
        now = time.monotonic()
        for ticket in [t for t, h in self._held.items() if h.expires <= now]:
            del self._held[ticket]

    def _hand_out(self, pair: tuple[str, str, str], annotator: str) -> dict[str, Any]:
        handout = Handout(secrets.token_urlsafe(12), pair, annotator, time.monotonic() + self.settings.hold_s)
        self._held[handout.ticket] = handout
        return self._question(handout)

    def _question(self, handout: Handout) -> dict[str, Any]:
        gif_a, gif_b, emotion = handout.pair
        return {"ticket": handout.ticket, "gif_a": gif_a, "gif_b": gif_b, "emotion": emotion,
                "media_a": "/media/" + quote(self.media[gif_a].name),
                "media_b": "/media/" + quote(self.media[gif_b].name)}

    def next_question(self, annotator: str, ticket: str | None = None) -> dict[str, Any]:
        """The question ``ticket`` still holds for this annotator, else a new one no one else holds."""
        with self._lock:
            self._expire()
            held = self._held.get(ticket or "")
            if held is not None and held.annotator == annotator:
                held.expires = time.monotonic() + self.settings.hold_s
                return {**self._question(held), "status": self.status(annotator)}
            busy = [h.pair for h in self._held.values()]
            try:
                pair = self.selector.next(busy)
            except KavanError as err:
                raise Refused(HTTPStatus.SERVICE_UNAVAILABLE, str(err), RETRY_AFTER_S) from None
            return {**self._hand_out(pair, annotator), "status": self.status(annotator)}

    # -- answers ----------------------------------------------------------------------------------------

    def _checked_vote(self, body: dict[str, Any]) -> tuple[Vote, str]:
        """The vote a /api/vote body describes and its ticket, or Refused (400) naming the bad field."""
        fields = {}
        for name in ("gif_a", "gif_b", "emotion", "winner", "annotator", "ticket"):
            value = body.get(name)
            if not isinstance(value, str) or not value.strip():
                raise Refused(HTTPStatus.BAD_REQUEST, f"{name} is missing or not a string")
            fields[name] = value.strip()
        for name in ("gif_a", "gif_b"):
            if fields[name] not in self.media:
                raise Refused(HTTPStatus.BAD_REQUEST, f"{name}: no GIF with id {fields[name]!r} in {MEDIA_DIR}/")
        if fields["gif_a"] == fields["gif_b"]:
            raise Refused(HTTPStatus.BAD_REQUEST, "gif_a and gif_b are the same GIF")
        if fields["emotion"] not in self.settings.emotions:
            raise Refused(HTTPStatus.BAD_REQUEST, f"emotion {fields['emotion']!r} is not one of the emotions asked "
                                                  f"about ({', '.join(self.settings.emotions)})")
        if fields["winner"] not in WINNERS:
            raise Refused(HTTPStatus.BAD_REQUEST, f"winner {fields['winner']!r} is not a, b or neither")
        annotator = self._annotator(body.get("annotator"))
        vote = Vote(fields["gif_a"], fields["gif_b"], fields["emotion"], fields["winner"], annotator, utc_now())
        return vote, fields["ticket"]

    def _annotator(self, value: Any) -> str:
        """The annotator name of a request (the fixed one when the server has it), or Refused (400)."""
        name = clean_name(value)
        if name is None:
            raise Refused(HTTPStatus.BAD_REQUEST, f"annotator must be a name of 1-{MAX_NAME_CHARS} characters "
                                                  "without control characters")
        if self.settings.annotator is not None and name != self.settings.annotator:
            raise Refused(HTTPStatus.BAD_REQUEST, f"this server records the votes of {self.settings.annotator!r} "
                                                  "only")
        return name

    def vote(self, body: dict[str, Any]) -> dict[str, Any]:
        """Record a vote: returns only after it is on disk, then updates the selector and frees its question.

        A ticket already answered is refused (409) so that a vote sent twice counts once; a held ticket must be
        for this question (409). An unknown or expired ticket (a question from before a restart, or one held
        too long) still counts: the answer is a real judgement of a real question.
        """
        vote, ticket = self._checked_vote(body)
        with self._lock:
            if ticket in self._answered:
                raise Refused(HTTPStatus.CONFLICT, "this question was already answered; the vote counts once")
            held = self._held.get(ticket)
            if held is not None and held.pair != (vote.gif_a, vote.gif_b, vote.emotion):
                raise Refused(HTTPStatus.CONFLICT, "the ticket belongs to another question")
            self.votes.append(vote)
            self.selector.observe(vote.gif_a, vote.gif_b, vote.emotion, vote.winner)
            self._held.pop(ticket, None)
            self._answered[ticket] = None
            while len(self._answered) > ANSWERED_KEPT:
                self._answered.popitem(last=False)
            return {"status": self.status(vote.annotator)}

    def undo(self, body: dict[str, Any]) -> dict[str, Any]:
        """Remove the annotator's last vote, replay the file into a reset selector, and ask that question again
        (unless someone else holds it now); the question the annotator was shown (``ticket``) is freed."""
        annotator = self._annotator(body.get("annotator"))
        ticket = body.get("ticket")
        with self._lock:
            removed = self.votes.undo(annotator)
            if removed is None:
                raise Refused(HTTPStatus.CONFLICT, f"{annotator!r} has no vote to undo")
            self.selector.reset()
            self._replay()
            held = self._held.get(ticket) if isinstance(ticket, str) else None
            if held is not None and held.annotator == annotator:
                del self._held[ticket]
            self._expire()
            pair = (removed.gif_a, removed.gif_b, removed.emotion)
            busy = [h.pair for h in self._held.values()]
            if _unordered(pair) in {_unordered(p) for p in busy}:
                try:
                    pair = self.selector.next(busy)
                except KavanError as err:
                    raise Refused(HTTPStatus.SERVICE_UNAVAILABLE, str(err), RETRY_AFTER_S) from None
            return {"undone": removed.cells(), "next": self._hand_out(pair, annotator),
                    "status": self.status(annotator)}

    # -- media ------------------------------------------------------------------------------------------

    def media_file(self, name: str) -> tuple[bytes, str]:
        """The bytes and type of a media file of the folder by its exact name, or Refused (404/403)."""
        if not name or "/" in name or "\\" in name or "\0" in name or name.startswith("."):
            raise Refused(HTTPStatus.NOT_FOUND, f"{name!r}: not a media file of this folder")
        path = self._served.get(name)
        if path is None:
            raise Refused(HTTPStatus.NOT_FOUND, f"{name!r}: not a media file of this folder")
        if path.resolve().parent != (self.root / MEDIA_DIR).resolve():
            raise Refused(HTTPStatus.FORBIDDEN, f"{name!r} points outside the media folder")
        try:
            return path.read_bytes(), MEDIA_TYPES[path.suffix.lower()]
        except OSError as err:
            raise Refused(HTTPStatus.NOT_FOUND, f"{name!r}: cannot be read ({err.strerror})") from None


class LabelHandler(JsonHandler):
    """Routes requests to the server's LabelApp; every answer is a whole response with a Content-Length."""

    server: LabelServer

    def _refuse(self, refused: Refused, close: bool = False) -> None:
        log.info("refused %s %s: %s", self.command, urlsplit(self.path).path, refused.message)
        extra = {"Retry-After": str(refused.retry_after_s)} if refused.retry_after_s is not None else None
        self._json(refused.status, {"error": refused.message}, close=close, extra=extra)

    # -- is the request meant for this server, and allowed? ---------------------------------------------------

    def _query(self) -> dict[str, str]:
        return {key: values[-1] for key, values in parse_qs(urlsplit(self.path).query).items()}

    def _cookie_name(self) -> str:
        return f"kavan_label_{self.server.server_address[1]}"

    def _cookie_token(self) -> str | None:
        for part in (self.headers.get("Cookie") or "").split(";"):
            key, _, value = part.strip().partition("=")
            if key == self._cookie_name():
                return value
        return None

    def _check(self) -> None:
        """Refused unless the request is for this server (Host, Origin) and carries the token when there is one.

        A POST must carry it in the header or the query: a cookie would also come with a request another page
        makes."""
        settings = self.server.app.settings
        names = host_names(settings.host, settings.allowed_hosts, self.connection.getsockname()[0])
        problem = misdirected(self.headers, self.command, self.server.server_address[1], names, self.server.url,
                              program="kavan label", what="request")
        if problem is not None:
            raise Refused(*problem)
        if settings.token is None:
            return
        given = [self.headers.get(TOKEN_HEADER), self._query().get("token")]
        if self.command == "GET":
            given.append(self._cookie_token())
        if not any(value and hmac.compare_digest(value.encode(), settings.token.encode()) for value in given):
            raise Refused(HTTPStatus.FORBIDDEN, f"this server needs its token: open the page at the URL kavan label "
                                                f"printed (with ?token=), or send the {TOKEN_HEADER} header")

    # -- routes -----------------------------------------------------------------------------------------

    def _guarded(self, action) -> None:
        """Run a route; a refusal is its JSON answer, a bug a 500 (logged) while the server goes on."""
        try:
            action()
        except Refused as refused:
            self._refuse(refused)
        except Exception:
            log.exception("%s %s failed", self.command, urlsplit(self.path).path)
            self._json(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": "internal error (see the server log)"})

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._guarded(self._get)

    def _get(self) -> None:
        self._check()
        app = self.server.app
        route = urlsplit(self.path).path
        if route in ("/api/vote", "/api/undo"):
            raise Refused(HTTPStatus.METHOD_NOT_ALLOWED, f"{route} takes POST")
        if route == "/":
            self._page()
        elif route.startswith("/static/") and route.removeprefix("/static/") in STATIC_FILES:
            name = route.removeprefix("/static/")
            static = resources.files("kavan.serve").joinpath("static")
            self._send(HTTPStatus.OK, static.joinpath(name).read_bytes(), STATIC_FILES[name])
        elif route == "/api/status":
            annotator = clean_name(self._query().get("annotator"))
            self._json(HTTPStatus.OK, app.current_status(annotator))
        elif route == "/api/next":
            annotator = app._annotator(self._query().get("annotator"))
            self._json(HTTPStatus.OK, app.next_question(annotator, self._query().get("ticket")))
        elif route.startswith("/media/"):
            blob, kind = app.media_file(unquote(route.removeprefix("/media/")))
            self._send(HTTPStatus.OK, blob, kind)
        else:
            raise Refused(HTTPStatus.NOT_FOUND, f"{route}: not found")

    def _page(self) -> None:
        """The page; with a token, a cookie that lets its script, style and pictures through."""
        page = resources.files("kavan.serve").joinpath("static", "label.html").read_bytes()
        extra = None
        token = self.server.app.settings.token
        if token is not None:
            extra = {"Set-Cookie": f"{self._cookie_name()}={token}; Path=/; HttpOnly; SameSite=Strict"}
        self._send(HTTPStatus.OK, page, "text/html; charset=utf-8", extra=extra)

    def do_POST(self) -> None:  # noqa: N802
        self._guarded(self._post)

    def _post(self) -> None:
        length = self._length()
        try:
            self._check()
            route = urlsplit(self.path).path
            actions = {"/api/vote": self.server.app.vote, "/api/undo": self.server.app.undo}
            if route not in actions:
                status = HTTPStatus.METHOD_NOT_ALLOWED if route in ("/", "/api/next", "/api/status") \
                    else HTTPStatus.NOT_FOUND
                raise Refused(status, f"{route}: {'takes GET' if status == 405 else 'not found'}")
            body = self._body(length)
        except Refused as refused:
            self._refuse(refused, close=True)  # the body may be unread: the connection cannot be reused
            return
        self._json(HTTPStatus.OK, actions[route](body))

    def _length(self) -> int:
        header = self.headers.get("Content-Length")
        if header is None:
            raise Refused(HTTPStatus.LENGTH_REQUIRED, "the request must declare its Content-Length")
        try:
            length = int(header)
        except ValueError:
            length = -1
        if length < 0:
            raise Refused(HTTPStatus.BAD_REQUEST, f"bad Content-Length {header!r}")
        if length > self.server.app.settings.max_body_bytes:
            raise Refused(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                          f"the body is over {self.server.app.settings.max_body_bytes} bytes")
        return length

    def _body(self, length: int) -> dict[str, Any]:
        """The JSON object of the body, or Refused (400, 408)."""
        try:
            blob = self.rfile.read(length)
        except TimeoutError:
            raise Refused(HTTPStatus.REQUEST_TIMEOUT, "the body was not received in time") from None
        if len(blob) != length:
            raise Refused(HTTPStatus.BAD_REQUEST, "the body is shorter than its Content-Length")
        try:
            body = json.loads(blob.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise Refused(HTTPStatus.BAD_REQUEST, "the body is not JSON") from None
        if not isinstance(body, dict):
            raise Refused(HTTPStatus.BAD_REQUEST, "the body must be a JSON object")
        return body

    def _not_allowed(self) -> None:
        self.send_error(HTTPStatus.METHOD_NOT_ALLOWED, f"{self.command} is not allowed; use GET or POST")

    do_HEAD = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _not_allowed  # noqa: N815

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (a bad request line, an unknown method, headers too long) as JSON too, and
        never with a body after HEAD."""
        status = HTTPStatus(code)
        self.send_response(status)
        body = json.dumps({"error": message or status.phrase}).encode("utf-8")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if status == HTTPStatus.METHOD_NOT_ALLOWED:
            self.send_header("Allow", "GET, POST")
        self.send_header("Connection", "close")
        self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


class LabelServer(AppServer):
    """The server of a LabelApp: its handlers are LabelHandlers."""

    app: LabelApp
    handler = LabelHandler

    @property
    def page_url(self) -> str:
        """The page's address to open: with ``?token=`` when the server has a token."""
        token = self.app.settings.token
        return self.url + (f"?token={quote(token)}" if token else "")

    def server_close(self) -> None:
        super().server_close()
        self.app.close()


def make_label_server(root: str | os.PathLike[str], settings: LabelSettings = LabelSettings(),
                      prior: Predictions | None = None) -> LabelServer:
    """A bound (not yet serving) labelling server for the dataset folder ``root``; call ``serve_forever()`` and, when
    done, ``shutdown()`` (from another thread) and ``server_close()`` (which also releases votes.csv). ``prior``: see
    ``LabelApp``."""
    app = LabelApp(root, settings, prior)
    try:
        return LabelServer(app)
    except (OSError, OverflowError) as err:
        app.close()
        raise KavanError(f"cannot listen on {settings.host}:{settings.port} ({getattr(err, 'strerror', None) or err})"
                         ) from None
