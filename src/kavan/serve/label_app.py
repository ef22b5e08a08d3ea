"""The labelling page's logic behind `kavan label DIR`: GIFGIF's question, answered into DIR/votes.csv. The HTTP
routes are kavan.serve.label_web's.

A question is handed out with a ticket: a random secret the server keeps (``Handout``), known only to the client
it was handed to. A vote counts only with a ticket this server handed out, to the annotator who sends it, for
that question, not yet answered: an invented ticket, another annotator's, or one answered already is refused,
so nobody can stuff votes or answer for someone else. An undo names the ticket of the vote it takes back, so a
page can undo only the votes it cast itself (``LabelApp.undo``). With per-annotator tokens the server knows who
sends each request; without them the annotator name is whatever the page says (docs/labelling.md).

Held questions: a question handed out is reserved for ``hold_s`` seconds (or until answered) and passed to
``PairSelector.next`` as busy, so that annotators working at once get different questions. What one client can
hold is bounded: each annotator keeps at most ``max_holds`` open tickets (a new question lets go of their oldest),
and at most half of all questions are held at once (past that the hold renewed longest ago is let go; its ticket
still counts). Nobody can reserve every question; when the selector still finds none free, the answer is 503 with
a Retry-After of the seconds until the first hold ends.

With ``--pairing asap`` the selector runs ASAP's batch mode: annotators working at once get different pairs of
one batch (a minimum spanning tree over the candidate pairs, kavan.labels.asap). On start the votes already in
votes.csv are replayed into the selector, so a restart continues where the last run stopped; an undo resets the
selector and replays the file again. Tickets live in memory: after a restart a page's open question is replaced
and its earlier votes can no longer be undone from it.

Media: only the files found in DIR/gifs with a media suffix when the server started, by exact name, and only
while the name still leads to that same file: each is opened once (following links), then checked by its device
and inode against what was found at start, and served from that open file, so the check and the read cannot be
pulled apart by swapping a link. A broken link is named as one.
"""

from __future__ import annotations

import logging
import math
import os
import secrets
import stat
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import quote

from kavan.core.emotions import EMOTIONS
from kavan.core.errors import KavanError
from kavan.core.issues import closest_name
from kavan.labels.pairing import STRATEGIES, PairSelector
from kavan.labels.prior import PRIOR_SIGMA, Predictions
from kavan.labels.vote_log import WINNERS, Vote, VoteLog, utc_now
from kavan.media.layout import MEDIA_DIR, MEDIA_SUFFIXES, MEDIA_TYPES
from kavan.serve.access import MAX_NAME_CHARS, clean_name, token_problem
from kavan.serve.http_checks import is_loopback
from kavan.serve.server import Refused, ServerSettings

log = logging.getLogger(__name__)

VOTES_FILE = "votes.csv"
TICKETS_KEPT = 10_000
"""Open tickets remembered at most (and as many answered ones, for undo and to count a vote sent twice once)."""
CHUNK_BYTES = 1 << 16


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


@dataclass(frozen=True)
class LabelSettings:
    """How the labelling server listens and asks.

    host, port: where to listen (port 0: any free port). token: the secret every request must carry; required
    (or ``annotator_tokens``) for any address but loopback. annotator_tokens: (name, token) of each annotator,
    each request then acts as the annotator whose token it carries (kavan.serve.access). allowed_hosts: names
    besides the bound address under which clients reach the server. emotions: the emotions asked about. pairing:
    ``PairSelector``'s strategy. prior_sigma: the sigma of a model prior (``LabelApp(prior=...)``). seed: the
    selector's random stream. annotator: a fixed annotator name (else the page asks). hold_s: how long a question
    handed out stays reserved. max_holds: open tickets one annotator may have. read_timeout_s: the time a client
    has to send a request's headers, and its body. max_body_bytes: the largest JSON body taken. max_connections:
    open connections at once (past it: 503).
    """

    host: str = "127.0.0.1"
    port: int = 8000
    token: str | None = None
    annotator_tokens: tuple[tuple[str, str], ...] = ()
    allowed_hosts: tuple[str, ...] = ()
    emotions: tuple[str, ...] = EMOTIONS
    pairing: str = "active"
    prior_sigma: float = PRIOR_SIGMA
    seed: int = 0
    annotator: str | None = None
    hold_s: float = 300.0
    max_holds: int = 4
    read_timeout_s: float = 30.0
    max_body_bytes: int = 16 * 1024
    max_connections: int = 1000

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise KavanError(f"the port must be in 0..65535, got {self.port}")
        if self.token is not None:
            problem = token_problem(self.token)
            if problem is not None:
                raise KavanError(f"--token: {problem}")
        if self.token is not None and self.annotator_tokens:
            raise KavanError("give --token (one secret for everyone) or --annotators (one per annotator), not both")
        if self.annotator is not None and self.annotator_tokens:
            raise KavanError("--annotator fixes one name; with --annotators each token names its annotator")
        for name, token in self.annotator_tokens:
            problem = token_problem(token)
            if problem is not None:
                raise KavanError(f"{name}'s token: {problem}")
        if not is_loopback(self.host) and not self.token and not self.annotator_tokens:
            raise KavanError(f"--host {self.host} can be reached from other machines: give a --token or --annotators, "
                             "which every request must then carry (the page's URL holds it)")
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
        if self.max_holds < 1:
            raise KavanError(f"max_holds must be >= 1, got {self.max_holds}")

    def server(self) -> ServerSettings:
        """The HTTP server's settings (kavan.serve.server)."""
        return ServerSettings(self.host, self.port, self.read_timeout_s, self.max_connections)

    def tokens(self) -> dict[str, str]:
        """token -> annotator name ("" for the shared token); empty when the server takes no token."""
        if self.token is not None:
            return {self.token: ""}
        return {token: name for name, token in self.annotator_tokens}


