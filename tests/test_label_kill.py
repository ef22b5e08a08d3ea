"""`kavan label` killed with SIGKILL between votes and in the middle of one: every acknowledged vote is on disk, no
line is torn, and a restart replays the file and goes on."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from kavan.core.issues import IssueLog
from kavan.labels.ratings import parse_votes
from kavan.labels.vote_log import VOTE_LOG_COLUMNS


class Labeller:
    """`kavan label DIR` in a second interpreter, and a client for its JSON endpoints."""

    def __init__(self, root: Path, preexec_fn=None):
        self.process = subprocess.Popen([sys.executable, "-m", "kavan", "label", str(root), "--port", "0",
                                         "--emotions", "anger,happiness"],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                        preexec_fn=preexec_fn)
        line = self.process.stdout.readline()
        assert line.startswith("kavan label: open http://127.0.0.1:"), line + self.process.stderr.read()
        self.url = line.split()[3].rstrip("/")

    def call(self, route: str, payload: dict | None = None) -> dict:
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(self.url + route, data=data, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def vote(self, winner: str) -> tuple[str, str, str, str]:
        """Ask a question and answer it; returns the vote once the server acknowledged it."""
        question = self.call("/api/next?annotator=ann")
        self.call("/api/vote", {**{k: question[k] for k in ("gif_a", "gif_b", "emotion", "ticket")},
                                "winner": winner, "annotator": "ann"})
        return question["gif_a"], question["gif_b"], question["emotion"], winner

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.communicate(timeout=60)


def on_disk(root: Path) -> list[tuple[str, str, str, str]]:
    """The votes in votes.csv; fails on a torn or malformed line."""
    text = (root / "votes.csv").read_text()
    assert text.endswith("\n") and text.splitlines()[0] == ",".join(VOTE_LOG_COLUMNS)
    lines = text.splitlines()[1:]
    assert all(len(line.split(",")) == len(VOTE_LOG_COLUMNS) for line in lines), lines
    issues = IssueLog()
    votes = parse_votes(root / "votes.csv", issues)
    assert not issues.errors and len(votes) == len(lines)
    return [tuple(line.split(",")[:4]) for line in lines]


def test_acknowledged_votes_survive_sigkill_and_a_restart_continues(synth16_copy):
    root = synth16_copy
    (root / "votes.csv").unlink()  # SynthGIF's simulated votes: start a labelling session from nothing
    acknowledged: list[tuple[str, str, str, str]] = []
    for round_ in range(3):
        labeller = Labeller(root)
        status = labeller.call("/api/status")
        assert status["votes"] == status["counted"] == len(on_disk(root)), round_
        for k in range(4):
            acknowledged.append(labeller.vote("ab"[k % 2] if k < 3 else "neither"))
        in_flight: list[tuple[str, str, str, str]] = []

        def last_vote():
            try:
                in_flight.append(labeller.vote("a"))
            except OSError:
                pass  # killed before it answered: the vote may or may not be on disk, but it was not acknowledged

        thread = threading.Thread(target=last_vote)
        thread.start()
        labeller.kill()  # while the last vote is on its way, or between votes
        thread.join(timeout=30)
        acknowledged += in_flight
        disk = on_disk(root)
        assert disk[:len(acknowledged)] == acknowledged, round_  # every acknowledged vote, in order
        assert len(disk) - len(acknowledged) in (0, 1)  # at most the vote in flight, whole
        acknowledged = disk
    labeller = Labeller(root)
    try:
        assert labeller.call("/api/status")["counted"] == len(acknowledged)
        labeller.vote("b")
        assert labeller.call("/api/status")["counted"] == len(acknowledged) + 1
    finally:
        labeller.process.send_signal(signal.SIGINT)
        labeller.process.communicate(timeout=60)
    assert len(on_disk(root)) == len(acknowledged) + 1


def test_sigint_stops_a_server_started_with_sigint_ignored(synth16_copy):
    """A job a script puts in the background starts with SIGINT ignored; `kavan label` still stops on it, and
    says so."""
    labeller = Labeller(synth16_copy, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    assert labeller.call("/api/status")["gifs"] == 16
    labeller.process.send_signal(signal.SIGINT)
    _, stderr = labeller.process.communicate(timeout=30)
    assert labeller.process.returncode == 0 and "stopped" in stderr


@pytest.mark.subprocess
def test_per_annotator_urls_are_printed_and_no_token_reaches_the_log(synth16_copy, tmp_path):
    """`kavan -v label --annotators FILE`: each annotator's address on stdout; the log, at debug level, names the
    requests' routes but never a token, right or wrong."""
    tokens = {"alice": "alice-secret-0001", "bob": "bob-secret-000002"}
    (tmp_path / "people.csv").write_text("annotator,token\n" + "".join(f"{n},{t}\n" for n, t in tokens.items()))
    process = subprocess.Popen([sys.executable, "-m", "kavan", "-v", "label", str(synth16_copy), "--port", "0",
                                "--annotators", str(tmp_path / "people.csv")],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().startswith("kavan label: votes go to ")
        urls = dict(process.stdout.readline().strip().split(": ", 1) for _ in tokens)
        assert {name: url.rsplit("=", 1)[1] for name, url in urls.items()} == tokens
        with urllib.request.urlopen(urls["bob"], timeout=30) as page:
            assert page.status == 200
        base = urls["bob"].split("?")[0]
        request = urllib.request.Request(base + "api/status", headers={"X-Kavan-Token": tokens["alice"]})
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert json.loads(answer.read())["annotator"] == "alice"
        try:
            urllib.request.urlopen(base + "api/status?token=wrong-guess-123", timeout=30)
        except urllib.error.HTTPError as err:
            assert err.code == 403
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    assert "/api/status" in stderr  # the debug log names the routes...
    assert not any(secret in stderr for secret in (*tokens.values(), "wrong-guess-123"))  # ...and no token
