"""From unlabelled GIFs to a trained model: simulated labelling sessions of a vote budget, their TrueSkill scores,
the small-set recipe trained on them, and what the model is worth against a colour histogram on the same votes.

    .venv/bin/python benchmarks/label_to_model.py --data SYNTHDIR --out DIR --init MODEL [--n 400]
        [--budgets 1,2,4,8] [--strategies random,active,guided] [--splits 0,1,2] [--seed 0] [--no-scratch]
        [--no-references] [--cache-dir DIR] [--baseline-cache DIR] [--plot OUT.png]
    .venv/bin/python benchmarks/label_to_model.py --report DIR/results.json [--plot OUT.png]   # tables only

--data is a SynthGIF folder (synth.json, groundtruth/latents.csv, scores.csv from its full votes). For each split
K of the config's seeded splits, the first N of a seeded permutation of split K's training GIFs are the GIFs to
label (the nested subsets of benchmarks/regression_learning_curve.py); split K's test GIFs keep the folder's
full-vote scores. For each strategy one labelling session over the N GIFs and all 17 emotions is simulated
(kavan.synth.labelling: the folder's own annotator, SynthConfig from synth.json, seed K + 1000 · --seed) up to the
largest budget; a budget of v votes per GIF per emotion is the session's first round(v · N / 2 · 17) votes, the
count ``labelling_steps`` asks, so a smaller budget is a prefix of a larger one. ``guided`` is ``active`` with a
prior: the --init model's predicted intensities of the N GIFs (kavan.labels.prior, PRIOR_SIGMA), computed on the
feature cache. The votes become scores exactly as ``kavan scores`` makes them (ratings_from_votes, mu / 50, from
the votes alone) and go, with the test GIFs' full-vote scores, into a derived dataset folder (symlinks to the media
and keypoint files). On it:

* ``recipe``: ``bench/mtl-softatt-hslstm-finetune`` fine-tuned from --init (the small-set recipe);
* ``scratch`` (random strategy only, unless --no-scratch): ``bench/mtl-softatt-hslstm`` from its own start with
  ``train.readout=ridge`` (its best from-scratch row at 400 GIFs, docs/training.md), what --init is worth;
* ``colour_histogram`` (kavan.baselines, ridge) and ``chance`` (the training mean) on the same scores.

Three reference cells per split train the recipe on the N GIFs' full-vote scores (``full``), on their exact
latents (``latents``) and on the exact latents mapped onto the score scale (``mapped``, the line below, clipped to
[0, 1]). Metrics on the split's test GIFs: nMSE per emotion against the full-vote scores, and against
the true latents mapped onto the score scale by a per-emotion least-squares line (full-vote score on latent over
the N training GIFs: scores and latents live on different scales). A model trained on latents predicts on the
latent scale; its predictions go through the same line first.

Per strategy the report gives the smallest budget at which the recipe beats the colour histogram trained on the
same votes clear of noise (kavan.experiments.claims.Paired over the splits, test share n_test / N) and the smallest
at which its nMSE against the latents is within 0.02 of the recipe trained on the mapped latents (mean over the
splits; on the raw latents the recipe's ridge read-out, a fit of logit(y), does worse: docs/labelling.md).
A rerun with the same --out reuses every finished run, session and metric file.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from kavan.core.atomic import json_safe, write_json

RECIPE = "bench/mtl-softatt-hslstm-finetune"
SCRATCH = "bench/mtl-softatt-hslstm"
STRATEGIES = ("random", "active", "guided", "asap")
REFERENCES = ("full", "latents", "mapped")
MODEL_ROWS = ("recipe", "scratch")
ROWS = ("recipe", "scratch", "colour_histogram", "chance")
LABELS = {"recipe": "recipe (--init)", "scratch": "from scratch", "colour_histogram": "colour histogram",
          "chance": "chance", "full": "recipe on the full votes", "latents": "recipe on the exact latents",
          "mapped": "recipe on the mapped latents"}
METRICS = ("nmse_per_emotion", "nmse_latent")
WITHIN = 0.02


# --- the labelling session -------------------------------------------------------------------------------------

def total_votes(budget: float, n: int, n_emotions: int = 17) -> int:
    """Votes a session of ``budget`` votes per GIF per emotion asks over ``n`` GIFs (``labelling_steps``' count:
    each vote involves two GIFs)."""
    return int(round(budget * n / 2 * n_emotions))


def training_subset(train: list[str], n: int, seed: int, split: int) -> list[str]:
    """The first ``n`` of the seeded permutation of ``train`` that regression_learning_curve.py cuts, sorted."""
    order = [train[i] for i in np.random.default_rng([seed, split]).permutation(len(train))]
    return sorted(order[:n])


def read_table(path: Path) -> dict[str, np.ndarray]:
    """A scores-like CSV (id + 17 emotions in [0, 1]: scores.csv, groundtruth/latents.csv) as {id: (17,) array}."""
    from kavan.core.issues import IssueLog
    from kavan.labels.scores_table import parse_scores

    issues = IssueLog()
    table = parse_scores(Path(path), issues, unit=True)
    issues.raise_if_errors()
    return dict(zip(table.ids, table.values))


def rows_of(table: dict[str, np.ndarray], ids: list[str]) -> np.ndarray:
    """(len(ids), 17) rows of a read_table result."""
    return np.stack([table[g] for g in ids])


def synth_config(data: Path):
    """The SynthConfig a SynthGIF folder was made with (synth.json): its annotator answers the simulated votes."""
    from kavan.synth.config import SynthConfig

    return SynthConfig(**json.loads((Path(data) / "synth.json").read_text(encoding="utf-8"))["config"])


def simulate_session(latents: np.ndarray, ids: list[str], cfg, strategy: str, budget: float, seed: int,
                     prior: np.ndarray | None = None) -> list[tuple[str, str, str, str]]:
    """The votes of one simulated session over ``ids`` and all 17 emotions; ``guided`` is ``active`` with ``prior``
    (the other strategies ignore it)."""
    from kavan.core.emotions import EMOTIONS
    from kavan.synth.labelling import simulate_labelling

    selector = "active" if strategy == "guided" else strategy
    return simulate_labelling(latents, cfg, selector, prior if strategy == "guided" else None, budget, seed=seed,
                              ids=ids, emotions=list(EMOTIONS))


def session_votes(path: Path, needed: int, make) -> list[tuple[str, str, str, str]]:
    """The votes stored at ``path`` (a votes.csv) when it holds at least ``needed``, else ``make()`` written there.
    A session is deterministic, so a stored longer one holds every shorter one as its prefix."""
    from kavan.labels.ratings import read_votes
    from kavan.synth.votes import write_votes

    if path.is_file():
        votes = read_votes(path)
        if len(votes) >= needed:
            import csv

            with open(path, newline="", encoding="utf-8") as fh:
                return [tuple(row) for row in list(csv.reader(fh))[1:]]
    votes = make()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_votes(path, votes)
    return votes


def scores_from_votes(votes_csv: Path, ids: list[str]) -> np.ndarray:
    """(len(ids), 17) scores from a votes file as ``kavan scores --ids`` writes them: TrueSkill from GIFGIF's prior
    over the votes alone, score = mu / 50."""
    from kavan.labels.ratings import normalise_ratings, ratings_from_votes

    ratings = ratings_from_votes(votes_csv, ids, require_votes=True)
    return normalise_ratings(ratings["mu"], ratings["sigma"], "mu")


# --- the derived dataset folder --------------------------------------------------------------------------------

def _link(target: Path, link: Path) -> None:
    """A symlink ``link`` → ``target`` (absolute), replaced if it points elsewhere."""
    target = target.resolve()
    if link.is_symlink() and Path(os.readlink(link)) == target:
        return
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(target)


def derived_folder(out: Path, source: Path, train: list[str], train_scores: np.ndarray, test: list[str],
                   test_scores: np.ndarray, votes: list[tuple[str, str, str, str]] | None = None) -> Path:
    """A dataset folder at ``out``: symlinks to ``source``'s media and keypoint files of ``train`` + ``test``, a
    scores.csv with ``train_scores`` and ``test_scores``, and the votes (when given) as votes.csv. The media files are
    the same bytes, so the feature and baseline caches (keyed by the files' SHA-256) hit."""
    from kavan.data.dataset import Dataset
    from kavan.labels.scores_table import write_scores
    from kavan.synth.votes import write_votes

    media = Dataset(source)
    (out / "gifs").mkdir(parents=True, exist_ok=True)
    (out / "keypoints").mkdir(exist_ok=True)
    for gif in list(train) + list(test):
        path = media.media_path(gif)
        _link(path, out / "gifs" / path.name)
        keypoints = source / "keypoints" / f"{gif}.safetensors"
        if keypoints.is_file():
            _link(keypoints, out / "keypoints" / keypoints.name)
    if votes is not None:
        write_votes(out / "votes.csv", votes)
    write_scores(out / "scores.csv", list(train) + list(test), np.concatenate([train_scores, test_scores]))
    return out


# --- latents on the score scale --------------------------------------------------------------------------------

def latent_map(latents: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per emotion, the least-squares line score ≈ slope · latent + intercept over the rows given: (slope,
    intercept), each (n_emotions,)."""
    latents, scores = np.asarray(latents, np.float64), np.asarray(scores, np.float64)
    slope, intercept = np.empty(latents.shape[1]), np.empty(latents.shape[1])
    for e in range(latents.shape[1]):
        design = np.stack([latents[:, e], np.ones(len(latents))], axis=1)
        (slope[e], intercept[e]), *_ = np.linalg.lstsq(design, scores[:, e], rcond=None)
    return slope, intercept


def apply_map(values: np.ndarray, mapping: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Latent-scale values on the score scale."""
    slope, intercept = mapping
    return np.asarray(values, np.float64) * slope + intercept


def two_metrics(pred: np.ndarray, full: np.ndarray, mapped_latents: np.ndarray) -> dict[str, float]:
    """nMSE per emotion of ``pred`` against the full-vote scores and against the mapped latents."""
    from kavan.training.metrics import nmse_per_emotion

    return {"nmse_per_emotion": nmse_per_emotion(pred, full), "nmse_latent": nmse_per_emotion(pred, mapped_latents)}


# --- the source model's prior ----------------------------------------------------------------------------------

def model_intensities(model_file: Path, data: Path, ids: list[str], cache_dir: Path) -> np.ndarray:
    """(len(ids), 17) intensities a kavan model predicts for the GIFs ``ids`` of the folder ``data``, read from its
    feature cache (filled where an entry is missing) at the evaluation frames."""
    import torch
    from torch.utils.data import DataLoader

    from kavan.data.dataset import Dataset
    from kavan.data.feature_cache import FeatureCache, cache_key
    from kavan.data.loader import FeatureClipDataset, prepare_clips
    from kavan.models.storage import load_model
    from kavan.training.setup import frozen_encoder

    loaded = load_model(model_file)
    model, cfg, dataset = loaded.model.eval(), loaded.config, Dataset(data)
    clips = prepare_clips(dataset, list(ids), False).clips
    cache = FeatureCache(cache_dir, cache_key(model, cfg.data.cache_frames, cfg.data.cache_dtype))
    cache.fill(dataset, clips, frozen_encoder(model), progress=False)
    clip_set = FeatureClipDataset(cache, dataset, clips, cfg.model.t, cfg.model.input_size, model.cells, cfg.data,
                                  False, 0, False)
    out = np.full((len(ids), 17), np.nan)
    where = {g: k for k, g in enumerate(ids)}
    with torch.no_grad():
        for batch in DataLoader(clip_set, batch_size=64):
            pred = model(cached=batch["features"].float()).intensities.numpy()
            for row, value in zip(batch["row"].numpy(), pred):
                out[where[dataset.ids[row]]] = value
    return np.clip(out, 0.0, 1.0)


def source_prior(path: Path, model_file: Path, data: Path, ids: list[str], cache_dir: Path) -> np.ndarray:
    """``model_intensities``, stored at ``path`` (JSON) and reused while the ids are the same."""
    if path.is_file():
        stored = json.loads(path.read_text(encoding="utf-8"))
        if stored.get("ids") == list(ids):
            return np.array(stored["intensities"], dtype=np.float64)
    values = model_intensities(model_file, data, ids, cache_dir)
    write_json(path, json_safe({"model": str(model_file), "ids": list(ids), "intensities": values.tolist()}))
    return values


# --- one cell --------------------------------------------------------------------------------------------------

class Context:
    """What every cell of one split shares: the folders, ids, full-vote scores, mapped latents and settings."""

    def __init__(self, args, split: int, train: list[str], test: list[str]):
        self.args, self.split, self.train, self.test = args, split, train, test
        self.dir = args.out / f"split-{split}"
        scores, latents = read_table(args.data / "scores.csv"), read_table(args.data / "groundtruth" / "latents.csv")
        self.full_train, self.full_test = rows_of(scores, train), rows_of(scores, test)
        self.latent_train = rows_of(latents, train)
        self.mapping = latent_map(self.latent_train, self.full_train)
        self.mapped_test = apply_map(rows_of(latents, test), self.mapping)
        self.cache_dir = args.cache_dir or args.data / "cache" / "features"
        self.baseline_cache = args.baseline_cache or args.data / "cache" / "baselines"


def model_row(ctx: Context, config_name: str, overrides: list[str], data: Path, run_dir: Path, split_file: Path,
              init: Path | None, on_latents: bool) -> dict[str, float]:
    """Train (or reuse) one run and score its test predictions; a model trained on latents is mapped first."""
    from kavan.config import load_config
    from kavan.training.evaluation import load_predictions
    from kavan.training.trainer import train_split

    run = train_split(load_config(config_name, overrides), data, run_dir, split_file=split_file, resume=True,
                      cache_dir=ctx.cache_dir, progress=False, init=init)
    predictions = load_predictions(run_dir / "predictions.safetensors")
    where = {g: k for k, g in enumerate(ctx.test)}
    order = np.array([where[g] for g in predictions.ids])
    pred = predictions.intensities.astype(np.float64)
    pred = apply_map(pred, ctx.mapping) if on_latents else pred
    metrics = two_metrics(pred, ctx.full_test[order], ctx.mapped_test[order])
    return metrics | {"accuracy": float(run.metrics["test"]["accuracy"])}


def baseline_rows(ctx: Context, data: Path, cell: Path) -> dict[str, dict[str, float]]:
    """The colour histogram and chance, fitted on the derived folder's training scores, metric files reused."""
    from kavan.baselines import fit_predict
    from kavan.data.dataset import Dataset
    from kavan.experiments.ablation import cached_split_metrics

    dataset = Dataset(data)
    fitted = dataset.scores[dataset.rows(ctx.train)].astype(np.float64)

    def histogram():
        pred, _ = fit_predict("colour_histogram", dataset, ctx.train, ctx.test, ctx.baseline_cache, progress=False)
        return two_metrics(pred, ctx.full_test, ctx.mapped_test)

    def chance():
        return two_metrics(np.broadcast_to(fitted.mean(axis=0), ctx.full_test.shape), ctx.full_test, ctx.mapped_test)

    return {"colour_histogram": cached_split_metrics(cell / "colour_histogram.json", ctx.train, ctx.test, histogram),
            "chance": cached_split_metrics(cell / "chance.json", ctx.train, ctx.test, chance)}


def run_cell(ctx: Context, name: str, train_scores: np.ndarray, scratch: bool = False, baselines: bool = True,
             on_latents: bool = False) -> dict[str, dict[str, float]]:
    """Every row of one cell: the derived folder, the recipe (and the scratch run), the baselines."""
    from kavan.data.splits import write_split_file

    cell = ctx.dir / name
    data = derived_folder(cell / "data", ctx.args.data, ctx.train, train_scores, ctx.test, ctx.full_test)
    split_file = cell / "split.json"
    write_split_file(split_file, [(list(ctx.train), list(ctx.test))])
    rows = {"recipe": model_row(ctx, RECIPE, [], data, cell / "recipe", split_file, ctx.args.init, on_latents)}
    if scratch:
        rows["scratch"] = model_row(ctx, SCRATCH, ["train.readout=ridge"], data, cell / "scratch", split_file, None,
                                    on_latents)
    if baselines:
        rows |= baseline_rows(ctx, data, cell)
    return rows


def strategy_cells(ctx: Context, strategy: str, budgets: list[float], seed: int):
    """Yield (budget, votes, rows) for one strategy: one session up to the largest budget, then a cell per budget
    (its votes, the prefix, written as the derived folder's votes.csv)."""
    from kavan.synth.votes import write_votes

    n = len(ctx.train)
    prior = None
    if strategy == "guided":
        prior = source_prior(ctx.dir / "prior.json", ctx.args.init, ctx.args.data, ctx.train, ctx.cache_dir)
    top = max(budgets)
    votes = session_votes(ctx.dir / f"session-{strategy}.csv", total_votes(top, n), lambda: simulate_session(
        ctx.latent_train, ctx.train, synth_config(ctx.args.data), strategy, top, seed, prior))
    for budget in budgets:
        count = total_votes(budget, n)
        votes_csv = ctx.dir / f"{strategy}-b{budget:g}" / "data" / "votes.csv"
        votes_csv.parent.mkdir(parents=True, exist_ok=True)
        write_votes(votes_csv, votes[:count])
        rows = run_cell(ctx, f"{strategy}-b{budget:g}", scores_from_votes(votes_csv, ctx.train),
                        scratch=strategy == "random" and not ctx.args.no_scratch)
        yield budget, count, rows


# --- the whole run ---------------------------------------------------------------------------------------------

def _say(results: dict[str, Any], args, entry: dict[str, Any]) -> None:
    """Record one finished cell: results.json rewritten, one stderr line."""
    results["cells"].append(entry)
    write_json(args.out / "results.json", json_safe(results))
    shown = ", ".join(f"{k} {v['nmse_per_emotion']:.3f}/{v['nmse_latent']:.3f}" for k, v in entry["rows"].items())
    budget = f" budget {entry['budget']:g} ({entry['votes']} votes)" if entry.get("budget") is not None else ""
    print(f"split {entry['split']}, {entry['cell']}{budget}: {shown}", file=sys.stderr, flush=True)


def collect(args) -> dict[str, Any]:
    """Run every cell (reusing what is done) and return results.json's content."""
    from kavan.config import load_config
    from kavan.data.dataset import Dataset
    from kavan.training.init_weights import file_digest

    dataset = Dataset(args.data)
    config = load_config(RECIPE)
    splits = dataset.splits(config.data.n_splits, config.data.split_seed, config.data.train_fraction,
                            config.data.split_mode)
    results: dict[str, Any] = {
        "data": dataset.root.name, "n": args.n, "budgets": args.budgets, "strategies": args.strategies,
        "splits": args.splits, "seed": args.seed, "recipe": RECIPE, "scratch": None if args.no_scratch else SCRATCH,
        "init": {"file": Path(args.init).name, "sha256": file_digest(args.init)},
        "votes_formula": "round(budget * N / 2 * 17)",
        "command": " ".join(["benchmarks/label_to_model.py", *sys.argv[1:]]), "cells": []}
    for split in args.splits:
        train, test = splits[split]
        if args.n > len(train):
            raise SystemExit(f"split {split} has {len(train)} training GIFs, fewer than {args.n}")
        ctx = Context(args, split, training_subset(train, args.n, args.seed, split), list(test))
        base = {"split": split, "n_test": len(test)}
        if not args.no_references:
            _say(results, args, base | {"cell": "full", "rows": run_cell(ctx, "full", ctx.full_train)})
            _say(results, args, base | {"cell": "latents", "rows": run_cell(
                ctx, "latents", ctx.latent_train, baselines=False, on_latents=True)})
            mapped = np.clip(apply_map(ctx.latent_train, ctx.mapping), 0.0, 1.0)
            _say(results, args, base | {"cell": "mapped", "rows": run_cell(ctx, "mapped", mapped, baselines=False)})
        for strategy in args.strategies:
            for budget, count, rows in strategy_cells(ctx, strategy, args.budgets, split + 1000 * args.seed):
                _say(results, args, base | {"cell": strategy, "budget": budget, "votes": count, "rows": rows})
    return results


# --- the report ------------------------------------------------------------------------------------------------

def _values(results: dict[str, Any], cell: str, row: str, metric: str, budget=None) -> dict[int, float]:
    """{split: value} of one row of one cell (and budget)."""
    return {c["split"]: c["rows"][row][metric] for c in results["cells"]
            if c["cell"] == cell and c.get("budget") == budget and row in c["rows"]}


def _mean_std(values: dict[int, float]) -> str:
    v = list(values.values())
    return f"{np.mean(v):.3f} ± {np.std(v, ddof=1) if len(v) > 1 else 0.0:.3f}" if v else "—"


def versus_histogram(results: dict[str, Any], strategy: str, budget: float):
    """Paired (histogram − recipe, nMSE against the full-vote scores) over the splits both have; None without."""
    from kavan.experiments.claims import Paired

    recipe = _values(results, strategy, "recipe", "nmse_per_emotion", budget)
    hist = _values(results, strategy, "colour_histogram", "nmse_per_emotion", budget)
    common = sorted(set(recipe) & set(hist))
    if not common:
        return None
    return Paired(tuple(hist[s] - recipe[s] for s in common), results_share(results))


def gap_to_latents(results: dict[str, Any], strategy: str, budget: float) -> float | None:
    """Mean over the splits of (recipe on the votes − recipe on the mapped latents), nMSE against the latents."""
    recipe = _values(results, strategy, "recipe", "nmse_latent", budget)
    reference = _values(results, "mapped", "recipe", "nmse_latent")
    common = sorted(set(recipe) & set(reference))
    return float(np.mean([recipe[s] - reference[s] for s in common])) if common else None


def results_share(results: dict[str, Any]) -> float:
    """n_test / n_train of the Nadeau-Bengio correction: the split's test GIFs over the N training GIFs."""
    return results["cells"][0]["n_test"] / results["n"]


def table(results: dict[str, Any]) -> str:
    """Markdown: per strategy and budget, each row's nMSE (full-vote / latents) mean ± std over the splits and the
    recipe's verdict against the histogram; the reference rows; then the smallest budgets per strategy."""
    n = results["n"]
    lines = [f"`{results['data']}`, N = {n} training GIFs, splits {', '.join(map(str, results['splits']))}; test nMSE "
             "per emotion, mean ± std over the splits, against the full-vote scores / against the mapped latents; "
             f"total votes = round(budget · {n} / 2 · 17)", "",
             "| strategy | votes/GIF/emotion | total votes | " + " | ".join(
                 f"{LABELS[r]} (scores)" + f" | {LABELS[r]} (latents)" for r in ROWS)
             + " | recipe vs histogram (scores) |", "|---" * (3 + 2 * len(ROWS) + 1) + "|"]
    for ref in REFERENCES:
        cells = [_mean_std(_values(results, ref, r, m)) for r in ROWS for m in METRICS]
        if any(c != "—" for c in cells):
            budget = "24 (the folder's votes)" if ref == "full" else "exact"
            lines.append(f"| {LABELS[ref]} | {budget} | — | " + " | ".join(cells) + " | |")
    for strategy in results["strategies"]:
        for budget in results["budgets"]:
            cells = [_mean_std(_values(results, strategy, r, m, budget)) for r in ROWS for m in METRICS]
            if all(c == "—" for c in cells):
                continue
            p = versus_histogram(results, strategy, budget)
            verdict = f"{p.verdict} ({p.mean:+.3f}, bar ±{p.bar:.3f}, {p.won}/{p.n})" if p else "—"
            lines.append(f"| {strategy} | {budget:g} | {total_votes(budget, n):,} | " + " | ".join(cells)
                         + f" | {verdict} |")
    return "\n".join(lines) + "\n\n" + summary(results)


def summary(results: dict[str, Any]) -> str:
    """Markdown: per strategy, the smallest budget that beats the histogram clear of noise and the smallest within
    WITHIN of the recipe trained on the latents."""
    n = results["n"]
    lines = ["| strategy | smallest budget beating the colour histogram clear of noise | smallest budget within "
             f"{WITHIN} of the recipe on the mapped latents (nMSE against the latents) |", "|---|---|---|"]
    for strategy in results["strategies"]:
        budgets = [b for b in results["budgets"] if _values(results, strategy, "recipe", "nmse_per_emotion", b)]
        beats = next((b for b in budgets if (p := versus_histogram(results, strategy, b)) and p.verdict == "holds"),
                     None)
        close = next((b for b in budgets if (g := gap_to_latents(results, strategy, b)) is not None and g <= WITHIN),
                     None)
        shown = [f"{b:g} ({total_votes(b, n):,} votes)" if b is not None else
                 f"none up to {max(budgets):g}" if budgets else "—" for b in (beats, close)]
        lines.append(f"| {strategy} | {shown[0]} | {shown[1]} |")
    return "\n".join(lines)


def plot(results: dict[str, Any], out: Path) -> None:
    """Test nMSE per emotion against total votes (log scale), one panel per metric: the recipe of each strategy
    (solid), the histogram on the same votes (dashed), the scratch run, and the two references (horizontal)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = results["n"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    colours = dict(zip(STRATEGIES, ("C0", "C1", "C2", "C3")))
    for ax, metric, title in zip(axes, METRICS, ("against the full-vote scores", "against the true latents")):
        for strategy in results["strategies"]:
            for row, style in (("recipe", "-o"), ("colour_histogram", "--s"), ("scratch", ":^")):
                points = [(total_votes(b, n), list(_values(results, strategy, row, metric, b).values()))
                          for b in results["budgets"]]
                points = [(x, v) for x, v in points if v]
                if points:
                    ax.errorbar([x for x, _ in points], [np.mean(v) for _, v in points],
                                yerr=[np.std(v, ddof=1) if len(v) > 1 else 0 for _, v in points], fmt=style,
                                color=colours[strategy], capsize=3, label=f"{LABELS[row]}, {strategy}")
        for ref, style in (("full", "--"), ("mapped", ":")):
            if v := list(_values(results, ref, "recipe", metric).values()):
                ax.axhline(np.mean(v), linestyle=style, color="k", label=LABELS[ref])
        ax.set_xscale("log")
        ticks = [total_votes(b, n) for b in results["budgets"]]
        ax.set_xticks(ticks, [f"{t:,}" for t in ticks])
        ax.minorticks_off()
        ax.set_title(f"test nMSE per emotion {title}", fontsize=9)
        ax.set_xlabel(f"total votes ({n} GIFs, 17 emotions)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("nMSE per emotion (lower is better)")
    axes[0].legend(fontsize=6, loc="lower left")
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--init", type=Path, help="the source model: --init of the recipe and guided's prior")
    parser.add_argument("--report", type=Path, help="a results.json: print its tables only")
    parser.add_argument("--n", type=int, default=400, help="GIFs to label per split")
    parser.add_argument("--budgets", default="1,2,4,8", help="votes per GIF per emotion")
    parser.add_argument("--strategies", default="random,active,guided", help=f"of {', '.join(STRATEGIES)}")
    parser.add_argument("--splits", default="0,1,2")
    parser.add_argument("--seed", type=int, default=0, help="seed of the subsets and the sessions")
    parser.add_argument("--no-scratch", action="store_true", help="skip the from-scratch run of the random cells")
    parser.add_argument("--no-references", action="store_true", help="skip the full-vote and latent references")
    parser.add_argument("--cache-dir", type=Path, default=None, help="feature cache (default <data>/cache/features)")
    parser.add_argument("--baseline-cache", type=Path, default=None, help="default: <data>/cache/baselines")
    parser.add_argument("--plot", type=Path, default=None, help="PNG of nMSE against total votes")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.report:
        results = json.loads(args.report.read_text(encoding="utf-8"))
    else:
        if args.data is None or args.out is None or args.init is None:
            parser.error("--data, --out and --init are needed (or --report)")
        args.budgets = sorted(float(b) for b in args.budgets.split(","))
        args.strategies = [s for s in args.strategies.split(",") if s]
        if unknown := set(args.strategies) - set(STRATEGIES):
            parser.error(f"unknown strategies {sorted(unknown)} (known: {', '.join(STRATEGIES)})")
        args.splits = [int(s) for s in args.splits.split(",")]
        args.out.mkdir(parents=True, exist_ok=True)
        results = collect(args)
    print(table(results))
    if args.plot:
        plot(results, args.plot)


if __name__ == "__main__":
    main()
