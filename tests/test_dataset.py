"""The dataset loader on small generated folders, and the seeded splits and split files."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from helpers.dataset_folder import COLORS, keypoints, make_dataset, one_hot, write_csv, write_gif
from kavan.core.emotions import EMOTIONS, QUADRANTS
from kavan.core.errors import KavanError
from kavan.data.dataset import Dataset
from kavan.data.splits import make_splits, read_split_file, write_split_file
from kavan.keypoints import cache as keypoint_cache


@pytest.fixture
def folder(tmp_path):
    # Rows deliberately out of order; each GIF dominated by one emotion of a known quadrant
    # (Warriner et al. valence/arousal: happiness 8.48/6.50, contentment 6.62/4.60, anger 2.50/5.93,
    # sadness 2.40/2.81).
    scores = {"c": one_hot("contentment", 0.7), "a": one_hot("happiness", 0.9), "d": one_hot("anger", 0.6),
              "b": one_hot("sadness", 0.8)}
    return make_dataset(tmp_path / "ds", {"c": 4, "a": 3, "d": 2, "b": 5}, scores)


def test_loads_sorted_ids_scores_and_quadrants(folder):
    ds = Dataset(folder)
    assert ds.ids == ["a", "b", "c", "d"] and len(ds) == 4
    assert ds.scores.dtype == np.float32 and ds.scores.shape == (4, 17)
    assert ds.scores[0, EMOTIONS.index("happiness")] == np.float32(0.9)
    assert ds.scores[1, EMOTIONS.index("sadness")] == np.float32(0.8)
    assert ds.scores[2, EMOTIONS.index("contentment")] == np.float32(0.7)
    assert ds.scores[3, EMOTIONS.index("anger")] == np.float32(0.6)
    assert np.count_nonzero(ds.scores == np.float32(0.1)) == 4 * 16
    names = [QUADRANTS[q] for q in ds.quadrants]
    assert names == ["pleasure-arousal", "misery-sleep", "pleasure-sleep", "misery-arousal"]
    assert ds.rows(["d", "a"]).tolist() == [3, 0]
    with pytest.raises(KavanError, match="not in the dataset"):
        ds.rows(["zz"])


def test_media_paths_frames_and_info(folder):
    ds = Dataset(folder)
    assert ds.media_path("b") == folder / "gifs" / "b.gif"
    assert ds.media_info("b").n_frames == 5 and (ds.media_info("b").width, ds.media_info("b").height) == (12, 8)
    frames = ds.frames("b", [0, 2, 4])
    assert frames.shape == (3, 8, 12, 3) and frames.dtype == np.uint8
    for frame, k in zip(frames, [0, 2, 4]):
        assert (frame == np.array(COLORS[k], dtype=np.uint8)).all()
    with pytest.raises(KavanError, match="no GIF with id 'zz'"):
        ds.media_path("zz")


def test_media_suffix_is_matched_without_case(tmp_path):
    root = make_dataset(tmp_path / "ds", {"a": 2})
    write_gif(root / "gifs" / "B.GIF", 3)
    write_csv(root / "scores.csv", ["id", *EMOTIONS], [["a", *one_hot("fear")], ["B", *one_hot("pride")]])
    assert Dataset(root).media_path("B").name == "B.GIF"


def test_keypoints_none_without_cache_and_loaded_with_one(folder):
    ds = Dataset(folder)
    assert ds.keypoints("a") is None
    record = keypoint_cache.KeypointRecord(keypoints(3), backend="test", backend_version="1", width=12, height=8)
    keypoint_cache.save(keypoint_cache.cache_path(folder, "a"), record)
    loaded = ds.keypoints("a")
    assert loaded.n_frames == 3 and loaded.backend == "test"
    np.testing.assert_array_equal(loaded.keypoints, record.keypoints)
    with pytest.raises(KavanError, match="no GIF with id"):
        ds.keypoints("zz")


def test_trueskill_scores_are_divided_by_50_and_clipped(tmp_path):
    raw = [25.0] * 17
    raw[0], raw[1], raw[2] = 40.0, 55.0, -2.0
    root = make_dataset(tmp_path / "ds", {"a": 2}, {"a": raw})
    (root / "dataset.yaml").write_text("scores: trueskill\n")
    ds = Dataset(root)
    np.testing.assert_allclose(ds.scores[0, :4], [0.8, 1.0, 0.0, 0.5], atol=1e-7)
    assert ds.config.scores == "trueskill"


def test_values_above_one_in_a_unit_folder_point_at_the_declaration(tmp_path):
    root = make_dataset(tmp_path / "ds", {"a": 2}, {"a": [30.0] * 17})
    with pytest.raises(KavanError, match=r"outside \[0, 1\].*scores: trueskill") as err:
        Dataset(root)
    assert err.value.path == str(root / "scores.csv")
    (root / "dataset.yaml").write_text("scores: mu50\n")
    with pytest.raises(KavanError, match="'mu50' is not one of unit, trueskill"):
        Dataset(root)


def test_dataset_yaml_is_read_like_a_config_file(tmp_path):
    """dataset.yaml goes through kavan.core.yamlfile, as configs do: 1e3 is the number 1000.0, not a string."""
    root = make_dataset(tmp_path / "ds", {"a": 2})
    (root / "dataset.yaml").write_text("scores: 1e3\n")
    with pytest.raises(KavanError, match="scores: 1000.0 is not one of unit, trueskill"):
        Dataset(root)


def test_loader_fails_on_missing_media_and_duplicate_ids(tmp_path):
    root = make_dataset(tmp_path / "ds", {"a": 2, "b": 2})
    (root / "gifs" / "b.gif").unlink()
    with pytest.raises(KavanError, match="scores.csv has id 'b' but no media file"):
        Dataset(root)
    root = make_dataset(tmp_path / "ds2", {"a": 2}, {"a": one_hot("fear")})
    write_csv(root / "scores.csv", ["id", *EMOTIONS], [["a", *one_hot("fear")], ["a", *one_hot("fear")]])
    with pytest.raises(KavanError, match="line 3: id 'a' already on line 2"):
        Dataset(root)
    with pytest.raises(KavanError, match="dataset folder not found"):
        Dataset(tmp_path / "nowhere")


IDS = [f"gif{i:02d}" for i in range(20)]


def test_fold_splits_are_seeded_disjoint_80_20_and_test_every_id_once():
    splits = make_splits(IDS, n_splits=5, seed=0, train_fraction=0.8, mode="folds")
    assert splits == make_splits(list(reversed(IDS)), n_splits=5, seed=0, train_fraction=0.8, mode="folds")
    assert splits != make_splits(IDS, n_splits=5, seed=1, train_fraction=0.8, mode="folds")
    for train, test in splits:
        assert len(test) == 4 and len(train) == 16
        assert set(train).isdisjoint(test) and set(train) | set(test) == set(IDS)
        assert train == sorted(train) and test == sorted(test)
    assert Counter(gif for _, test in splits for gif in test) == Counter(IDS)


def test_more_fold_splits_test_every_id_equally_often_and_sizes_stay_near_the_fraction():
    splits = make_splits(IDS, n_splits=10, seed=3, mode="folds")
    assert set(Counter(gif for _, test in splits for gif in test).values()) == {2}
    odd = [f"x{i}" for i in range(23)]
    for train, test in make_splits(odd, n_splits=5, seed=0, train_fraction=0.8, mode="folds"):
        assert len(test) in (4, 5) and len(train) + len(test) == 23
    for mode in ("random", "folds"):
        with pytest.raises(KavanError, match="too few"):
            make_splits(["a", "b"], n_splits=5, mode=mode)
    with pytest.raises(KavanError, match="strictly between 0 and 1"):
        make_splits(IDS, train_fraction=1.0)


def test_dataset_splits_and_split_file_round_trip(folder, tmp_path):
    ds = Dataset(folder)
    splits = ds.splits(n_splits=2, seed=4, train_fraction=0.5)
    assert splits == make_splits(ds.ids, n_splits=2, seed=4, train_fraction=0.5, mode="random")
    assert ds.splits(n_splits=2, seed=4, train_fraction=0.5, mode="folds") == make_splits(
        ds.ids, n_splits=2, seed=4, train_fraction=0.5, mode="folds")
    path = tmp_path / "splits.json"
    write_split_file(path, splits)
    assert ds.read_split_file(path) == splits
    single = tmp_path / "one.json"
    single.write_text(json.dumps({"train": ["d", "a", "b"], "test": ["c"]}))
    assert ds.read_split_file(single) == [(["a", "b", "d"], ["c"])]


@pytest.mark.parametrize("payload, message", [
    ({"train": ["a", "zz"], "test": ["b"]}, r"'train' names 1 GIF\(s\) not in the dataset, e.g. zz"),
    ({"train": ["a", "b"], "test": ["b"]}, r"1 id\(s\) are in both train and test, e.g. b"),
    ({"train": ["a", "a"], "test": ["b"]}, "lists a more than once"),
    ({"train": ["a"], "test": []}, "'test' is empty"),
    ({"splits": [{"train": ["a"]}]}, 'split 0: expected an object with "train" and "test"'),
    ({"folds": []}, "expected"),
])
def test_split_file_problems_are_reported(tmp_path, payload, message):
    path = tmp_path / "split.json"
    path.write_text(json.dumps(payload))
    with pytest.raises(KavanError, match=message) as err:
        read_split_file(path, ["a", "b", "c"])
    assert err.value.path == str(path)


def test_split_file_that_is_not_json(tmp_path):
    path = tmp_path / "split.json"
    path.write_text("train: [a]\n")
    with pytest.raises(KavanError, match="not a JSON split file"):
        read_split_file(path, ["a"])
