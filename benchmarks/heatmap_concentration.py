"""How concentrated the Eq. 8 keypoint heatmap is on the face, from small faces to close-ups, on the K x K grids.

A frontal, neutral SynthGIF face (kavan.synth.face, the 70-point layout, confidence 1) of a given width (a share
of the frame width, the frontal jaw width as in SynthGIF's face_size) is placed on a 224 x 224 frame, centred,
at 16 positions that sweep 4 x 4 steps over one 7 x 7 cell (32 pixels), the sweep shrunk where a wide face
would leave the frame. For each width and grid K (7: the paper's ResNet-50; 14: the benchmark's MobileNetV2
cut after features.13) it prints, averaged over the positions, for the formula before (``--before-*``) and after
(``--temperature``, ``--sigma``, ``--mouth-weight``, ``--normalise``; the before formula keeps the default
sigma and mouth weight):

- H: the map's entropy in bits, and as a share of log2 K^2 (100 % is the uniform map);
- box: the map's mass inside the cells the face's landmark box covers, beside those cells' share of the grid
  (what the uniform map would put there).

A second table shows what the confidences do: the peak cell mass of a face whose points all have one
confidence, and of a lone point (a stray detection), at K = 7.

``--sweep T [T ...]`` instead prints, for each temperature of the "after" formula, the worst entropy share and
the smallest box mass over the widths >= 0.25 and the 16 positions, and the mean entropy and box mass of the
SynthGIF face sizes (0.15 to 0.32) beside the "before" formula's: the measurement the default temperature was
chosen on (docs/heatmaps.md).

    .venv/bin/python benchmarks/heatmap_concentration.py
    .venv/bin/python benchmarks/heatmap_concentration.py --sweep 0.05 0.075 0.1 0.125 0.15 0.2
"""

from __future__ import annotations

import argparse
import math

import numpy as np
import torch

from kavan.keypoints.heatmaps import HeatmapConfig, keypoint_heatmaps
from kavan.keypoints.landmarks import N_POINTS
from kavan.synth.face import NEUTRAL, model_points, project

SIZE = 224
SWEEP_CELL = SIZE / 7          # the positions sweep one 7 x 7 cell
STEPS = 4
WIDTHS = (0.25, 0.375, 0.5, 0.625, 0.75, 0.875, 1.0)
SYNTHGIF = (0.15, 0.2, 0.25, 0.32)       # SynthGIF's face sizes: 0.19-0.32 default preset, 0.15-0.28 hard

FRONTAL = model_points(NEUTRAL[None])[0, :N_POINTS]     # (70, 3) face-frame points of the neutral face


def faces(share: float) -> np.ndarray:
    """(16, 70, 3) keypoints (x, y, confidence 1) of a face ``share`` of the frame wide at the 16 positions."""
    width = share * SIZE
    xy = project(FRONTAL[None], NEUTRAL[None], np.zeros((1, 2)), width)[0]
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    centre = SIZE / 2 - 0.5 - (lo + hi) / 2                       # the landmark box centred on the frame
    slack = np.clip((SIZE - (hi - lo)) / 2 - 0.5, 0.0, SWEEP_CELL / 2)
    steps = np.linspace(-1.0, 1.0, STEPS)
    out = [np.concatenate([xy + centre + (dx * slack[0], dy * slack[1]), np.ones((len(xy), 1))], axis=1)
           for dx in steps for dy in steps]
    return np.stack(out).astype(np.float32)


def box_cells(face: np.ndarray, k: int) -> tuple[slice, slice]:
    """Rows and columns of the K-cells the face's landmark box covers."""
    cell = SIZE / k
    lo = np.clip(np.floor((face[:, :2].min(axis=0) + 0.5) / cell).astype(int), 0, k - 1)
    hi = np.clip(np.floor((face[:, :2].max(axis=0) + 0.5) / cell).astype(int), 0, k - 1)
    return slice(lo[1], hi[1] + 1), slice(lo[0], hi[0] + 1)


