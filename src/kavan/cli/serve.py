"""`kavan serve --checkpoint CKPT`: a web page where a person drops a GIF and sees attention, emotions and quadrant.

Listens on 127.0.0.1:8000 by default (only this machine); ``--host 0.0.0.0`` opens it to the network, with a
warning (the page has no authentication). Uploads over ``--max-upload-mb`` or not GIF/MP4/WebM/PNG/JPEG by content
are refused with a message on the page; ``--max-active`` and ``--max-waiting`` bound the uploads in progress (more
are answered 503). Runs until interrupted (Ctrl-C). Details: docs/predict.md.
"""

from __future__ import annotations

import argparse
import logging

from kavan.cli._common import count, megabytes, port_number, seconds, serve_until_interrupted

NAME = "serve"
HELP = "serve a web page that predicts an uploaded GIF and shows its attention overlay, emotion bars and quadrant"

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, metavar="CKPT",
                        help="trained model file (model.safetensors from kavan train or make demo)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0: every interface)")
    parser.add_argument("--port", type=port_number, default=8000, help="port (default 8000; 0 picks a free one)")
    parser.add_argument("--max-upload-mb", type=megabytes, default=20.0,
                        help="largest upload accepted, in MB of 10^6 bytes (default 20)")
    parser.add_argument("--max-active", type=count(1), default=2, metavar="N",
                        help="uploads decoded and predicted at once (default 2)")
    parser.add_argument("--max-waiting", type=count(0), default=8, metavar="N",
                        help="further uploads that may wait for their turn (default 8); more are answered 503")
    parser.add_argument("--read-timeout", type=seconds, default=60.0, metavar="S",
                        help="seconds a client has to send its whole upload (default 60)")
    parser.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                        help="a name clients use to reach the server, besides the address it listens on (repeatable; "
                             "requests whose Host header names anything else are refused)")
    parser.add_argument("--device", default="auto", help="auto (GPU when there is one), cpu, cuda or cuda:N")


def warn_if_exposed(host: str) -> None:
    """Say so when the page can be reached from other machines: it has no authentication."""
    from kavan.serve.http_checks import is_loopback, is_wildcard

    if is_wildcard(host):
        log.warning("--host %s listens on every network interface: anyone who can reach this machine can upload "
                    "files and use the model (there is no authentication); use 127.0.0.1 unless you mean it",
                    host or "''")
    elif not is_loopback(host):
        log.warning("--host %s can be reached from other machines: anyone who can reach it can upload files and "
                    "use the model (there is no authentication)", host)


def run(args: argparse.Namespace) -> int:
    from kavan.predict import load
    from kavan.serve import ServeSettings, make_server

    settings = ServeSettings(host=args.host, port=args.port, max_upload_bytes=int(args.max_upload_mb * 1e6),
                             read_timeout_s=args.read_timeout, max_active=args.max_active,
                             max_waiting=args.max_waiting, allowed_hosts=tuple(args.allow_host))
    warn_if_exposed(args.host)
    server = make_server(load(args.checkpoint, args.device), settings)
    print(f"kavan serve: open {server.url} (Ctrl-C stops)", flush=True)
    return serve_until_interrupted(server, args.verbose)
