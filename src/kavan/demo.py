"""The demo job that `make demo` runs: the pipeline that exists, end to end, on real and synthetic input.

1. Real GIFs: `kavan info` for each, and a contact sheet of their TSN-sampled frames as the decoder composites them.
2. SynthGIF: a small benchmark folder (GIFs, votes, TrueSkill scores, keypoint caches), checked with the same code
   as `kavan data check`, and its preview sheet (true landmarks and noisy estimated keypoints).
3. Keypoint heatmaps (Eq. 8) of sampled SynthGIF frames, blended over the frames.
4. The parameter counts of the paper's full model (`kavan describe`).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kavan import decode
from kavan.errors import KavanError
from kavan.sampling import tsn_indices

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoSettings:
    """What the demo runs on. ``real_gifs`` None skips the real-GIF part (with a warning)."""

    out: Path
    real_gifs: Path | None
    config: Path = Path("configs/mtl-softatt-hslstm.yaml")
    n_synth: int = 48
    seed: int = 0
    t: int = 8
    workers: int | None = None


def real_gif_folder() -> Path | None:
    """$KAVAN_REAL_GIFS, else ../shared/data/real-gifs beside the working directory, if it exists."""
    for candidate in (os.environ.get("KAVAN_REAL_GIFS"), Path("..") / "shared" / "data" / "real-gifs"):
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


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
            ax.imshow(frame)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_xlabel(f"#{index} · {info.durations_ms[index]} ms", fontsize=6, labelpad=1)
        row[0].set_ylabel(f"{Path(info.path).stem}\n{info.n_frames} fr, {info.width}×{info.height}",
                          fontsize=6, rotation=0, ha="right", va="center")
    fig.suptitle(f"Real GIFs: the {t} TSN evaluation frames of each (frame index · duration)", fontsize=9)
    fig.tight_layout()
    sheet = out_dir / "real-gifs.png"
    fig.savefig(sheet, dpi=110)
    plt.close(fig)
    return info_path, sheet


def heatmap_sheet(dataset_dir: Path, out_png: Path, t: int, n_gifs: int = 4, k: int = 7) -> Path:
    """Sampled frames of the first GIFs that have keypoints, with their Eq. 8 heatmaps blended over them."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from kavan.dataset import Dataset
    from kavan.heatmaps import keypoint_heatmaps
    from kavan.overlay import blend_map

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
            ax.imshow(blend_map(frame, cells.numpy()) if present else frame)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_xlabel(f"#{index}" + ("" if present else " · no keypoints"), fontsize=6, labelpad=1)
        row[0].set_ylabel(gif_id, fontsize=7)
    fig.suptitle(f"Keypoint heatmaps (Eq. 8, {k}×{k}) over TSN-sampled SynthGIF frames", fontsize=9)
    fig.tight_layout()
    fig.savefig(out_png, dpi=110)
    plt.close(fig)
    return out_png


def run_demo(settings: DemoSettings) -> dict[str, str]:
    """Run every step; returns the files written, by name."""
    from kavan.commands.describe import describe
    from kavan.datacheck import check_dataset
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

    model_path = out / "model.json"
    model_path.write_text(json.dumps(describe(settings.config), indent=2) + "\n", encoding="utf-8")
    written["model"] = str(model_path)
    return written