def measure(points: np.ndarray, k: int, config: HeatmapConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per face: entropy in bits, mass inside the landmark box, the box's share of the grid."""
    maps, _ = keypoint_heatmaps(points, (SIZE, SIZE), k, config)
    flat = maps.reshape(len(points), -1).double()
    entropy = -(flat * flat.clamp_min(1e-300).log2()).sum(dim=1).numpy()
    inside, share = [], []
    for face, heat in zip(points, maps):
        rows, cols = box_cells(face, k)
        inside.append(float(heat[rows, cols].sum()))
        share.append((rows.stop - rows.start) * (cols.stop - cols.start) / k ** 2)
    return entropy, np.array(inside), np.array(share)


def concentration_table(widths: list[float], grids: list[int], before: HeatmapConfig, after: HeatmapConfig) -> str:
    head = "| face width |" + "".join(f" K={k} box share | K={k} before: H bits (share), box mass |"
                                      f" K={k} after: H bits (share), box mass |" for k in grids)
    lines = [head, "|---" * (1 + 3 * len(grids)) + "|"]
    for share in widths:
        points = faces(share)
        row = f"| {share:g} |"
        for k in grids:
            uniform = math.log2(k * k)
            cells = []
            for config in (before, after):
                entropy, inside, box = measure(points, k, config)
                cells.append(f" {entropy.mean():.2f} ({entropy.mean() / uniform:.0%}), {inside.mean():.2f} |")
            row += f" {box.mean():.2f} |" + "".join(cells)
        lines.append(row)
    return "\n".join(lines)


def confidence_table(before: HeatmapConfig, after: HeatmapConfig, k: int = 7) -> str:
    lines = [f"| K={k}, peak cell mass | before | after |", "|---|---|---|"]
    quarter = faces(0.25)[:1]
    for conf in (1.0, 0.5, 0.2):
        points = quarter.copy()
        points[..., 2] = conf
        lines.append(f"| face 0.25 wide, every confidence {conf:g} | "
                     + " | ".join(f"{float(keypoint_heatmaps(points, (SIZE, SIZE), k, c)[0].max()):.2f}"
                                  for c in (before, after)) + " |")
    for conf in (1.0, 0.2, 0.05):
        points = np.zeros((1, N_POINTS, 3), dtype=np.float32)
        points[0, 30] = (3.5 * SIZE / k - 0.5, 3.5 * SIZE / k - 0.5, conf)     # centred in the middle cell
        lines.append(f"| lone point, confidence {conf:g} | "
                     + " | ".join(f"{float(keypoint_heatmaps(points, (SIZE, SIZE), k, c)[0].max()):.2f}"
                                  for c in (before, after)) + " |")
    lines.append(f"| (uniform map) | {1 / k ** 2:.2f} | {1 / k ** 2:.2f} |")
    return "\n".join(lines)


def sweep_table(temperatures: list[float], grids: list[int], before: HeatmapConfig, after: HeatmapConfig) -> str:
    lines = ["| τ | K | widths 0.25–1: worst H share, least box mass | SynthGIF widths 0.15–0.32: "
             "H bits, box mass (before → after) |", "|---|---|---|---|"]
    large = {share: faces(share) for share in WIDTHS}
    small = np.concatenate([faces(share) for share in SYNTHGIF])
    for tau in temperatures:
        config = HeatmapConfig(grid=after.grid, sigma=after.sigma, mouth_weight=after.mouth_weight,
                               temperature=tau, normalise=after.normalise)
        for k in grids:
            worst_h, least_in = 0.0, 1.0
            for points in large.values():
                entropy, inside, _ = measure(points, k, config)
                worst_h, least_in = max(worst_h, entropy.max() / math.log2(k * k)), min(least_in, inside.min())
            (h0, in0, _), (h1, in1, _) = measure(small, k, before), measure(small, k, config)
            lines.append(f"| {tau:g} | {k} | {worst_h:.0%}, {least_in:.2f} | "
                         f"{h0.mean():.2f} → {h1.mean():.2f}, {in0.mean():.2f} → {in1.mean():.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--widths", type=float, nargs="+", default=sorted(set(SYNTHGIF + WIDTHS)),
                        help="face widths as shares of the frame width")
    parser.add_argument("--grids", type=int, nargs="+", default=[7, 14], help="output grid sides K")
    defaults = HeatmapConfig()
    parser.add_argument("--temperature", type=float, default=defaults.temperature)
    parser.add_argument("--sigma", type=float, default=defaults.sigma)
    parser.add_argument("--mouth-weight", type=float, default=defaults.mouth_weight)
    parser.add_argument("--normalise", choices=("peak", "none"), default=defaults.normalise)
    parser.add_argument("--before-temperature", type=float, default=0.6)
    parser.add_argument("--before-normalise", choices=("peak", "none"), default="none")
    parser.add_argument("--sweep", type=float, nargs="+", metavar="T",
                        help="print the temperature sweep of the 'after' formula instead")
    args = parser.parse_args()
    torch.set_num_threads(1)
    after = HeatmapConfig(sigma=args.sigma, mouth_weight=args.mouth_weight, temperature=args.temperature,
                          normalise=args.normalise)
    before = HeatmapConfig(temperature=args.before_temperature, normalise=args.before_normalise)
    print(f"before: normalise={before.normalise}, τ={before.temperature:g}, σ={before.sigma:g}; "
          f"after: normalise={after.normalise}, τ={after.temperature:g}, σ={after.sigma:g}; "
          f"mouth_weight={after.mouth_weight:g}, grid={after.grid}, frame {SIZE}², "
          f"{STEPS * STEPS} positions per width\n")
    if args.sweep:
        print(sweep_table(args.sweep, args.grids, before, after))
        return
    print(concentration_table(args.widths, args.grids, before, after))
    print()
    print(confidence_table(before, after))


if __name__ == "__main__":
    main()
