"""A model whose output is NaN (a file from a diverged run) gives error records, never NaN tokens: everything
`kavan predict` writes stays JSON, and the command says the files failed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from kavan.cli import main
from kavan.core.errors import KavanError
from kavan.models.storage import NonFiniteWeights, save_model
from kavan.predict import load


@pytest.fixture(scope="module")
def nan_model(tiny_model, tmp_path_factory) -> Path:
    """A copy of the shared tiny model file with one head weight set to NaN, written past save_model (which
    refuses it)."""
    path = Path(shutil.copyfile(tiny_model, tmp_path_factory.mktemp("model") / "model.safetensors"))
    tensors = load_file(path)
    with safe_open(path, framework="pt") as handle:
        metadata = handle.metadata()
    name = next(key for key in tensors if key.startswith("heads.") and key.endswith("weight"))
    tensors[name][0, 0] = float("nan")
    save_file(tensors, path, metadata=metadata)
    return path


def test_predict_writes_an_error_record_for_a_nan_output(nan_model, real_gifs, tmp_path, capsys):
    gifs = [str(real_gifs / "cool.gif"), str(real_gifs / "like-a-boss.gif")]
    out = tmp_path / "p.jsonl"
    assert main(["predict", *gifs, "--checkpoint", str(nan_model), "--out", str(out), "--workers", "0"]) == 1
    records = [json.loads(line) for line in out.read_text().splitlines()]  # strict JSON: NaN would not parse
    assert [r["path"] for r in records] == gifs
    assert all("NaN or infinite" in r["error"] and str(nan_model) in r["error"] for r in records)
    # to stdout as well: valid JSON, an error record
    capsys.readouterr()
    assert main(["predict", gifs[0], "--checkpoint", str(nan_model)]) == 1
    record = json.loads(capsys.readouterr().out, parse_constant=lambda c: pytest.fail(f"bare {c} in the output"))
    assert record["path"] == gifs[0] and "NaN or infinite" in record["error"]


def test_the_python_api_raises_for_a_nan_output(nan_model, real_gifs):
    predictor = load(nan_model, device="cpu")
    with pytest.raises(KavanError, match="cool.gif: .*NaN or infinite"):
        predictor.predict(real_gifs / "cool.gif")


def test_save_model_refuses_non_finite_weights(nan_model, tmp_path):
    loaded = load(nan_model, device="cpu")
    target = tmp_path / "again.safetensors"
    with pytest.raises(NonFiniteWeights, match="heads.*NaN or infinite"):
        save_model(target, loaded.model, loaded.config, {})
    assert not target.exists()
    assert not any(torch.isnan(v).any() for k, v in loaded.model.state_dict().items() if not k.startswith("heads."))
