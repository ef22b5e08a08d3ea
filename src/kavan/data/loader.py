"""From a dataset folder to training samples: TSN frames, the joint frame/keypoint transform, heatmaps, targets.

One sample is one GIF:

- ``frame_indices`` (T,): TSN's frames (kavan.media.sampling): training draws one random frame per segment,
  evaluation takes each segment's middle frame;
- ``frames`` (T, 3, S, S): those frames through one FrameTransform (training: random crop and flip when
  data.augment is on; evaluation: the whole frame resized), normalised for the backbone; or, from a feature
  cache, ``features`` (T, C, K, K): the backbone's output for the same frames under the evaluation transform;
- ``heatmaps`` (T, K, K) and ``has_heatmap`` (T,): Eq. 8 heatmaps of the keypoints after the same transform
  (image size S x S, K the backbone's grid); frames without keypoints have has_heatmap False (uniform map);
- ``intensities`` (17,): the scores; ``row``: the GIF's row in the dataset.

Every random draw of a training sample (frames, crop, flip) comes from a generator seeded with
(seed, epoch, row), so a sample does not depend on the worker that loads it, the order of the batches, the
number of processes, or whether the run was interrupted and resumed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch.utils.data import Dataset as TorchDataset
from tqdm import tqdm

from kavan.config import DataConfig
from kavan.core.errors import KavanError
from kavan.core.workers import loader_worker_init
from kavan.data.dataset import Dataset
from kavan.data.transforms import CropParams, FrameTransform
from kavan.keypoints import cache as keypoint_cache
from kavan.keypoints.heatmaps import HeatmapConfig, keypoint_heatmaps
from kavan.media import decode
from kavan.media.sampling import tsn_indices

if TYPE_CHECKING:
    from kavan.data.feature_cache import FeatureCache

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Clip:
    """One usable GIF of a run: id, dataset row, frame count and size, and whether its keypoints are used."""

    gif_id: str
    row: int
    n_frames: int
    width: int
    height: int
    has_keypoints: bool


@dataclass(frozen=True)
class PreparedClips:
    """The clips of some ids that can be used, and why the others cannot.

    excluded: {id: reason} for GIFs whose media cannot be read (left out of the run). keypoints_ignored:
    {id: reason} for GIFs whose keypoint cache is unreadable or belongs to another version of the file (the GIF
    is used, without keypoints).
    """

    clips: list[Clip]
    excluded: dict[str, str]
    keypoints_ignored: dict[str, str]


def prepare_clips(dataset: Dataset, ids: list[str], progress: bool = True) -> PreparedClips:
    """Probe each GIF (no pixels decoded) and check its keypoint cache; a bad file never stops the others."""
    clips, excluded, ignored = [], {}, {}
    rows = dataset.rows(ids)
    for gif_id, row in tqdm(list(zip(ids, rows)), desc="checking GIFs", unit="GIF", disable=not progress,
                            leave=False):
        try:
            info = dataset.media_info(gif_id)
        except KavanError as err:
            excluded[gif_id] = str(err)
            continue
        has_keypoints = False
        path = keypoint_cache.cache_path(dataset.root, gif_id)
        if path.is_file():
            try:
                record = keypoint_cache.load(path)
                if record.n_frames != info.n_frames:
                    raise KavanError(f"{record.n_frames} frames of keypoints but the media has {info.n_frames}", path)
                if (record.width, record.height) != (info.width, info.height):
                    raise KavanError(f"keypoints are for {record.width}x{record.height} frames but the media is "
                                     f"{info.width}x{info.height}", path)
                has_keypoints = True
            except KavanError as err:
                ignored[gif_id] = str(err)
        clips.append(Clip(gif_id, int(row), info.n_frames, info.width, info.height, has_keypoints))
    for reason in excluded.values():
        log.warning("left out of the run: %s", reason)
    for reason in ignored.values():
        log.warning("keypoints not used: %s", reason)
    return PreparedClips(clips, excluded, ignored)


class _DecodeCheck(TorchDataset):
    """Decodes every frame of each clip's media, one frame in memory at a time (run in DataLoader workers)."""

    def __init__(self, dataset: Dataset, clips: list[Clip]):
        self.dataset, self.clips = dataset, clips

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int) -> tuple[str, str | None]:
        clip = self.clips[index]
        path = self.dataset.media_path(clip.gif_id)
        try:
            n = sum(1 for _ in decode.iter_frames(path))
        except KavanError as err:
            return clip.gif_id, str(err)
        if n != clip.n_frames:
            return clip.gif_id, str(KavanError(f"decoded {n} frames but the file declares {clip.n_frames}", path))
        return clip.gif_id, None


def undecodable(dataset: Dataset, clips: list[Clip], workers: int = 0, progress: bool = True, rank: int = 0,
                world_size: int = 1) -> dict[str, str]:
    """{id: reason} of this rank's share of ``clips`` whose frames cannot all be decoded.

    End-to-end training decodes random frames in every epoch, so one corrupt frame would stop a run hours in;
    decoding every frame once before the first step leaves such a GIF out instead, as filling a feature cache
    does in cached training.
    """
    mine = clips[rank::world_size]
    loader = torch.utils.data.DataLoader(_DecodeCheck(dataset, mine), batch_size=None, num_workers=workers,
                                         worker_init_fn=loader_worker_init())
    failed = {}
    for gif_id, reason in tqdm(loader, total=len(mine), desc="decoding every frame", unit="GIF",
                               disable=not progress, leave=False):
        if reason is not None:
            failed[gif_id] = reason
            log.warning("left out of the run: %s", reason)
    return failed


def sample_generator(seed: int, epoch: int, row: int) -> np.random.Generator:
    """The generator of one training sample's random draws (TSN frames, crop, flip)."""
    return np.random.default_rng([seed, epoch, row])


