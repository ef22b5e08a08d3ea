"""Who may use the labelling page: tokens, per-annotator tokens, and a throttle on wrong guesses.

A token is a secret of at least ``MIN_TOKEN_CHARS`` characters with no spaces or control characters (a token of
eight spaces is none). ``kavan label --token T`` gives every client one shared token; ``--annotators FILE`` gives
each annotator their own, so that the server knows who sends a request and one annotator cannot vote, undo or
hold questions as another. The file is a CSV with the header ``annotator,token``::

    annotator,token
    alice,8GfY0v2vQe1c3x5Q
    bob,Zt3mW9kq2LrP0sJd

``FailedChecks`` counts the requests of each client address that carried no valid token: past ``MAX_FAILURES``
in ``WINDOW_S`` seconds that address is answered 429 (with a Retry-After that says when it may try again) before
its token is even looked at, so guessing runs at a few tries a minute, not a thousand a second.

Standard library only: importing it costs no torch.
"""

from __future__ import annotations

import csv
import hmac
import math
import os
import secrets
import threading
import time
import unicodedata
from collections import OrderedDict, deque
from pathlib import Path
from typing import Any

from kavan.core.errors import KavanError

MAX_NAME_CHARS = 64
MIN_TOKEN_CHARS = 8
MAX_FAILURES = 10
WINDOW_S = 60.0
MAX_ADDRESSES = 10_000
"""Client addresses whose failures are remembered; the oldest are forgotten past it (memory stays bounded)."""


def clean_name(value: Any) -> str | None:
    """An annotator name as stored: stripped, 1-64 characters, no control characters; None when it is not one."""
    if not isinstance(value, str):
        return None
    name = value.strip()
    if not 0 < len(name) <= MAX_NAME_CHARS or any(unicodedata.category(ch).startswith("C") for ch in name):
        return None
    return name


def token_problem(token: str) -> str | None:
    """Why ``token`` cannot be a token, or None."""
    if len(token) < MIN_TOKEN_CHARS:
        return f"a token must be at least {MIN_TOKEN_CHARS} characters long"
    if any(ch.isspace() or not ch.isprintable() for ch in token):
        return "a token may not hold spaces or control characters"
    return None


def suggestion() -> str:
    """A fresh random token, for the messages that ask for one."""
    return secrets.token_urlsafe(16)


def read_annotators(path: str | os.PathLike[str]) -> tuple[tuple[str, str], ...]:
    """(name, token) of each annotator in a ``annotator,token`` CSV; KavanError naming the file, line and reason.

    Names are checked by ``clean_name``'s rule (1-64 characters, no control characters);
    names and tokens must be unique."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
    except FileNotFoundError:
        raise KavanError("annotators file not found", path) from None
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise KavanError(f"cannot read the annotators file: {err}", path) from None
    header = [cell.strip().lower() for cell in rows[0]] if rows else []
    if header[:2] != ["annotator", "token"]:
        raise KavanError(f"the first line must be the header annotator,token (then one line per annotator, e.g. "
                         f"alice,{suggestion()})", path)
    found: list[tuple[str, str]] = []
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < 2:
            raise KavanError(f"line {line}: expected annotator,token", path)
        name, token = clean_name(row[0]), row[1].strip()
        if name is None:
            raise KavanError(f"line {line}: the annotator name must be 1-{MAX_NAME_CHARS} characters without "
                             "control characters", path)
        problem = token_problem(token)
        if problem is not None:
            raise KavanError(f"line {line}: {name}'s token: {problem} (for example {suggestion()})", path)
        if any(name == other for other, _ in found):
            raise KavanError(f"line {line}: {name!r} is listed twice", path)
        if any(token == other for _, other in found):
            raise KavanError(f"line {line}: {name}'s token is another annotator's too; give each their own", path)
        found.append((name, token))
    if not found:
        raise KavanError("the annotators file lists no annotator", path)
    return tuple(found)


def matching(given: str | None, tokens: dict[str, str]) -> str | None:
    """The annotator (or "" for the shared token) whose token ``given`` is, compared in constant time; None when
    it is nobody's. ``tokens``: token -> annotator name."""
    if not given:
        return None
    found = None
    for token, name in tokens.items():
        if hmac.compare_digest(given.encode("utf-8", "surrogatepass"), token.encode("utf-8")):
            found = name
    return found


class FailedChecks:
    """Requests without a valid token, per client address, over the last ``window_s`` seconds."""

    def __init__(self, max_failures: int = MAX_FAILURES, window_s: float = WINDOW_S):
        self.max_failures = max_failures
        self.window_s = window_s
        self._times: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, address: str) -> int | None:
        """Seconds until ``address`` may try again, or None when it may now."""
        now = time.monotonic()
        with self._lock:
            times = self._recent(address, now)
            if times is None or len(times) < self.max_failures:
                return None
            return max(1, math.ceil(times[0] + self.window_s - now))

    def record(self, address: str) -> None:
        now = time.monotonic()
        with self._lock:
            times = self._recent(address, now)
            if times is None:
                times = self._times[address] = deque(maxlen=self.max_failures)
                while len(self._times) > MAX_ADDRESSES:
                    self._times.popitem(last=False)
            times.append(now)
            self._times.move_to_end(address)

    def _recent(self, address: str, now: float) -> deque[float] | None:
        times = self._times.get(address)
        if times is not None:
            while times and times[0] <= now - self.window_s:
                times.popleft()
        return times
