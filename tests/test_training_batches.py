"""From dataset folder to batches: TSN frames, joint transform, heatmaps, cached features, the batch order."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from helpers.training_data import make_synth, tiny_config
from kavan.data.dataset import Dataset
from kavan.data.feature_cache import FeatureCache, cache_key
from kavan.data.loader import ClipDataset, FeatureClipDataset, prepare_clips, sample_generator
from kavan.data.transforms import FrameTransform
from kavan.keypoints import cache as keypoint_cache
from kavan.keypoints.heatmaps import keypoint_heatmaps
from kavan.media.sampling import tsn_indices
from kavan.models import KAVAN
from kavan.training.distributed import GlobalBatchSampler
from kavan.training.losses import LossTargets, total_loss
from kavan.training.setup import frozen_encoder


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return Dataset(make_synth(tmp_path_factory.mktemp("synth") / "data", n=8))


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return KAVAN(tiny_config().model).eval()


def _targets(batch):
    return LossTargets(batch["intensities"], batch["heatmaps"], batch["has_heatmap"])


def test_training_sample_is_tsn_frames_transformed_with_their_keypoints(data, model):
    config = tiny_config("data.augment=true")
    clips = prepare_clips(data, data.ids, progress=False).clips
    dataset = ClipDataset(data, clips, 4, 64, model.cells, config.data, train=True, seed=7)
    dataset.set_epoch(3)
    index = next(i for i, clip in enumerate(clips) if clip.has_keypoints)
    clip, sample = clips[index], dataset[index]

    generator = sample_generator(7, 3, clip.row)
    indices = tsn_indices(clip.n_frames, 4, True, generator)
    assert sample["frame_indices"].tolist() == indices
    transform = FrameTransform.training(64, crop_scale=(0.6, 1.0), flip_probability=0.5)
    raw = keypoint_cache.load(keypoint_cache.cache_path(data.root, clip.gif_id)).keypoints[indices]
    frames, points = transform(data.frames(clip.gif_id, indices), raw, generator)
    torch.testing.assert_close(sample["frames"], frames)
    heatmaps, has = keypoint_heatmaps(points, (64, 64), 2, config.data.heatmap)
    torch.testing.assert_close(sample["heatmaps"], heatmaps)
    assert sample["has_heatmap"].tolist() == has.tolist()
    torch.testing.assert_close(sample["intensities"], torch.from_numpy(data.scores[clip.row]))

    # The same (seed, epoch, GIF) gives the same sample; another epoch other frames or crops.
    torch.testing.assert_close(dataset[index]["frames"], sample["frames"])
    dataset.set_epoch(4)
    assert not torch.equal(dataset[index]["frames"], sample["frames"])


def test_gifs_without_keypoints_are_masked_out(data, model):
    clips = prepare_clips(data, data.ids, progress=False).clips
    (keypoint_cache.cache_path(data.root, clips[0].gif_id)).rename(data.root / "moved.safetensors")
    try:
        clips = prepare_clips(data, data.ids, progress=False).clips
        dataset = ClipDataset(data, clips, 4, 64, model.cells, tiny_config().data, train=False)
        sample = dataset[0]
        assert not clips[0].has_keypoints and not sample["has_heatmap"].any()
        torch.testing.assert_close(sample["heatmaps"], torch.full((4, 2, 2), 0.25))
    finally:
        (data.root / "moved.safetensors").rename(keypoint_cache.cache_path(data.root, clips[0].gif_id))


def test_cached_and_end_to_end_batches_give_the_same_loss(data, model, tmp_path):
    config = tiny_config()
    clips = prepare_clips(data, data.ids, progress=False).clips
    cache = FeatureCache(tmp_path, cache_key(model, "all", "float32"))
    cache.fill(data, clips, frozen_encoder(model), progress=False)
    for train in (True, False):
        frames_set = ClipDataset(data, clips, 4, 64, model.cells, config.data, train=train, seed=3)
        cached_set = FeatureClipDataset(cache, data, clips, 4, 64, model.cells, config.data, train=train, seed=3,
                                        progress=False)
        frames_set.set_epoch(2)
        cached_set.set_epoch(2)
        a = next(iter(DataLoader(frames_set, batch_size=8)))
        b = next(iter(DataLoader(cached_set, batch_size=8)))
        assert a["frame_indices"].tolist() == b["frame_indices"].tolist()
        torch.testing.assert_close(a["heatmaps"], b["heatmaps"])
        assert a["has_heatmap"].tolist() == b["has_heatmap"].tolist() and a["has_heatmap"].any()
        with torch.no_grad():
            loss_frames = total_loss(model(frames=a["frames"]), _targets(a), config.loss)
            loss_cached = total_loss(model(features=b["features"]), _targets(b), config.loss)
        for key in ("total", "nmse", "rank", "ce", "kp"):
            torch.testing.assert_close(loss_cached[key], loss_frames[key], rtol=1e-5, atol=1e-6)


def test_float16_cache_changes_the_loss_only_slightly(data, model, tmp_path):
    config = tiny_config()
    clips = prepare_clips(data, data.ids, progress=False).clips
    losses = []
    for dtype in ("float32", "float16"):
        cache = FeatureCache(tmp_path, cache_key(model, "all", dtype))
        cache.fill(data, clips, frozen_encoder(model), progress=False)
        batch = next(iter(DataLoader(FeatureClipDataset(cache, data, clips, 4, 64, model.cells, config.data,
                                                        train=False, progress=False), batch_size=8)))
        assert batch["features"].dtype == getattr(torch, dtype)
        with torch.no_grad():
            losses.append(total_loss(model(features=batch["features"].float()), _targets(batch),
                                     config.loss)["total"])
    torch.testing.assert_close(losses[1], losses[0], rtol=1e-3, atol=0)


def test_global_batches_are_the_same_for_any_number_of_processes():
    single = list(GlobalBatchSampler(23, 6, world_size=1, rank=0, seed=5))
    pairs = zip(GlobalBatchSampler(23, 6, world_size=2, rank=0, seed=5),
                GlobalBatchSampler(23, 6, world_size=2, rank=1, seed=5))
    assert [a + b for a, b in pairs] == single
    assert len(single) == 3 and all(len(batch) == 6 for batch in single)  # the last 5 GIFs are dropped
    assert len(set(sum(single, []))) == 18
    sampler = GlobalBatchSampler(23, 6, world_size=1, rank=0, seed=5)
    sampler.set_epoch(1)
    epoch1 = list(sampler)
    assert epoch1 != single
    sampler.set_epoch(1, start_batch=2)
    assert list(sampler) == epoch1[2:] and len(sampler) == 1


def test_a_broken_gif_is_left_out_and_a_stale_keypoint_file_ignored(data, tmp_path):
    import shutil

    root = shutil.copytree(data.root, tmp_path / "copy")
    broken = Dataset(root)
    broken.media_path(broken.ids[1]).write_bytes(b"GIF89a garbage")
    stale = keypoint_cache.load(keypoint_cache.cache_path(root, broken.ids[2]))
    keypoint_cache.save(keypoint_cache.cache_path(root, broken.ids[2]), keypoint_cache.KeypointRecord(
        stale.keypoints[:3], stale.backend, stale.backend_version, stale.width, stale.height))
    prepared = prepare_clips(broken, broken.ids, progress=False)
    assert [clip.gif_id for clip in prepared.clips] == [g for g in broken.ids if g != broken.ids[1]]
    assert list(prepared.excluded) == [broken.ids[1]] and str(broken.media_path(broken.ids[1])) in \
        prepared.excluded[broken.ids[1]]
    assert list(prepared.keypoints_ignored) == [broken.ids[2]]
    assert "3 frames of keypoints but the media has 8" in prepared.keypoints_ignored[broken.ids[2]]
    assert not next(c for c in prepared.clips if c.gif_id == broken.ids[2]).has_keypoints
    assert np.all([c.n_frames == 8 for c in prepared.clips])
