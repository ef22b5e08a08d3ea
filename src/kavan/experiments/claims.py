"""The paper's claims, checked on an ablation's results: does each comparison hold, fail, or sit within noise?

Input is the ``results.json`` object of `kavan ablation`: rows named after their config files or baselines, with
per-split values in the same split order for every row. Every row was trained and tested on the same splits, so
a comparison "A beats B" is judged on the **paired** per-split differences d_k (positive when A, the claimed
winner, is better: higher accuracy, lower nMSE), not on each row's own spread.

The test: the corrected resampled t-test of Nadeau & Bengio (2003, "Inference for the generalization error",
Machine Learning 52), which is the paired t-test with its variance inflated for the overlap of the training sets
(and, with random splits, of the test sets) between splits:

    t = mean(d) / sqrt((1/k + n_test/n_train) · s²),     s² the sample variance of d_1 … d_k (ddof 1)

two-sided at α = 0.05 against Student's t with k − 1 degrees of freedom. Plain paired t-tests on resampled splits
reject far too often (their variance ignores that the splits share most of their data); the correction is the
standard remedy for both random splits and cross-validation folds. With 5 splits of 80/20 the bar is
|mean(d)| > 2.78 · sqrt(0.45) · s ≈ 1.86 s.

Per metric: **holds** when t > t_crit (the claimed winner is better, clear of noise), **does not hold** when
t < −t_crit (the other row is better, clear of noise), **within noise** otherwise. A claim on several metrics
holds when every metric holds, does not hold when any metric does not hold, and is within noise otherwise. With
one split there is no spread to judge: "one split: not judged". All differences equal (s = 0) decide by their
sign alone; all zero is within noise.

Attention localisation (SynthGIF, kavan.experiments.localisation) is a bar, not a comparison: the keypoint-supervised
attention rows should put the argmax cell on a face (grown box) in ≥ 80 % of face frames and ≥ 60 % of face
frames whose keypoints were withheld (paper Sec. 4.3: the masks "accurately focus on correct facial regions even
when no original keypoint annotations are available"). Unsupervised attention (beyond the paper) is compared
with its supervised twin by the same paired test, with rates closer than half a percentage point counted as a
tie (two maps that hit the face in every frame do not differ, whatever the last digits say).

A comparison whose rows are missing (an ablation run with ``--configs`` or ``--baselines``) is left out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from scipy import stats

HOLDS, WITHIN_NOISE, DOES_NOT_HOLD, NOT_JUDGED = "holds", "within noise", "does not hold", "one split: not judged"
ALPHA = 0.05
DEFAULT_TRAIN_FRACTION = 0.8
ACCURACY = ("accuracy", "accuracy", True)  # (metric key, name shown, higher is better)
NMSE = ("nmse_per_emotion", "nMSE per emotion", False)

# Where the paper says it (shared text of Yang, Zhang & Luo, ICME 2019; numbers were lost from the text).
Q_ATT_ACC = "\"With purely the soft attention module, the recognition accuracy improves\" (4.2)"
Q_ATT_NMSE = "\"Soft-Att + LSTM achieves an nMSE of …, which is significantly better than the baseline\" (4.3)"
Q_HS_ACC = "\"With purely the HS-LSTM module, the accuracy improves\" (4.2)"
Q_HS_NMSE = "\"ResNet-50 + HS-LSTM along also outperforms the baseline LSTM\" (4.3)"
Q_BOTH = ("\"When combining the soft attention module with HS-LSTM, the KAVAN framework achieves an accuracy of …, "
          "which is better than both separate modules\" (4.2)")
Q_MTL = ("\"by incorporating multi-task learning … an extra improvements is obtained\" (4.2); \"An extra "
         "improvement is obtained and the nMSE reaches …\" (4.3)")
Q_SOTA = ("\"Our proposed KAVAN framework achieves a nMSE of …, which is better than the best re-implemented "
          "statr-of-the-art\" (4.3); \"Our proposed framework outperforms the state-of-the-art\" (abstract)")
Q_WHOLE = ("\"we propose the Keypoint Attended Visual Attention Network (KAVAN), which improves GIF emotion "
           "recognition performance\" (1)")
Q_MATCHED = "beyond the paper: HS-LSTM against an LSTM with as many parameters, so the claim is not one of capacity"
Q_FACES = ("\"the attention masks predicted by KAVAN accurately focus on correct facial regions even when no "
           "original keypoint annotations are available\" (4.3)")
Q_UNSUP = "beyond the paper: what the keypoints add to attention"


@dataclass(frozen=True)
class Comparison:
    """One claim "winner beats loser" on some metrics, with the sentence of the paper it tests."""

    winner: str
    loser: str
    text: str
    metrics: tuple[tuple[str, str, bool], ...]
    source: str


COMPARISONS = (
    Comparison("softatt-lstm", "resnet50-lstm", "Soft-Att + LSTM beats ResNet-50 + LSTM", (ACCURACY, NMSE),
               f"{Q_ATT_ACC}; {Q_ATT_NMSE}"),
    Comparison("resnet50-hslstm", "resnet50-lstm", "ResNet-50 + HS-LSTM beats ResNet-50 + LSTM", (ACCURACY, NMSE),
               f"{Q_HS_ACC}; {Q_HS_NMSE}"),
    Comparison("softatt-hslstm", "softatt-lstm", "Soft-Att + HS-LSTM beats Soft-Att + LSTM", (ACCURACY, NMSE),
               Q_BOTH),
    Comparison("softatt-hslstm", "resnet50-hslstm", "Soft-Att + HS-LSTM beats ResNet-50 + HS-LSTM",
               (ACCURACY, NMSE), Q_BOTH),
    Comparison("mtl-softatt-hslstm", "softatt-hslstm", "MTL Soft-Att + HS-LSTM beats Soft-Att + HS-LSTM",
               (ACCURACY, NMSE), Q_MTL),
    Comparison("mtl-softatt-hslstm", "colour_histogram", "the full model beats colour histogram + ridge (Jou et al.)",
               (NMSE, ACCURACY), Q_SOTA),
    Comparison("mtl-softatt-hslstm", "face_expression", "the full model beats face expression + OLS (Jou et al.)",
               (NMSE, ACCURACY), Q_SOTA),
    Comparison("mtl-softatt-hslstm", "resnet50-lstm", "the full model beats ResNet-50 + LSTM", (ACCURACY, NMSE),
               Q_WHOLE),
    Comparison("softatt-hslstm", "softatt-lstm-wide", "Soft-Att + HS-LSTM beats Soft-Att + a parameter-matched LSTM",
               (ACCURACY, NMSE), Q_MATCHED),
    Comparison("resnet50-hslstm", "resnet50-lstm-wide",
               "ResNet-50 + HS-LSTM beats ResNet-50 + a parameter-matched LSTM", (ACCURACY, NMSE), Q_MATCHED),
)
SUPERVISED = ("softatt-lstm", "softatt-hslstm", "mtl-softatt-hslstm")
UNSUPERVISED = ("mtl-unsupatt-hslstm", "mtl-softatt-hslstm")  # (unsupervised row, its supervised twin)
LOCALISATION_BARS = {"hit_rate": 0.80, "withheld_hit_rate": 0.60}
TIE = 0.005  # localisation rates closer than half a percentage point are a tie


@dataclass(frozen=True)
class Paired:
    """The paired per-split differences of one metric (positive = the claimed winner is better) and their test."""

    differences: tuple[float, ...]
    test_share: float  # n_test / n_train of the splits, for the Nadeau-Bengio correction
    tie: float = 0.0   # |mean difference| at or below this is within noise whatever the spread

    @property
    def n(self) -> int:
        return len(self.differences)

    @property
    def mean(self) -> float:
        return sum(self.differences) / self.n if self.n else math.nan

    @property
    def won(self) -> int:
        return sum(d > 0 for d in self.differences)

    @property
    def standard_error(self) -> float:
        """sqrt((1/k + n_test/n_train) · s²): the corrected standard error of the mean difference."""
        if self.n < 2:
            return math.nan
        var = sum((d - self.mean) ** 2 for d in self.differences) / (self.n - 1)
        return math.sqrt((1.0 / self.n + self.test_share) * var)

    @property
    def critical(self) -> float:
        """Two-sided Student's t critical value at ALPHA with k − 1 degrees of freedom."""
        return float(stats.t.ppf(1.0 - ALPHA / 2.0, self.n - 1)) if self.n >= 2 else math.nan

    @property
    def bar(self) -> float:
        """Smallest |mean difference| that is clear of noise."""
        return max(self.critical * self.standard_error, self.tie) if self.n >= 2 else math.nan

    @property
    def verdict(self) -> str:
        if self.n < 2:
            return NOT_JUDGED
        if abs(self.mean) <= self.tie:
            return WITHIN_NOISE
        if self.standard_error == 0.0:  # every split moved by the same amount: the sign decides
            return HOLDS if self.mean > 0 else DOES_NOT_HOLD
        t = self.mean / self.standard_error
        if t > self.critical:
            return HOLDS
        if t < -self.critical:
            return DOES_NOT_HOLD
        return WITHIN_NOISE


