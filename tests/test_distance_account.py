"""benchmarks/distance_account.py: each probe changes one thing of the base run's config, and the half-data probe
keeps the base split's test GIFs and every other training GIF."""

from __future__ import annotations

import json

import pytest
import yaml

from kavan.config import load_config
from test_results_tables import benchmark


def account():
    return benchmark("distance_account")


def test_each_probe_doubles_one_thing_of_the_base_config():
    config = load_config("bench/mtl-softatt-hslstm-glimpse").to_dict()  # as a run folder's config.yaml holds it
    assert account().overrides(config, "steps") == ["train.min_steps=1500"]
    assert account().overrides(config, "capacity") == ["model.temporal.hidden=256"]
    assert account().overrides(config, "frames") == ["model.t=16", "model.temporal.node_length=8"]
    assert account().overrides(config, "half data") == []
    assert set(account().PROBES) == {"steps", "capacity", "frames", "half data"}


def test_the_half_split_keeps_the_test_gifs_and_every_other_training_gif(synth24, tmp_path):
    from kavan.data.dataset import Dataset
    from kavan.training.setup import split_ids

    base = tmp_path / "base"
    base.mkdir()
    (base / "config.yaml").write_text(yaml.safe_dump(load_config("bench/mtl-softatt-hslstm").to_dict()))
    half = json.loads(account().half_split(base, synth24, 1, tmp_path / "half.json").read_text())
    ids = split_ids(Dataset(synth24), load_config(base / "config.yaml"), 1, None)
    everything = sorted(ids.train + ids.val)
    assert half["test"] == ids.test
    assert half["train"] == everything[::2] and len(half["train"]) == (len(everything) + 1) // 2
    assert not set(half["train"]) & set(half["test"])


def test_the_face_and_face_less_parts_add_up_to_the_test_nmse():
    import numpy as np

    from kavan.training.metrics import nmse_per_emotion

    rng = np.random.default_rng(0)
    target = rng.random((10, 17))
    predicted = target.copy()
    predicted[7:] = target[7:] + 0.3       # only the last three (face-less) GIFs are wrong
    face = np.arange(10) < 7
    face_part, faceless_part = account().parts(predicted, target, face)
    assert face_part == 0.0 and faceless_part > 0
    assert face_part + faceless_part == pytest.approx(nmse_per_emotion(predicted, target))
    # by hand for one emotion: 3 * 0.09 over the spread of the column, averaged over the 17 columns
    spread = ((target - target.mean(axis=0)) ** 2).sum(axis=0)
    assert faceless_part == pytest.approx(np.mean(3 * 0.09 / spread))
