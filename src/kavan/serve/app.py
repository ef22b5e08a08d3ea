"""The web demo behind `kavan serve`: one page, a JSON info endpoint and an upload endpoint (Starlette on uvicorn,
kavan.serve.server).

    GET  /                 the page (static/index.html, with static/app.js and static/style.css)
    GET  /api/info         emotions, quadrants and their colours, the upload limits, the model's training record
    POST /api/predict      the raw file as the request body (X-Filename: its URL-encoded name)
                           -> 200 {"prediction": <kavan predict JSON>, "overlay": "data:image/gif;base64,..."}
                           -> 4xx/503 {"error": "<name>: <reason>"} for an upload that is refused

Every request first shows it is meant for this server: its Host header must name the address the server is bound
to (or localhost when bound to loopback), else 421, so a page from another site cannot reach the demo through
DNS rebinding; an upload whose Origin header names another site is refused (403). Uploads are then refused
before the model sees them: no Content-Length (411), more than ``max_upload_bytes`` (413, judged from the header
before the body is read), more uploads in progress than the server takes (503 with Retry-After, also before the
body is read), a body not received within ``read_timeout_s`` (408), content the decoder cannot describe or of a
type outside ``accepted`` (415; judged by the bytes, not the name), over the server's decoding limits (422:
``ServeSettings.limits``, stricter than the library's, including the decoding work of canvas pixels x frames)
or frames it cannot decode (422).

What one upload can cost is bounded: at most ``max_active`` uploads decode and predict at once and
``max_waiting`` more send their bodies and wait, each body at most ``max_upload_bytes``; decoding an upload holds
one full-size frame at a time (each sampled frame is shrunk to the model's input and the overlay's size as soon
as it is decoded), and its work is bounded by ``Limits.max_composited_pixels``. The model runs one request at a
time (one lock). Every failure is answered and the server goes on.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import logging
import math
import os
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from http import HTTPStatus
from importlib import resources
from typing import Any
from urllib.parse import unquote

import numpy as np
import torch
from PIL import Image
from starlette.requests import Request
from starlette.responses import Response

from kavan.core.emotions import EMOTION_QUADRANT, EMOTIONS, QUADRANTS
from kavan.core.errors import KavanError
from kavan.data.transforms import FrameTransform
from kavan.media import decode
from kavan.media.sampling import tsn_indices
from kavan.models.glimpse import grey_frames
from kavan.predict.clip import PreparedClip
from kavan.predict.pictures import QUADRANT_COLOURS, OverlayStyle, overlay_gif
from kavan.predict.predictor import SYNTHGIF_WARNING, Predictor, grey_of
from kavan.serve.http_checks import host_names, misdirected
from kavan.serve.server import (
    Refused,
    ServerSettings,
    WebServer,
    bytes_response,
    json_response,
    page_app,
    read_body,
    refusal,
)

log = logging.getLogger(__name__)

STATIC_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".css": "text/css; charset=utf-8"}
# A refused upload up to this size is read and dropped before the answer (clients that send the whole body before
# reading the answer then get it); a larger one is answered from its header and the connection closed unread.
DRAIN_BYTES = 64 * 1024 * 1024
FORMAT_NAMES = {"gif": "GIF", "mp4": "MP4", "webm": "WebM", "png": "PNG", "jpeg": "JPEG", "webp": "WebP",
                "mov": "MOV", "mkv": "MKV"}
RETRY_AFTER_S = 5
"""Retry-After of a 503: about the time one upload at the server's limits takes to decode and predict."""

SERVE_LIMITS = decode.Limits(max_file_bytes=20_000_000, max_canvas_pixels=2048 * 2048, max_frames=10_000,
                             max_composited_pixels=2 ** 29)
