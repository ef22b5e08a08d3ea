"""`kavan label` over HTTP: questions, votes on disk before their answer, undo, tokens, Host and Origin checks, media
only from the folder's gifs/, 4xx JSON for bad requests, several annotators, and a restart that continues."""

from __future__ import annotations

import csv
import http.client
import json
import threading
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pytest
from PIL import Image

from kavan.cli import main
from kavan.core.errors import KavanError
from kavan.labels.vote_log import VOTE_LOG_COLUMNS
from kavan.serve.label_app import LabelSettings, parse_emotions
from kavan.serve.label_web import make_label_server

N_GIFS = 6


def make_folder(root: Path, n: int = N_GIFS) -> Path:
    """A dataset folder with ``n`` small two-frame GIFs and nothing else (what a folder looks like before labels)."""
    (root / "gifs").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for k in range(n):
        frames = [Image.fromarray(rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)) for _ in range(2)]
        frames[0].save(root / "gifs" / f"g{k}.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return root


@pytest.fixture
def folder(tmp_path) -> Path:
    return make_folder(tmp_path / "data")


class Running:
    """A labelling server serving in a thread, and a small client for it."""

    def __init__(self, root: Path, prior=None, **settings):
        self.server = make_label_server(root, LabelSettings(port=0, **settings), prior)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)

    def raw(self, method: str, route: str, body: bytes | None = None, headers: dict | None = None):
        host, port = self.server.server_address[:2]
        connection = http.client.HTTPConnection(host, port, timeout=30)
        try:
            connection.request(method, route, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, response.headers, response.read()
        finally:
            connection.close()

    def json(self, method: str, route: str, payload=None, headers: dict | None = None):
        body = None if payload is None else json.dumps(payload).encode()
        status, _, blob = self.raw(method, route, body, headers)
        return status, json.loads(blob)

    def next(self, annotator: str = "ann", **headers):
        status, question = self.json("GET", f"/api/next?annotator={quote(annotator)}", headers=headers)
        assert status == 200, question
        return question

    def vote(self, question: dict, winner: str = "a", annotator: str = "ann", **headers):
        fields = {k: question[k] for k in ("gif_a", "gif_b", "emotion", "ticket")}
        return self.json("POST", "/api/vote", {**fields, "winner": winner, "annotator": annotator}, headers)


@pytest.fixture
def running(folder):
    server = Running(folder)
    yield server
    server.stop()


def rows(root: Path) -> list[dict]:
    with open(root / "votes.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def test_a_vote_is_on_disk_before_its_answer(running, folder, monkeypatch):
    question = running.next()
    assert {question["gif_a"], question["gif_b"]} <= {f"g{k}" for k in range(N_GIFS)}
    assert question["media_a"] == f"/media/{question['gif_a']}.gif" and question["status"]["votes"] == 0
    log = running.server.app.votes
    appended = []
    real_append = log.append

    def append(vote):
        real_append(vote)
        appended.append(rows(folder))  # the file as it is when append returns

    monkeypatch.setattr(log, "append", append)
    status, answer = running.vote(question, "b")
    assert status == 200 and len(appended) == 1  # the answer came after append had returned
    assert list(appended[0][0]) == list(VOTE_LOG_COLUMNS)
    row = appended[0][0]
    assert (row["gif_a"], row["gif_b"], row["emotion"], row["winner"], row["annotator"]) == \
        (question["gif_a"], question["gif_b"], question["emotion"], "b", "ann")
    assert row["timestamp"].endswith("Z")
    assert answer["status"]["votes"] == 1 and answer["status"]["counted"] == 1
    assert answer["status"]["uncertainty"] < 1.0
    status, again = running.vote(question, "a")  # the same ticket again (a double click): counted once
    assert status == 409 and "already answered" in again["error"] and len(rows(folder)) == 1


def test_page_static_files_and_status(running):
    status, headers, page = running.raw("GET", "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html") and b"/static/label.js" in page
    for name in ("label.js", "label.css"):
        assert running.raw("GET", f"/static/{name}")[0] == 200
    for route in ("/static/app.py", "/static/../label_app.py", "/static/index.html", "/nothing"):
        assert running.raw("GET", route)[0] == 404, route
    status, info = running.json("GET", "/api/status")
    assert status == 200 and info["votes"] == 0 and info["uncertainty"] == 1.0 and len(info["emotions"]) == 17


def test_media_only_from_the_folder(folder, tmp_path):
    outside = tmp_path / "secret.gif"
    outside.write_bytes((folder / "gifs" / "g0.gif").read_bytes())
    (folder / "gifs" / "link.gif").symlink_to(outside)  # points out of the folder before the start
    (folder / "gifs" / "notes.txt").write_text("not media")
    (folder / "secret.txt").write_text("the folder's other files are not served")
    server = Running(folder)
    try:
        status, headers, blob = server.raw("GET", "/media/g0.gif")
        assert status == 200 and headers["Content-Type"] == "image/gif"
        assert blob == (folder / "gifs" / "g0.gif").read_bytes()
        for route in ("/media/../votes.csv", "/media/%2e%2e/votes.csv", "/media/%2e%2e%2fvotes.csv",
                      "/media/..%2fsecret.txt", "/media//etc/passwd", "/media/%2fetc%2fpasswd",
                      f"/media/{quote(str(outside))}", "/media/link.gif", "/media/notes.txt", "/media/",
                      "/media/.", "/media/g0.gif%00.txt", "/media/G0.GIF", "/media/%5c..%5cvotes.csv"):
            status, _, blob = server.raw("GET", route)
            assert status in (403, 404), route
            assert "error" in json.loads(blob), route
        (folder / "gifs" / "g1.gif").unlink()
        (folder / "gifs" / "g1.gif").symlink_to(outside)  # swapped for a link out while the server runs
        assert server.raw("GET", "/media/g1.gif")[0] == 403
        assert "link" not in server.server.app.media
    finally:
        server.stop()


def test_a_token_is_needed_when_set_and_off_loopback(folder):
    with pytest.raises(KavanError, match="give a --token"):
        LabelSettings(host="0.0.0.0")
    with pytest.raises(KavanError, match="at least 8"):
        LabelSettings(token="short")
    server = Running(folder, token="s3cret-token")
    try:
        assert server.server.page_url.endswith("/?token=s3cret-token")
        for route in ("/", "/api/status", "/media/g0.gif", "/static/label.js"):
            status, _, blob = server.raw("GET", route)
            assert status == 403 and "token" in json.loads(blob)["error"], route
        assert server.raw("GET", "/?token=wrong-token")[0] == 403
        status, headers, _ = server.raw("GET", "/?token=s3cret-token")
        assert status == 200
        cookie = headers["Set-Cookie"].split(";")[0]
        assert "HttpOnly" in headers["Set-Cookie"] and "SameSite=Strict" in headers["Set-Cookie"]
        assert server.raw("GET", "/static/label.js", headers={"Cookie": cookie})[0] == 200
        assert server.raw("GET", "/media/g0.gif?token=s3cret-token")[0] == 200
        question = server.next(**{"X-Kavan-Token": "s3cret-token"})
        assert server.vote(question, **{"Cookie": cookie})[0] == 403  # a cookie alone does not make a POST
        assert server.vote(question, **{"X-Kavan-Token": "s3cret-token"})[0] == 200
    finally:
        server.stop()


def test_host_and_origin_checks(running):
    host, port = running.server.server_address[:2]
    status, answer = running.json("GET", "/api/status", headers={"Host": f"evil.example:{port}"})
    assert status == 421 and "kavan label with --allow-host" in answer["error"]
    question = running.next()
    status, answer = running.vote(question, Origin="http://evil.example")
    assert status == 403 and "cross-origin request refused" in answer["error"]
    assert running.vote(question, Origin=f"http://{host}:{port}")[0] == 200


def test_bad_requests_get_4xx_json(running, folder):
    question = running.next()
    good = {k: question[k] for k in ("gif_a", "gif_b", "emotion", "ticket")} | {"winner": "a", "annotator": "ann"}
    cases = [
        (b"not json", 400, "not JSON"), (b"[1, 2]", 400, "JSON object"), (b"\xff\xfe", 400, "not JSON"),
        (json.dumps({**good, "gif_a": "nope"}).encode(), 400, "no GIF with id 'nope'"),
        (json.dumps({**good, "gif_b": good["gif_a"]}).encode(), 400, "same GIF"),
        (json.dumps({**good, "emotion": "joy"}).encode(), 400, "'joy' is not one of"),
        (json.dumps({**good, "winner": "left"}).encode(), 400, "winner 'left'"),
        (json.dumps({**good, "annotator": "a\nb"}).encode(), 400, "annotator"),
        (json.dumps({**good, "ticket": 3}).encode(), 400, "ticket is missing"),
    ]
    for body, status, message in cases:
        got, _, blob = running.raw("POST", "/api/vote", body)
        assert got == status and message in json.loads(blob)["error"], body
    assert running.json("GET", "/api/vote")[0] == 405
    assert running.json("POST", "/api/next", {})[0] == 405
    assert running.json("PUT", "/api/vote", {})[0] == 405
    assert running.raw("HEAD", "/")[0] == 405
    status, headers, blob = running.raw("FROB", "/")
    assert status == 405 and headers["Content-Type"] == "application/json" and json.loads(blob)["error"]
    assert running.json("POST", "/api/other", {})[0] == 404
    assert running.raw("POST", "/api/vote", b"x" * 20_000)[0] == 413
    host, port = running.server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=30)
    connection.putrequest("POST", "/api/vote")
    connection.endheaders()
    assert connection.getresponse().status == 411
    connection.close()
    assert running.json("GET", "/api/next")[0] == 400  # no annotator
    assert running.json("POST", "/api/undo", {"annotator": "nobody"})[0] == 400  # no ticket: which vote?
    assert running.json("POST", "/api/undo", {"annotator": "nobody", "ticket": "made-up"})[0] == 409
    assert not rows(folder) and running.vote(question)[0] == 200  # none of it was a vote; the server goes on


def test_two_annotators_get_different_questions_and_a_tab_keeps_its_own(running):
    first, second = running.next("ann"), running.next("bo")
    assert {first["gif_a"], first["gif_b"], first["emotion"]} != {second["gif_a"], second["gif_b"], second["emotion"]}
    status, again = running.json("GET", f"/api/next?annotator=ann&ticket={first['ticket']}")
    assert status == 200 and again["ticket"] == first["ticket"]  # a reloaded tab gets its question back
    status, other = running.json("GET", f"/api/next?annotator=bo&ticket={first['ticket']}")
    assert other["ticket"] != first["ticket"]  # another annotator's ticket is not handed over


def test_undo_asks_the_same_question_again(running, folder):
    first = running.next()
    assert running.vote(first, "a")[0] == 200
    second = running.next()
    assert running.vote(second, "neither")[0] == 200
    status, answer = running.json("POST", "/api/undo", {"annotator": "ann", "ticket": second["ticket"]})
    assert status == 200 and answer["undone"]["winner"] == "neither"
    assert (answer["next"]["gif_a"], answer["next"]["gif_b"]) == (second["gif_a"], second["gif_b"])
    assert answer["status"]["votes"] == 1 and answer["status"]["counted"] == 1
    assert [r["winner"] for r in rows(folder)] == ["a"]


def test_a_restart_replays_the_votes_and_a_second_server_is_refused(folder):
    server = Running(folder, emotions=parse_emotions("anger, fear"))
    try:
        for winner in ("a", "b", "neither"):
            question = server.next()
            assert question["emotion"] in ("anger", "fear")
            assert server.vote(question, winner)[0] == 200
        uncertainty = server.json("GET", "/api/status")[1]["uncertainty"]
        with pytest.raises(KavanError, match="another process is writing this votes file"):
            make_label_server(folder, LabelSettings(port=0))
    finally:
        server.stop()
    server = Running(folder, emotions=("anger", "fear"))
    try:
        status = server.json("GET", "/api/status")[1]
        assert status["votes"] == 3 and status["counted"] == 3 and status["uncertainty"] == uncertainty
        assert server.vote(server.next(), "a")[1]["status"]["counted"] == 4
    finally:
        server.stop()


def test_emotion_names_are_checked():
    assert parse_emotions("fear,Anger") == ("anger", "fear")
    with pytest.raises(KavanError, match="did you mean 'anger'"):
        parse_emotions("angr")


def test_kavan_scores_and_data_check_read_the_votes(running, folder, capsys):
    for k in range(8):
        assert running.vote(running.next(), "ab"[k % 2])[0] == 200
    running.stop()
    assert main(["scores", str(folder / "votes.csv"), "--out", str(folder / "scores.csv")]) == 0
    assert main(["data", "check", str(folder), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and report["counts"]["votes"] == 8
    assert not [w for w in report["warnings"] if "votes.csv" in w.get("path", "")]


def test_the_command_refuses_bad_options(folder, capsys):
    assert main(["label", str(folder), "--host", "0.0.0.0", "--port", "0"]) == 1
    assert "give a --token" in capsys.readouterr().err
    assert main(["label", str(folder), "--emotions", "joy", "--port", "0"]) == 1
    assert "'joy' is not a GIFGIF emotion" in capsys.readouterr().err
    assert main(["label", str(folder.parent / "nowhere"), "--port", "0"]) == 1
    assert "dataset folder not found" in capsys.readouterr().err


def test_asap_gives_annotators_working_at_once_different_pairs_of_one_batch(folder):
    """ASAP's batch is a spanning tree of the 6 GIFs (5 pairs): four annotators at once get four of its pairs, all
    different and without a cycle among them; votes and undo work as with the other strategies."""
    server = Running(folder, pairing="asap", emotions=("anger",))
    try:
        questions = [server.next(f"ann{k}") for k in range(4)]
        pairs = {tuple(sorted((q["gif_a"], q["gif_b"]))) for q in questions}
        assert len(pairs) == 4 and questions[0]["status"]["pairing"] == "asap"
        parent = {f"g{k}": f"g{k}" for k in range(N_GIFS)}

        def root(x: str) -> str:
            while parent[x] != x:
                x = parent[x]
            return x

        for a, b in pairs:
            assert root(a) != root(b)  # a cycle would mean the pairs are not from one tree
            parent[root(a)] = root(b)
        assert server.vote(questions[0], "a", "ann0")[0] == 200
        assert server.vote(questions[1], "neither", "ann1")[0] == 200
        status, answer = server.json("POST", "/api/undo", {"annotator": "ann1", "ticket": questions[1]["ticket"]})
        assert status == 200 and answer["status"]["counted"] == 1
    finally:
        server.stop()


def test_a_model_prior_sets_where_the_selector_starts(folder, tmp_path):
    from kavan.core.emotions import EMOTIONS
    from kavan.labels.prior import read_predictions

    lines = [json.dumps({"path": f"clips/g{k}.gif", "emotions": {e: k / 10 for e in EMOTIONS}}) for k in range(4)]
    (tmp_path / "p.jsonl").write_text("\n".join(lines) + "\n")
    server = Running(folder, prior=read_predictions(tmp_path / "p.jsonl"), emotions=("fear",), prior_sigma=4.0)
    try:
        assert server.json("GET", "/api/status")[1]["prior"] is True
        selector = server.server.app.selector
        assert selector.mu[0].tolist() == [0.0, 5.0, 10.0, 15.0, 25.0, 25.0]  # g4, g5: no prediction
        assert selector.sigma[0, :4].tolist() == [4.0] * 4
        assert server.vote(server.next(), "a")[0] == 200
    finally:
        server.stop()
    with pytest.raises(KavanError, match="prior sigma"):
        LabelSettings(prior_sigma=0.0)


def test_label_prior_options_are_checked(folder, capsys):
    assert main(["label", str(folder), "--prior-sigma", "3", "--port", "0"]) == 1
    assert "--prior-sigma needs --prior" in capsys.readouterr().err
    assert main(["label", str(folder), "--prior", str(folder / "none.jsonl"), "--port", "0"]) == 1
    assert "cannot read --prior" in capsys.readouterr().err
