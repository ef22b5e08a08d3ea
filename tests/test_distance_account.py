"""benchmarks/distance_account.py: each probe changes one thing of the base run's config, and the half-data probe
keeps the base split's test GIFs and every other training GIF."""

from __future__ import annotations

import json

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