@dataclass(frozen=True)
class MediaFile:
    """A media file of DIR/gifs as found at start: its path and the (device, inode) it led to."""

    path: Path
    identity: tuple[int, int]


def media_files(root: Path) -> dict[str, Path]:
    """The media file of each GIF id in ``root/gifs`` (name stem -> path); KavanError when there are fewer than
    two or an id has two files. See ``scan_media``."""
    return {stem: found.path for stem, found in scan_media(root)[0].items()}


def scan_media(root: Path) -> tuple[dict[str, MediaFile], dict[str, str]]:
    """The media files of ``root/gifs`` (stem -> MediaFile) and its broken links (file name -> target).

    A link whose target leaves the folder is left out with a warning (the page shows only what the folder holds);
    a broken link is left out with a warning that names it as one."""
    folder = root / MEDIA_DIR
    if not folder.is_dir():
        raise KavanError(f"no {MEDIA_DIR}/ folder: put one file per GIF in {MEDIA_DIR}/<id>.gif", root)
    inside = folder.resolve()
    found: dict[str, MediaFile] = {}
    broken: dict[str, str] = {}
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        path = Path(entry.path)
        if path.suffix.lower() not in MEDIA_SUFFIXES:
            continue
        if entry.is_symlink() and not path.exists():
            broken[entry.name] = os.readlink(path)
            log.warning("%s: a broken symbolic link (to %s); it is not shown", path, broken[entry.name])
            continue
        if not entry.is_file():
            continue
        if path.resolve().parent != inside:
            log.warning("%s: it points outside %s and is not shown", path, folder)
            continue
        if path.stem in found:
            raise KavanError(f"id {path.stem!r} has two media files ({found[path.stem].path.name}, {path.name}); "
                             "keep one", folder)
        info = path.stat()
        found[path.stem] = MediaFile(path, (info.st_dev, info.st_ino))
    if len(found) < 2:
        raise KavanError(f"{MEDIA_DIR}/ holds {len(found)} media file(s); labelling needs at least two", root)
    return found, broken


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


@dataclass(frozen=True)
class OpenMedia:
    """A media file opened for serving: read it with ``chunks()``, which closes it."""

    fd: int
    size: int
    content_type: str

    def chunks(self) -> Iterator[bytes]:
        try:
            while chunk := os.read(self.fd, CHUNK_BYTES):
                yield chunk
        finally:
            os.close(self.fd)


