import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kavan.config import SHIPPED_DIR
from kavan.models.storage import load_model
from kavan.showcase.demo import DemoSettings, run_demo

BENCH = SHIPPED_DIR / "bench"
ROWS = (BENCH / "resnet50-lstm.yaml", BENCH / "mtl-softatt-hslstm.yaml")


@pytest.mark.slow
def test_demo_writes_real_and_synthetic_results_tables_overlays_and_a_model(tmp_path, real_gifs, capsys):
    written = run_demo(DemoSettings(out=tmp_path, real_gifs=real_gifs, n_synth=12, workers=1, epochs=1,
                                    overrides=("train.batch_size=4",), row_configs=ROWS, n_overlays=2, progress=False))
    lines = [json.loads(line) for line in (tmp_path / "real-gifs.jsonl").read_text().splitlines()]
    assert {Path(d["path"]).name: d["n_frames"] for d in lines}["folgers-decaffeinated.gif"] == 204
    assert len(lines) == len(list(real_gifs.glob("*.gif")))
    for key in ("real_gifs_sheet", "synthgif_preview", "heatmaps", "attention"):
        with Image.open(written[key]) as image:
            assert image.format == "PNG" and min(image.size) > 300
            # a picture, not a blank canvas
            assert np.asarray(image.convert("L")).std() > 10
    assert len(list((tmp_path / "synthgif" / "gifs").glob("*.gif"))) == 12
    model = json.loads((tmp_path / "paper-model.json").read_text())
    assert model["feature_shape"] == {"channels": 2048, "cells": 7}
    # the ablation: every given row plus both baselines and chance, its tables printed
    results = json.loads(Path(written["results_json"]).read_text())
    assert [row["name"] for row in results["rows"]] == ["chance", "colour_histogram", "face_expression",
                                                        "face_expression_ridge", "resnet50-lstm", "mtl-softatt-hslstm"]
    assert results["splits"] == [0]
    printed = capsys.readouterr().out
    assert "## Table 1: quadrant accuracy" in printed and "## Table 2: nMSE" in printed
    assert "Only 1 of the protocol's 5 splits" in printed
    # the trained model loads without the backbone package and is the MTL row, trained for the 1 epoch asked
    loaded = load_model(written["checkpoint"])
    assert loaded.config.model.attention.enabled and loaded.config.train.epochs == 1
    # rerunning replaces the SynthGIF folder and the ablation it wrote instead of failing on non-empty folders
    run_demo(DemoSettings(out=tmp_path, real_gifs=None, n_synth=10, workers=1, epochs=1, row_configs=ROWS[:1],
                          overrides=("train.batch_size=4",),
                          progress=False))
    assert len(list((tmp_path / "synthgif" / "gifs").glob("*.gif"))) == 10
    # without the MTL row there are no overlays and no model, and the previous run's are gone
    assert not (tmp_path / "model.safetensors").exists() and not (tmp_path / "attention.png").exists()
