"""`kavan serve` under abuse: decompression bombs, too many uploads at once, half-sent bodies, requests meant for
another site (DNS rebinding, cross-origin posts), and command-line arguments out of range."""

from __future__ import annotations

import base64
import http.client
import io
import json
import logging
import socket
import struct
import threading
import time
import tracemalloc
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import kavan
from helpers.web_server import running
from kavan.cli import main
from kavan.core.errors import KavanError
from kavan.media.decode import Limits
from kavan.predict import load as load_predictor
from kavan.predict.pictures import overlay_gif
from kavan.serve import ServeSettings, UploadRefused, make_server
from kavan.serve.app import SERVE_LIMITS, DemoApp, WorkGate


def frame_bomb(width: int, height: int, n_frames: int = 9000) -> bytes:
    """A GIF declaring a width x height canvas with n 1 x 1 frames: 135 KB for 9000 frames, whatever the canvas."""
    frame = b"," + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + bytes([2, 2, 0x44, 1, 0])
    return b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0) + bytes(6) + frame * n_frames + b";"


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


SMALL_PNG = png_bytes(Image.new("RGB", (24, 16), (90, 120, 150)))


@pytest.fixture(scope="module")
def predictor(tiny_model):
    return kavan.load(tiny_model, "cpu")


@contextmanager
def serving(predictor, **settings):
    """A demo server on a free loopback port, serving from a thread while the block runs."""
    with running(make_server(predictor, ServeSettings(port=0, **settings))) as server:
        yield server


@pytest.fixture(scope="module")
def server(predictor):
    with serving(predictor) as server:
        yield server


def post(server, body: bytes, name: str = "x.png", headers: dict | None = None, route: str = "/api/predict"):
    """(status, headers, JSON answer) of one upload."""
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=60)
    try:
        connection.request("POST", route, body=body, headers={"X-Filename": name, **(headers or {})})
        response = connection.getresponse()
        return response.status, response.headers, json.loads(response.read())
    finally:
        connection.close()


def get(server, route: str, host_header: str | None):
    """(status, JSON answer) of a GET with the given Host header (None: no Host header at all)."""
    status, blob = get_raw(server, route, host_header)
    return status, json.loads(blob)


def get_status(server, route: str, host_header: str | None) -> int:
    return get_raw(server, route, host_header)[0]


def get_raw(server, route: str, host_header: str | None) -> tuple[int, bytes]:
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=60)
    try:
        connection.putrequest("GET", route, skip_host=True)
        if host_header is not None:
            connection.putheader("Host", host_header)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def open_upload(server, length: int, first: bytes) -> socket.socket:
    """A raw connection that has sent an upload's headers (Content-Length: length) and the first bytes only."""
    host, port = server.server_address[:2]
    sock = socket.create_connection((host, port), timeout=30)
    sock.sendall(f"POST /api/predict HTTP/1.1\r\nHost: {host}:{port}\r\nX-Filename: slow.png\r\n"
                 f"Content-Length: {length}\r\n\r\n".encode() + first)
    return sock


def read_answer(sock: socket.socket) -> tuple[int, dict, bytes]:
    """Status, headers and body of the one answer on a raw connection (the server closes it after)."""
    response = http.client.HTTPResponse(sock)
    response.begin()
    return response.status, response.headers, response.read()


