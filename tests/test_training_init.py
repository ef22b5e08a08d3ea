"""Fine-tuning (`kavan train --init`): which tensors load, what is refused, the provenance chain, the feature cache
and resuming, on the tiny model and the 24-GIF SynthGIF folder."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import torch

from helpers.training_data import tiny_config
from kavan.cli import main
from kavan.core.errors import KavanError
from kavan.core.tensorfile import write_safetensors
from kavan.data.feature_cache import weights_sha256
from kavan.models import KAVAN
from kavan.models.storage import MODEL_FORMAT, load_model, save_model
from kavan.training import setup, trainer
from kavan.training.checkpoint import load_checkpoint
from kavan.training.init_weights import apply_init, read_init, report_lines
from kavan.training.trainer import train_split

ATTENTION = ["temporal.attention.alpha", "temporal.attention.w.weight", "temporal.attention.w_h.weight",
             "temporal.attention.w_x.weight"]
NO_ATTENTION = ("model.attention.enabled=false", "loss.lambda_kp=0")
# the record a parent file carries: it was itself fine-tuned from a model trained on "grandparent-set"
PARENT_RECORD = {"dataset": {"name": "parent-set", "n_gifs": 40, "synthgif": None}, "split": {"index": 2},
                 "run": "/runs/parent", "config_hash": "ab" * 32,
                 "init": {"path": "/runs/grand/model.safetensors", "sha256": "cd" * 32, "loaded": 7, "new": 1,
                          "skipped": 0, "trained_on": {"dataset": {"name": "grandparent-set"}, "split": {"index": 0},
                                                       "run": "/runs/grand"}}}
FAST = ("train.epochs=1", "train.feature_cache=true")


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One feature cache root for the module's runs: those with the config's backbone share one folder."""
    return tmp_path_factory.mktemp("feature-cache")


def seeded(config, seed: int = 0) -> KAVAN:
    """The tiny KAVAN of ``config`` initialised from ``seed``, as the trainer builds it (train.seed 0)."""
    torch.manual_seed(seed)
    return KAVAN(config.model)


def parent_file(path, *overrides: str, seed: int = 7, record=None, change=None):
    """A model file of the tiny config with ``overrides``, initialised from ``seed`` (not the trainer's 0, so that
    every loaded tensor differs from the child's own initialisation); ``change`` edits its weights first."""
    config = tiny_config(*overrides)
    model = seeded(config, seed)
    if change is not None:
        with torch.no_grad():
            change(model)
    save_model(path, model, config, PARENT_RECORD if record is None else record)
    return path


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_tensors_of_the_same_name_and_shape_load_and_the_others_are_reported(tmp_path):
    parent = read_init(parent_file(tmp_path / "p.safetensors", *NO_ATTENTION))
    child = seeded(tiny_config())
    before = {name: value.clone() for name, value in child.state_dict().items()}
    match = apply_init(child, parent)

    after = child.state_dict()
    assert match.new == ATTENTION and match.missing == ATTENTION and match.skipped == [] and not match.mismatched
    assert match.loaded == sorted(set(after) - set(ATTENTION)) and len(match.loaded) == 324
    for name in match.loaded:  # exactly the parent's tensors ...
        assert torch.equal(after[name], parent.tensors[name]), name
    assert not torch.equal(before["heads.regressor.weight"], after["heads.regressor.weight"])
    for name in ATTENTION:  # ... and the config's own initialisation for the new ones
        assert torch.equal(after[name], before[name]), name
    attention = sum(p.numel() for p in child.attention.parameters())
    trained = sum(p.numel() for p in child.parameters() if p.requires_grad)
    assert match.trained_share == pytest.approx(1 - attention / trained)

    lines = report_lines(parent, child, match)
    assert lines[0].startswith(f"init from {parent.path} (kavan-model/1, SHA-256 {parent.sha256[:12]}): "
                               "324 tensors loaded (")
    assert lines[0].endswith("4 newly initialised, 0 skipped")
    assert lines[1:] == ["  new, not in the file: temporal.attention.*"]


