"""How much quadrant accuracy depends on the emotions that sit near the circumplex's split lines.

    .venv/bin/python benchmarks/quadrant_borderline.py ABLATION_OUT [--within 0.5]

The quadrant of each emotion comes from its (valence, arousal) in Warriner et al. (2013), split at the scale's
midpoint 5 (kavan.core.emotions). Several emotions lie within a fraction of a rating point of the arousal line (docs/
data.md lists them), where the norms' own standard errors do not decide the side. This script takes the saved test
predictions of every model row and split of a `kavan ablation` out folder and scores them twice, with the
published map and with every emotion within ``--within`` rating points of a split line moved to the other side of
that line, the truth and the prediction alike (the quadrant of the strongest target and of the strongest predicted
emotion). The quadrant head of multi-task rows was trained on the published map, so both columns score every row
through its predicted intensities; the head's own accuracy is shown beside them. Prints a Markdown table of the
mean over the splits found.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from kavan.core.emotions import EMOTIONS, MIDPOINT, QUADRANTS, VALENCE_AROUSAL, quadrant_of
from kavan.training.evaluation import load_predictions


def moved_map(within: float) -> tuple[np.ndarray, list[str]]:
    """Quadrant index per emotion with the borderline ones across their nearest split line, and their names."""
    table, moved = [], []
    for name in EMOTIONS:
        valence, arousal = VALENCE_AROUSAL[name]
        dv, da = abs(valence - MIDPOINT), abs(arousal - MIDPOINT)
        if min(dv, da) <= within:
            moved.append(name)
            if da <= dv:
                arousal = 2 * MIDPOINT - arousal if arousal != MIDPOINT else MIDPOINT - 0.01
            else:
                valence = 2 * MIDPOINT - valence if valence != MIDPOINT else MIDPOINT - 0.01
        table.append(QUADRANTS.index(quadrant_of(valence, arousal)))
    return np.array(table), moved


def accuracy(pred: np.ndarray, target: np.ndarray, table: np.ndarray) -> float:
    return float(np.mean(table[np.argmax(pred, axis=1)] == table[np.argmax(target, axis=1)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path, help="a kavan ablation --out folder")
    parser.add_argument("--within", type=float, default=0.5, help="rating points from a split line")
    args = parser.parse_args()
    published = np.array([QUADRANTS.index(quadrant_of(*VALENCE_AROUSAL[e])) for e in EMOTIONS])
    moved, names = moved_map(args.within)
    print(f"moved across their nearest line (within {args.within}): {', '.join(names)}\n")
    print("| row | splits | head accuracy (published map) | argmax-emotion accuracy, published map "
          "| argmax-emotion accuracy, borderline moved | change |")
    print("|---|---|---|---|---|---|")
    for row in sorted(p for p in args.out.iterdir() if p.is_dir() and any(p.glob("split-*/predictions.safetensors"))):
        scores = []
        for file in sorted(row.glob("split-*/predictions.safetensors")):
            p = load_predictions(file)
            head = (float(np.mean(np.argmax(p.quadrant_logits, axis=1) == published[np.argmax(p.targets, axis=1)]))
                    if p.quadrant_logits is not None else float("nan"))
            scores.append((head, accuracy(p.intensities, p.targets, published),
                           accuracy(p.intensities, p.targets, moved)))
        head, before, after = (float(np.mean(column)) for column in zip(*scores))
        shown_head = "n/a" if np.isnan(head) else f"{100 * head:.1f} %"
        print(f"| {row.name} | {len(scores)} | {shown_head} | {100 * before:.1f} % | {100 * after:.1f} % | "
              f"{100 * (after - before):+.1f} pts |")


if __name__ == "__main__":
    main()