def wait_until(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the server"
        time.sleep(0.01)


# ----------------------------------------------------------------------------------------------------
# What one upload may cost


def test_frame_bomb_is_refused_from_its_header(server):
    status, _, answer = post(server, frame_bomb(4000, 4000), "bomb.gif")
    assert status == 422
    assert answer["error"] == ("bomb.gif: logical screen of 4000x4000 = 16000000 pixels is over the limit of "
                               "4194304 pixels (Limits.max_canvas_pixels)")


def test_frame_bomb_within_the_canvas_limit_is_refused_by_its_decoding_work(server):
    # 2000 x 2000 passes the canvas limit; reaching TSN's last frame (7875 of 9000 for T = 4) would composite 7876
    # frames of that canvas: refused before a pixel is decoded
    status, _, answer = post(server, frame_bomb(2000, 2000), "bomb.gif")
    assert status == 422
    assert answer["error"] == ("bomb.gif: decoding 7876 frames of 2000x2000 = 31504000000 composited pixels is over "
                               f"the limit of {SERVE_LIMITS.max_composited_pixels} pixels "
                               "(Limits.max_composited_pixels)")


def test_png_declaring_4096_squared_is_refused(server):
    blob = png_bytes(Image.new("1", (4096, 4096)))
    assert len(blob) < 3000
    status, _, answer = post(server, blob, "tiny.png")
    assert status == 422 and answer["error"].startswith("tiny.png: frame size 4096x4096")
    assert answer["error"].endswith("(Limits.max_canvas_pixels)")


def test_stills_count_against_the_decoding_budget_too(predictor):
    limits = Limits(max_canvas_pixels=4096 * 4096, max_composited_pixels=4096 * 4096 - 1)
    with serving(predictor, limits=limits) as server:
        status, _, answer = post(server, png_bytes(Image.new("1", (4096, 4096))), "tiny.png")
        assert status == 422
        assert answer["error"].startswith("tiny.png: decoding 1 frame of 4096x4096 = 16777216 composited pixels")
        assert post(server, SMALL_PNG)[0] == 200


def test_server_limits_never_loosen_the_predictors(predictor):
    strict = load_predictor(predictor.info.checkpoint, "cpu", limits=Limits(max_canvas_pixels=100))
    server = make_server(strict, ServeSettings(port=0))
    try:
        assert server.app.limits.max_canvas_pixels == 100
        assert server.app.limits.max_composited_pixels == SERVE_LIMITS.max_composited_pixels
        assert server.app.limits.max_file_bytes == ServeSettings().max_upload_bytes
    finally:
        server.server_close()


def test_a_large_upload_keeps_only_shrunken_frames(tmp_path, predictor):
    """The cause of 1.5 GB per bomb: T full-size frames and T full-size float64 attention maps were kept. Now each
    frame is shrunk as it is decoded, and the prediction and overlay stay those of Predictor.analyse."""
    app = DemoApp(predictor)
    path = tmp_path / "big.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (1100, 1500, 3), dtype=np.uint8)).save(path)
    clip = app.prepare(str(path), 1)
    assert clip.frames.shape == (4, 375, 512, 3) and clip.frames_used == [0, 0, 0, 0]
    expected = predictor.analyse(path)
    answer = app.predict_upload(path.read_bytes(), "big.png")
    truth = expected.prediction.to_json()
    truth["path"] = "big.png"
    assert answer["prediction"] == truth
    assert answer["overlay"].split(",", 1)[1] == base64.b64encode(overlay_gif(expected.attention, app.style)).decode()

    # numpy's allocations while decoding a 1000 x 1000 GIF of 4 full frames: the decoder's canvas and its
    # temporaries (4.3 canvases), where keeping the 4 frames took 7.5 (and their float64 maps 8 more)
    frames = [Image.fromarray(np.full((1000, 1000), k, np.uint8), "L").convert("P") for k in range(4)]
    gif = tmp_path / "big.gif"
    frames[0].save(gif, format="GIF", save_all=True, append_images=frames[1:])
    app.prepare(str(gif), 4)  # first use imports what decoding needs: keep that out of the measurement
    tracemalloc.start()
    try:
        clip = app.prepare(str(gif), 4)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert clip.frames.shape == (4, 512, 512, 3)
    canvas_bytes = 1000 * 1000 * 4
    assert peak < 5.5 * canvas_bytes, peak / canvas_bytes


# ----------------------------------------------------------------------------------------------------
# How many uploads at once


def test_work_gate_admits_active_plus_waiting_then_refuses():
    gate = WorkGate(active=1, waiting=1)
    with gate.admit("a"), gate.admit("b"):
        assert gate.admitted == 2
        with pytest.raises(UploadRefused) as refused, gate.admit("c"):
            pass
        assert refused.value.status == 503 and refused.value.retry_after_s == 5
        assert refused.value.message == "c: the server is busy with 2 uploads; try again in 5 s"
    assert gate.admitted == 0
    entered = threading.Event()

    def take_turn():
        with gate.turn():
            entered.set()

    with gate.turn():
        second = threading.Thread(target=take_turn)
        second.start()
        assert not entered.wait(0.3)  # the one turn is taken
    assert entered.wait(10)
    second.join()


def test_busy_server_answers_503_with_retry_after(predictor):
    with serving(predictor, max_active=1, max_waiting=0) as server:
        slow = open_upload(server, len(SMALL_PNG), SMALL_PNG[:10])
        try:
            wait_until(lambda: server.app.gate.admitted == 1)
            status, headers, answer = post(server, SMALL_PNG, "second.png")
            assert status == 503 and headers["Retry-After"] == "5"
            assert answer["error"] == "second.png: the server is busy with 1 uploads; try again in 5 s"
            slow.sendall(SMALL_PNG[10:])
            assert read_answer(slow)[0] == 200
        finally:
            slow.close()
        wait_until(lambda: server.app.gate.admitted == 0)
        assert post(server, SMALL_PNG, "third.png")[0] == 200


# ----------------------------------------------------------------------------------------------------
# Half-sent bodies


def test_half_sent_body_is_answered_408_and_dropped(predictor):
    with serving(predictor, read_timeout_s=1.0) as server:
        sock = open_upload(server, len(SMALL_PNG), SMALL_PNG[: len(SMALL_PNG) // 2])
        try:
            start = time.monotonic()
            status, headers, body = read_answer(sock)
            assert status == 408 and headers["Connection"] == "close"
            assert json.loads(body)["error"] == "slow.png: the upload was not received within 1 s"
            assert time.monotonic() - start < 10
        finally:
            sock.close()
        wait_until(lambda: server.app.gate.admitted == 0)  # its place is given back
        assert post(server, SMALL_PNG)[0] == 200


def test_a_body_sent_a_byte_at_a_time_is_cut_at_the_deadline(predictor):
    """The socket timeout alone bounds each read; a client sending a byte every 0.2 s would never hit it."""
    with serving(predictor, read_timeout_s=1.0) as server:
        sock = open_upload(server, len(SMALL_PNG), SMALL_PNG[:1])
        try:
            start = time.monotonic()
            sock.settimeout(0.2)
            answer = b""
            for byte in SMALL_PNG[1:40]:
                try:
                    sock.sendall(bytes([byte]))
                    answer += sock.recv(4096)
                    break
                except (TimeoutError, BrokenPipeError, ConnectionResetError):
                    continue
            assert answer.startswith(b"HTTP/1.1 408"), answer
            assert time.monotonic() - start < 5
        finally:
            sock.close()


# ----------------------------------------------------------------------------------------------------
# Requests meant for another site


def test_host_header_must_name_this_server(server):
    host, port = server.server_address[:2]
    for good in (f"{host}:{port}", f"localhost:{port}", f"LOCALHOST:{port}"):
        assert get(server, "/api/info", good)[0] == 200, good
    for bad in (f"evil.example:{port}", "evil.example", f"{host}:{port + 1}", f"{host}", f"0.0.0.0:{port}"):
        status, answer = get(server, "/api/info", bad)
        assert status == 421, bad
        assert answer["error"].startswith(f"Host {bad!r} is not this server's address (http://{host}:{port}/)")
    assert get(server, "/", "evil.example")[0] == 421  # the page too
    assert get_status(server, "/api/info", None) == 400  # refused by the HTTP parser (h11)
    assert get_status(server, "/api/info", "a b:c") == 400
    status, _, answer = post(server, SMALL_PNG, headers={"Host": f"evil.example:{port}"})
    assert status == 421 and "is not this server's address" in answer["error"]


def test_allowed_host_names_are_accepted(predictor):
    with serving(predictor, allowed_hosts=("Kavan.Local",)) as server:
        port = server.server_address[1]
        assert get(server, "/api/info", f"kavan.local:{port}")[0] == 200
        assert get(server, "/api/info", f"other.local:{port}")[0] == 421


def test_cross_origin_upload_is_refused(server):
    host, port = server.server_address[:2]
    for origin in ("http://evil.example", f"http://evil.example:{port}", "null", f"https://{host}:{port}",
                   f"http://{host}:{port + 1}"):
        status, _, answer = post(server, SMALL_PNG, headers={"Origin": origin})
        assert status == 403, origin
        assert answer["error"] == (f"cross-origin upload refused: Origin {origin!r} is not this server's origin "
                                   f"(http://{host}:{port})")
    assert post(server, SMALL_PNG, headers={"Origin": f"http://{host}:{port}"})[0] == 200
    assert post(server, SMALL_PNG, headers={"Origin": f"http://localhost:{port}", "Host": f"localhost:{port}"})[0] \
        == 200
    assert post(server, SMALL_PNG)[0] == 200  # no Origin: not a browser's cross-site request


# ----------------------------------------------------------------------------------------------------
# The command line


@pytest.mark.parametrize("argument, value, reason", [
    ("--port", "70000", "must be in 0..65535 (0 picks a free port), got 70000"),
    ("--port", "-1", "must be in 0..65535 (0 picks a free port), got -1"),
    ("--port", "http", "must be a whole number in 0..65535, got 'http'"),
    ("--max-upload-mb", "nan", "must be a finite number of MB of at least 0.000001, got 'nan'"),
    ("--max-upload-mb", "inf", "must be a finite number of MB of at least 0.000001, got 'inf'"),
    ("--max-upload-mb", "0", "must be a finite number of MB of at least 0.000001, got '0'"),
    ("--max-active", "0", "must be >= 1, got 0"),
    ("--max-waiting", "-1", "must be >= 0, got -1"),
    ("--read-timeout", "nan", "must be a finite number of seconds > 0, got 'nan'"),
])
def test_bad_arguments_are_one_line_and_exit_2(tmp_path, capsys, argument, value, reason):
    with pytest.raises(SystemExit) as exit_:
        main(["serve", "--checkpoint", str(tmp_path / "model.safetensors"), argument, value])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == f"kavan serve: error: argument {argument}: {reason}"


def test_settings_out_of_range_are_kavan_errors():
    for bad, match in ((dict(port=70000), "port must be in 0..65535"), (dict(read_timeout_s=float("nan")), "timeout"),
                       (dict(max_active=0), "max_active"), (dict(max_waiting=-1), "max_waiting")):
        with pytest.raises(KavanError, match=match):
            ServeSettings(**bad)


def test_listening_on_every_interface_is_warned_about(tmp_path, caplog):
    bad = tmp_path / "model.safetensors"
    bad.write_text("not a model")
    assert main(["serve", "--checkpoint", str(bad), "--host", "0.0.0.0", "--port", "0"]) == 1
    assert any("every network interface" in r.getMessage() and r.levelname == "WARNING" for r in caplog.records)
    caplog.clear()
    assert main(["serve", "--checkpoint", str(bad), "--port", "0"]) == 1
    assert not any(r.levelname == "WARNING" and "interface" in r.getMessage() for r in caplog.records)


def test_the_upload_budget_holds_every_real_gif(real_gifs: Path):
    """The server's stricter limits still take every shared real GIF, for a model of up to 16 frames."""
    from kavan.media.decode import probe
    from kavan.media.sampling import tsn_indices

    for path in sorted(real_gifs.glob("*.gif")):
        info = probe(path, SERVE_LIMITS)
        needed = tsn_indices(info.n_frames, 16, train=False)[-1] + 1
        assert info.width * info.height * needed <= SERVE_LIMITS.max_composited_pixels, path.name


def test_clients_that_go_away_leave_no_traceback_and_hold_no_thread(predictor, caplog):
    """Uploads cut off half way, answers never read, idle and trickling connections: nothing above INFO in the
    log (the stdlib server logged 1-3 BrokenPipe tracebacks per such client), no thread per connection, and the
    next upload is answered."""
    with serving(predictor, read_timeout_s=1.0) as server:
        host, port = server.server_address[:2]
        threads_before = threading.active_count()
        with caplog.at_level(logging.DEBUG):
            for k in range(30):
                sock = open_upload(server, len(SMALL_PNG), SMALL_PNG[: len(SMALL_PNG) // 2 if k % 2 else None])
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                sock.close()  # gone before (or while) the answer is written
            idle = [socket.create_connection((host, port)) for _ in range(100)]
            for sock in idle[::2]:
                sock.sendall(b"GET /api/in")
            time.sleep(0.3)
            assert threading.active_count() <= threads_before + 45
            assert post(server, SMALL_PNG)[0] == 200
            time.sleep(1.5)  # past the read timeout: the server has closed the idle ones
            for sock in idle:
                sock.settimeout(5)
                try:
                    assert sock.recv(1) == b""
                except ConnectionResetError:
                    pass
                sock.close()
        noisy = [r for r in caplog.records if r.exc_info or r.levelno >= logging.WARNING]
        assert noisy == [], [r.getMessage() for r in noisy]
