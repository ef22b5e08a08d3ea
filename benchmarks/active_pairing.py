"""Active against random pairing: votes needed until the TrueSkill scores follow the latent intensities.

Simulated annotators answer the questions ``kavan.labels.pairing.PairSelector`` asks, with the perception
noise, lapses and "neither" rules of ``kavan.synth.votes.answer_votes`` (the function ``simulate_votes``
uses). The latents are drawn exactly as ``kavan synth`` draws them (the label stream of
``kavan.synth.generate.make_gif``: same seed, same GIF index, same latents as the folder ``kavan synth``
would write), without rendering any GIF.

Each emotion is simulated on its own (a selector with one emotion; the questions of one emotion never
change another's posterior, so this equals a 17-emotion run in which each emotion gets its share of the
votes). Reported per strategy and set size, averaged over the emotions and seeds:

* votes per GIF per emotion until the Pearson r of mu with the latents first reaches ``--target`` (0.9),
  and the total votes that means for all 17 emotions;
* r and ranking accuracy (the fraction of GIF pairs with distinct latents that mu orders the same way; and
  the same among "tellable" pairs, which a noiseless annotator would not answer "neither": the larger latent
  at least ``neither_level``, the gap at least ``neither_margin``) at equal budgets of votes per GIF per
  emotion;
* the time of one ``next()`` at 10,000 GIFs x 17 emotions (median and 95th percentile).

    python benchmarks/active_pairing.py --ablation --plot docs/labelling-active.png   # about 5 min, 2 cores

Defaults: 200 and 1,000 GIFs, all 17 emotions, 2 seeds, up to 16 votes per GIF per emotion.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from kavan.core.emotions import EMOTIONS
from kavan.labels.pairing import PairSelector
from kavan.synth import SynthConfig
from kavan.synth import trajectories as traj
from kavan.synth.votes import ANSWERS, answer_votes


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
        keep &= (np.maximum(truth[i], truth[j]) >= cfg.neither_level) & (np.abs(truth[i] - truth[j])
                                                                         >= cfg.neither_margin)
    i, j = i[keep], j[keep]
    agree = np.sign(score[i] - score[j]) * np.sign(truth[i] - truth[j])
    return float(np.mean((agree > 0) + 0.5 * (agree == 0)))


def run_curve(latent: np.ndarray, strategy: str, votes_per_gif: float, cfg: SynthConfig, seed: int,
              checkpoints: np.ndarray, **selector_kw) -> tuple[np.ndarray, np.ndarray]:
    """r and ranking accuracy (all pairs, tellable pairs: (C, 2)) of mu against one emotion's latents after
    each checkpoint (votes per GIF)."""
    n = len(latent)
    ids = [f"g{i}" for i in range(n)]
    sel = PairSelector(ids, [EMOTIONS[0]], strategy=strategy, seed=seed, **selector_kw)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(7,)))
    index = {g: k for k, g in enumerate(ids)}
    at = set((checkpoints * n / 2).round().astype(int).tolist())
    r, acc = [], []
    for t in range(1, int(round(votes_per_gif * n / 2)) + 1):
        a, b, e = sel.next()
        i, j = index[a], index[b]
        w = int(answer_votes(latent[[i]], latent[[j]], cfg, rng)[0])
        sel.observe(a, b, e, ANSWERS[w])
        if t in at:
            r.append(pearson(sel.mu[0], latent))
            acc.append((ranking_accuracy(sel.mu[0], latent, rng),
                        ranking_accuracy(sel.mu[0], latent, rng, cfg=cfg)))
    return np.array(r), np.array(acc)


def _curve_job(job: tuple) -> tuple:
    n, strategy, emotion, seed, latent, max_votes, step, cfg = job
    checkpoints = np.arange(step, max_votes + 1e-9, step)
    kw = {"balance": False} if strategy == "unbalanced" else {}
    r, acc = run_curve(latent, "active" if strategy == "unbalanced" else strategy, max_votes, cfg, seed,
                       checkpoints, **kw)
    return n, strategy, emotion, seed, r, acc


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


def selection_time(n: int, calls: int, seed: int) -> tuple[float, float]:
    """Median and 95th percentile seconds of one active ``next()`` at n GIFs x 17 emotions, votes coming in."""
    ids = [f"g{i}" for i in range(n)]
    sel = PairSelector(ids, list(EMOTIONS), seed=seed)
    rng = np.random.default_rng(seed)
    times = []
    for _ in tqdm(range(calls), desc=f"next() at {n} GIFs", leave=False):
        t0 = time.perf_counter()
        a, b, e = sel.next()
        times.append(time.perf_counter() - t0)
        sel.observe(a, b, e, ANSWERS[int(rng.integers(3))])
    return float(np.median(times)), float(np.percentile(times, 95))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[200, 1000], help="GIF counts")
    ap.add_argument("--seeds", type=int, default=2, help="simulation seeds per (size, emotion)")
    ap.add_argument("--emotions", type=int, default=len(EMOTIONS), help="first K of the 17 emotions")
    ap.add_argument("--max-votes", type=float, default=16, help="votes per GIF per emotion to simulate")
    ap.add_argument("--step", type=float, default=0.5, help="checkpoint spacing, votes per GIF per emotion")
    ap.add_argument("--budgets", type=float, nargs="+", default=[2, 4, 8], help="equal budgets for the table")
    ap.add_argument("--target", type=float, default=0.9, help="Pearson r to reach")
    ap.add_argument("--ablation", action="store_true", help="also run active without balance (pure max gain)")
    ap.add_argument("--timing-gifs", type=int, default=10_000)
    ap.add_argument("--timing-calls", type=int, default=200)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--latent-seed", type=int, default=0, help="the kavan synth seed the latents are drawn with")
    ap.add_argument("--plot", type=Path, default=None, help="write the r-against-votes PNG here")
    args = ap.parse_args(argv)

    cfg = SynthConfig()
    strategies = ["random", "active"] + (["unbalanced"] if args.ablation else [])
    latents = {n: draw_latents(cfg, args.latent_seed, n) for n in args.sizes}
    jobs = [(n, s, e, seed, latents[n][:, e], args.max_votes, args.step, cfg)
            for n in args.sizes for e in range(args.emotions) for seed in range(args.seeds) for s in strategies]
    jobs.sort(key=lambda j: -j[0])  # the big ones first, so the pool ends evenly
    started = time.perf_counter()
    results = []
    if args.workers > 1:
        from multiprocessing import Pool
        with Pool(args.workers) as pool:
            for res in tqdm(pool.imap_unordered(_curve_job, jobs), total=len(jobs), desc="curves"):
                results.append(res)
    else:
        results = [_curve_job(j) for j in tqdm(jobs, desc="curves")]
    checkpoints = np.arange(args.step, args.max_votes + 1e-9, args.step)
    curves = {}
    for n in args.sizes:
        for s in strategies:
            rows = [(r, acc) for (nn, ss, _, _, r, acc) in results if nn == n and ss == s]
            curves[n, s] = (np.mean([r for r, _ in rows], axis=0), np.mean([a for _, a in rows], axis=0))
    med, p95 = selection_time(args.timing_gifs, args.timing_calls, 0)
    print(report(args, strategies, checkpoints, curves, med, p95, time.perf_counter() - started))
    if args.plot:
        plot(args.plot, strategies, checkpoints, curves, args.target)
    return 0


def report(args, strategies, checkpoints, curves, med, p95, seconds) -> str:
    budgets = [b for b in args.budgets if b <= args.max_votes]
    at = [int(np.argmin(np.abs(checkpoints - b))) for b in budgets]
    head = (["GIFs", "strategy", f"votes/GIF/emotion to r {args.target}", f"total votes to r {args.target} (17 emotions)"]
            + [f"r @ {b:g}" for b in budgets] + [f"rank acc @ {b:g}" for b in budgets]
            + [f"rank acc, tellable @ {b:g}" for b in budgets])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for n in args.sizes:
        base = votes_to_reach(checkpoints, curves[n, "random"][0], args.target)
        for s in strategies:
            r, acc = curves[n, s]
            v = votes_to_reach(checkpoints, r, args.target)
            ratio = "" if s == "random" or np.isnan(v) or np.isnan(base) else f" ({v / base:.2f}× random)"
            needed = "not reached" if np.isnan(v) else f"{v:.1f}{ratio}"
            total = "—" if np.isnan(v) else f"{v * n / 2 * len(EMOTIONS):,.0f}"
            name = "active, unbalanced (ablation)" if s == "unbalanced" else s
            lines.append("| " + " | ".join([str(n), name, needed, total] + [f"{r[k]:.3f}" for k in at]
                                             + [f"{acc[k, 0]:.3f}" for k in at] + [f"{acc[k, 1]:.3f}" for k in at])
                         + " |")
    lines += ["", f"`next()` at {args.timing_gifs:,} GIFs × 17 emotions (active): median {med * 1e3:.1f} ms, "
              f"95th percentile {p95 * 1e3:.1f} ms over {args.timing_calls} calls.",
              f"Emotions simulated: {args.emotions} of 17; seeds: {args.seeds}; latents: kavan synth seed "
              f"{args.latent_seed}; {platform.processor() or platform.machine()}, {args.workers} workers, "
              f"{seconds:.0f} s."]
    return "\n".join(lines)


def plot(path: Path, strategies, checkpoints, curves, target: float) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    colours = {"random": "tab:gray", "active": "tab:blue", "unbalanced": "tab:orange"}
    styles = ["-", "--", ":"]
    for (n, s), (r, _) in sorted(curves.items()):
        sizes = sorted({k[0] for k in curves})
        label = f"{'active, unbalanced' if s == 'unbalanced' else s}, {n} GIFs"
        ax.plot(checkpoints, r, styles[sizes.index(n) % 3], color=colours[s], label=label)
    ax.axhline(target, color="k", lw=0.6)
    ax.set_xlabel("votes per GIF per emotion")
    ax.set_ylabel("Pearson r, TrueSkill mu vs latent (mean over emotions)")
    ax.set_ylim(0.4, 1.0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)


if __name__ == "__main__":
    sys.exit(main())
