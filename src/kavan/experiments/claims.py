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
standard remedy for both random splits and cross-validation folds. n_train is what the models were fitted on:
the split's training part less the validation hold-out (``data.val_fraction``), so with 80/20 splits and a 10 %
hold-out n_test/n_train = 0.2/0.72 = 0.278, and with 5 splits the bar is |mean(d)| > 2.78 · sqrt(0.478) · s ≈
1.92 s. (The baselines fit on the whole training part; the models' smaller n_train gives the wider, more
careful bar.)

s is floored at the metric's resolution (``RESOLUTION``: one test GIF for accuracy, 0.001 for nMSE), so that
differences that happen to be equal on every split (two rows that differ by one GIF each time) are not taken as
infinitely precise. Below ``MIN_SPLITS`` = 3 splits nothing is judged ("fewer than 3 splits: not judged"): with
two splits the t distribution has one degree of freedom and the sample variance one, and a sign can decide.

Per metric: **holds** when p < α and the claimed winner is better, **does not hold** when p < α and the other row
is better, **within noise** otherwise. A table asks about 20 such questions, so each table also gives the
**Holm-adjusted** verdicts (Holm 1979, step-down: the i-th smallest of m p-values is multiplied by m − i + 1,
made monotone, capped at 1), which keep the chance of any false "holds" or "does not hold" in the table at α; the
unadjusted verdict stands beside it. A claim on several metrics holds when every metric holds, does not hold when
any metric does not hold, and is within noise otherwise.

Every comparison pairs the two rows split by split (the per-split ``values`` lists of results.json are indexed by
split; a split where either row has no finite value is left out of that comparison, and the evidence then names
the splits used), and the means in the evidence are over the same splits as the test.

Attention localisation (SynthGIF, kavan.experiments.localisation) is a bar, not a comparison: the keypoint-supervised
attention rows should put the argmax cell on a face (grown box) in ≥ 80 % of face frames and ≥ 60 % of face
frames whose keypoints were withheld (paper Sec. 4.4: the masks "accurately focus on correct facial regions even
when no original keypoint annotations are available"). Unsupervised attention (beyond the paper) is compared
with its supervised twin by the same paired test, with rates closer than half a percentage point counted as a
tie (two maps that hit the face in every frame do not differ, whatever the last digits say).

The state-of-the-art claim is judged against the strongest baseline of each kind: the colour histogram with
ridge regression (λ by generalised cross-validation) and the face-expression features with ridge regression;
the face-expression row with ordinary least squares, Jou et al.'s and the paper's, is compared too, as the paper's
row. A comparison whose rows are missing (an ablation run with ``--configs`` or ``--baselines``) is left out.

Rows beyond the paper (the face-glimpse row, docs/model.md) are judged in a table of their own: against the
strongest baseline of each kind and against the full model they extend, Holm-adjusted among themselves, so that
adding such a row to a run leaves every verdict on the paper's claims exactly as it was.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from scipy import stats

from kavan.core.errors import KavanError

MIN_SPLITS = 3
HOLDS, WITHIN_NOISE, DOES_NOT_HOLD = "holds", "within noise", "does not hold"
NOT_JUDGED = f"fewer than {MIN_SPLITS} splits: not judged"
ALPHA = 0.05
NMSE_RESOLUTION = 0.001
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
           "original keypoint annotations are available\" (4.4)")
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
    Comparison("mtl-softatt-hslstm", "face_expression_ridge",
               "the full model beats face expression + ridge (the strongest face baseline)", (NMSE, ACCURACY), Q_SOTA),
    Comparison("mtl-softatt-hslstm", "face_expression", "the full model beats face expression + OLS (Jou et al.)",
               (NMSE, ACCURACY), f"the paper's row; {Q_SOTA}"),
    Comparison("mtl-softatt-hslstm", "resnet50-lstm", "the full model beats ResNet-50 + LSTM", (ACCURACY, NMSE),
               Q_WHOLE),
    Comparison("softatt-hslstm", "softatt-lstm-wide", "Soft-Att + HS-LSTM beats Soft-Att + a parameter-matched LSTM",
               (ACCURACY, NMSE), Q_MATCHED),
    Comparison("resnet50-hslstm", "resnet50-lstm-wide",
               "ResNet-50 + HS-LSTM beats ResNet-50 + a parameter-matched LSTM", (ACCURACY, NMSE), Q_MATCHED),
)
Q_GLIMPSE = ("beyond the paper: a glimpse of the face at the frame's own resolution should read small faces the "
             "frozen 14 × 14 map cannot (docs/results.md, \"Small faces\")")
