"""The glimpse rows' preparation (beyond the paper): fit the face localiser on the training GIFs, then cache every
GIF's glimpses, so the epochs read them like the cached backbone features (kavan.models.glimpse).

1. Fit. The localiser (kavan.models.localiser) learns from the training part of the split only (not its
   validation or test GIFs): every cached frame of theirs whose keypoints give a face box, at most
   ``model.glimpse.localiser_frames`` of them drawn with train.seed, each with its Eq. 8 heatmap (the attention's
   target, made as for the keypoint loss) and its box side. A run that resumes, or starts from a model whose
   localiser is fitted (--init), keeps that localiser.
2. Cache. For every GIF of the split and every frame the feature cache holds: the box (by ``model.glimpse.boxes``),
   the grey crop cut from the decoded frame, and the FER2013 reader's outputs (GLIMPSE_SIZE values). One entry
   per GIF, kept by the feature cache's rule (kavan.data.feature_cache.CacheFolder: tied to the media file's
   bytes), in a folder keyed by the feature cache's key, the localiser's and the reader's weights, the box rule
   and the crop size, so glimpses of another localiser are never read.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from kavan.config import KavanConfig
from kavan.core.errors import KavanError
from kavan.core.tensorfile import read_safetensors, sha256_of
from kavan.data.dataset import Dataset
from kavan.data.feature_cache import CacheFolder, FeatureCache, weights_sha256
from kavan.data.loader import Clip, clip_heatmaps
from kavan.data.transforms import CropParams, FrameTransform
from kavan.models.glimpse import grey_frames, keypoint_box
from kavan.models.kavan import KAVAN
from kavan.models.localiser import fit_localiser

log = logging.getLogger(__name__)

FORMAT = "kavan-glimpses/1"


class GlimpseCache:
    """Per GIF, the glimpses (F', GLIMPSE_SIZE) of the frames its feature cache holds, and whether each frame's
    box came from keypoints (F',) bool."""

    def __init__(self, root: Path, features: FeatureCache, model: KAVAN):
        glimpses = model.glimpses
        assert glimpses is not None
        key = {"format": FORMAT, "features": features.key.digest, "boxes": glimpses.config.boxes,
               "crop": glimpses.config.crop, "localiser": weights_sha256(glimpses.localiser),
               "reader": weights_sha256(glimpses.reader)}
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode("utf-8")).hexdigest()
        self.entries = CacheFolder(root / f"glimpses-{digest[:16]}", FORMAT, digest, ("glimpses", "from_keypoints"))
        self.entries.describe("key.json", json.dumps(key, indent=1, sort_keys=True) + "\n")
        self.features = features
        self._glimpses: dict[str, torch.Tensor] = {}

    @property
    def folder(self) -> Path:
        return self.entries.folder

    def read(self, gif_id: str, positions: list[int]) -> torch.Tensor:
        """Glimpses (len(positions), GLIMPSE_SIZE) of the cached frames at ``positions`` (as FeatureCache.read)."""
        if gif_id not in self._glimpses:
            try:
                tensors, _ = read_safetensors(self.entries.path(gif_id))
            except KavanError as err:
                raise KavanError(f"cannot read cached glimpses: {err.reason}", err.path) from None
            self._glimpses[gif_id] = tensors["glimpses"]
        return self._glimpses[gif_id][positions]


def fit_split_localiser(model: KAVAN, dataset: Dataset, clips: list[Clip], features: FeatureCache,
                        config: KavanConfig, progress: bool) -> dict[str, float]:
    """Fit ``model``'s localiser on the training ``clips`` (module docstring, step 1); returns what it was fitted
    on and how well it places the peak on its own frames."""
    glimpse = config.model.glimpse
    size, cells = config.model.input_size, model.cells
    evaluation = FrameTransform.evaluation(size)
    frames_seen: list[tuple[Clip, int]] = []
    heatmaps, sides = [], []
    for clip in tqdm(clips, desc="localiser targets", unit="GIF", disable=not progress, leave=False):
        if not clip.has_keypoints:
            continue
        cached = features.frames(clip.gif_id)
        raw = dataset.keypoints(clip.gif_id).keypoints[cached]
        whole = CropParams(0, 0, clip.height, clip.width, False)
        maps, has_map = clip_heatmaps(evaluation.apply_keypoints(raw, whole, len(cached)), len(cached), size, cells,
                                      config.data.heatmap)
        longer = max(clip.width, clip.height)
        for position in range(len(cached)):
            box = keypoint_box(raw[position])
            if box is not None and bool(has_map[position]):
                frames_seen.append((clip, position))
                heatmaps.append(maps[position].flatten())
                sides.append(math.log(box[2] / longer))
    if not frames_seen:
        raise KavanError("model.glimpse needs training GIFs with keypoints to fit its face localiser; none of "
                         f"the {len(clips)} training GIFs has a frame whose keypoints give a face box",
                         dataset.root)
    rng = np.random.default_rng(config.train.seed)
    chosen = np.sort(rng.choice(len(frames_seen), size=min(glimpse.localiser_frames, len(frames_seen)),
                                replace=False))
    by_gif: dict[str, list[int]] = {}
    for i in chosen:
        clip, position = frames_seen[i]
        by_gif.setdefault(clip.gif_id, []).append(position)
    cells_list = [features.read(gif_id, positions).float() for gif_id, positions in by_gif.items()]
    inputs = torch.cat(cells_list).flatten(2).transpose(1, 2)  # (N, K², C)
    targets = torch.stack([heatmaps[i] for i in chosen])
    log_sides = torch.tensor([sides[i] for i in chosen], dtype=torch.float32)
    fitted = fit_localiser(inputs, targets, log_sides, size=glimpse.localiser_size, epochs=glimpse.localiser_epochs,
                           seed=config.train.seed)
    assert model.glimpses is not None
    model.glimpses.localiser.load_state_dict(fitted.state_dict())
    model.glimpses.fitted.fill_(True)
    with torch.no_grad():
        log_p, log_side = fitted(inputs)
    on_peak = float((log_p.argmax(dim=1) == targets.argmax(dim=1)).float().mean())
    side_error = float((log_side - log_sides).abs().mean().exp() - 1)
    report = {"frames": len(chosen), "gifs": len(by_gif), "peak_on_target_peak": on_peak,
              "side_error": side_error}
    log.info("face localiser fitted on %d frames of %d training GIFs: peak on the heatmap's peak in %.1f %% of "
             "them, side off by %.1f %% (geometric mean)", len(chosen), len(by_gif), 100 * on_peak, 100 * side_error)
    return report


@torch.no_grad()
def fill_glimpses(cache: GlimpseCache, model: KAVAN, dataset: Dataset, clips: list[Clip],
                  progress: bool) -> dict[str, str]:
    """Cache the glimpses of every clip whose entry is missing or stale (module docstring, step 2); returns the
    clips that failed {id: reason} (a GIF that can no longer be decoded), and the others go on."""
    glimpses = model.glimpses
    assert glimpses is not None
    glimpses.eval()
    failed: dict[str, str] = {}
    todo = []
    for clip in clips:
        sha = sha256_of(dataset.media_path(clip.gif_id))
        if not cache.entries.is_valid(clip.gif_id, sha):
            todo.append((clip, sha))
    if todo:
        log.info("glimpse cache %s: %d of %d GIFs to compute", cache.folder, len(todo), len(clips))
    from_keypoints = 0
    total = 0
    for clip, sha in tqdm(todo, desc="caching glimpses", unit="GIF", disable=not progress):
        cached = cache.features.frames(clip.gif_id)
        try:
            frames = dataset.frames(clip.gif_id, cached.tolist())
        except KavanError as err:
            failed[clip.gif_id] = str(err)
            log.warning("no glimpses: %s", err)
            continue
        features = cache.features.read(clip.gif_id, list(range(len(cached)))).float()
        keypoints = dataset.keypoints(clip.gif_id).keypoints[cached] if clip.has_keypoints else None
        height, width = frames.shape[1:3]
        boxes, kp = glimpses.boxes(features, width, height, keypoints)
        values = glimpses.read(grey_frames(frames), boxes)
        cache.entries.save(clip.gif_id, {"glimpses": values.float().contiguous(),
                                         "from_keypoints": torch.tensor(kp, dtype=torch.bool)}, sha)
        from_keypoints += sum(kp)
        total += len(kp)
    if total:
        log.info("glimpse cache %s: %d frames, %.1f %% boxed from keypoints", cache.folder, total,
                 100 * from_keypoints / total)
    return failed
