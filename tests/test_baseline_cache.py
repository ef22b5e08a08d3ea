"""The baseline feature cache: reuse across calls and splits, invalidation by content/settings/sampler, atomic
writes, damaged entries, and a bad GIF in the batch."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from helpers.dataset_folder import make_dataset, write_gif
from kavan.baselines import colour_histogram
from kavan.baselines.config import ColourHistogramConfig
from kavan.baselines.extraction import BaselineCache
from kavan.core.errors import KavanError
from kavan.data.dataset import Dataset

FRAMES = {"a": 3, "b": 10, "c": 1, "d": 6}


@pytest.fixture
def dataset(tmp_path) -> Dataset:
    return Dataset(make_dataset(tmp_path / "data", FRAMES))


@pytest.fixture
def computed(monkeypatch) -> list[int]:
    """Counts the GIFs whose colour histogram is computed (rather than read from the cache)."""
    calls: list[int] = []
    real = colour_histogram.gif_feature

    def counting(frames, config=ColourHistogramConfig()):
        calls.append(len(frames))
        return real(frames, config)

    monkeypatch.setattr(colour_histogram, "gif_feature", counting)
    return calls


def entries(cache_dir: Path) -> list[Path]:
    return sorted(cache_dir.rglob("*.safetensors"))


def test_second_call_and_other_splits_read_the_cache(dataset, tmp_path, computed):
    cache = tmp_path / "cache"
    first = colour_histogram.extract_features(dataset, ["a", "b", "c", "d"], cache, progress=False)
    assert len(computed) == 4 and len(entries(cache)) == 4
    again = colour_histogram.extract_features(dataset, ["d", "b"], cache, progress=False)
    assert len(computed) == 4
    np.testing.assert_array_equal(again, first[[3, 1]])
    # The features are what the GIF's frames give: GIF "c" has one red frame, sampled 8 times.
    assert first[2, 15] == 1.0 and first[2].sum() == pytest.approx(1.0)


def test_settings_and_sampler_get_their_own_entries(dataset, tmp_path, computed):
    cache = tmp_path / "cache"
    colour_histogram.extract_features(dataset, ["a", "b"], cache, progress=False)
    colour_histogram.extract_features(dataset, ["a", "b"], cache, config=ColourHistogramConfig(bins=(4, 4, 4)),
                                      progress=False)
    colour_histogram.extract_features(dataset, ["a", "b"], cache, t=4, progress=False)
    assert len(computed) == 6 and len(list(cache.iterdir())) == 3
    # ridge changes the regression only: same features, no new entries
    colour_histogram.extract_features(dataset, ["a", "b"], cache, config=ColourHistogramConfig(ridge=0.0),
                                      progress=False)
    assert len(computed) == 6
    settings = sorted((folder / "settings.json").read_text() for folder in cache.iterdir())
    assert any('"t": 4' in s for s in settings) and any("4,\n      4,\n      4" in s for s in settings)


def test_a_changed_gif_is_recomputed_and_the_same_file_elsewhere_reuses_its_entry(dataset, tmp_path, computed):
    cache = tmp_path / "cache"
    before = colour_histogram.extract_features(dataset, ["a", "b"], cache, progress=False)
    write_gif(dataset.media_path("a"), 2)          # same id, new content: red, green
    after = colour_histogram.extract_features(dataset, ["a", "b"], cache, progress=False)
    assert len(computed) == 3
    assert not np.array_equal(before[0], after[0]) and np.array_equal(before[1], after[1])
    # Another dataset holding a byte-identical copy of GIF "b" under another id finds it in the cache.
    other = make_dataset(tmp_path / "other", {"zz": 1})
    shutil.copyfile(dataset.media_path("b"), other / "gifs" / "zz.gif")
    copy = colour_histogram.extract_features(Dataset(other), ["zz"], cache, progress=False)
    assert len(computed) == 3
    np.testing.assert_array_equal(copy[0], before[1])


def test_damaged_entry_is_recomputed_and_rewritten(dataset, tmp_path, computed, caplog):
    cache = tmp_path / "cache"
    first = colour_histogram.extract_features(dataset, ["a"], cache, progress=False)
    (entry,) = entries(cache)
    entry.write_bytes(entry.read_bytes()[:40])
    with caplog.at_level(logging.WARNING):
        again = colour_histogram.extract_features(dataset, ["a"], cache, progress=False)
    assert "unreadable cache entry" in caplog.text and len(computed) == 2
    np.testing.assert_array_equal(again, first)
    colour_histogram.extract_features(dataset, ["a"], cache, progress=False)
    assert len(computed) == 2   # the rewritten entry is good again


def test_an_entry_under_the_wrong_name_is_not_trusted(tmp_path, caplog):
    cache = BaselineCache(tmp_path, "colour_histogram", {"bins": [8, 4, 4]}, t=8)
    cache.save("0" * 64, np.ones(3))
    shutil.copyfile(cache.path("0" * 64), cache.path("1" * 64))
    assert cache.load("0" * 64).tolist() == [1.0, 1.0, 1.0]
    with caplog.at_level(logging.WARNING):
        assert cache.load("1" * 64) is None
    assert "does not match its name" in caplog.text
    with pytest.raises(ValueError):
        cache.save("2" * 64, np.array([1.0, np.nan]))


def test_a_failed_write_leaves_no_file(dataset, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    replace = os.replace

    def crash_on_features(src, dst):
        if str(dst).endswith(".safetensors"):
            raise OSError("disk full")
        replace(src, dst)

    monkeypatch.setattr("kavan.core.atomic.os.replace", crash_on_features)
    with pytest.raises(OSError, match="disk full"):
        colour_histogram.extract_features(dataset, ["a"], cache, progress=False)
    assert [p.name for p in cache.rglob("*") if p.is_file()] == ["settings.json"]


def test_a_bad_gif_is_reported_by_name_after_the_others_are_cached(dataset, tmp_path, computed):
    cache = tmp_path / "cache"
    dataset.media_path("b").write_bytes(b"GIF89a broken")
    with pytest.raises(KavanError) as err:
        colour_histogram.extract_features(dataset, ["a", "b", "c"], cache, progress=False)
    assert str(dataset.media_path("b")) in str(err.value)
    assert len(computed) == 2 and len(entries(cache)) == 2
    colour_histogram.extract_features(dataset, ["a", "c"], cache, progress=False)
    assert len(computed) == 2
    assert not [p for p in cache.rglob("*.tmp")]


def test_unknown_ids_fail_before_any_work(dataset, tmp_path, computed):
    with pytest.raises(KavanError, match="not in the dataset"):
        colour_histogram.extract_features(dataset, ["a", "nope"], tmp_path / "cache", progress=False)
    assert computed == []
