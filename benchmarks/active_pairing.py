"""Pair-choice strategies against each other: votes needed until the scores follow the latent intensities.

Simulated annotators answer the questions ``kavan.labels.pairing.PairSelector`` asks
(``kavan.synth.labelling.labelling_steps``), with the perception noise, lapses and "neither" rules of
``kavan.synth.votes.answer_votes`` (the function ``simulate_votes`` uses). The latents are drawn exactly as
``kavan synth`` draws them (the label stream of ``kavan.synth.generate.make_gif``: same seed, same GIF index, same
latents as the folder ``kavan synth`` would write), without rendering any GIF.

Strategies (``--strategies``): ``random``, ``active`` (balanced without a prior, unbalanced with one: its
defaults), ``asap`` (sequential), ``asap-batch`` (ASAP's minimum spanning tree batches, as ``kavan label --pairing
asap`` runs it), ``unbalanced`` and ``balanced`` (active with balance forced off or on, the ablations;
``--ablation`` adds ``unbalanced``), and any of them with ``+prior`` (model-guided: a simulated model's predictions
as the selector's prior; ``+prior@S`` with prior sigma S instead of ``kavan.labels.prior.PRIOR_SIGMA``).

The simulated model (``simulate_model``): its prediction of a GIF is the latent mapped to the scale of the scores
(0.458 + 0.379 · latent, the least-squares line of TrueSkill's mu / 50 on the latents after 16 random votes per GIF,
1,000 GIFs, emotions 0-2, measured with this repository) plus Gaussian noise sized so that the predictions correlate
with the latents at ``--prior-r`` (0.7 by default), clipped to [0, 1]. With ``--bias-offset D`` a random half of the
GIFs get D added to every prediction: a model with a systematic error, for the bias of ``kavan scores --prior``.

Each emotion is simulated on its own (a selector with one emotion; the questions of one emotion never change
another's posterior). Scores, at every checkpoint: ``votes`` (TrueSkill over the votes in order from GIFGIF's prior,
what ``kavan scores`` writes), ``prior`` (the same from the model prior, ``kavan scores --prior``; +prior runs only)
and ``ep`` (the mean of the full EP posterior over all votes, GIFGIF's prior). Reported per strategy, scores and set
size, averaged over the emotions and seeds:

* votes per GIF per emotion until the Pearson r of the scores with the latents first reaches ``--target`` (0.9),
  its ratio to random pairing's (with ``votes`` scores), and the total that means for all 17 emotions;
* r and ranking accuracy over "tellable" pairs (which a noiseless annotator would not answer "neither": the larger
  latent at least ``neither_level``, the gap at least ``neither_margin``) at equal budgets;
* what was asked: the share of tellable pairs, the most votes one GIF took part in, the share of distinct pairs;
* with ``--bias-offset``: the share of the model's offset still in the scores (least-squares residual of the
  scores on the latents, shifted half minus the other half, over the offset);
* the time of one ``next()`` at 10,000 GIFs x 17 emotions after ``--timing-preload`` random-round votes per GIF
  and emotion (median, 95th percentile, largest, mean).

    python benchmarks/active_pairing.py --sizes 200 --save run.json     # one run; --merge a.json b.json: tables

Defaults: 200 and 1,000 GIFs, all 17 emotions, 2 seeds, random and active, up to 16 votes per GIF per emotion.
docs/labelling.md gives the commands behind its tables.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from kavan.core.emotions import EMOTIONS
from kavan.labels.ep_posterior import EPPosterior
from kavan.labels.pairing import PairSelector
from kavan.labels.prior import PRIOR_SIGMA
from kavan.labels.trueskill_update import TrueSkillParams, rate_1vs1
from kavan.synth import SynthConfig
from kavan.synth import trajectories as traj
from kavan.synth.labelling import labelling_steps
from kavan.synth.votes import ANSWERS, pairings

SCORE_LINE = (0.458, 0.379)  # mu / 50 ≈ a + b · latent (see the module docstring)
SCORINGS = ("votes", "prior", "ep")


def draw_latents(cfg: SynthConfig, seed: int, n: int) -> np.ndarray:
    """(n, 17) latents, the same as those ``make_gif(cfg, seed, index)`` gives GIFs 0..n-1."""
    out = np.empty((n, len(EMOTIONS)))
    for index in range(n):
        streams = np.random.SeedSequence(seed, spawn_key=(0, index)).spawn(4)
        r_label = np.random.default_rng(streams[0])
        u = r_label.random()
        n_faces = 0 if u < cfg.p_no_face else 2 if u < cfg.p_no_face + cfg.p_two_faces else 1
        if n_faces == 0:
            out[index] = traj.no_face_latents(float(r_label.uniform(-1.0, 1.0)), r_label, cfg)
        else:
            out[index] = traj.combine([traj.sample_mixture(r_label, cfg) for _ in range(n_faces)],
                                      cfg.two_face_label)
    return out


def simulate_model(latent: np.ndarray, r: float, rng: np.random.Generator, offset: float = 0.0) -> tuple:
    """A model's predictions of one emotion: the latents on the scores' scale plus noise for Pearson r ``r``,
    clipped to [0, 1]; with ``offset``, a random half shifted by it. Returns (predictions, shifted mask)."""
    a, b = SCORE_LINE
    noise = b * latent.std() * np.sqrt(1 / r ** 2 - 1)
    shifted = rng.random(len(latent)) < 0.5 if offset else np.zeros(len(latent), dtype=bool)
    pred = a + b * latent + rng.normal(0.0, noise, len(latent)) + offset * shifted
    return np.clip(pred, 0.0, 1.0), shifted


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    if np.std(x) == 0 or np.std(y) == 0:
        return 0.0
    return float(np.corrcoef(x, y)[0, 1])


def ranking_accuracy(score: np.ndarray, truth: np.ndarray, rng: np.random.Generator, n_pairs: int = 20000,
                     cfg: SynthConfig | None = None) -> float:
    """Fraction of random GIF pairs (distinct latents) that ``score`` orders as ``truth``; ties count half.

    With ``cfg``, only pairs a noiseless annotator could tell apart (not "neither" by its rules) count.
    """
    i, j = rng.integers(0, len(truth), (2, n_pairs))
    keep = truth[i] != truth[j]
    if cfg is not None:
        keep &= tellable(truth[i], truth[j], cfg)
    i, j = i[keep], j[keep]
    agree = np.sign(score[i] - score[j]) * np.sign(truth[i] - truth[j])
    return float(np.mean((agree > 0) + 0.5 * (agree == 0)))


def tellable(x: np.ndarray, y: np.ndarray, cfg: SynthConfig) -> np.ndarray:
    """Pairs a noiseless annotator would not answer "neither"."""
    return (np.maximum(x, y) >= cfg.neither_level) & (np.abs(x - y) >= cfg.neither_margin)


def offset_kept(score: np.ndarray, latent: np.ndarray, shifted: np.ndarray, offset: float) -> float:
    """The share of a model's offset left in ``score``: mean residual (scores on latents, least squares) of the
    shifted GIFs minus that of the others, over the offset."""
    if not offset or shifted.all() or not shifted.any():
        return float("nan")
    resid = score - np.polyval(np.polyfit(latent, score, 1), latent)
    return float((resid[shifted].mean() - resid[~shifted].mean()) / offset)


@dataclasses.dataclass(frozen=True)
class Spec:
    """A strategy as named on the command line: ``base[+prior[@sigma]]``."""

    name: str
    base: str
    prior: bool
    sigma: float

    @classmethod
    def parse(cls, text: str) -> Spec:
        base, _, rest = text.partition("+")
        sigma = PRIOR_SIGMA
        if rest:
            word, _, value = rest.partition("@")
            if word != "prior":
                raise SystemExit(f"unknown strategy {text!r}: use NAME or NAME+prior[@SIGMA]")
            sigma = float(value) if value else PRIOR_SIGMA
        if base not in ("random", "active", "asap", "asap-batch", "unbalanced", "balanced"):
            raise SystemExit(f"unknown strategy {base!r}")
        return cls(text, base, bool(rest), sigma)

    def selector_options(self) -> dict:
        strategy = {"asap-batch": "asap", "unbalanced": "active", "balanced": "active"}.get(self.base, self.base)
        options: dict = {"strategy": strategy}
        if self.base == "asap-batch":
            options["batch"] = True
        if self.base in ("unbalanced", "balanced"):
            options["balance"] = self.base == "balanced"
        if self.prior:
            options["prior_sigma"] = self.sigma
        return options


def run_curve(latent: np.ndarray, spec: Spec, cfg: SynthConfig, seed: int, checkpoints: np.ndarray,
              prior_r: float, bias_offset: float) -> dict:
    """Scores against one emotion's latents after each checkpoint (votes per GIF), and what was asked."""
    n = len(latent)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(11,)))
    prior, shifted = None, np.zeros(n, dtype=bool)
    if spec.prior:
        pred, shifted = simulate_model(latent, prior_r, rng, bias_offset)
        prior = pred[:, None]
    params = TrueSkillParams()
    mu, sigma = np.full(n, params.mu), np.full(n, params.sigma)
    first, second, drawn = [], [], []
    at = {int(round(c * n / 2)): k for k, c in enumerate(checkpoints)}
    r = np.full((len(checkpoints), len(SCORINGS)), np.nan)
    acc = np.full((len(checkpoints), len(SCORINGS)), np.nan)
    kept = np.full((len(checkpoints), len(SCORINGS)), np.nan)
    options = spec.selector_options()
    steps = labelling_steps(latent[:, None], cfg, options.pop("strategy"), prior, float(checkpoints[-1]), seed=seed,
                            **options)
    for t, ((a, b, _, winner), sel) in enumerate(steps, start=1):
        i, j = int(a[1:]), int(b[1:])
        if winner == "b":
            i, j = j, i
        d = np.array([winner == "neither"])
        mu[[i]], sigma[[i]], mu[[j]], sigma[[j]] = rate_1vs1(mu[[i]], sigma[[i]], mu[[j]], sigma[[j]], d, params)
        first.append(i)
        second.append(j)
        drawn.append(bool(d[0]))
        if t not in at:
            continue
        k = at[t]
        ep = EPPosterior(np.full(n, params.mu), np.full(n, params.sigma))
        ep.set_draw_margin(dataclasses.replace(sel._selection_params(), tau=0.0))
        ep.add(np.array(first), np.array(second), np.array(drawn))
        ep.solve()
        scores = {"votes": mu / 50, "ep": ep.mu / 50}
        if spec.prior:
            scores["prior"] = sel.mu[0] / 50
        for s, name in enumerate(SCORINGS):
            if name in scores:
                r[k, s] = pearson(scores[name], latent)
                acc[k, s] = ranking_accuracy(scores[name], latent, rng, cfg=cfg)
                kept[k, s] = offset_kept(scores[name], latent, shifted, bias_offset)
    pairs = np.stack([np.array(first), np.array(second)], axis=1)
    asked = {"tellable": float(tellable(latent[pairs[:, 0]], latent[pairs[:, 1]], cfg).mean()),
             "max_votes": int(np.bincount(pairs.ravel(), minlength=n).max()),
             "distinct": len({(min(p), max(p)) for p in pairs.tolist()}) / len(pairs)}
    prior_r_seen = pearson(prior[:, 0], latent) if prior is not None else float("nan")
    return {"r": r, "acc": acc, "kept": kept, "asked": asked, "prior_r": prior_r_seen}


