"""Write small dataset folders for tests: tiny GIFs with Pillow, scores.csv, optional extras."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from PIL import Image

from kavan.core.emotions import EMOTIONS

# Frame k of every test GIF is filled with COLORS[k % len(COLORS)], so decoded frames can be checked exactly.
COLORS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255), (255, 0, 255)]


def write_gif(path: Path, n_frames: int, width: int = 12, height: int = 8) -> None:
    """An animated GIF whose frames are solid colours from COLORS (consecutive frames differ)."""
    frames = [Image.new("RGB", (width, height), COLORS[k % len(COLORS)]) for k in range(n_frames)]
    path.parent.mkdir(parents=True, exist_ok=True)
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def one_hot(emotion: str, value: float = 0.9, rest: float = 0.1) -> list[float]:
    """17 scores: ``value`` for ``emotion``, ``rest`` for every other emotion."""
    return [value if e == emotion else rest for e in EMOTIONS]


def make_dataset(root: Path, frames: dict[str, int], scores: dict[str, list[float]] | None = None) -> Path:
    """A valid folder: gifs/<id>.gif with ``frames[id]`` frames, and scores.csv (default: one_hot per id)."""
    for gif_id, n in frames.items():
        write_gif(root / "gifs" / f"{gif_id}.gif", n)
    if scores is None:
        scores = {gif_id: one_hot(EMOTIONS[i % len(EMOTIONS)]) for i, gif_id in enumerate(frames)}
    write_csv(root / "scores.csv", ["id", *EMOTIONS], [[gif_id, *values] for gif_id, values in scores.items()])
    return root


def keypoints(n_frames: int, faces: int = 1) -> np.ndarray:
    """(n_frames, faces, 70, 3) float32 keypoints, all points at (1, 2) with confidence 0.5."""
    kp = np.zeros((n_frames, faces, 70, 3), dtype=np.float32)
    kp[..., 0], kp[..., 1], kp[..., 2] = 1.0, 2.0, 0.5
    return kp
