"""Does the attention look at the face? The attention's argmax cell scored against ground-truth face boxes.

For each test frame the model attended to (the T frames of ``predictions.safetensors``), the attention map is a
K × K grid tiling the whole frame (the evaluation transform resizes the whole frame, kavan.data.transforms). A
frame *with a face* is one whose ground-truth landmarks (SynthGIF's ``groundtruth/landmarks/<id>.safetensors``,
kavan.keypoints.cache format) hold at least one face. The frame is a **hit** when the attention's argmax cell lies
inside the bounding box of some true face's landmarks, converted to cells and grown by ``grow`` cells (1 by
default) on every side — one cell of slack because a face box's edge rarely falls on a cell border.

A face frame counts as **withheld** when the estimated keypoints of that frame (the dataset's keypoint cache,
what the keypoint loss was trained with) have confidence zero everywhere: the model got no keypoint supervision
for that frame, so a hit there is attention that generalised from other frames. (The estimated keypoints' face
slots are in detection order, not the ground truth's, so "withheld" is decided per frame, not per face.)

The grown box is lenient: on SynthGIF faces 25–40 % of the frame wide (the first default preset) a map that always
peaks at the grid's centre cell scores 100 % with it on a 7 × 7 grid and about 93 % on 14 × 14; on today's default
faces (19–32 %) about two thirds on 14 × 14. ``localisation_report``
therefore also scores the exact box (no growth), gives both scores of that fixed *centre prior* as the reference
a model must beat, and measures the attention *mass* inside the exact boxes beside a uniform map's share.

Pixel → cell: a point at pixel x (pixel centres at integer coordinates) of a frame W wide is in column
floor((x + 0.5) · K / W), clipped to [0, K − 1]; rows likewise.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kavan.core.errors import KavanError
from kavan.data.dataset import Dataset
from kavan.keypoints import cache as keypoint_cache

GROUNDTRUTH_DIR = Path("groundtruth") / "landmarks"


@dataclass(frozen=True)
class CellBox:
    """Inclusive cell ranges of a face box: rows top..bottom, columns left..right."""

    top: int
    left: int
    bottom: int
    right: int

    def contains(self, row: int, col: int) -> bool:
        return self.top <= row <= self.bottom and self.left <= col <= self.right


@dataclass(frozen=True)
class LocalisationScore:
    """Hit counts over face frames, all of them and the withheld ones, and sums of the attention mass inside the
    face boxes (``face_mass``, ``withheld_mass``) and of the boxes' share of the grid (``face_area``: the mass a
    uniform map would put there); rates are NaN when there is no frame."""

    face_frames: int
    face_hits: int
    withheld_frames: int
    withheld_hits: int
    face_mass: float = 0.0
    withheld_mass: float = 0.0
    face_area: float = 0.0

    @property
    def hit_rate(self) -> float:
        return self.face_hits / self.face_frames if self.face_frames else math.nan

    @property
    def withheld_hit_rate(self) -> float:
        return self.withheld_hits / self.withheld_frames if self.withheld_frames else math.nan

    def to_dict(self) -> dict[str, Any]:
        mean = lambda total, n: total / n if n else math.nan  # noqa: E731
        return {"face_frames": self.face_frames, "face_hits": self.face_hits, "hit_rate": self.hit_rate,
                "withheld_frames": self.withheld_frames, "withheld_hits": self.withheld_hits,
                "withheld_hit_rate": self.withheld_hit_rate,
                "mass": mean(self.face_mass, self.face_frames),
                "withheld_mass": mean(self.withheld_mass, self.withheld_frames),
                "face_area": mean(self.face_area, self.face_frames)}

    def __add__(self, other: LocalisationScore) -> LocalisationScore:
        return LocalisationScore(*(a + b for a, b in zip(dataclasses.astuple(self), dataclasses.astuple(other))))


def pixel_to_cell(value: float, size: int, k: int) -> int:
    """The cell index (0..k−1) of a pixel coordinate on an axis ``size`` pixels long."""
    return int(min(k - 1, max(0, math.floor((value + 0.5) * k / size))))


def face_boxes(landmarks: np.ndarray, width: int, height: int, k: int, grow: int = 1) -> list[CellBox]:
    """Cell boxes (grown by ``grow``, clipped to the grid) of every face in one frame's (faces, 70, 3) landmarks."""
    boxes = []
    for face in landmarks:
        present = face[:, 2] > 0
        if not present.any():
            continue
        xs, ys = face[present, 0], face[present, 1]
        boxes.append(CellBox(top=max(0, pixel_to_cell(float(ys.min()), height, k) - grow),
                             left=max(0, pixel_to_cell(float(xs.min()), width, k) - grow),
                             bottom=min(k - 1, pixel_to_cell(float(ys.max()), height, k) + grow),
                             right=min(k - 1, pixel_to_cell(float(xs.max()), width, k) + grow)))
    return boxes