def test_other_shapes_are_refused_unless_partial_then_initialised_by_the_config(tmp_path):
    parent = read_init(parent_file(tmp_path / "p.safetensors"))  # multi-task: the regressor also reads the quadrants
    config = tiny_config("model.multitask=false", "loss.lambda_ce=0")
    child = seeded(config)
    before = {name: value.clone() for name, value in child.state_dict().items()}
    with pytest.raises(KavanError) as refused:
        apply_init(child, parent)
    message = str(refused.value)
    assert "\n" not in message and message.startswith(f"{parent.path}: --init refused: 1 tensor ")
    assert "heads.regressor.weight (model 17x16, file 17x20)" in message and "--init-partial" in message
    assert all(torch.equal(child.state_dict()[k], v) for k, v in before.items())  # refused: nothing loaded

    match = apply_init(child, parent, partial=True)
    assert match.new == ["heads.regressor.weight"] and match.missing == []
    assert match.skipped == ["heads.classifier.bias", "heads.classifier.weight", "heads.regressor.weight"]
    assert len(match.loaded) == 325 and torch.equal(child.state_dict()["heads.regressor.weight"],
                                                    before["heads.regressor.weight"])
    assert torch.equal(child.state_dict()["heads.regressor.bias"], parent.tensors["heads.regressor.bias"])
    assert report_lines(parent, child, match)[1:] == [
        "  new, other shape in the file (its tensor skipped): heads.regressor.weight (model 17x16, file 17x20)",
        "  skipped, not in the model: heads.classifier.*"]


def test_a_file_that_matches_nothing_this_run_trains_is_refused_in_one_line(tmp_path):
    # hidden 16 and attention size 4 instead of 8: every LSTM, attention and head weight has another shape; only
    # the frozen backbone, the attention's alpha and the two head biases (22 of the 134,514 trained values) keep theirs
    parent = read_init(parent_file(tmp_path / "p.safetensors", "model.temporal.hidden=16", "model.attention.size=4"))
    child = seeded(tiny_config())
    for partial in (False, True):
        with pytest.raises(KavanError) as refused:
            apply_init(child, parent, partial=partial)
        message = str(refused.value)
        assert "\n" not in message
        assert message.startswith(f"{parent.path}: --init refused: the file matches nothing this run trains (0.0% ")
        assert "same name and shape: backbone.*, heads.classifier.bias, heads.regressor.bias, " \
               "temporal.attention.alpha" in message
        assert "temporal.coarse.weight_ih_l0 (model 32x2560, file 64x2560)" in message


def test_files_that_are_not_finite_models_or_checkpoints_are_refused(tmp_path):
    nan = tmp_path / "nan.safetensors"  # save_model refuses NaN, so the tensors are written directly
    tensors = {k: v.clone() for k, v in seeded(tiny_config(), 7).state_dict().items()}
    tensors["heads.regressor.bias"][3] = float("nan")
    tensors["temporal.coarse.weight_hh_l0"][0, 0] = float("inf")
    write_safetensors(nan, tensors, {"format": MODEL_FORMAT, "trained_on": "{}"})
    with pytest.raises(KavanError, match="2 weights with NaN or infinite values: heads.regressor.bias, "
                                         "temporal.coarse.weight_hh_l0"):
        read_init(nan)

    other = tmp_path / "other.safetensors"
    write_safetensors(other, {"x": torch.zeros(2)}, {"format": "kavan-predictions/1"})
    with pytest.raises(KavanError, match="found format 'kavan-predictions/1'"):
        read_init(other)
    pickled = tmp_path / "model.pt"
    torch.save(seeded(tiny_config()).state_dict(), pickled)
    with pytest.raises(KavanError, match="pickle"):
        read_init(pickled)


@pytest.fixture
def spy_start(monkeypatch):
    """The model's weights as the feature cache is keyed and filled (setup._prepare_data), per run."""
    seen: list[dict[str, torch.Tensor]] = []
    original = setup._prepare_data

    def prepare(dataset, ids, model, *args, **kwargs):
        seen.append({name: value.clone() for name, value in model.state_dict().items()})
        return original(dataset, ids, model, *args, **kwargs)

    monkeypatch.setattr(setup, "_prepare_data", prepare)
    return seen


