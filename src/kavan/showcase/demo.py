"""The demo job that `make demo` runs: the pipeline that exists, end to end, on real and synthetic input.

1. Real GIFs: `kavan info` for each, and a contact sheet of their TSN-sampled frames as the decoder composites them.
2. SynthGIF: a small benchmark folder (GIFs, votes, TrueSkill scores, keypoint caches), checked with the same code
   as `kavan data check`, and its preview sheet (true landmarks and noisy estimated keypoints).
3. Keypoint heatmaps (Eq. 8) of sampled SynthGIF frames, blended over the frames.
4. The parameter counts of the paper's full model (`kavan describe`).
5. The main job: `kavan ablation` on that SynthGIF set at benchmark settings (every model row, both baselines,
   chance; the protocol's first ``splits`` splits, labelled as such in the tables), its two tables printed,
   attention overlays of the MTL Soft-Att + HS-LSTM row on a few test GIFs, and that row's trained model
   copied to ``<out>/model.safetensors`` (kavan.models.storage.load_model reads it).

The default size (400 GIFs, 1 split, the configs' recipe: at least 750 optimiser steps a row) keeps the whole job
within 15 minutes on 2 CPU cores (docs/results.md has the measured time) while still training each row on 320 GIFs
(288 after the validation hold-out) and testing it on 80.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kavan.core.errors import KavanError
from kavan.core.overrides import as_arguments
from kavan.media import decode
from kavan.media.sampling import tsn_indices

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoSettings:
    """What the demo runs on.

    ``real_gifs`` None skips the real-GIF part (with a warning). ``splits``, ``epochs`` (None: the configs' own
    recipe; a number: exactly that many epochs, without the configs' step floor)
    and ``row_configs`` (None: the eight benchmark rows) size the ablation; ``overrides`` (``section.key=value``)
    change every row's config; ``n_overlays`` test GIFs get attention overlays.
    """

    out: Path
    real_gifs: Path | None
    config: Path = Path("configs/mtl-softatt-hslstm.yaml")
    n_synth: int = 400
    seed: int = 0
    t: int = 8
    workers: int | None = None
    splits: int = 1
    epochs: int | None = None
    row_configs: tuple[Path, ...] | None = None
    overrides: tuple[str, ...] = ()
    n_overlays: int = 4
    progress: bool = True


OVERLAY_ROW = "mtl-softatt-hslstm"


def real_gif_folder() -> Path | None:
    """The folder of real GIFs named by $KAVAN_REAL_GIFS, if it holds any GIF; else None (the demo then skips its
    real-GIF sheet). The path is absolute, so links made to files in it hold from any directory."""
    folder = os.environ.get("KAVAN_REAL_GIFS")
    if folder and any(Path(folder).glob("*.gif")):
        return Path(folder).resolve()
    return None


def _frame_cell(ax, image: np.ndarray, label: str) -> None:
    """One frame of a contact sheet: the image, no ticks, a small label under it."""
    ax.imshow(image)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel(label, fontsize=6, labelpad=1)


def _save_sheet(fig, title: str, out_png: Path) -> Path:
    """Title, lay out, write and close a contact sheet."""
    import matplotlib.pyplot as plt

    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(out_png, dpi=110)
    plt.close(fig)
    return out_png


def real_gif_sheet(folder: Path, out_dir: Path, t: int) -> tuple[Path, Path]:
    """`kavan info` lines for every GIF in ``folder`` and a sheet of their t TSN evaluation frames."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = sorted(folder.glob("*.gif"))
    if not paths:
        raise KavanError("no .gif files in the real-GIF folder", folder)
    rows: list[tuple[decode.MediaInfo, list[int], np.ndarray]] = []
    info_path = out_dir / "real-gifs.jsonl"
    with open(info_path, "w", encoding="utf-8") as fh:
        for path in paths:
            try:
                info = decode.probe(path)
                indices = tsn_indices(info.n_frames, t, train=False)
                rows.append((info, indices, decode.read_frames(path, indices)))
                fh.write(json.dumps(info.to_json()) + "\n")
            except KavanError as err:
                log.warning("%s", err)
                fh.write(json.dumps({"path": str(path), "error": err.reason}) + "\n")

    fig, axes = plt.subplots(len(rows), t, figsize=(1.6 * t, 1.35 * len(rows)), squeeze=False)
    for row, (info, indices, frames) in zip(axes, rows):
        for ax, index, frame in zip(row, indices, frames):
            _frame_cell(ax, frame, f"#{index} · {info.durations_ms[index]} ms")
        row[0].set_ylabel(f"{Path(info.path).stem}\n{info.n_frames} fr, {info.width}×{info.height}",
                          fontsize=6, rotation=0, ha="right", va="center")
    sheet = _save_sheet(fig, f"Real GIFs: the {t} TSN evaluation frames of each (frame index · duration)",
                        out_dir / "real-gifs.png")
    return info_path, sheet


def heatmap_sheet(dataset_dir: Path, out_png: Path, t: int, n_gifs: int = 4, k: int = 7) -> Path:
    """Sampled frames of the first GIFs that have keypoints, with their Eq. 8 heatmaps blended over them."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from kavan.data.dataset import Dataset
    from kavan.keypoints.heatmaps import keypoint_heatmaps
    from kavan.media.overlay import blend_map

    dataset = Dataset(dataset_dir)
    chosen = []
    for gif_id in dataset.ids:
        record = dataset.keypoints(gif_id)
        if record is not None and record.faces_per_frame.any():
            chosen.append((gif_id, record))
        if len(chosen) == n_gifs:
            break
    fig, axes = plt.subplots(len(chosen), t, figsize=(1.5 * t, 1.6 * len(chosen)), squeeze=False)
    for row, (gif_id, record) in zip(axes, chosen):
        indices = tsn_indices(record.n_frames, t, train=False)
        frames = dataset.frames(gif_id, indices)
        maps, has_map = keypoint_heatmaps(record.keypoints[indices], (record.width, record.height), k)
        for ax, index, frame, cells, present in zip(row, indices, frames, maps, has_map):
            _frame_cell(ax, blend_map(frame, cells.numpy()) if present else frame,
                        f"#{index}" + ("" if present else " · no keypoints"))
        row[0].set_ylabel(gif_id, fontsize=7)
    return _save_sheet(fig, f"Keypoint heatmaps (Eq. 8, {k}×{k}) over TSN-sampled SynthGIF frames", out_png)


def run_demo(settings: DemoSettings) -> dict[str, str]:
    """Run every step; returns the files written, by name."""
    from kavan.data.check import check_dataset
    from kavan.showcase.describe import describe
    from kavan.synth import PRESETS, generate_dataset
    from kavan.synth.preview import write_preview

    out = settings.out
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, str] = {}

    if settings.real_gifs is None:
        log.warning("no real-GIF folder found (set KAVAN_REAL_GIFS); skipping the real-GIF sheet")
    else:
        log.info("decoding the real GIFs in %s", settings.real_gifs)
        info_path, sheet = real_gif_sheet(settings.real_gifs, out, settings.t)
        written.update({"real_gifs_info": str(info_path), "real_gifs_sheet": str(sheet)})

    synth_dir = out / "synthgif"
    if synth_dir.exists():
        if not (synth_dir / "synth.json").is_file():
            raise KavanError("exists but is not a SynthGIF folder the demo wrote; move it away", synth_dir)
        shutil.rmtree(synth_dir)
    log.info("generating %d SynthGIF GIFs in %s", settings.n_synth, synth_dir)
    generate_dataset(synth_dir, settings.n_synth, settings.seed, PRESETS["default"], workers=settings.workers)
    report = check_dataset(synth_dir)
    print(report.render())
    if not report.ok:
        raise KavanError("the generated SynthGIF folder failed its own check", synth_dir)
    written["synthgif"] = str(synth_dir)
    written["synthgif_preview"] = str(write_preview(synth_dir, out / "synthgif-preview.png"))
    written["heatmaps"] = str(heatmap_sheet(synth_dir, out / "heatmaps.png", settings.t))

    model_path = out / "paper-model.json"
    model_path.write_text(json.dumps(describe(settings.config), indent=2) + "\n", encoding="utf-8")
    written["paper_model"] = str(model_path)
    written.update(run_demo_ablation(settings, synth_dir))
    return written


def run_demo_ablation(settings: DemoSettings, synth_dir: Path) -> dict[str, str]:
    """The ablation on the demo's SynthGIF set, its tables on stdout, attention overlays and the trained model."""
    from kavan.experiments.ablation import RESULTS_JSON, RESULTS_MD, AblationSettings, default_configs, run_ablation

    out = settings.out
    ablation_dir = out / "ablation"
    if ablation_dir.exists():  # its runs, overlays and model belong to the SynthGIF folder just replaced
        shutil.rmtree(ablation_dir)
    for stale in (out / "attention.png", out / "model.safetensors"):
        stale.unlink(missing_ok=True)
    configs = settings.row_configs or default_configs("bench")
    # an explicit epoch count is exactly that many epochs: it lifts the configs' step floor (train.min_steps)
    overrides = settings.overrides + ((f"train.epochs={settings.epochs}", "train.min_steps=0")
                                      if settings.epochs is not None else ())
    command = ["kavan", "demo", "--out", str(out), "--n", str(settings.n_synth), "--seed", str(settings.seed),
               "--splits", str(settings.splits)] + (["--epochs", str(settings.epochs)] if settings.epochs else [])
    command += as_arguments(settings.overrides)
    log.info("running the ablation (%d model rows, %d split(s)) in %s", len(configs), settings.splits, ablation_dir)
    run_ablation(AblationSettings(data=synth_dir, configs=tuple(configs), out=ablation_dir, settings="bench",
                                  n_splits=settings.splits, overrides=overrides, progress=settings.progress), command)
    print((ablation_dir / RESULTS_MD).read_text(encoding="utf-8"))
    written = {"results": str(ablation_dir / RESULTS_MD), "results_json": str(ablation_dir / RESULTS_JSON)}
    run_dir = ablation_dir / OVERLAY_ROW / "split-0"
    if not run_dir.is_dir():
        log.warning("no %s row in the demo's configs: no attention overlays and no model copy", OVERLAY_ROW)
        return written
    written["attention"] = str(attention_sheet(synth_dir, run_dir, out / "attention.png", settings.n_overlays))
    model = out / "model.safetensors"
    shutil.copyfile(run_dir / "model.safetensors", model.with_suffix(".tmp"))
    os.replace(model.with_suffix(".tmp"), model)
    written["checkpoint"] = str(model)
    return written


def attention_sheet(dataset_dir: Path, run_dir: Path, out_png: Path, n_gifs: int) -> Path:
    """The run's test attention maps blended over their frames for the first ``n_gifs`` test GIFs with a face.

    Each frame's label says whether the attention's argmax cell is on a true face (kavan.experiments.localisation) when the
    dataset has ground-truth landmarks.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from kavan.data.dataset import Dataset
    from kavan.experiments.localisation import GROUNDTRUTH_DIR, score_frame
    from kavan.keypoints import cache as keypoint_cache
    from kavan.media.overlay import blend_map
    from kavan.training.evaluation import load_predictions

    dataset = Dataset(dataset_dir)
    predictions = load_predictions(run_dir / "predictions.safetensors")
    if predictions.attention is None:
        raise KavanError("the run's model has no attention to draw", run_dir)
    chosen = []
    for i, gif_id in enumerate(predictions.ids):
        truth_path = dataset.root / GROUNDTRUTH_DIR / f"{gif_id}.safetensors"
        truth = keypoint_cache.load(truth_path) if truth_path.is_file() else None
        if truth is None or truth.faces_per_frame.any():
            chosen.append((i, gif_id, truth))
        if len(chosen) == n_gifs:
            break
    t = predictions.attention.shape[1]
    fig, axes = plt.subplots(len(chosen), t, figsize=(1.5 * t, 1.6 * len(chosen)), squeeze=False)
    for row, (i, gif_id, truth) in zip(axes, chosen):
        indices = [int(x) for x in predictions.frame_indices[i]]
        frames = dataset.frames(gif_id, indices)
        for ax, index, frame, cells in zip(row, indices, frames, predictions.attention[i]):
            hit = None if truth is None else score_frame(cells, truth.keypoints[index], truth.width, truth.height)
            where = {None: "", True: " · on face", False: " · off face"}[hit]
            _frame_cell(ax, blend_map(frame, cells), f"#{index}{where}")
        row[0].set_ylabel(gif_id, fontsize=7)
    return _save_sheet(fig, f"Attention of {run_dir.parent.name} on test GIFs (split {run_dir.name[6:]})", out_png)