GLIMPSE = "mtl-softatt-hslstm-glimpse"
BEYOND_PAPER = (
    Comparison(GLIMPSE, "colour_histogram", "the glimpse row beats colour histogram + ridge", (NMSE, ACCURACY),
               Q_GLIMPSE),
    Comparison(GLIMPSE, "face_expression_ridge", "the glimpse row beats face expression + ridge", (NMSE, ACCURACY),
               Q_GLIMPSE),
    Comparison(GLIMPSE, "mtl-softatt-hslstm", "the glimpse row beats the full model (MTL Soft-Att + HS-LSTM)",
               (NMSE, ACCURACY), Q_GLIMPSE),
)
SUPERVISED = ("softatt-lstm", "softatt-hslstm", "mtl-softatt-hslstm")
UNSUPERVISED = ("mtl-unsupatt-hslstm", "mtl-softatt-hslstm")  # (unsupervised row, its supervised twin)
LOCALISATION_BARS = {"hit_rate": 0.80, "withheld_hit_rate": 0.60}
TIE = 0.005  # localisation rates closer than half a percentage point are a tie


@dataclass(frozen=True)
class Paired:
    """The paired per-split differences of one metric (positive = the claimed winner is better) and their test.

    ``splits``: the split index of each difference (their positions when not given). ``sd_floor``: the smallest
    sample standard deviation taken (the metric's resolution)."""

    differences: tuple[float, ...]
    test_share: float  # n_test / n_train of the splits, for the Nadeau-Bengio correction
    tie: float = 0.0   # |mean difference| at or below this is within noise whatever the spread
    sd_floor: float = 0.0
    splits: tuple[int, ...] | None = None

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
    def sd(self) -> float:
        """The sample standard deviation of the differences (ddof 1), at least ``sd_floor``."""
        if self.n < 2:
            return math.nan
        var = sum((d - self.mean) ** 2 for d in self.differences) / (self.n - 1)
        return max(math.sqrt(var), self.sd_floor)

    @property
    def standard_error(self) -> float:
        """sqrt((1/k + n_test/n_train) · s²): the corrected standard error of the mean difference."""
        return math.sqrt(1.0 / self.n + self.test_share) * self.sd if self.n >= 2 else math.nan

    @property
    def critical(self) -> float:
        """Two-sided Student's t critical value at ALPHA with k − 1 degrees of freedom."""
        return float(stats.t.ppf(1.0 - ALPHA / 2.0, self.n - 1)) if self.n >= 2 else math.nan

    @property
    def bar(self) -> float:
        """Smallest |mean difference| that is clear of noise."""
        return max(self.critical * self.standard_error, self.tie) if self.n >= 2 else math.nan

    @property
    def judged(self) -> bool:
        """Whether there are enough splits for a verdict and the difference is not a tie."""
        return self.n >= MIN_SPLITS and abs(self.mean) > self.tie

    @property
    def p_value(self) -> float:
        """Two-sided p of the corrected t statistic (NaN below MIN_SPLITS; 1 for a tie or all-zero differences)."""
        if self.n < MIN_SPLITS:
            return math.nan
        if not self.judged:
            return 1.0
        if self.standard_error == 0.0:
            return 0.0
        return float(2.0 * stats.t.sf(abs(self.mean) / self.standard_error, self.n - 1))

    def decide(self, p: float) -> str:
        """The verdict for p-value ``p`` (this one's, or a Holm-adjusted one)."""
        if self.n < MIN_SPLITS:
            return NOT_JUDGED
        if not self.judged or not p < ALPHA:
            return WITHIN_NOISE
        return HOLDS if self.mean > 0 else DOES_NOT_HOLD

    @property
    def verdict(self) -> str:
        return self.decide(self.p_value)


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjustment of ``p_values`` (NaN stays NaN and does not count): the i-th smallest of the m
    p-values becomes max over j <= i of min(1, (m − j + 1) · p_(j))."""
    order = sorted((p, k) for k, p in enumerate(p_values) if math.isfinite(p))
    m = len(order)
    adjusted = [math.nan] * len(p_values)
    running = 0.0
    for rank, (p, k) in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[k] = running
    return adjusted


@dataclass(frozen=True)
class Claim:
    """A verdict with its evidence and the paper's sentence it tests, one line of results.md."""

    text: str
    verdict: str
    evidence: str
    source: str = ""
    raw_verdict: str = ""
    metrics: tuple[tuple[str, str], ...] = ()  # per metric name: "<verdict> (<difference, splits won, bar, p>)"

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
           tie: float = 0.0, sd_floor: float = 0.0) -> Paired:
    """Paired differences of two rows' per-split ``{"values": [...]}`` entries (indexed by split), on the splits
    where both are finite; KavanError when the two lists cover different numbers of splits."""
    a_values, b_values = _values(winner), _values(loser)
    if len(a_values) != len(b_values):
        raise KavanError(f"two rows have values for {len(a_values)} and {len(b_values)} splits; results.json keeps "
                         "one value per split (null where a split has none)")
    sign = 1.0 if higher_is_better else -1.0
    kept = [k for k, (a, b) in enumerate(zip(a_values, b_values)) if math.isfinite(a) and math.isfinite(b)]
    diffs = tuple(sign * (a_values[k] - b_values[k]) for k in kept)
    return Paired(diffs, test_share, tie, sd_floor, tuple(kept))