def argmax_cell(attention: np.ndarray) -> tuple[int, int]:
    """(row, column) of the largest weight of a (K, K) map (the first one in row-major order on a tie)."""
    row, col = np.unravel_index(int(np.argmax(attention)), attention.shape)
    return int(row), int(col)


def box_mask(boxes: list[CellBox], k: int) -> np.ndarray:
    """(K, K) bool: the cells inside any of the boxes."""
    mask = np.zeros((k, k), bool)
    for box in boxes:
        mask[box.top:box.bottom + 1, box.left:box.right + 1] = True
    return mask


def score_frame(attention: np.ndarray, landmarks: np.ndarray, width: int, height: int, grow: int = 1) -> bool | None:
    """True/False: the argmax cell is / is not inside a grown true face box; None when the frame has no face."""
    boxes = face_boxes(landmarks, width, height, attention.shape[-1], grow)
    if not boxes:
        return None
    row, col = argmax_cell(attention)
    return any(box.contains(row, col) for box in boxes)


def has_groundtruth(data: str | Path) -> bool:
    """Whether the dataset folder ships ground-truth landmarks (SynthGIF does; real datasets do not)."""
    return (Path(data) / GROUNDTRUTH_DIR).is_dir()


def score_gif(attention: np.ndarray, frame_indices: np.ndarray, truth: keypoint_cache.KeypointRecord,
              estimated: keypoint_cache.KeypointRecord | None, grow: int = 1) -> LocalisationScore:
    """Score one GIF's (T, K, K) attention at its frames against its ground truth (and estimated keypoints)."""
    total = LocalisationScore(0, 0, 0, 0)
    for maps, index in zip(attention, frame_indices):
        boxes = face_boxes(truth.keypoints[int(index)], truth.width, truth.height, maps.shape[-1], grow)
        if not boxes:
            continue
        row, col = argmax_cell(maps)
        hit = any(box.contains(row, col) for box in boxes)
        mask = box_mask(boxes, maps.shape[-1])
        mass = float(maps[mask].sum())
        withheld = estimated is None or not (estimated.keypoints[int(index), :, :, 2] > 0).any()
        total = total + LocalisationScore(1, int(hit), int(withheld), int(hit and withheld),
                                          mass, mass if withheld else 0.0, float(mask.mean()))
    return total


def score_predictions(dataset: Dataset, ids: list[str], attention: np.ndarray, frame_indices: np.ndarray,
                      grow: int = 1) -> LocalisationScore:
    """Sum of ``score_gif`` over the GIFs of a predictions file (attention (N, T, K, K), frame indices (N, T))."""
    total = LocalisationScore(0, 0, 0, 0)
    for gif_id, maps, indices in zip(ids, attention, frame_indices):
        path = dataset.root / GROUNDTRUTH_DIR / f"{gif_id}.safetensors"
        if not path.is_file():
            raise KavanError("no ground-truth landmarks for this GIF", path)
        truth = keypoint_cache.load(path)
        total = total + score_gif(maps, indices, truth, dataset.keypoints(gif_id), grow)
    return total


def centre_prior(attention: np.ndarray) -> np.ndarray:
    """Maps of the same shape as ``attention`` (..., K, K) that peak at the grid's centre cell, the reference."""
    prior = np.zeros_like(attention)
    k = attention.shape[-1]
    prior[..., k // 2, k // 2] = 1.0
    return prior


def localisation_report(dataset: Dataset, ids: list[str], attention: np.ndarray,
                        frame_indices: np.ndarray) -> dict[str, Any]:
    """The attention's scores with the grown box (top level: the acceptance criterion) and the exact box
    (``exact``, whose ``mass`` is the share of attention on the faces and ``face_area`` a uniform map's share),
    and the centre prior's (``centre_prior``, ``centre_prior_exact``) on the same frames."""
    report = score_predictions(dataset, ids, attention, frame_indices, grow=1).to_dict()
    prior = centre_prior(attention)
    report["exact"] = score_predictions(dataset, ids, attention, frame_indices, grow=0).to_dict()
    report["centre_prior"] = score_predictions(dataset, ids, prior, frame_indices, grow=1).to_dict()
    report["centre_prior_exact"] = score_predictions(dataset, ids, prior, frame_indices, grow=0).to_dict()
    return report
