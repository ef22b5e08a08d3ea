"""How the small-set recipe was chosen: variants scored on VALIDATION GIFs of a training split, never its test GIFs.

For split ``--outer`` of the dataset's seeded splits, a seeded permutation of the split's training GIFs gives the
first ``--n`` as the training subset and the last 200 as the validation GIFs (the split's test GIFs are not read).

    python benchmarks/small_set_validation.py baselines --data DIR --n N            # colour histogram, chance
    python benchmarks/small_set_validation.py train --data DIR --n N --out RUN [--init MODEL] [--set k=v ...]
    python benchmarks/small_set_validation.py ridge --data DIR --n N --model MODEL  # MODEL's own predictions, and
        # GCV ridge read-outs on its GIF representation r (rep), its predictions (pred), both, and attention-pooled
        # backbone features (attpool: sum_i M_ti X_ti and mean_i X_ti averaged over the frames, and per half)
    python benchmarks/small_set_validation.py --report LOG.jsonl

Each call appends one JSON line to ``--log`` (default docs/results/small-set-validation.jsonl). docs/training.md,
"Small sets", has what the lines say and which choices they made.
"""
import argparse
import json
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from kavan.baselines import run_baseline
from kavan.config import load_config
from kavan.data.dataset import Dataset
from kavan.data.feature_cache import FeatureCache, cache_key
from kavan.data.loader import FeatureClipDataset, prepare_clips
from kavan.data.splits import write_split_file
from kavan.experiments.ablation import chance_metrics
from kavan.models.storage import load_model
from kavan.training import metrics as M
from kavan.training.trainer import train_split

CFG = "bench/mtl-softatt-hslstm"


def inner(data, outer, n, seed=0):
    ds = Dataset(data)
    cfg = load_config(CFG)
    train, _ = ds.splits(cfg.data.n_splits, cfg.data.split_seed, cfg.data.train_fraction, cfg.data.split_mode)[outer]
    perm = [train[i] for i in np.random.default_rng([seed, outer, 77]).permutation(len(train))]
    return ds, sorted(perm[:n]), sorted(perm[-200:])


def reps(model_file, ds, ids):
    lm = load_model(model_file)
    model, cfg = lm.model, lm.config
    clips = prepare_clips(ds, ids, False).clips
    from kavan.models import KAVAN
    cache = FeatureCache(ds.root / "cache" / "features", cache_key(KAVAN(cfg.model), cfg.data.cache_frames, cfg.data.cache_dtype))
    fds = FeatureClipDataset(cache, ds, clips, cfg.model.t, cfg.model.input_size, model.cells, cfg.data, False, 0, False)
    out_r, out_p, rows, out_a = [], [], [], []
    with torch.no_grad():
        for b in DataLoader(fds, batch_size=64):
            f = b["features"].float()
            o = model(cached=f)
            out_r.append(o.representation.numpy())
            out_p.append(o.intensities.numpy())
            rows.append(b["row"].numpy())
            cells = f.flatten(3)  # B T C K2
            m = o.attention.flatten(2)  # B T K2
            att = torch.einsum("btk,btck->btc", m, cells)
            glob = cells.mean(-1)
            T = att.shape[1]
            parts = [att.mean(1), glob.mean(1), att[:, :T // 2].mean(1), att[:, T // 2:].mean(1)]
            out_a.append(torch.cat(parts, 1).numpy())
    return np.concatenate(out_r), np.concatenate(out_p), np.concatenate(rows), np.concatenate(out_a)


def nm(pred, target):
    return float(M.nmse_per_emotion(pred, target))


def report(path):
    """One Markdown line per logged call, in the order they were made."""
    for line in open(path):
        d = json.loads(line)
        what = d["mode"] + (f" from {d['init']}" if d.get("init") else "") + (f" of {d['model']}" if d.get("model") else "")
        nums = ", ".join(f"{k} {v:.3f}" for k, v in d.items() if isinstance(v, float) and not k.startswith("alpha"))
        print(f"| {d['data']} | {d['n']} | {what} {' '.join(d['set'])} | {nums} |")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", nargs="?")
    p.add_argument("--log", default="docs/results/small-set-validation.jsonl")
    p.add_argument("--report")
    p.add_argument("--data")
    p.add_argument("--outer", type=int, default=0)
    p.add_argument("--n", type=int)
    p.add_argument("--out")
    p.add_argument("--model")
    p.add_argument("--init")
    p.add_argument("--set", action="append", default=[])
    a = p.parse_args()
    if a.report:
        report(a.report)
        return
    ds, sub, val = inner(a.data, a.outer, a.n)
    res = {"mode": a.mode, "data": a.data, "outer": a.outer, "n": a.n, "set": a.set}
    if a.init:
        res["init"] = a.init
    if a.model:
        res["model"] = a.model
    if a.mode == "train":
        sf = Path(a.out + ".split.json")
        sf.parent.mkdir(parents=True, exist_ok=True)
        write_split_file(sf, [(sub, val)])
        cfg = load_config(CFG, a.set)
        kw = {"init": a.init} if a.init else {}
        r = train_split(cfg, ds.root, a.out, split_file=sf, resume=True, progress=False, **kw)
        t = r.metrics["test"]
        res.update(val_nmse=t["nmse_per_emotion"], acc=t["accuracy"], sel=r.metrics.get("selected_epoch"),
                   epochs=r.metrics.get("epochs"))
    elif a.mode == "baselines":
        for name in ("colour_histogram",):
            m = run_baseline(name, ds, sub, val, ds.root / "cache" / "baselines", t=8, progress=False)
            res[name] = m["nmse_per_emotion"]
        res["chance"] = chance_metrics(ds, sub, val)["nmse_per_emotion"]
    elif a.mode in ("zeroshot", "ridge"):
        from kavan.baselines.linear import LinearBaseline
        rv, pv, rowv, av = reps(a.model, ds, val)
        yv = ds.scores[rowv]
        res["zeroshot"] = nm(pv, yv)
        if a.mode == "ridge":
            rs, ps, rows, as_ = reps(a.model, ds, sub)
            ys = ds.scores[rows]
            for name, (xs, xv) in {"rep": (rs, rv), "pred": (ps, pv), "both": (np.hstack([rs, ps]), np.hstack([rv, pv])),
                                    "attpool": (as_, av), "attpool2": (as_[:, :192], av[:, :192]),
                                    "attpool+pred": (np.hstack([as_, ps]), np.hstack([av, pv]))}.items():
                r = LinearBaseline(ridge=None).fit(xs, ys)
                res[f"ridge_{name}"] = nm(np.clip(r.predict(xv), 0, 1), yv)
                res[f"alpha_{name}"] = float(r.ridge_) / len(xs)
    print(json.dumps(res), flush=True)
    with open(a.log, "a") as f:
        f.write(json.dumps(res) + "\n")


if __name__ == "__main__":
    main()