@dataclass(frozen=True)
class Claim:
    """A verdict with its evidence and the paper's sentence it tests, one line of results.md."""

    text: str
    verdict: str
    evidence: str
    source: str = ""

    @property
    def holds(self) -> bool:
        return self.verdict == HOLDS


def combine(verdicts: list[str]) -> str:
    """A claim on several metrics: holds if all hold, does not hold if any does not, else within noise."""
    if not verdicts or any(v == NOT_JUDGED for v in verdicts):
        return NOT_JUDGED
    if all(v == HOLDS for v in verdicts):
        return HOLDS
    if any(v == DOES_NOT_HOLD for v in verdicts):
        return DOES_NOT_HOLD
    return WITHIN_NOISE


def _values(entry: dict[str, Any]) -> list[float]:
    return [math.nan if v is None else float(v) for v in entry["values"]]


def paired(winner: dict[str, Any], loser: dict[str, Any], higher_is_better: bool, test_share: float,
           tie: float = 0.0) -> Paired:
    """Paired differences of two rows' per-split ``{"values": [...]}`` entries, splits where both are finite."""
    sign = 1.0 if higher_is_better else -1.0
    diffs = tuple(sign * (a - b) for a, b in zip(_values(winner), _values(loser))
                  if math.isfinite(a) and math.isfinite(b))
    return Paired(diffs, test_share, tie)