"""The decoder's limits for uploads, stricter than the library's (decode.DEFAULT_LIMITS): a page anyone on the
network may reach must bound what one small upload makes it do. max_file_bytes is replaced by the upload limit.

max_canvas_pixels: 2048 x 2048 = 4.2 M. The model sees frames of 128-224 px, so a larger canvas adds decoding work
    and memory, not information; this holds every real GIF (the largest shared one is 540 x 540) and 1440p video,
    and refuses a 2 KB PNG or a 135 KB GIF declaring 4096 x 4096 from its header.
max_composited_pixels: 2^29 = 537 M canvas pixels x frames decoded for one upload: the shared real GIFs need at
    most 11.1 M (their largest canvas with their most frames, 540 x 540 x 204, would be 59.5 M), a 720p clip 0.92 M
    a frame (TSN decodes up to its last sampled frame: about 20 s of 30 fps video pass); a GIF of 9000 1 x 1
    frames on a 2000 x 2000 canvas would need 31.5 G for T = 4.
    Compositing full 2048 x 2048 frames took about 13 ns of CPU a canvas pixel on the project's machine, so this
    bounds the decoding of one upload to about 7 s of one core.
"""


@dataclass(frozen=True)
class ServeSettings:
    """How the demo listens and what it takes.

    host, port: where to listen (port 0: any free port). max_upload_bytes: the largest upload accepted (20 MB).
    accepted: the media formats accepted, by content (kavan.media.decode's format names). read_timeout_s: the time a
    client has to send its request line and headers (per read) and its whole upload body (in all): a client that
    stops half way is answered 408 and dropped, so it cannot hold a place for long. max_active: uploads decoded
    and predicted at once (the model itself runs one at a time). max_waiting: further uploads let in to send
    their bodies and wait for a turn; past max_active + max_waiting an upload is answered 503 with Retry-After
    before its body is read. allowed_hosts: names besides the bound address under which clients reach the
    server (the Host header check; for example the machine's name behind --host 0.0.0.0). limits: the decoder's
    limits for uploads (its max_file_bytes is replaced by max_upload_bytes).
    """

    host: str = "127.0.0.1"
    port: int = 8000
    max_upload_bytes: int = 20_000_000
    accepted: tuple[str, ...] = ("gif", "mp4", "webm", "png", "jpeg")
    read_timeout_s: float = 60.0
    max_active: int = 2
    max_waiting: int = 8
    allowed_hosts: tuple[str, ...] = ()
    limits: decode.Limits = SERVE_LIMITS
    max_connections: int = 1000

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise KavanError(f"the port must be in 0..65535, got {self.port}")
        if self.max_upload_bytes < 1:
            raise KavanError(f"the upload limit must be at least 1 byte, got {self.max_upload_bytes}")
        unknown = set(self.accepted) - set(FORMAT_NAMES)
        if unknown:
            raise KavanError(f"unknown upload formats {sorted(unknown)}; known: {', '.join(FORMAT_NAMES)}")
        if not (math.isfinite(self.read_timeout_s) and self.read_timeout_s > 0):
            raise KavanError(f"the read timeout must be a finite number of seconds > 0, got {self.read_timeout_s}")
        if self.max_active < 1 or self.max_waiting < 0:
            raise KavanError(f"max_active must be >= 1 and max_waiting >= 0, got {self.max_active}, "
                             f"{self.max_waiting}")

    def server(self) -> ServerSettings:
        """The HTTP server's settings (kavan.serve.server)."""
        return ServerSettings(self.host, self.port, self.read_timeout_s, self.max_connections)

    def upload_limits(self) -> decode.Limits:
        """The decoder's limits for an upload: ``limits`` with the upload size as its file size."""
        return dataclasses.replace(self.limits, max_file_bytes=self.max_upload_bytes)


UploadRefused = Refused
"""An upload the demo answers with an error status and a message for the page (the servers' one refusal)."""


def megabytes(n_bytes: int) -> str:
    return f"{n_bytes / 1e6:.1f} MB"


def strictest(a: decode.Limits, b: decode.Limits) -> decode.Limits:
    """Field by field the smaller of two Limits: the server's limits never loosen the predictor's own."""
    return decode.Limits(**{field.name: min(getattr(a, field.name), getattr(b, field.name))
                            for field in dataclasses.fields(decode.Limits)})


def shrink_for_overlay(frame: np.ndarray, max_side: int) -> np.ndarray:
    """The frame at the size the overlay draws it (kavan.predict.pictures.overlay_frames: longer side at most
    max_side, LANCZOS), so that a full-size frame need not be kept for it: the overlay comes out the same, and
    overlay_frames finds nothing left to scale."""
    height, width = frame.shape[:2]
    scale = min(1.0, max_side / max(height, width))
    if scale >= 1.0:
        return frame
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(frame).resize(size, Image.Resampling.LANCZOS))


