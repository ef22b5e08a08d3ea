"""The paper's claims, checked on an ablation's results: does each comparison of its Tables 1 and 2 hold?

Input is the ``results.json`` object of `kavan ablation` (rows named after the config files, per-split values in
the same split order for every row). A comparison "A beats B" holds when A's mean over the splits is better
than B's on *both* accuracy (higher) and nMSE per emotion (lower). Beside the verdict each line gives the two
margins, the number of splits on which A beat B on that metric (the rows share their splits, so the comparison
is paired), and whether each margin exceeds twice the larger of the two rows' standard deviations over the
splits: the bar the project set for the headline comparison (MTL Soft-Att + HS-LSTM against no attention +
LSTM), reported for every comparison so that a reader sees which differences stand clear of split-to-split
noise.

Attention localisation (SynthGIF, kavan.localisation): the keypoint-supervised attention rows should put the
argmax cell on a face (grown box) in ≥ 80 % of face frames and ≥ 60 % of face frames whose keypoints were
withheld, and unsupervised attention should score lower than the supervised MTL row: lower by more than twice the
larger of the two rows' standard deviations and by at least half a percentage point (two maps that both hit the
face in every frame tie, whatever the last digits say).

A comparison whose rows are missing (an ablation run with ``--configs``) is left out, not failed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

# (winner, loser, what the paper claims)
COMPARISONS = (
    ("mtl-softatt-hslstm", "resnet50-lstm", "the full model beats no attention + LSTM (by > 2 std)"),
    ("softatt-lstm", "resnet50-lstm", "keypoint-supervised attention beats none (LSTM)"),
    ("softatt-hslstm", "resnet50-hslstm", "keypoint-supervised attention beats none (HS-LSTM)"),
    ("resnet50-hslstm", "resnet50-lstm", "HS-LSTM beats LSTM (no attention)"),
    ("softatt-hslstm", "softatt-lstm", "HS-LSTM beats LSTM (with attention)"),
)
STRICT = "mtl-softatt-hslstm"  # the comparison whose margins must also exceed twice the larger std
SUPERVISED = ("softatt-lstm", "softatt-hslstm", "mtl-softatt-hslstm")
UNSUPERVISED = ("mtl-unsupatt-hslstm", "mtl-softatt-hslstm")  # (unsupervised row, its supervised twin)
LOCALISATION_BARS = {"hit_rate": 0.80, "withheld_hit_rate": 0.60}
TIE = 0.005  # localisation rates closer than half a percentage point are a tie


@dataclass(frozen=True)
class Margin:
    """One metric of one comparison: mean difference (positive = the claimed winner is better), splits won, and
    twice the larger of the two rows' standard deviations."""

    difference: float
    splits_won: int
    n_splits: int
    two_std: float

    @property
    def clear(self) -> bool:
        return self.difference > self.two_std


@dataclass(frozen=True)
class Claim:
    """A verdict with its evidence, one line of results.md."""

    text: str
    holds: bool
    evidence: str


def _values(row: dict[str, Any], metric: str) -> list[float]:
    return [float("nan") if v is None else float(v) for v in row["metrics"][metric]["values"]]


def margin(winner: dict[str, Any], loser: dict[str, Any], metric: str, higher_is_better: bool) -> Margin:
    """The winner's advantage on ``metric`` over the splits both rows have."""
    sign = 1.0 if higher_is_better else -1.0
    pairs = [(a, b) for a, b in zip(_values(winner, metric), _values(loser, metric))
             if math.isfinite(a) and math.isfinite(b)]
    if not pairs:
        return Margin(math.nan, 0, 0, math.nan)
    diffs = [sign * (a - b) for a, b in pairs]
    stds = [winner["metrics"][metric].get("std") or 0.0, loser["metrics"][metric].get("std") or 0.0]
    return Margin(sum(diffs) / len(diffs), sum(d > 0 for d in diffs), len(pairs), 2.0 * max(stds))


def _describe(name: str, m: Margin, unit: str, scale: float) -> str:
    digits = 1 if unit else 3
    shown = f"{name} {scale * m.difference:+.{digits}f}{unit}"
    if m.n_splits <= 1:
        return f"{shown} (one split)"
    clear = "clear of" if m.clear else "within"
    return (f"{shown} (won {m.splits_won}/{m.n_splits} splits; {clear} 2 std = "
            f"{scale * m.two_std:.{digits}f}{unit})")


