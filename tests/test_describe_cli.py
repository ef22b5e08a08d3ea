"""`kavan describe`: JSON with the resolved config, per-module parameter counts and the feature shape."""

from __future__ import annotations

import json

import pytest
import torch
import torchvision.models as tvm

from kavan.cli import main
from kavan.config import SHIPPED_DIR, load_config
from kavan.models import backbone as backbone_module

CONFIG = SHIPPED_DIR / "paper" / "mtl-softatt-hslstm.yaml"


def test_describe_prints_counts_that_follow_from_the_architecture(capsys, monkeypatch):
    def no_download(*args, **kwargs):
        raise AssertionError("describe must not ask torchvision for weights")

    monkeypatch.setattr(backbone_module, "torchvision_weights", no_download)
    assert main(["describe", "--config", str(CONFIG)]) == 0
    report = json.loads(capsys.readouterr().out)

    assert report["config"] == load_config(CONFIG).to_dict()
    assert report["config"]["model"]["weights"] == "torchvision:IMAGENET1K_V1"  # as written, not as built
    assert "weights 'none'" in report["note"]
    assert report["feature_shape"] == {"channels": 2048, "cells": 7}

    with torch.device("meta"):
        resnet50 = sum(p.numel() for p in tvm.resnet50().parameters())
    counts = report["parameters"]
    assert counts["backbone"] == resnet50 - (2048 * 1000 + 1000)
    c, d, k, n, s = 2048, 512, 512, 4, 2
    assert counts["attention"] == d * k + c * k + k + 1  # W_h, W_x, w, α
    lstm = lambda inputs: 4 * d * (inputs + d) + 8 * d  # noqa: E731  weights and both bias vectors
    assert counts["temporal"] == lstm(n * c) + lstm(c + d)  # coarse tier + frame-level tier 2
    assert counts["heads"] == (s * d * 4 + 4) + ((s * d + 4) * 17 + 17)
    assert counts["total"] == sum(counts[part] for part in ("backbone", "attention", "temporal", "heads"))
    assert counts["trainable"] == counts["total"]
    assert counts["total"] == 48_966_298  # recorded in docs/model.md

    # which values the paper states, and that every training hyper-parameter is a project default
    sources = report["sources"]
    stated = sources["stated_by_paper"]
    assert {key: entry["config"] for key, entry in stated.items() if key.startswith("model.")} == {
        "model.backbone": "resnet50", "model.weights": "torchvision:IMAGENET1K_V1", "model.frozen": False,
        "model.cut_after": "", "model.input_size": 224, "model.t": 8, "model.temporal.tiers": 2,
        "model.temporal.segments": 2, "model.temporal.node_length": 4}
    assert all(entry["follows_paper"] for entry in stated.values())
    assert sources["paper_row_switches"] == {"model.attention.enabled": True, "model.temporal.kind": "hslstm",
                                             "model.multitask": True}
    defaults = set(sources["project_defaults"])
    assert {f"train.{key}" for key in report["config"]["train"]} <= defaults
    assert {"model.dropout", "model.attention.size", "model.temporal.hidden", "loss.lambda_ce", "loss.lambda_rank",
            "loss.lambda_kp", "loss.rank_margin", "data.augment", "data.split_seed"} <= defaults
    assert not defaults & set(stated) and not defaults & set(sources["paper_row_switches"])
    assert sources["training"].startswith("project defaults")


def test_describe_says_where_a_benchmark_config_leaves_the_paper():
    from kavan.showcase.describe import describe

    stated = describe(SHIPPED_DIR / "bench" / "mtl-softatt-hslstm.yaml")["sources"]["stated_by_paper"]
    departs = sorted(key for key, entry in stated.items() if not entry["follows_paper"])
    assert departs == ["model.backbone", "model.cut_after", "model.frozen"]


def test_describe_reports_a_bad_config_as_an_error(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text("model: {temporal: {kind: gru}}\n")
    assert main(["describe", "--config", str(path)]) == 1
    err = capsys.readouterr().err
    assert str(path) in err and "model.temporal.kind" in err


def test_describe_model_reads_the_files_header_and_says_where_its_weights_come_from(tiny_model, capsys):
    import hashlib

    from kavan.models.storage import load_model

    assert main(["describe", "--model", str(tiny_model)]) == 0
    report = json.loads(capsys.readouterr().out)
    loaded = load_model(tiny_model)
    assert report["file"] == {"path": str(tiny_model.resolve()), "format": "kavan-model/1",
                              "sha256": hashlib.sha256(tiny_model.read_bytes()).hexdigest()}
    assert report["config"] == loaded.config.to_dict() and report["trained_on"] == loaded.trained_on
    assert report["parameters"]["total"] == sum(p.numel() for p in loaded.model.parameters())
    assert report["weights_from"] == [{"dataset": "synthgif", "n_gifs": 24, "synthgif": True, "split": 0,
                                       "run": None, "init": None}]
    assert report["weights_summary"] == "trained on synthgif (split 0), from the config's initialisation"
    with pytest.raises(SystemExit) as usage:  # one or the other
        main(["describe", "--config", str(CONFIG), "--model", str(tiny_model)])
    assert usage.value.code == 2 and "not allowed with argument" in capsys.readouterr().err
