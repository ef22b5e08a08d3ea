"""The web demo behind `kavan serve`: one page, a JSON info endpoint and an upload endpoint (stdlib http.server).

    GET  /                 the page (static/index.html, with static/app.js and static/style.css)
    GET  /api/info         emotions, quadrants and their colours, the upload limits, the model's training record
    POST /api/predict      the raw file as the request body (X-Filename: its URL-encoded name)
                           -> 200 {"prediction": <kavan predict JSON>, "overlay": "data:image/gif;base64,..."}
                           -> 4xx {"error": "<name>: <reason>"} for an upload that is refused

Uploads are refused before the model sees them: no Content-Length (411), more than ``max_upload_bytes`` (413,
judged from the header before the body is processed), content the decoder cannot describe or of a type
outside ``accepted`` (415; judged by the bytes, not the name), or frames it cannot decode (422). The model runs
one request at a time (one lock); decoding and drawing run in the request's own thread. Every failure is
answered and the server goes on.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import os
import tempfile
import threading
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import unquote, urlsplit

from kavan import decode
from kavan.emotions import EMOTION_QUADRANT, EMOTIONS, QUADRANTS
from kavan.errors import KavanError
from kavan.predict.pictures import QUADRANT_COLOURS, OverlayStyle, overlay_gif
from kavan.predict.predictor import SYNTHGIF_WARNING, Predictor

log = logging.getLogger(__name__)

STATIC_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".css": "text/css; charset=utf-8"}
# A refused upload up to this size is read and dropped before the answer (clients that send the whole body before
# reading the answer then get it); a larger one is answered from its header and the connection closed unread.
DRAIN_BYTES = 64 * 1024 * 1024
FORMAT_NAMES = {"gif": "GIF", "mp4": "MP4", "webm": "WebM", "png": "PNG", "jpeg": "JPEG", "webp": "WebP",
                "mov": "MOV", "mkv": "MKV"}


@dataclass(frozen=True)
class ServeSettings:
    """host, port: where to listen (port 0: any free port). max_upload_bytes: the largest upload accepted (20 MB).
    accepted: the media formats accepted, by content (kavan.decode's format names). read_timeout_s: a client that
    stops sending its upload for this long is dropped."""

    host: str = "127.0.0.1"
    port: int = 8000
    max_upload_bytes: int = 20_000_000
    accepted: tuple[str, ...] = ("gif", "mp4", "webm", "png", "jpeg")
    read_timeout_s: float = 60.0

    def __post_init__(self) -> None:
        if self.max_upload_bytes < 1:
            raise KavanError(f"the upload limit must be at least 1 byte, got {self.max_upload_bytes}")
        unknown = set(self.accepted) - set(FORMAT_NAMES)
        if unknown:
            raise KavanError(f"unknown upload formats {sorted(unknown)}; known: {', '.join(FORMAT_NAMES)}")


class UploadRefused(Exception):
    """An upload the demo answers with an error status and a message for the page."""

    def __init__(self, status: HTTPStatus, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def megabytes(n_bytes: int) -> str:
    return f"{n_bytes / 1e6:.1f} MB"


class DemoApp:
    """What the endpoints do, apart from HTTP: the page's info, and one upload's prediction and overlay."""

    def __init__(self, predictor: Predictor, settings: ServeSettings = ServeSettings(),
                 style: OverlayStyle = OverlayStyle()):
        self.predictor = predictor
        self.settings = settings
        self.style = style
        self.limits = dataclasses.replace(predictor.limits, max_file_bytes=settings.max_upload_bytes)
        self._model_lock = threading.Lock()

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
            raise UploadRefused(HTTPStatus.LENGTH_REQUIRED, f"{name}: the upload must declare its Content-Length")
        if length == 0:
            raise UploadRefused(HTTPStatus.BAD_REQUEST, f"{name}: empty file")
        if length > self.settings.max_upload_bytes:
            raise UploadRefused(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                                f"{name}: {megabytes(length)} is over the upload limit of "
                                f"{megabytes(self.settings.max_upload_bytes)}")

    def predict_upload(self, blob: bytes, name: str) -> dict[str, Any]:
        """The prediction (its path is the upload's name) and the overlay GIF as a data URL, or UploadRefused."""
        self.check_size(len(blob), name)
        with tempfile.TemporaryDirectory(prefix="kavan-serve-") as folder:
            path = os.path.join(folder, "upload")
            with open(path, "wb") as handle:
                handle.write(blob)
            try:
                info = decode.probe(path, self.limits)
            except KavanError as err:  # not a media file, or one the decoder cannot even describe
                raise UploadRefused(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, f"{name}: {err.reason}") from None
            if info.format not in self.settings.accepted:
                raise UploadRefused(HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                                    f"{name}: {FORMAT_NAMES[info.format]} files are not accepted; upload a "
                                    f"{self.accepted_names()} file")
            try:
                clip = self.predictor.preparer(keep_frames=True).from_path(path)
            except KavanError as err:  # described, but its frames cannot be decoded
                raise UploadRefused(HTTPStatus.UNPROCESSABLE_ENTITY, f"{name}: {err.reason}") from None
        with self._model_lock:
            outputs = self.predictor.forward(clip.inputs[None])
        analysis = self.predictor.results([clip], [name], outputs)[0]
        overlay = None
        if analysis.attention is not None:
            overlay = "data:image/gif;base64," + base64.b64encode(overlay_gif(analysis.attention, self.style)).decode()
        return {"prediction": analysis.prediction.to_json(), "overlay": overlay}


class DemoHandler(BaseHTTPRequestHandler):
    """Routes requests to the server's DemoApp; every answer is a whole response with a Content-Length."""

    server: DemoServer
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        self.timeout = self.server.app.settings.read_timeout_s
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
        log.debug("%s %s", self.address_string(), format % args)

    def _send(self, status: HTTPStatus, body: bytes, content_type: str, close: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: HTTPStatus, payload: dict[str, Any], close: bool = False) -> None:
        self._send(status, json.dumps(payload).encode("utf-8"), "application/json", close)

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        route = urlsplit(self.path).path
        if route == "/api/info":
            self._json(HTTPStatus.OK, self.server.app.info())
            return
        name = "index.html" if route == "/" else route.removeprefix("/static/")
        suffix = os.path.splitext(name)[1]
        static = resources.files("kavan.serve").joinpath("static")
        if (route == "/" or route.startswith("/static/")) and "/" not in name and suffix in STATIC_TYPES \
                and static.joinpath(name).is_file():
            self._send(HTTPStatus.OK, static.joinpath(name).read_bytes(), STATIC_TYPES[suffix])
        else:
            self._json(HTTPStatus.NOT_FOUND, {"error": f"{route}: not found"})

    def _discard(self, length: int) -> None:
        """Read and drop a refused body, so the client, still sending it, gets the answer instead of a reset."""
        while length > 0:
            chunk = self.rfile.read(min(length, 1 << 20))
            if not chunk:
                return
            length -= len(chunk)

    def do_POST(self) -> None:  # noqa: N802
        if urlsplit(self.path).path != "/api/predict":
            self._json(HTTPStatus.NOT_FOUND, {"error": f"{self.path}: not found"}, close=True)
            return
        app = self.server.app
        name = os.path.basename(unquote(self.headers.get("X-Filename", ""))) or "upload"
        header = self.headers.get("Content-Length")
        try:
            length = int(header) if header is not None else None
            if length is not None and length < 0:
                raise ValueError(header)
        except ValueError:
            self._json(HTTPStatus.BAD_REQUEST, {"error": f"{name}: bad Content-Length {header!r}"}, close=True)
            return
        try:
            app.check_size(length, name)
        except UploadRefused as refused:
            log.info("refused %s: %s", name, refused.message)
            if length is not None and length <= DRAIN_BYTES:
                self._discard(length)
            self._json(refused.status, {"error": refused.message}, close=True)
            return
        assert length is not None
        blob = self.rfile.read(length)
        if len(blob) < length:
            log.info("%s: the upload was cut off after %d of %d bytes", name, len(blob), length)
            self.close_connection = True
            return
        try:
            self._json(HTTPStatus.OK, app.predict_upload(blob, name))
        except UploadRefused as refused:
            log.info("refused %s: %s", name, refused.message)
            self._json(refused.status, {"error": refused.message})
        except Exception:  # a bug must not stop the demo: answer 500 and keep serving
            log.exception("predicting %s failed", name)
            self._json(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": f"{name}: internal error (see the server log)"})


class DemoServer(ThreadingHTTPServer):
    """A threading HTTP server that carries the DemoApp its handlers use."""

    daemon_threads = True

    def __init__(self, app: DemoApp):
        self.app = app
        super().__init__((app.settings.host, app.settings.port), DemoHandler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"


def make_server(predictor: Predictor, settings: ServeSettings = ServeSettings(),
                style: OverlayStyle = OverlayStyle()) -> DemoServer:
    """A bound (not yet serving) demo server; call ``serve_forever()`` (and ``shutdown()`` from another thread)."""
    try:
        return DemoServer(DemoApp(predictor, settings, style))
    except OSError as err:
        raise KavanError(f"cannot listen on {settings.host}:{settings.port} ({err.strerror or err})") from None
