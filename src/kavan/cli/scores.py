"""`kavan scores`: per-emotion TrueSkill intensity scores (scores.csv) from pairwise votes or given ratings.

A votes file without any vote is refused and no scores file is written: every score would be the prior, and an
empty or all-0.5 scores.csv would pass for a result. The scores come from the votes alone unless ``--prior`` names a
model's predictions, which every rating then starts from (kavan.labels.prior).
"""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "scores"
HELP = "turn pairwise votes (or given TrueSkill mu/sigma ratings) into a scores.csv in [0, 1]"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("votes", nargs="?", type=Path, metavar="VOTES.csv",
                        help="votes with columns gif_a, gif_b, emotion, winner (a, b, neither or a GIF id), "
                             "applied in file order")
    parser.add_argument("--out", required=True, type=Path, metavar="SCORES.csv", help="scores file to write")
    parser.add_argument("--ids", type=Path, metavar="IDS.txt",
                        help="GIF ids to write, one per line, in this order (default: every GIF rated, sorted); "
                             "GIFs without votes get the prior score")
    parser.add_argument("--normalise", choices=("mu", "conservative"), default="mu",
                        help="mu: mu/50 (GIFGIF's); conservative: (mu - 3 sigma)/50; both clipped to [0, 1]")
    parser.add_argument("--from-ratings", type=Path, metavar="RATINGS.csv",
                        help="import mu/sigma ratings instead of votes: columns id, emotion, mu, sigma "
                             "or id, <emotion>_mu, <emotion>_sigma")
    parser.add_argument("--prior", type=Path, metavar="PREDICTIONS.jsonl",
                        help="start every rating from a model's prediction (the JSON Lines `kavan predict --out` "
                             "writes) instead of GIFGIF's prior: the scores then mix the model with the votes "
                             "(default: the votes alone)")
    parser.add_argument("--prior-sigma", type=float, default=None, metavar="S",
                        help="the prior's sigma on the 0-50 rating scale (default 25/3, chosen by simulation; "
                             "docs/labelling.md)")


def read_id_list(path: Path) -> list[str]:
    """Ids from a text file: one per line; blank lines and lines starting with # are skipped."""
    from kavan.core.errors import KavanError

    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise KavanError(f"cannot read id list: {err}", path) from None
    ids = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not ids:
        raise KavanError("id list is empty", path)
    return ids


def run(args: argparse.Namespace) -> int:
    from kavan.core.errors import KavanError
    from kavan.labels.ratings import ratings_from_votes, read_ratings, write_rating_scores

    if (args.votes is None) == (args.from_ratings is None):
        raise KavanError("give either a votes file or --from-ratings RATINGS.csv (exactly one)")
    if args.from_ratings is not None and (args.prior is not None or args.prior_sigma is not None):
        raise KavanError("--prior and --prior-sigma start ratings computed from votes; --from-ratings has none")
    if args.prior_sigma is not None and args.prior is None:
        raise KavanError("--prior-sigma needs --prior")
    ids = read_id_list(args.ids) if args.ids else None
    if args.from_ratings is not None:
        ratings = read_ratings(args.from_ratings, ids)
    else:
        from kavan.cli._prior import load_prior
        from kavan.labels.prior import PRIOR_SIGMA

        prior = load_prior(args.prior) if args.prior is not None else None
        sigma = PRIOR_SIGMA if args.prior_sigma is None else args.prior_sigma
        ratings = ratings_from_votes(args.votes, ids, require_votes=True, prior=prior, prior_sigma=sigma)
    write_rating_scores(ratings, args.out, args.normalise)
    return 0