def comparison_claims(rows: dict[str, dict[str, Any]]) -> list[Claim]:
    """Every comparison of COMPARISONS whose two rows are present."""
    claims = []
    for winner, loser, text in COMPARISONS:
        if winner not in rows or loser not in rows:
            continue
        acc = margin(rows[winner], rows[loser], "accuracy", higher_is_better=True)
        nmse = margin(rows[winner], rows[loser], "nmse_per_emotion", higher_is_better=False)
        holds = acc.difference > 0 and nmse.difference > 0
        if winner == STRICT:
            multi = acc.n_splits > 1 and nmse.n_splits > 1
            holds = holds and multi and acc.clear and nmse.clear
        evidence = (f"{rows[winner]['label']} vs {rows[loser]['label']}: "
                    + _describe("accuracy", acc, " pts", 100.0) + "; "
                    + _describe("nMSE per emotion", nmse, "", 1.0))
        claims.append(Claim(text, holds, evidence))
    return claims


def localisation_claims(rows: dict[str, dict[str, Any]]) -> list[Claim]:
    """The supervised rows' hit rates against the bars, and unsupervised attention against its supervised twin."""
    claims = []
    for name in SUPERVISED:
        loc = rows.get(name, {}).get("localisation")
        if not loc:
            continue
        rates = {key: (loc.get(key) or {}).get("mean") for key in LOCALISATION_BARS}
        holds = all(rate is not None and math.isfinite(rate) and rate >= bar
                    for rate, bar in zip(rates.values(), LOCALISATION_BARS.values()))
        shown = ", ".join(f"{'all face frames' if key == 'hit_rate' else 'keypoints withheld'} "
                          + ("n/a" if rate is None or not math.isfinite(rate) else f"{100 * rate:.1f} %")
                          + f" (bar {100 * LOCALISATION_BARS[key]:.0f} %)" for key, rate in rates.items())
        prior = (loc.get("centre_prior_hit_rate") or {}).get("mean")
        if prior is not None and math.isfinite(prior):
            shown += f"; a map peaked at the centre cell: {100 * prior:.1f} % of all face frames"
        claims.append(Claim(f"{rows[name]['label']}: attention on the face", holds, shown))
    unsup, sup = UNSUPERVISED
    if rows.get(unsup, {}).get("localisation") and rows.get(sup, {}).get("localisation"):
        for key, text, what in (
                ("hit_rate", "unsupervised attention finds the face less often than keypoint-supervised attention",
                 "of face frames (grown box)"),
                ("mass", "unsupervised attention puts less of its mass on the face",
                 "of the map inside the exact face boxes")):
            a, b = (rows[name]["localisation"].get(key) for name in (unsup, sup))
            if not a or not b or not all(math.isfinite(x) for x in (a["mean"], b["mean"])):
                continue
            bar = max(TIE, 2.0 * max(a.get("std") or 0.0, b.get("std") or 0.0))
            claims.append(Claim(text, b["mean"] - a["mean"] > bar,
                                f"{rows[unsup]['label']} {100 * a['mean']:.1f} % vs {rows[sup]['label']} "
                                f"{100 * b['mean']:.1f} % {what}; lower by more than {100 * bar:.1f} pts needed"))
    return claims


def check_claims(results: dict[str, Any]) -> list[Claim]:
    """All claims that the rows of ``results`` can decide."""
    rows = {row["name"]: row for row in results["rows"]}
    return comparison_claims(rows) + localisation_claims(rows)


def claims_section(results: dict[str, Any]) -> str:
    """Markdown: one line per claim, "holds" or "does not hold", with its evidence; empty if none applies."""
    claims = check_claims(results)
    if not claims:
        return ""
    lines = ["| Claim | Verdict | Evidence |", "|---|---|---|"]
    lines += [f"| {c.text} | {'holds' if c.holds else '**does not hold**'} | {c.evidence} |" for c in claims]
    return "\n".join(lines) + "\n"
