"""`kavan serve --checkpoint CKPT`: a web page where a person drops a GIF and sees attention, emotions and quadrant.

Listens on 127.0.0.1:8000 by default (only this machine); ``--host 0.0.0.0`` opens it to the network. Uploads
over ``--max-upload-mb`` or not GIF/MP4/WebM/PNG/JPEG by content are refused with a message on the page.
Runs until interrupted (Ctrl-C). Details: docs/predict.md.
"""

from __future__ import annotations

import argparse
import logging

NAME = "serve"
HELP = "serve a web page that predicts an uploaded GIF and shows its attention overlay, emotion bars and quadrant"

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, metavar="CKPT",
                        help="trained model file (model.safetensors from kavan train or make demo)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    parser.add_argument("--max-upload-mb", type=float, default=20.0,
                        help="largest upload accepted, in MB of 10^6 bytes (default 20)")
    parser.add_argument("--device", default="auto", help="auto (GPU when there is one), cpu, cuda or cuda:N")


def run(args: argparse.Namespace) -> int:
    from kavan.predict import load
    from kavan.serve import ServeSettings, make_server

    settings = ServeSettings(host=args.host, port=args.port, max_upload_bytes=int(args.max_upload_mb * 1e6))
    server = make_server(load(args.checkpoint, args.device), settings)
    print(f"kavan serve: open {server.url} (Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        log.info("stopped")
    finally:
        server.server_close()
    return 0
