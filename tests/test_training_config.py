"""The data/train config sections, overrides, the config hash, and the benchmark-setting row configs."""

from __future__ import annotations

import pytest

from kavan.config import SHIPPED_DIR, KavanConfig, config_hash, load_config
from kavan.core.errors import KavanError
from kavan.keypoints.heatmaps import HeatmapConfig

CONFIGS = SHIPPED_DIR / "paper"  # the paper-setting rows; CONFIGS.parent / "bench" the bench ones

# row → (attention, temporal, multitask, λ_ce, λ_rank, λ_kp), the same rows as the paper-architecture configs
ROWS = {
    "resnet50-lstm": (False, "lstm", False, 0.0, 0.0, 0.0),
    "softatt-lstm": (True, "lstm", False, 0.0, 0.0, 1.0),
    "resnet50-hslstm": (False, "hslstm", False, 0.0, 0.0, 0.0),
    "softatt-hslstm": (True, "hslstm", False, 0.0, 0.0, 1.0),
    "mtl-softatt-hslstm": (True, "hslstm", True, 1.0, 1.0, 1.0),
    "mtl-unsupatt-hslstm": (True, "hslstm", True, 1.0, 1.0, 0.0),
    "resnet50-lstm-wide": (False, "lstm", False, 0.0, 0.0, 0.0),
    "softatt-lstm-wide": (True, "lstm", False, 0.0, 0.0, 1.0),
}


def test_every_paper_row_has_a_benchmark_twin():
    # bench/ also holds the small-set recipe, the full model's fine-tuning twin (not a table row), and the face-glimpse
    # row (beyond the paper: no paper twin)
    assert sorted(p.stem for p in (CONFIGS.parent / "bench").glob("*.yaml")) == sorted([*ROWS, FINETUNE, GLIMPSE])
    assert sorted(p.stem for p in CONFIGS.glob("*.yaml")) == sorted(ROWS)


FINETUNE = "mtl-softatt-hslstm-finetune"
GLIMPSE = "mtl-softatt-hslstm-glimpse"


def test_the_small_set_recipe_is_the_full_model_with_another_train_section():
    recipe = load_config(CONFIGS.parent / "bench" / f"{FINETUNE}.yaml")
    full = load_config(CONFIGS.parent / "bench" / "mtl-softatt-hslstm.yaml")
    assert (recipe.model, recipe.loss, recipe.data) == (full.model, full.loss, full.data)
    differs = {k: (getattr(recipe.train, k), getattr(full.train, k)) for k in vars(recipe.train)
               if getattr(recipe.train, k) != getattr(full.train, k)}
    assert differs == {"lr": (1e-4, 1e-3), "min_steps": (0, 750), "readout": ("ridge", "head")}


@pytest.mark.parametrize("row", sorted(ROWS))
def test_benchmark_configs(row):
    bench, paper = load_config(CONFIGS.parent / "bench" / f"{row}.yaml"), load_config(CONFIGS / f"{row}.yaml")
    model = bench.model
    assert (model.backbone, model.weights, model.frozen, model.cut_after, model.input_size, model.t) == (
        "mobilenet_v2", "offline-mobilenet-v2", True, "features.13", 224, 8)
    assert paper.model.cut_after == ""  # the paper's ResNet-50 ends at its last map
    assert bench.train.feature_cache and not bench.data.augment
    attention, kind, multitask, lambda_ce, lambda_rank, lambda_kp = ROWS[row]
    assert (model.attention.enabled, model.temporal.kind, model.multitask) == (attention, kind, multitask)
    assert (bench.loss.lambda_ce, bench.loss.lambda_rank, bench.loss.lambda_kp) == (lambda_ce, lambda_rank, lambda_kp)
    # The twin differs in backbone and size, never in what makes the row the row.
    assert (paper.model.attention.enabled, paper.model.temporal.kind, paper.model.multitask) == (
        attention, kind, multitask)
    assert paper.loss == bench.loss
    # Every benchmark row trains and tests alike, so the rows differ only in the model and loss.
    reference = load_config(CONFIGS.parent / "bench" / "mtl-softatt-hslstm.yaml")
    assert (bench.data, bench.train) == (reference.data, reference.train)
    # ... and adapt to the set's size: a step budget, the epoch chosen on a validation hold-out
    assert (bench.train.min_steps, bench.train.select, bench.data.val_fraction) == (750, "best_val", 0.1)
    assert bench.loss.regression == "nmse_per_gif"


def test_paper_configs_train_end_to_end_with_the_defaults():
    config = load_config(CONFIGS / "mtl-softatt-hslstm.yaml")
    assert config.data.augment and not config.train.feature_cache
    assert config.data.n_splits == 5 and config.data.train_fraction == 0.8
    assert config.data.split_mode == "random"  # the paper's "5 random 80/20 splits"
    assert config.data.heatmap == HeatmapConfig()


def test_overrides_are_read_as_yaml_and_validated(tmp_path):
    path = CONFIGS.parent / "bench" / "softatt-lstm.yaml"
    config = load_config(path, ["train.epochs=3", "data.crop_scale=[0.8, 1.0]", "data.heatmap.sigma=2",
                                "model.weights=none"])
    assert config.train.epochs == 3 and config.data.crop_scale == (0.8, 1.0)
    assert config.data.heatmap.sigma == 2.0 and config.model.weights == "none"
    with pytest.raises(KavanError, match="unknown key 'train.epoch'"):
        load_config(path, ["train.epoch=3"])
    with pytest.raises(KavanError, match="section.key=value"):
        load_config(path, ["train.epochs"])
    with pytest.raises(KavanError, match="train.batch_size must be >= 1"):
        load_config(path, ["train.batch_size=0"])


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["train.feature_cache=true"], "feature_cache needs a frozen backbone"),
        (["train.feature_cache=true", "model.frozen=true"], "set data.augment: false"),
        (["data.val_fraction=1.0"], "data.val_fraction must be in"),
        (["data.split_mode=kfold"], "data.split_mode must be one of random, folds"),
        (["data.crop_scale=[0.5]"], "data.crop_scale must be"),
        (["train.amp=fp32"], "train.amp must be one of off, bf16, fp16"),
        (["train.optimizer=sgd"], "train.optimizer must be one of adam, adamw"),
        (["data.heatmap.grid=0"], "heatmap grid must be >= 1"),
        (["train.lr=0"], "train.lr must be > 0"),
    ],
)
def test_bad_training_settings_are_refused(overrides, message):
    with pytest.raises(KavanError, match=message):
        load_config(CONFIGS / "mtl-softatt-hslstm.yaml", overrides)


def test_config_hash_follows_the_content_not_the_file(tmp_path):
    a = load_config(CONFIGS.parent / "bench" / "mtl-softatt-hslstm.yaml")
    copy = tmp_path / "copy.yaml"
    copy.write_text((CONFIGS.parent / "bench" / "mtl-softatt-hslstm.yaml").read_text() + "\n# a comment\n")
    assert config_hash(load_config(copy)) == config_hash(a)
    assert config_hash(load_config(copy, ["train.seed=1"])) != config_hash(a)
    assert len(config_hash(KavanConfig())) == 64