class LabelApp:
    """What the endpoints do, apart from HTTP: the selector, the tickets and the vote log of one folder.

    ``prior``: a model's predictions (``kavan.labels.prior.Predictions``) that set the selector's starting ratings,
    so that its first questions already avoid pairs the model calls easy; the votes file is not affected."""

    def __init__(self, root: str | os.PathLike[str], settings: LabelSettings = LabelSettings(),
                 prior: Predictions | None = None):
        self.root = Path(root)
        self.settings = settings
        if not self.root.is_dir():
            raise KavanError("dataset folder not found", self.root)
        found, self._broken = scan_media(self.root)
        self.media = {stem: item.path for stem, item in found.items()}
        self._served = {item.path.name: item for item in found.values()}
        ids = sorted(self.media)
        self.prior = prior
        intensities = None if prior is None else prior.intensities(ids, settings.emotions)
        self.selector = PairSelector(ids, list(settings.emotions), settings.pairing, settings.seed,
                                     prior=intensities, prior_sigma=settings.prior_sigma,
                                     batch=settings.pairing == "asap")
        n_questions = len(ids) * (len(ids) - 1) // 2 * len(settings.emotions)
        self.max_held = max(1, n_questions // 2)
        self.votes = VoteLog(self.root / VOTES_FILE)
        self._lock = threading.Lock()
        self._open: OrderedDict[str, Handout] = OrderedDict()
        self._answered: OrderedDict[str, tuple[Vote, tuple[str, str, str]]] = OrderedDict()
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
                "dataset": self.root.name, "annotator": self.settings.annotator}

    def annotator(self, value: Any) -> str:
        """The annotator name a request gives (the fixed one when the server has it), or Refused (400)."""
        name = clean_name(value)
        if name is None:
            raise Refused(HTTPStatus.BAD_REQUEST, f"annotator must be a name of 1-{MAX_NAME_CHARS} characters "
                                                  "without control characters")
        if self.settings.annotator is not None and name != self.settings.annotator:
            raise Refused(HTTPStatus.BAD_REQUEST, f"this server records the votes of {self.settings.annotator!r} "
                                                  "only")
        return name

    # -- questions --------------------------------------------------------------------------------------

    def _held(self, now: float) -> list[Handout]:
        return [h for h in self._open.values() if h.expires > now]

    def _make_room(self, annotator: str, now: float) -> None:
        """Before a new ticket for ``annotator``: let go of their oldest open tickets past max_holds - 1, of the
        hold renewed longest ago when max_held are held, and of the oldest ticket past TICKETS_KEPT."""
        mine = [t for t, h in self._open.items() if h.annotator == annotator]
        for ticket in mine[:max(0, len(mine) - (self.settings.max_holds - 1))]:
            del self._open[ticket]
        held = self._held(now)
        if len(held) >= self.max_held:
            for handout in sorted(held, key=lambda h: h.expires)[:len(held) - self.max_held + 1]:
                handout.expires = now  # no longer reserved; its ticket still counts
        while len(self._open) >= TICKETS_KEPT:
            self._open.popitem(last=False)

    def _retry_after(self, now: float) -> int:
        """Seconds until the first held question is free again (at least 1)."""
        held = self._held(now)
        return max(1, math.ceil(min((h.expires for h in held), default=now + 1) - now))

    def _hand_out(self, pair: tuple[str, str, str], annotator: str, now: float) -> dict[str, Any]:
        handout = Handout(secrets.token_urlsafe(18), pair, annotator, now + self.settings.hold_s)
        self._open[handout.ticket] = handout
        return self._question(handout)

    def _question(self, handout: Handout) -> dict[str, Any]:
        gif_a, gif_b, emotion = handout.pair
        return {"ticket": handout.ticket, "gif_a": gif_a, "gif_b": gif_b, "emotion": emotion,
                "media_a": "/media/" + quote(self.media[gif_a].name),
                "media_b": "/media/" + quote(self.media[gif_b].name)}

    def _free_question(self, annotator: str, now: float) -> dict[str, Any]:
        """A new question no one holds, handed to ``annotator``; Refused (503) when none is free."""
        self._make_room(annotator, now)
        busy = [h.pair for h in self._held(now)]
        try:
            pair = self.selector.next(busy)
        except KavanError as err:
            retry = self._retry_after(now)
            raise Refused(HTTPStatus.SERVICE_UNAVAILABLE, f"{err}; every question is held by an annotator, try "
                                                          f"again in {retry} s", retry) from None
        return self._hand_out(pair, annotator, now)

    def next_question(self, annotator: str, ticket: str | None = None) -> dict[str, Any]:
        """The question ``ticket`` still holds for this annotator (its hold renewed), else a new one no one else
        holds."""
        with self._lock:
            now = time.monotonic()
            held = self._open.get(ticket or "")
            if held is not None and held.annotator == annotator:
                held.expires = now + self.settings.hold_s
                return {**self._question(held), "status": self.status(annotator)}
            return {**self._free_question(annotator, now), "status": self.status(annotator)}

    # -- answers ----------------------------------------------------------------------------------------

    def _checked_vote(self, body: dict[str, Any], annotator: str) -> tuple[Vote, str]:
        """The vote a /api/vote body describes and its ticket, or Refused (400) naming the bad field."""
        fields = {}
        for name in ("gif_a", "gif_b", "emotion", "winner", "ticket"):
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
        vote = Vote(fields["gif_a"], fields["gif_b"], fields["emotion"], fields["winner"], annotator, utc_now())
        return vote, fields["ticket"]

    def vote(self, body: dict[str, Any], annotator: str) -> dict[str, Any]:
        """Record ``annotator``'s vote: returns only after it is on disk, then updates the selector and frees its
        question.

        The ticket must be one this server handed to this annotator for this question and not yet answered: an
        answered one is refused 409 (a vote sent twice counts once), an unknown one 409 (invented, or from before
        a restart: the page asks for a new question), another annotator's 403.
        """
        vote, ticket = self._checked_vote(body, annotator)
        with self._lock:
            if ticket in self._answered:
                raise Refused(HTTPStatus.CONFLICT, "this question was already answered; the vote counts once")
            handout = self._open.get(ticket)
            if handout is None:
                raise Refused(HTTPStatus.CONFLICT, "this question is not open on this server (it was never handed "
                                                   "out here, the server restarted, or it was let go); ask for the "
                                                   "next one")
            if handout.annotator != annotator:
                raise Refused(HTTPStatus.FORBIDDEN, "this question was handed to another annotator")
            if handout.pair != (vote.gif_a, vote.gif_b, vote.emotion):
                raise Refused(HTTPStatus.CONFLICT, "the ticket belongs to another question")
            try:
                self.votes.append(vote)
            except KavanError as err:
                log.error("%s", err)
                raise Refused(HTTPStatus.SERVICE_UNAVAILABLE, f"the vote was not recorded: {err.reason}") from None
            self.selector.observe(vote.gif_a, vote.gif_b, vote.emotion, vote.winner)
            del self._open[ticket]
            self._answered[ticket] = (vote, handout.pair)
            while len(self._answered) > TICKETS_KEPT:
                self._answered.popitem(last=False)
            return {"status": self.status(annotator)}

    def undo(self, body: dict[str, Any], annotator: str) -> dict[str, Any]:
        """Take back the vote answered with ``body["ticket"]`` (only this annotator's, only one this page cast:
        only it knows the ticket), replay the file into a reset selector, and ask that question again (unless
        someone else holds it now); the question the page shows (``body["current"]``) is let go."""
        ticket, current = body.get("ticket"), body.get("current")
        if not isinstance(ticket, str) or not ticket:
            raise Refused(HTTPStatus.BAD_REQUEST, "ticket (of the vote to undo) is missing or not a string")
        with self._lock:
            answered = self._answered.get(ticket)
            if answered is None:
                raise Refused(HTTPStatus.CONFLICT, "no vote of this page with that ticket can be undone (it was "
                                                   "undone already, or cast before the server restarted)")
            vote, pair = answered
            if vote.annotator != annotator:
                raise Refused(HTTPStatus.FORBIDDEN, "that vote is another annotator's")
            try:
                removed = self.votes.remove(vote)
            except KavanError as err:
                log.error("%s", err)
                raise Refused(HTTPStatus.SERVICE_UNAVAILABLE, f"nothing was undone: {err.reason}") from None
            del self._answered[ticket]
            if not removed:
                raise Refused(HTTPStatus.CONFLICT, "that vote is no longer in the votes file")
            self.selector.reset()
            self._replay()
            shown = self._open.get(current) if isinstance(current, str) else None
            if shown is not None and shown.annotator == annotator:
                del self._open[current]
            now = time.monotonic()
            if _unordered(pair) in {_unordered(h.pair) for h in self._held(now)}:
                question = self._free_question(annotator, now)
            else:
                self._make_room(annotator, now)
                question = self._hand_out(pair, annotator, now)
            return {"undone": vote.cells(), "next": question, "status": self.status(annotator)}

    # -- media ------------------------------------------------------------------------------------------

    def open_media(self, name: str) -> OpenMedia:
        """A media file of the folder by its exact name, opened, checked to be the file found at start, or
        Refused (404/403)."""
        if not name or "/" in name or "\\" in name or "\0" in name or name.startswith("."):
            raise Refused(HTTPStatus.NOT_FOUND, f"{name!r}: not a media file of this folder")
        found = self._served.get(name)
        if found is None:
            if name in self._broken:
                raise Refused(HTTPStatus.NOT_FOUND, f"{name!r} is a broken symbolic link (to {self._broken[name]})")
            raise Refused(HTTPStatus.NOT_FOUND, f"{name!r}: not a media file of this folder")
        try:
            fd = os.open(found.path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
        except OSError as err:
            if found.path.is_symlink() and not found.path.exists():
                raise Refused(HTTPStatus.NOT_FOUND, f"{name!r} is now a broken symbolic link (to "
                                                    f"{os.readlink(found.path)})") from None
            raise Refused(HTTPStatus.NOT_FOUND, f"{name!r}: cannot be read ({err.strerror})") from None
        info = os.fstat(fd)
        if (info.st_dev, info.st_ino) != found.identity or not stat.S_ISREG(info.st_mode):
            os.close(fd)
            raise Refused(HTTPStatus.FORBIDDEN, f"{name!r} is no longer the file this server found at start (it was "
                                                "replaced, or now points elsewhere); restart kavan label to show it")
        return OpenMedia(fd, info.st_size, MEDIA_TYPES[found.path.suffix.lower()])