def test_share(results: dict[str, Any]) -> float:
    """n_test / n_train of the results' splits: the test part over what the models were fitted on, the training
    part less its validation hold-out (train fraction 0.8 when not recorded, hold-out 0 when not recorded)."""
    source = results.get("split_source") or {}
    fraction = source.get("train_fraction") or DEFAULT_TRAIN_FRACTION
    held_out = source.get("val_fraction") or 0.0
    return (1.0 - fraction) / (fraction * (1.0 - held_out))


def resolution(results: dict[str, Any], key: str) -> float:
    """The smallest difference a metric can show on the results' test sets: one test GIF of accuracy, 0.001 of
    nMSE (the digits the tables print); 0 for anything else."""
    if key == "accuracy":
        n_gifs = (results.get("dataset") or {}).get("n_gifs")
        fraction = (results.get("split_source") or {}).get("train_fraction") or DEFAULT_TRAIN_FRACTION
        n_test = round(n_gifs * (1.0 - fraction)) if n_gifs else 0
        return 1.0 / n_test if n_test > 0 else 0.0
    return NMSE_RESOLUTION if key.startswith("nmse") else 0.0


@dataclass
class _Question:
    """One metric of one claim: its paired test and what the evidence shows of it."""

    name: str
    paired: Paired
    percent: bool
    means: tuple[float, float] | None = None  # the two rows' means over the paired splits
    adjusted: float = math.nan

    def shown(self, n_splits: int) -> str:
        p = self.paired
        scale, unit, digits = (100.0, " pts", 1) if self.percent else (1.0, "", 3)
        if p.n == 0:
            return f"{self.name}: no split"
        head = f"{self.name} "
        if self.means is not None:
            a, b = (scale * m for m in self.means)
            head += (f"{a:.{digits}f} % vs {b:.{digits}f} % " if self.percent else f"{a:.{digits}f} vs {b:.{digits}f} ")
        detail, verdict = self.judged(n_splits)
        return f"{head}({detail}): {verdict}"

    def judged(self, n_splits: int) -> tuple[str, str]:
        """(the difference, splits won, noise bar and p-values; the verdict) of a question with at least one split."""
        p = self.paired
        scale, unit, digits = (100.0, " pts", 1) if self.percent else (1.0, "", 3)
        detail = f"{scale * p.mean:+.{digits}f}{unit}, won {p.won}/{p.n}"
        if p.splits is not None and p.n < n_splits:
            detail += f" (splits {', '.join(str(k) for k in p.splits)} only)"
        if p.n < MIN_SPLITS:
            return detail, NOT_JUDGED
        detail += f", noise bar ±{scale * p.bar:.{digits}f}{unit}"
        if p.judged:
            detail += f", p {p.p_value:.3g}, Holm p {self.adjusted:.3g}"
        return detail, p.decide(self.adjusted)

    def summary(self, n_splits: int) -> str:
        """"<verdict> (<detail>)", or "no split"."""
        if self.paired.n == 0:
            return "no split"
        detail, verdict = self.judged(n_splits)
        return f"{verdict} ({detail})"


def _means(a: dict[str, Any], b: dict[str, Any], p: Paired) -> tuple[float, float] | None:
    if not p.splits:
        return None
    a_values, b_values = _values(a), _values(b)
    return (sum(a_values[k] for k in p.splits) / p.n, sum(b_values[k] for k in p.splits) / p.n)


def _comparison_questions(rows: dict[str, dict[str, Any]], share: float, results: dict[str, Any],
                          comparisons: tuple[Comparison, ...] = COMPARISONS
                          ) -> list[tuple[Comparison, list[_Question]]]:
    found = []
    for c in comparisons:
        if c.winner not in rows or c.loser not in rows:
            continue
        questions = []
        for key, name, higher in c.metrics:
            a, b = rows[c.winner]["metrics"][key], rows[c.loser]["metrics"][key]
            p = paired(a, b, higher, share, sd_floor=resolution(results, key))
            questions.append(_Question(name, p, key == "accuracy", _means(a, b, p)))
        found.append((c, questions))
    return found


def _adjust(questions: list[_Question]) -> None:
    """Holm-adjust the p-values of the judged questions of one table, in place."""
    judged = [q for q in questions if q.paired.judged]
    for q, adjusted in zip(judged, holm([q.paired.p_value for q in judged])):
        q.adjusted = adjusted
    for q in questions:
        if not q.paired.judged:
            q.adjusted = q.paired.p_value


