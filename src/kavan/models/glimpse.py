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
import torch.nn.functional as F
from torch import nn
from torchvision.ops import roi_align

from kavan.config import GlimpseConfig
from kavan.core.errors import KavanError
from kavan.models.fer_network import FEATURE_DIM, FER_CLASSES, INPUT_SIZE, MiniXception, load_fer_network
from kavan.models.localiser import FaceLocaliser

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
                sides: list[float]) -> tuple[list[tuple[float, float, float]], list[bool]]:
    """Each frame's glimpse box by the module's rule, and whether it came from keypoints.

    keypoints: (F, N_faces, P, 3) or None (no keypoints for any frame); maps: (F, K, K), the localiser's maps of
    the same frames; sides: per frame, the box side used with its map (the localiser's estimate). A frame whose
    keypoints give no box (no face with enough confident points: a cartoon, a withheld frame) falls back to its map."""
    n_frames = maps.shape[0]
    if keypoints is not None and len(keypoints) != n_frames:
        raise KavanError(f"keypoints for {len(keypoints)} frames, maps for {n_frames}")
    boxes, from_keypoints = [], []
    for f in range(n_frames):
        box = keypoint_box(keypoints[f]) if keypoints is not None else None
        from_keypoints.append(box is not None)
        boxes.append(box if box is not None else map_box(maps[f], width, height, sides[f]))
    return boxes, from_keypoints


# What the reader gives per glimpse: the FER2013 network's 128-D pooled features and its 7 class probabilities.
GLIMPSE_SIZE = FEATURE_DIM + len(FER_CLASSES)
GREY = (0.299, 0.587, 0.114)  # ITU-R BT.601 luma, as OpenCV's RGB2GRAY


def grey_frames(frames: np.ndarray) -> torch.Tensor:
    """(T, H, W, 3) uint8 RGB frames as (T, H, W) uint8 grey: what a glimpse is cut from."""
    rgb = torch.from_numpy(np.ascontiguousarray(frames)).float()
    return (rgb @ torch.tensor(GREY)).round_().clamp_(0, 255).to(torch.uint8)


class FaceGlimpses(nn.Module):
    """Per frame, a glimpse of the face read by the FER2013 network: (B, T, C, K, K) features and the clips' grey
    frames → (B, T, GLIMPSE_SIZE). The localiser and the reader are fixed: the localiser is fitted before the
    network trains (kavan.training.glimpses), the reader is FER2013's. Only ``norm`` (a LayerNorm of the reader's
    outputs, so the LSTM gets them on the scale of its other inputs) trains with the network.

    pretrained: read the FER2013 file (kavan assets fetch) now; false when a model file will supply the weights.
    """

    def __init__(self, channels: int, config: GlimpseConfig, pretrained: bool):
        super().__init__()
        self.config = config
        self.localiser = FaceLocaliser(channels, config.localiser_size).requires_grad_(False)
        self.reader = (load_fer_network() if pretrained else MiniXception()).requires_grad_(False)
        self.norm = nn.LayerNorm(GLIMPSE_SIZE)
        self.register_buffer("fitted", torch.tensor(False))  # whether the localiser has been fitted (a model file's is)

    def train(self, mode: bool = True) -> FaceGlimpses:
        """The localiser and the reader stay in eval mode (the reader's BatchNorm keeps FER2013's statistics)."""
        super().train(mode)
        self.localiser.eval()
        self.reader.eval()
        return self

    def boxes(self, features: torch.Tensor, width: int, height: int,
              keypoints: np.ndarray | None = None) -> tuple[list[tuple[float, float, float]], list[bool]]:
        """The glimpse boxes of one clip's frames, features (T, C, K, K), by the rule of ``config.boxes``:
        the localiser's peaks, or the frames' keypoints (T, N_faces, P, 3) where they give a box."""
        k = features.shape[-1]
        log_p, log_side = self.localiser(features.flatten(2).transpose(1, 2).float())
        sides = log_side.exp() * max(width, height)
        maps = log_p.exp().unflatten(1, (k, k))
        return frame_boxes(keypoints if self.config.boxes == "keypoints" else None, maps, width, height,
                           sides.tolist())

    def read(self, grey: torch.Tensor, boxes: list[tuple[float, float, float]]) -> torch.Tensor:
        """The reader's outputs (len(boxes), GLIMPSE_SIZE) for box i cut from grey frame i of (N, H, W) uint8."""
        crops = crop_boxes(grey[:, None].float() / 255.0, boxes, self.config.crop)
        if self.config.crop != INPUT_SIZE:
            crops = F.interpolate(crops, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
        features, probabilities = self.reader((crops - 0.5) * 2.0)  # fer's preprocessing
        return torch.cat([features, probabilities], dim=1)

    def forward(self, features: torch.Tensor, grey: list[torch.Tensor]) -> torch.Tensor:
        """Glimpses (B, T, GLIMPSE_SIZE) of B clips, as prediction cuts them (no keypoints: the localiser's boxes):
        features (B, T, C, K, K), grey[b] (T, H_b, W_b) uint8 (each clip at its own size)."""
        if len(grey) != features.shape[0]:
            raise KavanError(f"{features.shape[0]} clips but grey frames for {len(grey)}")
        out = []
        for b, frames in enumerate(grey):
            if frames.dim() != 3 or frames.shape[0] != features.shape[1]:
                raise KavanError(f"grey frames of clip {b} must be (T={features.shape[1]}, H, W), "
                                 f"got {tuple(frames.shape)}")
            height, width = frames.shape[1:]
            boxes, _ = self.boxes(features[b], width, height)
            out.append(self.read(frames.to(features.device), boxes))
        return torch.stack(out).to(features.dtype)
