"""`kavan label DIR`: a web page that asks "which GIF shows more <emotion>?" about the GIFs in DIR/gifs and
appends each answer to DIR/votes.csv (then `kavan scores DIR/votes.csv --out DIR/scores.csv`).

Listens on 127.0.0.1:8000 by default (only this machine); any other ``--host`` needs ``--token`` (one secret for
everyone) or ``--annotators FILE`` (one token per annotator, so that nobody can vote or undo as another), which
every request must then carry (the printed URLs hold them). A second `kavan label` on the same folder is refused
while the first runs. ``--prior`` starts the pair choice from a model's predictions (a model file, run over DIR/gifs, or
`kavan predict`'s JSON Lines). Runs until interrupted (Ctrl-C). Details: docs/labelling.md.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from kavan.cli._common import count, port_number, seconds, serve_until_interrupted

NAME = "label"
HELP = "serve a page that asks which of two GIFs shows an emotion more, and append the answers to DIR/votes.csv"

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", type=Path, metavar="DIR", help="dataset folder with the GIFs in DIR/gifs/")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this machine only; others need --token)")
    parser.add_argument("--port", type=port_number, default=8000, help="port (default 8000; 0 picks a free one)")
    parser.add_argument("--token", metavar="T",
                        help="a secret of 8 or more characters without spaces that every request must carry (a "
                             "--host other than loopback needs it or --annotators; the printed URL holds it)")
    parser.add_argument("--annotators", type=Path, metavar="FILE",
                        help="a CSV with the header annotator,token and one line per annotator: each gets their own "
                             "token (and URL), and the server records each vote under its token's name")
    parser.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                        help="a name clients use to reach the server, besides the address it listens on "
                             "(repeatable)")
    parser.add_argument("--emotions", metavar="A,B",
                        help="ask about these emotions only, separated by commas (default: all 17)")
    parser.add_argument("--pairing", choices=("active", "asap", "random"), default="active",
                        help="active (default): the question expected to shrink the rating uncertainty most; "
                             "asap: ASAP's information gain on the full posterior, in batches (minimum spanning "
                             "trees); random: GIFGIF's shuffled rounds")
    parser.add_argument("--prior", type=Path, metavar="MODEL|PREDICTIONS.jsonl",
                        help="start the pair choice from a model's predictions: a kavan model file (run over "
                             "DIR/gifs first) or the JSON Lines of `kavan predict`; the votes file is unchanged")
    parser.add_argument("--prior-sigma", type=float, default=None, metavar="S",
                        help="the prior's sigma on the 0-50 rating scale (default 25/3, chosen by simulation; "
                             "docs/labelling.md)")
    parser.add_argument("--device", default="auto",
                        help="where a --prior model runs: auto (default), cpu, cuda, cuda:N")
    parser.add_argument("--annotator", metavar="NAME",
                        help="the name recorded with each vote (default: the page asks once and remembers it)")
    parser.add_argument("--hold", type=seconds, default=300.0, metavar="S",
                        help="seconds a question shown stays reserved for its annotator (default 300)")
    parser.add_argument("--max-holds", type=count(1), default=4, metavar="N",
                        help="questions one annotator may hold at once, e.g. in several tabs (default 4; a further "
                             "question lets go of their oldest)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the question choice (default 0)")


def run(args: argparse.Namespace) -> int:
    from kavan.core.emotions import EMOTIONS
    from kavan.core.errors import KavanError
    from kavan.labels.prior import PRIOR_SIGMA
    from kavan.serve.access import read_annotators
    from kavan.serve.http_checks import is_loopback
    from kavan.serve.label_app import LabelSettings, parse_emotions
    from kavan.serve.label_web import make_label_server

    emotions = parse_emotions(args.emotions) if args.emotions is not None else EMOTIONS
    if args.prior_sigma is not None and args.prior is None:
        raise KavanError("--prior-sigma needs --prior")
    sigma = PRIOR_SIGMA if args.prior_sigma is None else args.prior_sigma
    annotator_tokens = read_annotators(args.annotators) if args.annotators is not None else ()
    settings = LabelSettings(host=args.host, port=args.port, token=args.token, annotator_tokens=annotator_tokens,
                             allowed_hosts=tuple(args.allow_host), emotions=emotions, pairing=args.pairing,
                             prior_sigma=sigma, seed=args.seed, annotator=args.annotator, hold_s=args.hold,
                             max_holds=args.max_holds)
    prior = None
    if args.prior is not None:
        from kavan.cli._prior import load_prior
        from kavan.serve.label_app import media_files

        prior = load_prior(args.prior, media_files(args.folder), args.device)
    server = make_label_server(args.folder, settings, prior)
    if not is_loopback(args.host):
        log.warning("--host %s can be reached from other machines: anyone with a token can see the GIFs and vote",
                    args.host or "''")
    urls = server.page_urls()
    if list(urls) == [""]:
        print(f"kavan label: open {urls['']} (votes go to {server.app.votes.path}; Ctrl-C stops)", flush=True)
    else:  # printed, never logged: each URL holds its annotator's token
        print(f"kavan label: votes go to {server.app.votes.path}; each annotator opens their own URL (Ctrl-C stops):",
              flush=True)
        for name, url in urls.items():
            print(f"  {name}: {url}", flush=True)
    return serve_until_interrupted(server, args.verbose)