def clip_heatmaps(keypoints: np.ndarray | None, n_frames: int, size: int, cells: int,
                  config: HeatmapConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Heatmaps (n, K, K) and has_heatmap (n,) of keypoints already in the S x S output pixels (None: none)."""
    if keypoints is None:
        return torch.full((n_frames, cells, cells), 1.0 / cells ** 2), torch.zeros(n_frames, dtype=torch.bool)
    return keypoint_heatmaps(keypoints, (size, size), cells, config)


def transforms_for(data: DataConfig, size: int) -> tuple[FrameTransform, FrameTransform]:
    """(training transform, evaluation transform) for frames of side ``size``."""
    evaluation = FrameTransform.evaluation(size)
    if not data.augment:
        return evaluation, evaluation
    training = FrameTransform.training(size, crop_scale=(data.crop_scale[0], data.crop_scale[1]),
                                       flip_probability=data.flip_probability)
    return training, evaluation


class _TsnClips(TorchDataset):
    """What both clip datasets share: the clips, T, the train/eval switch and the per-epoch TSN draw."""

    def __init__(self, clips: list[Clip], t: int, train: bool, seed: int):
        self.clips = clips
        self.t = t
        self.train = train
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.clips)

    def tsn_positions(self, index: int, n_frames: int) -> tuple[list[int], np.random.Generator | None]:
        """TSN indices among ``n_frames`` for clip ``index`` (random per segment in training, the segments'
        middles otherwise) and the generator they were drawn from, sample_generator(seed, epoch, row), which the
        training transform goes on drawing from (None in evaluation)."""
        generator = sample_generator(self.seed, self.epoch, self.clips[index].row) if self.train else None
        return tsn_indices(n_frames, self.t, self.train, generator), generator


class ClipDataset(_TsnClips):
    """Decoded, transformed frames of each clip (end-to-end training and evaluation).

    train: TSN random frames and the training transform, drawn from sample_generator(seed, epoch, row);
    otherwise the middle frames and the evaluation transform. Call ``set_epoch`` before each epoch.
    """

    def __init__(self, dataset: Dataset, clips: list[Clip], t: int, size: int, cells: int, data: DataConfig,
                 train: bool, seed: int = 0):
        super().__init__(clips, t, train, seed)
        self.dataset = dataset
        self.size, self.cells = size, cells
        self.heatmap = data.heatmap
        training, evaluation = transforms_for(data, size)
        self.transform = training if train else evaluation

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        clip = self.clips[index]
        indices, generator = self.tsn_positions(index, clip.n_frames)
        frames = self.dataset.frames(clip.gif_id, indices)
        keypoints = None
        if clip.has_keypoints:
            keypoints = self.dataset.keypoints(clip.gif_id).keypoints[indices]
        images, points = self.transform(frames, keypoints, generator if self.transform.is_random else None)
        heatmaps, has_heatmap = clip_heatmaps(points, self.t, self.size, self.cells, self.heatmap)
        return {
            "frames": images,
            "heatmaps": heatmaps,
            "has_heatmap": has_heatmap,
            "intensities": torch.from_numpy(self.dataset.scores[clip.row]),
            "row": torch.tensor(clip.row),
            "frame_indices": torch.tensor(indices),
        }


class FeatureClipDataset(_TsnClips):
    """Cached backbone features of each clip (frozen-backbone training on a feature cache).

    The cache holds the features of some frames of every GIF (all of them, or the T evaluation frames);
    training draws TSN's random frame per segment among those, evaluation the segments' middles. Heatmaps
    come from the keypoints under the evaluation transform, the one the cached features were made with, and
    are computed once for every cached frame when the dataset is built. ``glimpses``: a glimpse row's cached
    glimpses of the same frames (anything with ``read(gif_id, positions)``: kavan.training.glimpses.GlimpseCache).
    """

    def __init__(self, cache: FeatureCache, dataset: Dataset, clips: list[Clip], t: int, size: int, cells: int,
                 data: DataConfig, train: bool, seed: int = 0, progress: bool = True, glimpses: Any = None):
        super().__init__(clips, t, train, seed)
        self.cache = cache
        self.glimpses = glimpses
        self.dataset = dataset
        self.cached_frames: list[np.ndarray] = []
        self.heatmaps: list[torch.Tensor] = []
        self.has_heatmap: list[torch.Tensor] = []
        evaluation = FrameTransform.evaluation(size)
        for clip in tqdm(clips, desc="loading keypoint heatmaps", unit="GIF", disable=not progress, leave=False):
            frames = cache.frames(clip.gif_id)
            keypoints = None
            if clip.has_keypoints:
                raw = dataset.keypoints(clip.gif_id).keypoints[frames]
                whole = CropParams(0, 0, clip.height, clip.width, False)
                keypoints = evaluation.apply_keypoints(raw, whole, len(frames))
            heatmaps, has_heatmap = clip_heatmaps(keypoints, len(frames), size, cells, data.heatmap)
            self.cached_frames.append(frames)
            self.heatmaps.append(heatmaps)
            self.has_heatmap.append(has_heatmap)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        clip = self.clips[index]
        cached = self.cached_frames[index]
        positions, _ = self.tsn_positions(index, len(cached))
        item = {
            "features": self.cache.read(clip.gif_id, positions),
            "heatmaps": self.heatmaps[index][positions],
            "has_heatmap": self.has_heatmap[index][positions],
            "intensities": torch.from_numpy(self.dataset.scores[clip.row]),
            "row": torch.tensor(clip.row),
            "frame_indices": torch.from_numpy(cached[positions]),
        }
        if self.glimpses is not None:
            item["glimpses"] = self.glimpses.read(clip.gif_id, positions)
        return item