class WorkGate:
    """Bounds the uploads in progress, so that many clients cannot add up to more memory than a few uploads.

    ``admit`` lets in at most ``active + waiting`` uploads (to send their bodies and wait) and refuses the next at
    once with 503; ``turn`` lets ``active`` of them decode and predict at a time. What the server holds is then
    at most (active + waiting) bodies and ``active`` decodings, whatever the number of connections.
    """

    def __init__(self, active: int, waiting: int):
        self._turns = threading.Semaphore(active)
        self._capacity = active + waiting
        self._admitted = 0
        self._lock = threading.Lock()

    @property
    def admitted(self) -> int:
        """Uploads let in and not yet answered (sending their bodies, waiting, or being decoded and predicted)."""
        with self._lock:
            return self._admitted

    @contextmanager
    def admit(self, name: str) -> Iterator[None]:
        """Hold a place for one upload, or raise UploadRefused (503, Retry-After) when every place is taken."""
        with self._lock:
            full = self._admitted >= self._capacity
            if not full:
                self._admitted += 1
        if full:
            raise Refused(HTTPStatus.SERVICE_UNAVAILABLE,
                                f"{name}: the server is busy with {self._capacity} uploads; try again in "
                                f"{RETRY_AFTER_S} s", RETRY_AFTER_S)
        try:
            yield
        finally:
            with self._lock:
                self._admitted -= 1

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Wait for one of the ``active`` turns to decode and predict."""
        with self._turns:
            yield


class DemoApp:
    """What the endpoints do, apart from HTTP: the page's info, and one upload's prediction and overlay."""

    def __init__(self, predictor: Predictor, settings: ServeSettings = ServeSettings(),
                 style: OverlayStyle = OverlayStyle()):
        self.predictor = predictor
        self.settings = settings
        self.style = style
        self.limits = strictest(predictor.limits, settings.upload_limits())
        self.gate = WorkGate(settings.max_active, settings.max_waiting)
        self._model_lock = threading.Lock()
        # Decoding and the model run on max_active threads of their own, not on the server's shared pool: glibc
        # gives each thread that allocates its own malloc arena, and spreading the decoding of large uploads
        # over many threads kept ~450 MB more resident (benchmarks/serve_memory.py: 1.80 GB against 1.36 GB).
        self.workers = ThreadPoolExecutor(max_workers=settings.max_active, thread_name_prefix="kavan-serve")

    def close(self) -> None:
        """Stop the decoding threads (called by the server's server_close)."""
        self.workers.shutdown(wait=False, cancel_futures=True)

    def accepted_names(self) -> str:
        names = [FORMAT_NAMES[f] for f in self.settings.accepted]
        return ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else names[0]

    def info(self) -> dict[str, Any]:
        model = self.predictor.info
        return {
            "emotions": list(EMOTIONS),
            "quadrants": list(QUADRANTS),
            "emotion_quadrant": dict(EMOTION_QUADRANT),
            "quadrant_colours": dict(QUADRANT_COLOURS),
            "max_upload_bytes": self.settings.max_upload_bytes,
            "accepted": self.accepted_names(),
            "model": model.to_json(),
            "notice": SYNTHGIF_WARNING if model.synthgif else None,
        }

    def check_size(self, length: int | None, name: str) -> None:
        """Refuse an upload by its declared length, before reading it."""
        if length is None:
            raise Refused(HTTPStatus.LENGTH_REQUIRED, f"{name}: the upload must declare its Content-Length")
        if length == 0:
            raise Refused(HTTPStatus.BAD_REQUEST, f"{name}: empty file")
        if length > self.settings.max_upload_bytes:
            raise Refused(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                                f"{name}: {megabytes(length)} is over the upload limit of "
                                f"{megabytes(self.settings.max_upload_bytes)}")

    def prepare(self, path: str, n_frames: int) -> PreparedClip:
        """The model's input and the overlay's frames, decoding one sampled frame at a time.

        The same frames and transform as Predictor.predict (TSN evaluation frames, FrameTransform.evaluation),
        but each frame is turned into its model input and shrunk to the overlay's size as soon as it is decoded.
        Keeping the T full-size frames instead, and the attention maps upsampled to their size, is what made a
        135 KB GIF declaring a 4000 x 4000 canvas cost 1.5 GB: T x 48 MB of frames and T x 128 MB of float64
        maps. One upload now holds one full-size frame and the decoder's canvas.
        """
        preparer = self.predictor.preparer()
        indices = tsn_indices(n_frames, preparer.t, train=False)
        transform = FrameTransform.evaluation(preparer.size)
        inputs: dict[int, torch.Tensor] = {}
        shown: dict[int, np.ndarray] = {}
        grey: dict[int, torch.Tensor] = {}
        for index, frame in decode.pick_frames(path, indices, self.limits):
            inputs[index] = transform(frame[None])[0][0]
            if preparer.keep_grey:  # a glimpse model cuts the face out of the frame at its own size
                grey[index] = grey_frames(frame[None])[0]
            shown[index] = shrink_for_overlay(frame, self.style.max_side)
            del frame  # before the next frame is decoded
        # FrameTransform lays a batch out channels-last (the frames come in as H x W x 3), and the model's
        # convolutions round differently on another layout: the same layout gives the same numbers as predict().
        batch = torch.stack([inputs[i] for i in indices]).contiguous(memory_format=torch.channels_last)
        grey = torch.stack([grey[i] for i in indices]) if preparer.keep_grey else None
        return PreparedClip(batch, indices, np.stack([shown[i] for i in indices]), grey)

    def predict_upload(self, blob: bytes, name: str) -> dict[str, Any]:
        """The prediction (its path is the upload's name) and the overlay GIF as a data URL, or UploadRefused.

        Decoding, the model and the overlay run in one of the gate's turns (at most max_active at once).
        """
        self.check_size(len(blob), name)
        with self.gate.turn(), tempfile.TemporaryDirectory(prefix="kavan-serve-") as folder:
            path = os.path.join(folder, "upload")
            with open(path, "wb") as handle:
                handle.write(blob)
            clip = self._decode(path, name)
            with self._model_lock:
                outputs = self.predictor.forward(clip.inputs[None], grey_of([clip]))
            bad = self.predictor.non_finite(outputs)
            if bad:
                raise Refused(HTTPStatus.INTERNAL_SERVER_ERROR, f"{name}: {bad[0]}")
            analysis = self.predictor.results([clip], [name], outputs)[0]
            overlay = None
            if analysis.attention is not None:
                overlay = "data:image/gif;base64," + base64.b64encode(
                    overlay_gif(analysis.attention, self.style)).decode()
        return {"prediction": analysis.prediction.to_json(), "overlay": overlay}

    def _decode(self, path: str, name: str) -> PreparedClip:
        """Describe the upload, check its type, decode its frames; every refusal as UploadRefused."""
        try:
            info = decode.probe(path, self.limits)
        except decode.LimitError as err:  # well formed, but over the server's limits
            raise Refused(HTTPStatus.UNPROCESSABLE_ENTITY, f"{name}: {err.reason}") from None
        except KavanError as err:  # not a media file, or one the decoder cannot even describe
            raise Refused(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, f"{name}: {err.reason}") from None
        if info.format not in self.settings.accepted:
            raise Refused(HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                                f"{name}: {FORMAT_NAMES[info.format]} files are not accepted; upload a "
                                f"{self.accepted_names()} file")
        try:
            return self.prepare(path, info.n_frames)
        except KavanError as err:  # described, but its frames are over a limit or cannot be decoded
            raise Refused(HTTPStatus.UNPROCESSABLE_ENTITY, f"{name}: {err.reason}") from None


def _misdirected(app: DemoApp, request: Request, port: int, url: str) -> Refused | None:
    """Why the request is not for this server (kavan.serve.http_checks.misdirected), or None."""
    settings = app.settings
    names = host_names(settings.host, settings.allowed_hosts, request.scope["server"][0])
    problem = misdirected(request.headers, request.method, port, names, url)
    return None if problem is None else Refused(*problem)


def demo_asgi(app: DemoApp, server: WebServer) -> Any:
    """The demo's routes as a Starlette application, for ``server`` (its port and URL make the Host check)."""
    port = server.server_address[1]
    static = resources.files("kavan.serve").joinpath("static")

    async def get(request: Request) -> Response:
        refused = _misdirected(app, request, port, server.url)
        if refused is not None:
            log.info("refused %s %s: %s", request.method, request.url.path, refused.message)
            return refusal(refused, close=True)
        route = request.url.path
        if route == "/api/info":
            return json_response(HTTPStatus.OK, app.info())
        name = "index.html" if route == "/" else route.removeprefix("/static/")
        suffix = os.path.splitext(name)[1]
        if (route == "/" or route.startswith("/static/")) and "/" not in name and suffix in STATIC_TYPES \
                and static.joinpath(name).is_file():
            return bytes_response(static.joinpath(name).read_bytes(), STATIC_TYPES[suffix])
        return json_response(HTTPStatus.NOT_FOUND, {"error": f"{route}: not found"})

    async def refuse(request: Request, refused: Refused, name: str, length: int | None) -> Response:
        """Answer a refused upload and close; a body of up to DRAIN_BYTES is read and dropped first, so that a
        client still sending it gets the answer instead of a reset."""
        log.info("refused %s: %s", name, refused.message)
        if length is not None and length <= DRAIN_BYTES:
            try:
                await read_body(request, length, app.settings.read_timeout_s, keep=False)
            except Refused:
                pass
        return refusal(refused, close=True)

    async def post(request: Request) -> Response:
        name = os.path.basename(unquote(request.headers.get("x-filename", ""))) or "upload"
        header = request.headers.get("content-length")
        try:
            length = int(header) if header is not None else None
            if length is not None and length < 0:
                raise ValueError(header)
        except ValueError:
            return json_response(HTTPStatus.BAD_REQUEST, {"error": f"{name}: bad Content-Length {header!r}"},
                                 close=True)
        refused = _misdirected(app, request, port, server.url)
        if refused is None and request.url.path != "/api/predict":
            refused = Refused(HTTPStatus.NOT_FOUND, f"{request.url.path}: not found")
        if refused is not None:
            return await refuse(request, refused, name, length)
        try:
            app.check_size(length, name)
            with app.gate.admit(name):
                return await upload(request, name, length)
        except Refused as refused:
            return await refuse(request, refused, name, length)

    async def upload(request: Request, name: str, length: int | None) -> Response:
        """Receive an admitted upload's body and answer it (the prediction, or why it was refused)."""
        assert length is not None
        try:
            blob = await read_body(request, length, app.settings.read_timeout_s, what="the upload")
        except Refused as refused:
            log.info("%s: %s", name, refused.message)
            return json_response(refused.status, {"error": f"{name}: {refused.message}"}, close=True)
        if blob is None:
            log.info("%s: the upload was cut off before its %d bytes", name, length)
            return json_response(HTTPStatus.BAD_REQUEST, {"error": f"{name}: the upload was cut off"}, close=True)
        try:
            answer = await asyncio.get_running_loop().run_in_executor(app.workers, app.predict_upload, blob, name)
            return json_response(HTTPStatus.OK, answer)
        except Refused as refused:
            log.info("refused %s: %s", name, refused.message)
            return refusal(refused)
        except Exception:  # a bug must not stop the demo: answer 500 and keep serving
            log.exception("predicting %s failed", name)
            return json_response(HTTPStatus.INTERNAL_SERVER_ERROR,
                                 {"error": f"{name}: internal error (see the server log)"})

    async def not_allowed(request: Request) -> Response:
        return json_response(HTTPStatus.METHOD_NOT_ALLOWED,
                             {"error": f"{request.method} is not allowed; use GET or POST"}, close=True,
                             headers={"Allow": "GET, POST"})

    async def dispatch(request: Request) -> Response:
        if request.method == "GET":
            return await get(request)
        if request.method == "POST":
            return await post(request)
        return await not_allowed(request)

    return page_app(dispatch)


def make_server(predictor: Predictor, settings: ServeSettings = ServeSettings(),
                style: OverlayStyle = OverlayStyle()) -> WebServer:
    """A bound (not yet serving) demo server; call ``serve_forever()`` (and ``shutdown()`` from another thread,
    then ``server_close()``)."""
    app = DemoApp(predictor, settings, style)
    return WebServer(app, lambda server: demo_asgi(app, server), settings.server())