def _claim(c: Comparison, questions: list[_Question], rows: dict[str, dict[str, Any]], n_splits: int) -> Claim:
    evidence = f"{rows[c.winner]['label']} vs {rows[c.loser]['label']}: " + "; ".join(
        q.shown(n_splits) for q in questions)
    return Claim(c.text, combine([q.paired.decide(q.adjusted) for q in questions]), evidence, c.source,
                 combine([q.paired.verdict for q in questions]), tuple((q.name, q.summary(n_splits)) for q in questions))


def _localisation(rows: dict[str, dict[str, Any]], share: float
                  ) -> tuple[list[Claim], list[tuple[str, str, list[_Question], str]]]:
    """The supervised rows' hit rates against the bars (a bar, not a test: finished claims), and the tests of
    unsupervised attention against its supervised twin (for check_claims to adjust with the table's others)."""
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
        verdict = HOLDS if ok else DOES_NOT_HOLD
        claims.append(Claim(f"{rows[name]['label']}: attention on the face", verdict, shown, Q_FACES, verdict))
    tests = []
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
            means = _means(b, a, p)
            question = _Question("difference", p, True)
            prefix = (f"{rows[unsup]['label']} {100 * means[1]:.1f} % vs {rows[sup]['label']} {100 * means[0]:.1f} % "
                      f"({what}); ")
            tests.append((text, prefix, [question], Q_UNSUP))
    return claims, tests


def _tested(tests: list[tuple[str, str, list[_Question], str]], n_splits: int) -> list[Claim]:
    return [Claim(text, combine([q.paired.decide(q.adjusted) for q in questions]),
                  prefix + "; ".join(q.shown(n_splits) for q in questions), source,
                  combine([q.paired.verdict for q in questions]))
            for text, prefix, questions, source in tests]


def check_claims(results: dict[str, Any]) -> list[Claim]:
    """All claims of the paper that the rows of ``results`` can decide; the tests of one results file are
    Holm-adjusted together."""
    rows = {row["name"]: row for row in results["rows"]}
    share = test_share(results)
    n_splits = len(results.get("splits") or [])
    found = _comparison_questions(rows, share, results)
    bars, tests = _localisation(rows, share)
    _adjust([q for _, questions in found for q in questions] + [q for *_, questions, _ in tests for q in questions])
    return [_claim(c, questions, rows, n_splits) for c, questions in found] + bars + _tested(tests, n_splits)


def check_beyond_paper(results: dict[str, Any]) -> list[Claim]:
    """The comparisons of the rows beyond the paper that ``results`` holds, Holm-adjusted among themselves (apart
    from the paper's claims, whose verdicts they leave as they are)."""
    rows = {row["name"]: row for row in results["rows"]}
    found = _comparison_questions(rows, test_share(results), results, BEYOND_PAPER)
    _adjust([q for _, questions in found for q in questions])
    n_splits = len(results.get("splits") or [])
    return [_claim(c, questions, rows, n_splits) for c, questions in found]


def claims_section(results: dict[str, Any]) -> str:
    """Markdown: one line per claim with its verdict (Holm-adjusted and raw), evidence and the paper's sentence;
    empty if none applies."""
    return _section(results, check_claims(results), "The paper says")


def beyond_paper_section(results: dict[str, Any]) -> str:
    """The same for the rows beyond the paper (their own Holm family); empty when the results hold none."""
    return _section(results, check_beyond_paper(results), "Why it is asked")


def _section(results: dict[str, Any], claims: list[Claim], source: str) -> str:
    if not claims:
        return ""
    k = len(results.get("splits") or [])
    share = test_share(results)
    head = (f"Verdicts: paired per-split differences, corrected resampled t-test (Nadeau & Bengio 2003; variance "
            f"× (1/k + n_test/n_train) = (1/{k} + {share:.3f}), n_train after the validation hold-out), two-sided "
            f"α = {ALPHA}, no verdict below {MIN_SPLITS} splits; the noise bar is the smallest mean difference that is "
            "clear of noise. The verdict is Holm-adjusted over every test of this table (the raw one beside it); the "
            "means are over the splits each test used (kavan.experiments.claims).\n\n")
    lines = [f"| Claim | Verdict (Holm) | Unadjusted | Evidence | {source} |", "|---|---|---|---|---|"]
    lines += [f"| {c.text} | {bold_verdict(c.verdict)} | {c.raw_verdict} | {c.evidence} | {c.source} |" for c in claims]
    return head + "\n".join(lines) + "\n"


def bold_verdict(verdict: str) -> str:
    """A verdict as the tables show it: "does not hold" (and "not judged") in bold, the rest plain."""
    return verdict if verdict in (HOLDS, WITHIN_NOISE) else f"**{verdict}**"
