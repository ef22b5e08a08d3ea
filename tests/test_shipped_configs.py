"""The shipped rows are written as differences from a base (kavan.config.read_mapping); resolved, each is exactly
the config it was when every file was written out in full (tests/fixtures/shipped-configs.json: each config's
dictionary and hash then), so every run folder resumes and every hash in the docs still holds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kavan.config import base_of, config_hash, load_config, read_mapping, shipped_configs
from kavan.core.errors import KavanError

SNAPSHOT = json.loads((Path(__file__).parent / "fixtures" / "shipped-configs.json").read_text())


def test_every_shipped_row_resolves_to_the_config_and_hash_it_had_when_written_in_full():
    assert set(shipped_configs()) == set(SNAPSHOT)
    for name, before in SNAPSHOT.items():
        config = load_config(name)
        assert config.to_dict() == before["config"], name
        assert config_hash(config) == before["hash"], name


def test_shipped_rows_state_only_what_differs_from_their_base():
    shipped = shipped_configs()
    roots = {name for name in shipped if base_of(name) is None}
    assert roots == {"bench/resnet50-lstm", "paper/resnet50-lstm"}
    assert base_of("bench-trainable/softatt-hslstm") == "bench/softatt-hslstm"
    resolved = read_mapping(shipped["bench/mtl-softatt-hslstm"])
    assert resolved["model"]["multitask"] is True and resolved["model"]["backbone"] == "mobilenet_v2"
    # a sibling row is its base plus the keys that make the row: MTL adds the head and its two losses
    lines = [line for line in shipped["bench/mtl-softatt-hslstm"].read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert lines == ["base: bench/softatt-hslstm", "model:", "  multitask: true", "loss:", "  lambda_ce: 1.0",
                     "  lambda_rank: 1.0"]


def test_a_users_config_may_name_a_shipped_base_or_a_file_beside_it(tmp_path):
    mine = tmp_path / "mine.yaml"
    mine.write_text("base: bench/mtl-softatt-hslstm\ntrain:\n  lr: 5e-4\nmodel:\n  temporal:\n    hidden: 256\n")
    config, full = load_config(mine), load_config("bench/mtl-softatt-hslstm")
    assert config.train.lr == 0.0005 and config.model.temporal.hidden == 256
    assert config.model.temporal.kind == full.model.temporal.kind == "hslstm"  # the rest of the section is the base's
    assert config.train.batch_size == full.train.batch_size and config.model.backbone == "mobilenet_v2"
    child = tmp_path / "child.yaml"
    child.write_text("base: mine.yaml\nloss:\n  lambda_rank: 0.0\n")   # relative to its own folder
    assert load_config(child).train.lr == 0.0005 and load_config(child).loss.lambda_rank == 0.0
    assert load_config(child, ["train.lr=0.001"]).train.lr == 0.001   # --set goes on top of the resolved chain


@pytest.mark.parametrize("text, message", [
    ("base: nowhere/row\n", "its base 'nowhere/row' is neither a file beside it nor a shipped config"),
    ("base: 3\n", "'base' must name a config"),
    ("base: loop.yaml\n", "the base chain comes back to a file it has passed (loop.yaml -> loop.yaml)"),
])
def test_a_bad_base_is_an_error_naming_the_file(tmp_path, text, message):
    path = tmp_path / "loop.yaml"
    path.write_text(text)
    with pytest.raises(KavanError) as err:
        load_config(path)
    assert message in str(err.value) and "loop.yaml" in str(err.value)
