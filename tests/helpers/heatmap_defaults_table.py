"""Print the measurements behind HeatmapConfig's defaults (quoted in docs/heatmaps.md).

Run: .venv/bin/python tests/helpers/heatmap_defaults_table.py

A frontal 70-point face (tests/helpers/face_template.py, confidence 1) of a given width is placed on a 224 x 224
frame at 64 positions that sweep one K-cell in 8 x 8 sub-cell steps, so the numbers average over how
the face sits on the K = 7 grid. For each (sigma, temperature) of the peak-normalised Eq. 8 and face
width it prints the mean max cell mass, the mean entropy in bits (uniform over 49 cells: 5.61), the mean
mass on the cells the face's bounding box touches, and the range of the max cell mass over the positions.
Then how the mouth weight shares the map between the lips and the eyes. How the map's concentration
changes with the face size, from small faces to close-ups, on K = 7 and 14: benchmarks/heatmap_concentration.py.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for the helpers package

from helpers.face_template import face_keypoints  # noqa: E402
from kavan.keypoints.heatmaps import HeatmapConfig, keypoint_heatmaps  # noqa: E402

SIZE = 224
K = 7
WIDTHS = (14, 28, 56, 112)   # 1/16, 1/8, 1/4 and 1/2 of the frame width
SWEEP = ((1.0, 0.1), (1.5, 0.075), (1.5, 0.1), (1.5, 0.125), (2.0, 0.1))


def face_stats(config: HeatmapConfig, width: float) -> tuple[float, float, float, float, float]:
    cell = SIZE / K
    offsets = np.linspace(0.0, cell, 8, endpoint=False)
    faces = np.stack([face_keypoints((3 * cell + ox, 3 * cell + oy), width)
                      for ox in offsets for oy in offsets])
    maps, _ = keypoint_heatmaps(faces, (SIZE, SIZE), K, config)
    flat = maps.reshape(len(faces), -1)
    peak = flat.max(dim=1).values
    entropy = -(flat * flat.clamp_min(1e-30).log2()).sum(dim=1)
    inside = []
    for face, heat in zip(faces, maps):
        lo = np.floor((face[:, :2].min(axis=0) + 0.5) / cell).astype(int)
        hi = np.floor((face[:, :2].max(axis=0) + 0.5) / cell).astype(int)
        inside.append(float(heat[lo[1]:hi[1] + 1, lo[0]:hi[0] + 1].sum()))
    return (float(peak.mean()), float(entropy.mean()), float(np.mean(inside)),
            float(peak.min()), float(peak.max()))


def mouth_balance(mouth_weight: float, width: float) -> tuple[float, float, float]:
    """Mean mass on the K-cells holding lip points, on those holding eye points, and how often the
    argmax is a cell with lip points but no eye points, over the 64 positions (default sigma, tau)."""
    cell = SIZE / K
    offsets = np.linspace(0.0, cell, 8, endpoint=False)
    faces = np.stack([face_keypoints((3 * cell + ox, 3 * cell + oy), width)
                      for ox in offsets for oy in offsets])
    maps, _ = keypoint_heatmaps(faces, (SIZE, SIZE), K, HeatmapConfig(mouth_weight=mouth_weight))
    mouth, eyes, on_mouth = [], [], []
    for face, heat in zip(faces, maps):
        cells = np.floor((face[:, :2] + 0.5) / cell).astype(int)
        lip_cells = {(int(c[1]), int(c[0])) for c in cells[48:68]}
        eye_cells = {(int(c[1]), int(c[0])) for c in cells[36:48]}
        mouth.append(sum(float(heat[r, c]) for r, c in lip_cells))
        eyes.append(sum(float(heat[r, c]) for r, c in eye_cells))
        peak = divmod(int(heat.argmax()), K)
        on_mouth.append(peak in lip_cells and peak not in eye_cells)
    return float(np.mean(mouth)), float(np.mean(eyes)), float(np.mean(on_mouth))


def main() -> None:
    torch.set_num_threads(1)
    print(f"frame {SIZE}x{SIZE}, K={K}, grid=56, normalise=peak, mouth_weight=0.5, confidence 1, 64 positions per row")
    print("sigma  tau  | " + " | ".join(f"width {w:>3}: max  H(bits) on-face (max range)" for w in WIDTHS))
    for sigma, tau in SWEEP:
        config = HeatmapConfig(sigma=sigma, temperature=tau)
        cells = []
        for width in WIDTHS:
            peak, entropy, inside, lo, hi = face_stats(config, width)
            cells.append(f"{' ' * 11}{peak:.2f}  {entropy:.2f}   {inside:.2f}   ({lo:.2f}-{hi:.2f})")
        print(f"{sigma:4.1f}  {tau:5.3f} | " + " | ".join(cells))
    print(f"uniform entropy: {math.log2(K * K):.2f} bits")
    print("mouth weight, default sigma and tau: mass on lip cells / on eye cells / argmax on a lip-only cell")
    for width in (56, 112):
        for weight in (1.0, 0.5, 0.25):
            mouth, eyes, on_mouth = mouth_balance(weight, width)
            print(f"  width {width:>3}, mouth_weight {weight:.2f}: {mouth:.2f} / {eyes:.2f} / {on_mouth:.2f}")


if __name__ == "__main__":
    main()
