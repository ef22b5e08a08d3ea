"""`kavan serve` over HTTP: the page and its files, /api/info, uploads accepted and refused, and it keeps serving."""

from __future__ import annotations

import base64
import http.client
import io
import json
import signal
import subprocess
import sys
import urllib.request
from urllib.parse import quote

import numpy as np
import pytest
from PIL import Image

import kavan
from helpers.web_server import running
from kavan.cli import main
from kavan.core.emotions import EMOTIONS, QUADRANTS
from kavan.core.errors import KavanError
from kavan.serve import ServeSettings, make_server

LIMIT = 1_000_000


@pytest.fixture(scope="module")
def server(tiny_model):
    server = make_server(kavan.load(tiny_model, "cpu"), ServeSettings(port=0, max_upload_bytes=LIMIT))
    with running(server):
        yield server


def request(server, method: str, route: str, body: bytes | None = None, headers: dict | None = None):
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=60)
    try:
        connection.request(method, route, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type"), response.read()
    finally:
        connection.close()


def upload(server, blob: bytes, name: str):
    status, _, body = request(server, "POST", "/api/predict", blob,
                              {"Content-Type": "application/octet-stream", "X-Filename": quote(name)})
    return status, json.loads(body)


def test_page_and_its_files_are_served(server):
    status, kind, body = request(server, "GET", "/")
    assert status == 200 and kind.startswith("text/html")
    page = body.decode()
    assert 'id="file"' in page and 'type="file"' in page and "/static/app.js" in page
    for name, kind_start in (("app.js", "text/javascript"), ("style.css", "text/css")):
        status, kind, body = request(server, "GET", f"/static/{name}")
        assert status == 200 and kind.startswith(kind_start) and len(body) > 500
    for route in ("/static/../app.py", "/static/nothing.js", "/etc/passwd", "/static/app.py"):
        assert request(server, "GET", route)[0] == 404, route


def test_info_has_what_the_page_needs(server, tiny_model):
    status, _, body = request(server, "GET", "/api/info")
    info = json.loads(body)
    assert status == 200
    assert info["emotions"] == list(EMOTIONS) and info["quadrants"] == list(QUADRANTS)
    assert set(info["emotion_quadrant"]) == set(EMOTIONS)
    assert info["max_upload_bytes"] == LIMIT and info["accepted"] == "GIF, MP4, WebM, PNG or JPEG"
    assert info["model"]["checkpoint"] == str(tiny_model.resolve())
    assert "SynthGIF" in info["notice"]


def test_upload_predicts_like_the_api(server, tiny_model, real_gifs):
    blob = (real_gifs / "cool.gif").read_bytes()
    status, answer = upload(server, blob, "my cool.gif")
    assert status == 200
    expected = kavan.load(tiny_model, "cpu").predict(real_gifs / "cool.gif").to_json()
    expected["path"] = "my cool.gif"
    assert answer["prediction"] == expected
    assert answer["overlay"].startswith("data:image/gif;base64,")
    with Image.open(io.BytesIO(base64.b64decode(answer["overlay"].split(",", 1)[1]))) as overlay:
        assert overlay.is_animated and overlay.n_frames == 4 and overlay.size == (360, 390)


def test_png_and_jpeg_are_accepted_by_content_whatever_the_name(server):
    image = Image.fromarray(np.full((40, 60, 3), 120, np.uint8))
    for fmt in ("PNG", "JPEG"):
        buffer = io.BytesIO()
        image.save(buffer, format=fmt)
        status, answer = upload(server, buffer.getvalue(), "picture.gif")  # the name is not trusted
        assert status == 200 and answer["prediction"]["frames_used"] == [0, 0, 0, 0], fmt


def test_refused_uploads_get_clear_messages_and_the_server_goes_on(server, real_gifs):
    status, answer = upload(server, b"just some text, renamed\n", "notes.gif")
    assert status == 415 and answer["error"].startswith("notes.gif: unrecognised content")

    buffer = io.BytesIO()
    Image.new("RGB", (20, 20)).save(buffer, format="WEBP")
    status, answer = upload(server, buffer.getvalue(), "image.webp")
    assert status == 415
    assert answer["error"] == "image.webp: WebP files are not accepted; upload a GIF, MP4, WebM, PNG or JPEG file"

    damaged = (real_gifs / "cool.gif").read_bytes()[:2000]
    status, answer = upload(server, damaged, "cut.gif")
    assert status == 415 and answer["error"].startswith("cut.gif: damaged GIF")

    status, answer = upload(server, b"", "empty.gif")
    assert status == 400 and answer["error"] == "empty.gif: empty file"

    status, answer = upload(server, b"GIF89a" + bytes(LIMIT), "big.gif")
    assert status == 413 and answer["error"] == "big.gif: 1.0 MB is over the upload limit of 1.0 MB"

    status, answer = upload(server, (real_gifs / "rainbow-vomit.gif").read_bytes(), "after.gif")
    assert status == 200 and answer["prediction"]["path"] == "after.gif"


def test_oversize_is_refused_from_the_header_before_the_body_is_sent(server):
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=30)
    connection.putrequest("POST", "/api/predict")
    connection.putheader("Content-Length", str(100 * LIMIT))  # over DRAIN_BYTES: not even drained
    connection.putheader("X-Filename", "huge.gif")
    connection.endheaders()  # no body follows: the answer must come from the header alone
    response = connection.getresponse()
    assert response.status == 413 and response.getheader("Connection") == "close"
    assert json.loads(response.read())["error"] == "huge.gif: 100.0 MB is over the upload limit of 1.0 MB"
    connection.close()