def votes_to_reach(checkpoints: np.ndarray, r: np.ndarray, target: float) -> float:
    """Votes per GIF at which the curve first reaches ``target`` (linear between checkpoints); nan if never."""
    hit = np.flatnonzero(r >= target)
    if not hit.size:
        return float("nan")
    k = int(hit[0])
    if k == 0:
        return float(checkpoints[0])
    x0, x1, y0, y1 = checkpoints[k - 1], checkpoints[k], r[k - 1], r[k]
    return float(x0 + (target - y0) / (y1 - y0) * (x1 - x0))


def selection_time(strategy: str, n: int, calls: int, preload: int, seed: int) -> dict:
    """Seconds of one ``next()`` at n GIFs x 17 emotions after ``preload`` random-round votes per GIF and emotion
    (answers drawn with SynthGIF's shares: 11 % a, 11 % b, 78 % neither), votes coming in."""
    spec = Spec.parse(strategy)
    options = spec.selector_options()
    ids = [f"g{i}" for i in range(n)]
    sel = PairSelector(ids, list(EMOTIONS), options.pop("strategy"), seed=seed, **options)
    rng = np.random.default_rng(seed)
    shares = [0.11, 0.11, 0.78]
    for emotion in tqdm(EMOTIONS, desc=f"preloading {strategy}", leave=False):
        for (i, j), w in zip(pairings(n, preload, rng).tolist(), rng.choice(3, n * preload // 2 + n, p=shares)):
            sel.observe(ids[i], ids[j], emotion, ANSWERS[int(w)])
    times = []
    for _ in tqdm(range(calls), desc=f"next() {strategy} at {n} GIFs", leave=False):
        t0 = time.perf_counter()
        a, b, e = sel.next()
        times.append(time.perf_counter() - t0)
        sel.observe(a, b, e, ANSWERS[int(rng.choice(3, p=shares))])
    t = np.array(times)
    return {"median": float(np.median(t)), "p95": float(np.percentile(t, 95)), "max": float(t.max()),
            "mean": float(t.mean()), "calls": calls, "preload": preload, "gifs": n}


def _curve_job(job: tuple) -> tuple:
    n, name, emotion, seed, latent, checkpoints, cfg, prior_r, bias_offset = job
    return n, name, emotion, seed, run_curve(latent, Spec.parse(name), cfg, seed, checkpoints, prior_r, bias_offset)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[200, 1000], help="GIF counts")
    ap.add_argument("--seeds", type=int, default=2, help="simulation seeds per (size, emotion)")
    ap.add_argument("--emotions", type=int, default=len(EMOTIONS), help="first K of the 17 emotions")
    ap.add_argument("--strategies", nargs="*", default=["random", "active"],
                    help="random, active, asap, asap-batch, unbalanced, each optionally +prior or +prior@SIGMA")
    ap.add_argument("--ablation", action="store_true", help="also run active without balance (pure max gain)")
    ap.add_argument("--prior-r", type=float, default=0.7, help="Pearson r of the simulated model with the latents")
    ap.add_argument("--bias-offset", type=float, default=0.0,
                    help="add this to the predictions of a random half of the GIFs (a biased model)")
    ap.add_argument("--max-votes", type=float, default=16, help="votes per GIF per emotion to simulate")
    ap.add_argument("--step", type=float, default=0.5, help="checkpoint spacing, votes per GIF per emotion")
    ap.add_argument("--budgets", type=float, nargs="+", default=[2, 4, 8], help="equal budgets for the table")
    ap.add_argument("--target", type=float, default=0.9, help="Pearson r to reach")
    ap.add_argument("--timing", nargs="*", default=["active"], metavar="STRATEGY",
                    help="strategies whose next() is timed at --timing-gifs (none: skip)")
    ap.add_argument("--timing-gifs", type=int, default=10_000)
    ap.add_argument("--timing-calls", type=int, default=200)
    ap.add_argument("--timing-preload", type=int, default=1, help="random-round votes per GIF per emotion first")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--latent-seed", type=int, default=0, help="the kavan synth seed the latents are drawn with")
    ap.add_argument("--save", type=Path, default=None, help="write the curves and timings as JSON here")
    ap.add_argument("--merge", type=Path, nargs="+", default=None,
                    help="report (and --plot) saved runs instead of simulating")
    ap.add_argument("--plot", type=Path, default=None, help="write the r-against-votes PNG here")
    ap.add_argument("--plot-strategies", nargs="+", default=None, metavar="STRATEGY",
                    help="only these strategies in the plot (default: all)")
    args = ap.parse_args(argv)

    if args.merge:
        runs = [json.loads(p.read_text()) for p in args.merge]
    else:
        runs = [simulate(args)]
        if args.save:
            args.save.parent.mkdir(parents=True, exist_ok=True)
            args.save.write_text(json.dumps(runs[0]))
    print(report(runs, args.budgets, args.target))
    if args.plot:
        plot(args.plot, runs, args.target, args.plot_strategies)
    return 0


def simulate(args: argparse.Namespace) -> dict:
    cfg = SynthConfig()
    names = list(args.strategies) + (["unbalanced"] if args.ablation and "unbalanced" not in args.strategies else [])
    for name in names:
        Spec.parse(name)
    latents = {n: draw_latents(cfg, args.latent_seed, n) for n in args.sizes}
    checkpoints = np.arange(args.step, args.max_votes + 1e-9, args.step)
    jobs = [(n, s, e, seed, latents[n][:, e], checkpoints, cfg, args.prior_r, args.bias_offset)
            for n in args.sizes for e in range(args.emotions) for seed in range(args.seeds) for s in names]
    jobs.sort(key=lambda j: -j[0])  # the big ones first, so a pool ends evenly
    started = time.perf_counter()
    if args.workers > 1:
        from multiprocessing import Pool
        with Pool(args.workers) as pool:
            results = list(tqdm(pool.imap_unordered(_curve_job, jobs), total=len(jobs), desc="curves"))
    else:
        results = [_curve_job(j) for j in tqdm(jobs, desc="curves")]
    curves = []
    for n in args.sizes:
        for s in names:
            rows = [res for (nn, ss, _, _, res) in results if nn == n and ss == s]
            curves.append({"gifs": n, "strategy": s,
                           "r": np.nanmean([x["r"] for x in rows], axis=0).tolist(),
                           "acc": np.nanmean([x["acc"] for x in rows], axis=0).tolist(),
                           "kept": np.nanmean([x["kept"] for x in rows], axis=0).tolist(),
                           "asked": {k: float(np.mean([x["asked"][k] for x in rows])) for k in rows[0]["asked"]},
                           "prior_r": float(np.mean([x["prior_r"] for x in rows]))})
    simulated = time.perf_counter() - started
    timings = {s: selection_time(s, args.timing_gifs, args.timing_calls, args.timing_preload, 0)
               for s in args.timing}
    return {"checkpoints": checkpoints.tolist(), "curves": curves, "timings": timings,
            "settings": {"emotions": args.emotions, "seeds": args.seeds, "latent_seed": args.latent_seed,
                         "prior_r": args.prior_r, "bias_offset": args.bias_offset, "workers": args.workers,
                         "machine": platform.processor() or platform.machine(),
                         "seconds": time.perf_counter() - started, "simulation_seconds": simulated}}


def _scorings(strategy: str) -> list[str]:
    return ["votes", "prior", "ep"] if "+prior" in strategy else ["votes", "ep"]


def _label(strategy: str, settings: dict) -> str:
    """The strategy's name in the tables; +prior runs name their simulated model."""
    if "+prior" not in strategy:
        return strategy
    offset = f", offset {settings['bias_offset']:g}" if settings["bias_offset"] else ""
    return f"{strategy} (model r {settings['prior_r']:g}{offset})"


def report(runs: list[dict], budgets: list[float], target: float) -> str:
    budgets = [b for b in budgets if all(b <= run["checkpoints"][-1] + 1e-9 for run in runs)]
    head = (["GIFs", "strategy", "scores", f"votes/GIF/emotion to r {target}", "total votes (17 emotions)"]
            + [f"r @ {b:g}" for b in budgets] + [f"rank acc, tellable @ {b:g}" for b in budgets])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    base: dict[int, float] = {}
    for run in runs:
        cp = np.array(run["checkpoints"])
        for c in run["curves"]:
            if c["strategy"] == "random":
                base[c["gifs"]] = votes_to_reach(cp, np.array(c["r"])[:, 0], target)
    asked = ["", "| GIFs | strategy | model r | tellable pairs asked | most votes on one GIF | distinct pairs |",
             "|---|---|---|---|---|---|"]
    kept_lines = []
    for run in runs:
        cp = np.array(run["checkpoints"])
        at = [int(np.argmin(np.abs(cp - b))) for b in budgets if b <= cp[-1] + 1e-9]
        settings = run["settings"]
        for c in run["curves"]:
            r, acc, kept = np.array(c["r"]), np.array(c["acc"]), np.array(c["kept"])
            for name in _scorings(c["strategy"]):
                s = SCORINGS.index(name)
                v = votes_to_reach(cp, r[:, s], target)
                ref = base.get(c["gifs"], float("nan"))
                ratio = "" if c["strategy"] == "random" and name == "votes" or np.isnan(v) or np.isnan(ref) \
                    else f" ({v / ref:.2f}× random)"
                needed = f"not reached by {cp[-1]:g}" if np.isnan(v) else f"{v:.1f}{ratio}"
                total = "—" if np.isnan(v) else f"{v * c['gifs'] / 2 * len(EMOTIONS):,.0f}"
                lines.append("| " + " | ".join([str(c["gifs"]), _label(c["strategy"], settings), name, needed, total]
                                                 + [f"{r[k, s]:.3f}" for k in at] + [f"{acc[k, s]:.3f}" for k in at])
                             + " |")
                if settings["bias_offset"] and "+prior" in c["strategy"]:
                    kept_lines.append(f"| {c['gifs']} | {_label(c['strategy'], settings)} | {name} | "
                                      + " | ".join(f"{kept[k, s]:.2f}" for k in at) + " |")
            a = c["asked"]
            model = f"{c['prior_r']:.2f}" if "+prior" in c["strategy"] else "—"
            asked.append(f"| {c['gifs']} | {_label(c['strategy'], settings)} | {model} | {a['tellable']:.2f} | {a['max_votes']:.0f} | "
                         f"{a['distinct']:.2f} |")
    lines += asked
    if kept_lines:
        lines += ["", "| GIFs | strategy | scores | " + " | ".join(f"offset kept @ {b:g}" for b in budgets) + " |",
                  "|---|---|---|" + "---|" * len(budgets)] + kept_lines
    timing = [(s, t) for run in runs for s, t in run["timings"].items()]
    if timing:
        lines += ["", "| strategy | votes per GIF and emotion before | next() median | 95th percentile | largest | mean |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {s} | {t['preload']} | {t['median'] * 1e3:.1f} ms | {t['p95'] * 1e3:.1f} ms | "
                  f"{t['max'] * 1e3:.0f} ms | {t['mean'] * 1e3:.1f} ms |" for s, t in timing]
        t = timing[0][1]
        lines.append(f"\n`next()` at {t['gifs']:,} GIFs × 17 emotions after that many random-round votes, over "
                     f"{t['calls']} calls.")
    for run in runs:
        st = run["settings"]
        lines.append(f"Run: emotions {st['emotions']} of 17, seeds {st['seeds']}, latents of kavan synth seed "
                     f"{st['latent_seed']}, model r {st['prior_r']}, bias offset {st['bias_offset']}; "
                     f"{st['machine']}, {st['workers']} worker(s), {st['seconds']:.0f} s.")
    return "\n".join(lines)


def plot(path: Path, runs: list[dict], target: float, only: list[str] | None = None) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    curves = [(np.array(run["checkpoints"]), c) for run in runs for c in run["curves"]
              if only is None or c["strategy"] in only]
    sizes = sorted({c["gifs"] for _, c in curves})
    fig, axes = plt.subplots(1, len(sizes), figsize=(6 * len(sizes), 4.4), dpi=110, squeeze=False)
    names = sorted({c["strategy"] for _, c in curves})
    colours = dict(zip(names, plt.get_cmap("tab10").colors))
    for ax, n in zip(axes[0], sizes):
        for cp, c in curves:
            if c["gifs"] != n:
                continue
            r = np.array(c["r"])
            name = "prior" if "+prior" in c["strategy"] else "votes"
            label = f"{c['strategy']} ({'scores --prior' if name == 'prior' else 'scores'})"
            ax.plot(cp, r[:, SCORINGS.index(name)], color=colours[c["strategy"]], label=label)
        ax.axhline(target, color="k", lw=0.6)
        ax.set_title(f"{n} GIFs")
        ax.set_xlabel("votes per GIF per emotion")
        ax.set_ylabel("Pearson r of the scores with the latents")
        ax.set_ylim(0.4, 1.0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)


if __name__ == "__main__":
    sys.exit(main())