def test_share(results: dict[str, Any]) -> float:
    """n_test / n_train of the results' splits (from the train fraction; 80/20 when it is not recorded)."""
    fraction = (results.get("split_source") or {}).get("train_fraction") or DEFAULT_TRAIN_FRACTION
    return (1.0 - fraction) / fraction


def _shown(name: str, p: Paired, percent: bool) -> str:
    scale, unit, digits = (100.0, " pts", 1) if percent else (1.0, "", 3)
    if p.n == 0:
        return f"{name}: no split"
    shown = f"{name} {scale * p.mean:+.{digits}f}{unit}"
    if p.n == 1:
        return f"{shown} (one split)"
    return (f"{shown}, won {p.won}/{p.n} splits, noise bar ±{scale * p.bar:.{digits}f}{unit}: {p.verdict}")


def comparison_claims(rows: dict[str, dict[str, Any]], share: float) -> list[Claim]:
    """Every comparison of COMPARISONS whose two rows are present."""
    claims = []
    for c in COMPARISONS:
        if c.winner not in rows or c.loser not in rows:
            continue
        parts, verdicts = [], []
        for key, name, higher in c.metrics:
            p = paired(rows[c.winner]["metrics"][key], rows[c.loser]["metrics"][key], higher, share)
            parts.append(_shown(name, p, percent=key == "accuracy"))
            verdicts.append(p.verdict)
        evidence = f"{rows[c.winner]['label']} vs {rows[c.loser]['label']}: " + "; ".join(parts)
        claims.append(Claim(c.text, combine(verdicts), evidence, c.source))
    return claims