def test_upload_without_length_or_to_a_wrong_route(server):
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=30)
    connection.putrequest("POST", "/api/predict")
    connection.endheaders()
    response = connection.getresponse()
    assert response.status == 411 and "Content-Length" in json.loads(response.read())["error"]
    connection.close()
    assert request(server, "POST", "/api/other", b"x")[0] == 404


def test_settings_are_checked(tiny_model):
    with pytest.raises(KavanError, match="upload limit"):
        ServeSettings(max_upload_bytes=0)
    with pytest.raises(KavanError, match="unknown upload formats"):
        ServeSettings(accepted=("gif", "bmp"))


@pytest.mark.subprocess
@pytest.mark.slow
def test_kavan_serve_command_serves_until_interrupted(tiny_model):
    # A test run started in the background (``cmd &`` in a non-interactive shell) inherits SIGINT ignored, and a
    # Python started with SIGINT ignored never raises KeyboardInterrupt: give the server the default disposition,
    # as a terminal would, so that the SIGINT below is the Ctrl-C it stands for.
    process = subprocess.Popen([sys.executable, "-m", "kavan", "serve", "--checkpoint", str(tiny_model), "--port", "0",
                                "--max-upload-mb", "2.5", "--device", "cpu"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        line = process.stdout.readline()
        assert line.startswith("kavan serve: open http://127.0.0.1:"), line + process.stderr.read()
        url = line.split()[3]
        with urllib.request.urlopen(url + "api/info", timeout=30) as response:
            assert json.loads(response.read())["max_upload_bytes"] == 2_500_000
    finally:
        process.send_signal(signal.SIGINT)
        # communicate() drains both pipes while waiting, so a server that logs on its way out cannot block on a
        # full pipe
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err


def test_kavan_serve_with_a_bad_checkpoint_is_one_clear_error(tmp_path, capsys):
    bad = tmp_path / "model.safetensors"
    bad.write_text("not a model")
    assert main(["serve", "--checkpoint", str(bad), "--port", "0"]) == 1
    assert capsys.readouterr().err.startswith(f"kavan serve: error: {bad}: not a safetensors file")
