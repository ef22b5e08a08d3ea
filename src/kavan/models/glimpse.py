"""Face glimpses, beyond the paper: where a frame's face is, and the face cut out of the frame at its own resolution.

The paper's network reads the face through the attended cells of one K x K map of the whole frame; a face a few
cells wide is then read from one or two cells. A glimpse is the face cut out of the decoded frame (not of the
frame squashed to the backbone's input) and resized to the face reader's input, so a small face keeps every
pixel it has. Where to cut, per frame (docs/model.md, "Face glimpses"):

1. the frame's estimated keypoints, when it has them: the box of the largest face's confident points
   (``keypoint_box``), grown by a margin and made square in pixels;
2. otherwise a map over the K x K cells (``map_box``): its peak cell, refined to the mass-weighted centre of the
   3 x 3 cells around it, with a given side. The map is the face localiser's (kavan.models.localiser), which
   is the attention of Eq. 5 without the recurrent term, so it is known before the LSTM runs.

Geometry is the keypoints' (kavan.keypoints.heatmaps): pixel centres at integer coordinates, so a (width,
height) frame spans [-0.5, width - 0.5] x [-0.5, height - 0.5]; cell (r, c) of K covers columns
[c, c + 1) * width / K - 0.5 and rows likewise. A box is (cx, cy, side) in those pixels, square in pixels
whatever the frame's aspect ratio; the part of a box outside the frame reads as zeros.
"""

from __future__ import annotations

import numpy as np
import torch
from torchvision.ops import roi_align

from kavan.core.errors import KavanError

# A face's box from its keypoints counts only with this many points above this confidence.
MIN_POINTS = 10
MIN_CONFIDENCE = 0.3
# The keypoint box (jaw to brows, mouth included) grown by this factor: the forehead and chin are in the crop.
MARGIN = 1.3
# Cells on each side of the map's peak whose mass refines the centre.
REFINE = 1


def keypoint_box(keypoints: np.ndarray, margin: float = MARGIN, min_points: int = MIN_POINTS,
                 min_confidence: float = MIN_CONFIDENCE) -> tuple[float, float, float] | None:
    """The box (cx, cy, side) of the largest face in one frame's keypoints (N_faces, P, 3) or (P, 3), or None when
    no face has ``min_points`` points above ``min_confidence``.

    The face's confident points span [x0, x1] x [y0, y1]; the box is centred on that span with side ``margin``
    times its longer edge. The largest face is the one with the longest edge."""
    points = np.asarray(keypoints, dtype=np.float32)
    if points.ndim == 2:
        points = points[None]
    if points.ndim != 3 or points.shape[-1] != 3:
        raise KavanError(f"keypoints of one frame must be (N_faces, P, 3) or (P, 3), got {points.shape}")
    best: tuple[float, float, float] | None = None
    for face in points:
        confident = face[:, 2] > min_confidence
        if int(confident.sum()) < min_points:
            continue
        xy = face[confident, :2]
        (x0, y0), (x1, y1) = xy.min(axis=0), xy.max(axis=0)
        edge = float(max(x1 - x0, y1 - y0))
        if best is None or edge * margin > best[2]:
            best = (float(x0 + x1) / 2, float(y0 + y1) / 2, edge * margin)
    return best


def map_box(mask: torch.Tensor, width: int, height: int, side: float) -> tuple[float, float, float]:
    """The box (cx, cy, side) at the peak of a (K, K) map over a (width, height) frame.

    The centre is the mass-weighted mean of the cell centres in the (2·REFINE + 1)² cells around the peak
    cell (clipped at the border), in pixels; ``side`` is given (the localiser's estimate of the face's size)."""
    if mask.dim() != 2 or mask.shape[0] != mask.shape[1]:
        raise KavanError(f"a map must be (K, K), got {tuple(mask.shape)}")
    k = mask.shape[0]
    peak = int(torch.argmax(mask))
    row, col = divmod(peak, k)
    rows = slice(max(row - REFINE, 0), min(row + REFINE + 1, k))
    cols = slice(max(col - REFINE, 0), min(col + REFINE + 1, k))
    window = mask[rows, cols].double().clamp_min(0)
    centres_r = torch.arange(rows.start, rows.stop, dtype=torch.float64) + 0.5
    centres_c = torch.arange(cols.start, cols.stop, dtype=torch.float64) + 0.5
    total = float(window.sum())
    if total > 0:
        r = float((window.sum(dim=1) * centres_r).sum()) / total
        c = float((window.sum(dim=0) * centres_c).sum()) / total
    else:
        r, c = row + 0.5, col + 0.5
    return c * width / k - 0.5, r * height / k - 0.5, float(side)


def crop_boxes(frames: torch.Tensor, boxes: list[tuple[float, float, float]], size: int) -> torch.Tensor:
    """Crops (len(boxes), C, size, size) of ``frames`` (len(boxes), C, H, W): box i cut from frame i, resized
    bilinearly (torchvision's roi_align, two samples per output pixel and axis); outside the frame reads 0."""
    if frames.dim() != 4 or len(boxes) != frames.shape[0]:
        raise KavanError(f"need one box per frame, got {len(boxes)} boxes for frames {tuple(frames.shape)}")
    if not boxes:
        return frames.new_zeros(0, frames.shape[1], size, size)
    rois = torch.tensor([[i, cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2]
                         for i, (cx, cy, side) in enumerate(boxes)], dtype=frames.dtype, device=frames.device)
    # roi_align's aligned coordinates put pixel i's centre at i + 0.5; ours put it at i
    rois[:, 1:] += 0.5
    return roi_align(frames, rois, output_size=(size, size), spatial_scale=1.0, sampling_ratio=2, aligned=True)


def frame_boxes(keypoints: np.ndarray | None, maps: torch.Tensor, width: int, height: int,
                side: float) -> tuple[list[tuple[float, float, float]], list[bool]]:
    """Each frame's glimpse box by the module's rule, and whether it came from keypoints.

    keypoints: (F, N_faces, P, 3) or None (no keypoints for any frame); maps: (F, K, K), the localiser's maps of
    the same frames; side: the box side used with a map (the localiser's estimate). A frame whose keypoints
    give no box (no face with enough confident points: a cartoon, a withheld frame) falls back to its map."""
    n_frames = maps.shape[0]
    if keypoints is not None and len(keypoints) != n_frames:
        raise KavanError(f"keypoints for {len(keypoints)} frames, maps for {n_frames}")
    boxes, from_keypoints = [], []
    for f in range(n_frames):
        box = keypoint_box(keypoints[f]) if keypoints is not None else None
        from_keypoints.append(box is not None)
        boxes.append(box if box is not None else map_box(maps[f], width, height, side))
    return boxes, from_keypoints