def test_a_fine_tuned_run_starts_from_the_parent_and_records_it(synth24, tmp_path, spy_start, cache):
    parent = parent_file(tmp_path / "parent.safetensors", *NO_ATTENTION)
    config = tiny_config(*FAST)
    result = train_split(config, synth24, tmp_path / "run", init=parent, cache_dir=cache, progress=False)

    start, tensors = spy_start[0], read_init(parent).tensors
    own = seeded(config).state_dict()  # what the run would start from without --init (train.seed 0)
    assert all(torch.equal(start[name], tensors[name]) for name in tensors)
    assert all(torch.equal(start[name], own[name]) for name in ATTENTION)

    record = load_model(tmp_path / "run" / "model.safetensors").trained_on["init"]
    assert record["sha256"] == sha256(parent) and record["path"] == str(parent.resolve())
    assert record["trained_on"] == PARENT_RECORD and record["format"] == "kavan-model/1"
    assert (record["loaded"], record["new"], record["skipped"]) == (324, 4, 0)
    assert record["new_tensors"] == ATTENTION and record["partial"] is False
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["init"] == record == result.init
    assert load_checkpoint(tmp_path / "run" / "checkpoint.safetensors").trained_on["init"] == record


def test_the_feature_cache_is_keyed_by_the_init_files_frozen_weights(synth24, tmp_path, spy_start, cache):
    def brighter(model):
        model.backbone.body.features[0][0].weight.mul_(1.01)  # the first convolution: every cached map changes

    same = parent_file(tmp_path / "same.safetensors", *NO_ATTENTION)  # the config's ImageNet backbone
    other = parent_file(tmp_path / "other.safetensors", *NO_ATTENTION, change=brighter)
    runs = {}
    for name, init in (("plain", None), ("same", same), ("other", other)):
        train_split(tiny_config(*FAST), synth24, tmp_path / name, init=init, cache_dir=cache, progress=False)
        runs[name] = json.loads((tmp_path / name / "run.json").read_text())["feature_cache"]
    assert runs["same"] == runs["plain"] != runs["other"]
    assert json.loads((tmp_path / "other" / "run.json").read_text())["init"]["sha256"] == sha256(other)
    folder = json.loads((Path(runs["other"]) / "key.json").read_text())
    built = KAVAN(tiny_config().model)
    built.load_state_dict(read_init(other).tensors, strict=False)
    assert folder["weights_sha256"] == weights_sha256(built.backbone) != weights_sha256(KAVAN(tiny_config().model).backbone)
    first = "backbone.body.features.0.0.weight"
    assert torch.equal(spy_start[2][first], built.state_dict()[first])

    # a finished run without --init is not the same run as one with it
    with pytest.raises(KavanError, match="the run was started without --init"):
        train_split(tiny_config(*FAST), synth24, tmp_path / "plain", init=same, cache_dir=cache, resume=True,
                    progress=False)


class Stop(Exception):
    """Stands for a kill after the first epoch's checkpoint."""