def localisation_claims(rows: dict[str, dict[str, Any]], share: float) -> list[Claim]:
    """The supervised rows' hit rates against the bars, and unsupervised attention against its supervised twin."""
    claims = []
    for name in SUPERVISED:
        loc = rows.get(name, {}).get("localisation")
        if not loc:
            continue
        rates = {key: (loc.get(key) or {}).get("mean") for key in LOCALISATION_BARS}
        ok = all(rate is not None and math.isfinite(rate) and rate >= bar
                 for rate, bar in zip(rates.values(), LOCALISATION_BARS.values()))
        shown = ", ".join(f"{'all face frames' if key == 'hit_rate' else 'keypoints withheld'} "
                          + ("n/a" if rate is None or not math.isfinite(rate) else f"{100 * rate:.1f} %")
                          + f" (bar {100 * LOCALISATION_BARS[key]:.0f} %)" for key, rate in rates.items())
        prior = (loc.get("centre_prior_hit_rate") or {}).get("mean")
        if prior is not None and math.isfinite(prior):
            shown += f"; a map peaked at the centre cell: {100 * prior:.1f} % of all face frames"
        claims.append(Claim(f"{rows[name]['label']}: attention on the face", HOLDS if ok else DOES_NOT_HOLD,
                            shown, Q_FACES))
    unsup, sup = UNSUPERVISED
    if rows.get(unsup, {}).get("localisation") and rows.get(sup, {}).get("localisation"):
        for key, text, what in (
                ("hit_rate", "unsupervised attention finds the face less often than keypoint-supervised attention",
                 "argmax on the face (grown box)"),
                ("mass", "unsupervised attention puts less of its mass on the face",
                 "map mass inside the exact face boxes")):
            a, b = (rows[name]["localisation"].get(key) for name in (unsup, sup))
            if not a or not b:
                continue
            p = paired(b, a, higher_is_better=True, test_share=share, tie=TIE)
            if p.n == 0:
                continue
            claims.append(Claim(text, p.verdict,
                                f"{rows[unsup]['label']} {100 * a['mean']:.1f} % vs {rows[sup]['label']} "
                                f"{100 * b['mean']:.1f} % ({what}); " + _shown("difference", p, percent=True),
                                Q_UNSUP))
    return claims


def check_claims(results: dict[str, Any]) -> list[Claim]:
    """All claims that the rows of ``results`` can decide."""
    rows = {row["name"]: row for row in results["rows"]}
    share = test_share(results)
    return comparison_claims(rows, share) + localisation_claims(rows, share)


def claims_section(results: dict[str, Any]) -> str:
    """Markdown: one line per claim with its verdict, evidence and the paper's sentence; empty if none applies."""
    claims = check_claims(results)
    if not claims:
        return ""
    k = len(results.get("splits") or [])
    share = test_share(results)
    head = (f"Verdicts: paired per-split differences, corrected resampled t-test (Nadeau & Bengio 2003; variance "
            f"× (1/k + n_test/n_train) = (1/{k} + {share:.2f})), two-sided α = {ALPHA}; the noise bar is the "
            "smallest mean difference that is clear of noise (kavan.experiments.claims).\n\n")
    lines = ["| Claim | Verdict | Evidence | The paper says |", "|---|---|---|---|"]
    lines += [f"| {c.text} | {_bold(c.verdict)} | {c.evidence} | {c.source} |" for c in claims]
    return head + "\n".join(lines) + "\n"


def _bold(verdict: str) -> str:
    return verdict if verdict in (HOLDS, WITHIN_NOISE) else f"**{verdict}**"
