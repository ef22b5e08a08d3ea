"""A contact sheet of a SynthGIF dataset: a few GIFs' frames with true landmarks and estimated keypoints.

One row per GIF, one column per sampled frame (TSN evaluation frames, kavan.media.sampling). True landmarks are
small white dots; estimated keypoints are crosses coloured by confidence (missing points are not drawn).
The row title names the GIF, its faces' dominant emotions and time courses, and which faces the simulated
detector found. Used to check by eye that faces, landmarks and keypoints line up.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from kavan.core.errors import KavanError
from kavan.keypoints import cache as keypoint_cache
from kavan.media import decode
from kavan.media.sampling import tsn_indices
from kavan.synth.generate import truth_path


def _pick(metas: list[dict], n_gifs: int) -> list[dict]:
    """Up to ``n_gifs`` GIFs with faces, including a two-face one and one without keypoints when present."""
    with_faces = [m for m in metas if m["n_faces"] > 0]
    wanted = [next((m for m in with_faces if m["n_faces"] == 2), None),
              next((m for m in with_faces if not all(f["keypoints_found"] for f in m["faces"])), None)]
    chosen: dict[str, dict] = {}
    for m in [m for m in wanted if m is not None] + with_faces + metas:
        if len(chosen) >= n_gifs:
            break
        chosen.setdefault(m["id"], m)
    return sorted(chosen.values(), key=lambda m: m["index"])


def _read_metas(dataset_dir: Path) -> list[dict]:
    path = dataset_dir / "groundtruth" / "gifs.jsonl"
    try:
        with open(path, encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]
    except OSError as err:
        raise KavanError(f"cannot read SynthGIF metadata: {err.strerror or err}", path) from None
    except (ValueError, KeyError) as err:
        raise KavanError(f"not SynthGIF metadata: {err}", path) from None


def _title(meta: dict) -> str:
    if not meta["faces"]:
        return f"{meta['id']}: no face, cue {meta['cue']:+.2f}"
    faces = "; ".join(f"{f['dominant']} ({f['pattern']}{'' if f['keypoints_found'] else ', no keypoints'})"
                      for f in meta["faces"])
    return f"{meta['id']}: {faces}"


def write_preview(dataset_dir: str | os.PathLike[str], out_png: str | os.PathLike[str], n_gifs: int = 4,
                  n_frames: int = 6, dpi: int = 80) -> Path:
    """Draw the contact sheet of ``n_gifs`` GIFs x ``n_frames`` frames of a SynthGIF folder into ``out_png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dataset_dir, out_png = Path(dataset_dir), Path(out_png)
    chosen = _pick(_read_metas(dataset_dir), n_gifs)
    if not chosen:
        raise KavanError("the dataset lists no GIFs", dataset_dir / "groundtruth" / "gifs.jsonl")
    fig, axes = plt.subplots(len(chosen), n_frames, figsize=(2.0 * n_frames + 0.6, 2.15 * len(chosen)),
                             squeeze=False)
    points = None
    for row, meta in zip(axes, chosen):
        estimate = keypoint_cache.load(keypoint_cache.cache_path(dataset_dir, meta["id"])).keypoints
        truth = keypoint_cache.load(truth_path(dataset_dir, meta["id"])).keypoints
        indices = tsn_indices(estimate.shape[0], n_frames, train=False)
        frames = decode.read_frames(dataset_dir / "gifs" / f"{meta['id']}.gif", indices)
        for ax, t, frame in zip(row, indices, frames):
            ax.imshow(frame, interpolation="nearest")
            true = truth[t].reshape(-1, 3)
            true = true[true[:, 2] > 0]
            ax.scatter(true[:, 0], true[:, 1], s=1.5, c="white", linewidths=0)
            est = estimate[t].reshape(-1, 3)
            est = est[est[:, 2] > 0]
            points = ax.scatter(est[:, 0], est[:, 1], s=9, c=est[:, 2], cmap="plasma", vmin=0, vmax=1,
                                marker="x", linewidths=0.6)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.text(0.02, 0.98, f"{t}", transform=ax.transAxes, fontsize=6, va="top", color="white")
    fig.subplots_adjust(left=0.01, right=0.9, top=0.95, bottom=0.01, wspace=0.03, hspace=0.16)
    for row, meta in zip(axes, chosen):
        box = row[0].get_position()
        fig.text(box.x0, box.y1 + 0.005, _title(meta), fontsize=7, va="bottom")
    bar = fig.colorbar(points, cax=fig.add_axes([0.92, 0.15, 0.015, 0.7]))
    bar.set_label("keypoint confidence", fontsize=7)
    bar.ax.tick_params(labelsize=6)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=dpi)
    plt.close(fig)
    return out_png