def test_resume_keeps_the_checkpoint_weights_and_the_init_record(synth24, tmp_path, monkeypatch, spy_start, cache):
    parent = parent_file(tmp_path / "parent.safetensors", *NO_ATTENTION)
    other = parent_file(tmp_path / "other.safetensors", *NO_ATTENTION, seed=8)
    config = tiny_config("train.epochs=2", "train.feature_cache=true")

    def run(out, **kwargs):
        return train_split(config, synth24, tmp_path / out, cache_dir=cache, progress=False, **kwargs)

    whole = run("whole", init=parent)
    end_epoch = trainer.end_epoch

    def stop_after_first(state, row):
        end_epoch(state, row)
        raise Stop

    monkeypatch.setattr(trainer, "end_epoch", stop_after_first)
    with pytest.raises(Stop):
        run("cut", init=parent)
    monkeypatch.setattr(trainer, "end_epoch", end_epoch)
    shutil.copytree(tmp_path / "cut", tmp_path / "cut-again")

    with pytest.raises(KavanError, match=r"the run was started from --init .*parent.safetensors"):
        run("cut", init=other, resume=True)
    resumed = run("cut", resume=True)  # without --init: goes on from the checkpoint
    again = run("cut-again", init=parent, resume=True)  # with the same file: the same
    checkpoint = load_checkpoint(tmp_path / "cut-again" / "checkpoint.safetensors")
    assert checkpoint.progress["epoch"] == 2

    # The resumed runs started from their checkpoint's weights, not the parent's, and ended where the whole run did.
    assert not torch.equal(spy_start[-1]["heads.regressor.weight"], read_init(parent).tensors["heads.regressor.weight"])
    for out in ("cut", "cut-again"):
        a = load_model(tmp_path / "whole" / "model.safetensors")
        b = load_model(tmp_path / out / "model.safetensors")
        assert all(torch.equal(v, b.model.state_dict()[k]) for k, v in a.model.state_dict().items())
        assert b.trained_on["init"] == a.trained_on["init"] and a.trained_on["init"]["sha256"] == sha256(parent)
    assert resumed.metrics["test"] == again.metrics["test"] == whole.metrics["test"]
    assert resumed.init == whole.init
    folders = {json.loads((tmp_path / out / "run.json").read_text())["feature_cache"] for out in ("whole", "cut")}
    assert len(folders) == 1

    # A finished run with --init is reused with the same file or without one, refused with another.
    assert run("whole", init=parent, resume=True).metrics["steps"] == whole.metrics["steps"]
    assert run("whole", resume=True).init == whole.init
    with pytest.raises(KavanError, match="not from this file"):
        run("whole", init=other, resume=True)


def test_kavan_train_init_and_describe_model_show_the_chain(synth24, tmp_path, capsys, caplog, cache):
    parent = parent_file(tmp_path / "parent.safetensors", "model.multitask=false", "loss.lambda_ce=0")
    config = tmp_path / "tiny.yaml"
    config.write_text(json.dumps(tiny_config(*FAST).to_dict()))
    args = ["train", "--config", str(config), "--data", str(synth24), "--out", str(tmp_path / "run"), "--cache-dir",
            str(cache), "--no-progress", "--init", str(parent)]
    caplog.set_level("INFO")
    assert main(args) == 1
    assert "--init refused: 1 tensor of the model's names with other shapes" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()  # a refused --init leaves no run folder behind
    assert main([*args, "--init-partial"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["init"] == {"path": str(parent.resolve()), "sha256": sha256(parent), "loaded": 325, "new": 3,
                               "skipped": 1}
    summary = next(r.getMessage() for r in caplog.records if r.getMessage().startswith("init from"))
    assert "325 tensors loaded (" in summary and summary.endswith("3 newly initialised, 1 skipped")
    assert "  new, not in the file: heads.classifier.*" in [r.getMessage() for r in caplog.records]
    run_json = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run_json["command"][-3:] == ["--init", str(parent), "--init-partial"]

    model = tmp_path / "run" / "model.safetensors"
    assert main(["describe", "--model", str(model)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["file"] == {"path": str(model.resolve()), "format": "kavan-model/1", "sha256": sha256(model)}
    assert report["config"] == tiny_config(*FAST).to_dict() and report["parameters"]["heads"] == 16 * 4 + 4 + 20 * 17 + 17
    chain = report["weights_from"]
    assert [link["dataset"] for link in chain] == [synth24.name, "parent-set", "grandparent-set"]
    assert [link["split"] for link in chain] == [0, 2, 0]
    assert chain[0]["init"] == {"path": str(parent.resolve()), "sha256": sha256(parent), "loaded": 325, "new": 3,
                                "skipped": 1}
    assert chain[1]["init"]["sha256"] == "cd" * 32 and chain[2]["init"] is None
    assert report["weights_summary"] == (
        f"trained on {synth24.name} (split 0), from {parent.resolve()} (SHA-256 {sha256(parent)[:12]}: 325 tensors "
        "loaded, 3 new, 1 skipped), which was trained on parent-set (split 2), from /runs/grand/model.safetensors "
        "(SHA-256 cdcdcdcdcdcd: 7 tensors loaded, 1 new, 0 skipped), which was trained on grandparent-set (split 0), "
        "from the config's initialisation")

    assert main(["train", "--config", str(config), "--data", str(synth24), "--init-partial"]) == 1
    assert "--init-partial goes with --init MODEL" in capsys.readouterr().err
