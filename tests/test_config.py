"""Config loading: the paper rows, strict keys and types, cross-section validation, the generic loader."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from kavan.config import SHIPPED_DIR, KavanConfig, LossConfig, ModelConfig, from_mapping, load_config
from kavan.core.errors import KavanError

CONFIGS = SHIPPED_DIR / "paper"  # the paper-setting rows; the bench ones beside them

# row file → (attention, temporal, multitask, λ_ce, λ_rank, λ_kp)
ROWS = {
    "resnet50-lstm.yaml": (False, "lstm", False, 0.0, 0.0, 0.0),
    "softatt-lstm.yaml": (True, "lstm", False, 0.0, 0.0, 1.0),
    "resnet50-hslstm.yaml": (False, "hslstm", False, 0.0, 0.0, 0.0),
    "softatt-hslstm.yaml": (True, "hslstm", False, 0.0, 0.0, 1.0),
    "mtl-softatt-hslstm.yaml": (True, "hslstm", True, 1.0, 1.0, 1.0),
    "mtl-unsupatt-hslstm.yaml": (True, "hslstm", True, 1.0, 1.0, 0.0),
    "resnet50-lstm-wide.yaml": (False, "lstm", False, 0.0, 0.0, 0.0),
    "softatt-lstm-wide.yaml": (True, "lstm", False, 0.0, 0.0, 1.0),
}
# the parameter-matched LSTM rows: their wider hidden state (paper architecture, benchmark setting)
WIDE_HIDDEN = {"resnet50-lstm-wide.yaml": (1636, 288), "softatt-lstm-wide.yaml": (1610, 284)}


def test_every_config_is_a_paper_row():
    assert sorted(p.name for p in CONFIGS.glob("*.yaml")) == sorted(ROWS)


@pytest.mark.parametrize("name", sorted(ROWS))
def test_paper_row_configs(name):
    config = load_config(CONFIGS / name)
    model, loss = config.model, config.loss
    assert (model.backbone, model.weights, model.frozen, model.input_size, model.t) == (
        "resnet50", "torchvision:IMAGENET1K_V1", False, 224, 8)
    hidden = WIDE_HIDDEN.get(name, (512,))[0]
    assert (model.temporal.hidden, model.temporal.tiers, model.temporal.segments, model.temporal.node_length) == (
        hidden, 2, 2, 4)
    attention, kind, multitask, lambda_ce, lambda_rank, lambda_kp = ROWS[name]
    assert (model.attention.enabled, model.temporal.kind, model.multitask) == (attention, kind, multitask)
    assert (loss.lambda_ce, loss.lambda_rank, loss.lambda_kp) == (lambda_ce, lambda_rank, lambda_kp)
    assert loss.keypoint_supervision == (lambda_kp > 0)


@pytest.mark.parametrize("folder", ["paper", "bench"])
@pytest.mark.parametrize(("wide", "twin"), [("softatt-lstm-wide", "softatt-hslstm"),
                                            ("resnet50-lstm-wide", "resnet50-hslstm")])
def test_parameter_matched_lstm_rows_match_their_hslstm_twin(folder, wide, twin):
    from kavan.models import KAVAN

    def trainable_outside_backbone(name):
        config = load_config(SHIPPED_DIR / folder / f"{name}.yaml", ["model.weights=none"])
        return sum(p.numel() for n, p in KAVAN(config.model).named_parameters() if not n.startswith("backbone"))

    a, b = trainable_outside_backbone(wide), trainable_outside_backbone(twin)
    assert abs(a - b) / b < 0.002, (a, b)
    assert load_config(SHIPPED_DIR / folder / f"{wide}.yaml").model.temporal.hidden == WIDE_HIDDEN[f"{wide}.yaml"][
        0 if folder == "paper" else 1]


def test_empty_file_gives_the_defaults(tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_text("")
    assert load_config(path) == KavanConfig()


def test_to_dict_round_trips_through_json():
    config = load_config(CONFIGS / "softatt-lstm.yaml")
    assert from_mapping(KavanConfig, json.loads(json.dumps(config.to_dict()))) == config


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("model:\n  temporal:\n    hiden: 256\n", "unknown key 'model.temporal.hiden'"),
        ("inherit: base.yaml\n", "unknown key 'inherit'"),
        ("model:\n  temporal:\n    hidden: big\n", "model.temporal.hidden must be int"),
        ("model:\n  attention:\n    enabled: 'yes'\n", "model.attention.enabled must be bool"),
        ("model:\n  t: 8.5\n", "model.t must be int"),
        ("model:\n  temporal:\n    kind: gru\n", "model.temporal.kind must be one of lstm, hslstm"),
        ("model: [1, 2]\n", "model must be a mapping"),
        ("- a\n", "the top level must be a mapping"),
        ("model: {t: 6}\n", "model.t = segments \\* node_length"),
        ("model: {temporal: {hidden: 0}}\n", "model.temporal.hidden must be >= 1"),
        ("model: {dropout: 1.0}\n", "model.dropout must be in"),
        ("loss: {lambda_rank: -1}\n", "loss.lambda_rank must be >= 0"),
        ("model: {attention: {enabled: false}}\n", "lambda_kp > 0 .* needs model.attention.enabled"),
        ("model: {multitask: false}\nloss: {lambda_kp: 0.0}\n", "lambda_ce > 0 needs the quadrant head"),
        ("model: [\n", "not valid YAML"),
    ],
)
def test_bad_configs_name_the_file_and_the_problem(tmp_path, text, message):
    path = _write(tmp_path, text)
    with pytest.raises(KavanError, match=message) as err:
        load_config(path)
    assert err.value.path == str(path)
    assert str(err.value).startswith(f"{path}: ")


def test_valid_variations(tmp_path):
    config = load_config(_write(tmp_path, "model: {t: 6, temporal: {kind: lstm}}\nloss: {lambda_ce: 2}\n"))
    assert config.model.t == 6  # a plain LSTM takes any T
    assert config.loss.lambda_ce == 2.0 and isinstance(config.loss.lambda_ce, float)


def test_numbers_with_an_exponent_are_floats_in_the_file_and_in_overrides(tmp_path):
    path = _write(tmp_path, "train: {lr: 1e-4, epochs: 5, weight_decay: 5e+2}\nloss: {rank_margin: 1E-2}\n"
                            "model: {cut_after: '1e-4'}\n")
    config = load_config(path)
    assert config.train.lr == 0.0001 and type(config.train.lr) is float
    assert config.train.weight_decay == 500.0 and config.loss.rank_margin == 0.01
    assert config.train.epochs == 5 and type(config.train.epochs) is int
    assert config.model.cut_after == "1e-4"  # quoted: a string where a string is expected
    config = load_config(path, ["train.lr=2e-3", "train.warmup_epochs=1E0", "train.epochs=7"])
    assert (config.train.lr, config.train.warmup_epochs, config.train.epochs) == (0.002, 1.0, 7)
    with pytest.raises(KavanError, match="train.lr must be >= 0, got -0.002"):  # a negative one is a number too
        load_config(path, ["train.lr=-2e-3"])
    assert type(config.train.epochs) is int
    assert load_config(path, ['model.cut_after="5e2"']).model.cut_after == "5e2"
    with pytest.raises(KavanError, match="train.epochs must be int, got 1000.0"):  # an exponent is a float
        load_config(path, ["train.epochs=1e3"])


def test_missing_file_is_a_kavan_error(tmp_path):
    with pytest.raises(KavanError, match="cannot read config"):
        load_config(tmp_path / "absent.yaml")


@dataclass(frozen=True)
class _DataSection:
    root: str | None = None
    splits: tuple[int, ...] = (0, 1)


@dataclass(frozen=True)
class _Extended:
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    data: _DataSection = field(default_factory=_DataSection)


def test_loader_is_generic_over_new_sections():
    config = from_mapping(_Extended, {"data": {"root": "data/synth", "splits": [3, 4]}, "model": {"t": 4,
                                      "temporal": {"segments": 1}}})
    assert config.data == _DataSection(root="data/synth", splits=(3, 4))
    assert config.model.t == 4
    assert from_mapping(_Extended, {"data": {"root": None}}).data.root is None
    with pytest.raises(KavanError, match=r"data.splits\[1\] must be int"):
        from_mapping(_Extended, {"data": {"splits": [1, "x"]}}, "x.yaml")
