import json

import numpy as np
import pytest
import yaml

from helpers.training_data import tiny_config, tiny_mapping
from kavan.core.errors import KavanError
from kavan.data.dataset import Dataset
from kavan.experiments.ablation import AblationSettings, chance_metrics, run_ablation
from kavan.training import metrics
from kavan.training.setup import split_ids


def write_configs(folder):
    folder.mkdir(exist_ok=True)
    paths = []
    for name, overrides in (("att", ()), ("noatt", ("model.attention.enabled=false", "loss.lambda_kp=0.0"))):
        path = folder / f"{name}.yaml"
        path.write_text(yaml.safe_dump(tiny_mapping("train.feature_cache=true", *overrides)))
        paths.append(path)
    return tuple(paths)


@pytest.mark.slow
def test_every_row_runs_on_the_same_splits_and_a_rerun_reuses_them(synth24, tmp_path):
    configs = write_configs(tmp_path / "configs")
    settings = AblationSettings(data=synth24, configs=configs, out=tmp_path / "out", baselines=("colour_histogram",),
                                n_splits=2, cache_dir=tmp_path / "features", baseline_cache=tmp_path / "bcache",
                                progress=False)
    results = run_ablation(settings, ["kavan", "ablation", "test"])
    assert [row["name"] for row in results["rows"]] == ["chance", "colour_histogram", "att", "noatt"]
    assert results["splits"] == [0, 1] and results["n_splits_protocol"] == 5
    dataset = Dataset(synth24)
    for k in (0, 1):
        ids = split_ids(dataset, tiny_config(), k, None)
        for name in ("att", "noatt"):
            run = json.loads((tmp_path / "out" / name / f"split-{k}" / "metrics.json").read_text())
            assert run["split"] == k and run["n_test"] == len(ids.test)
        stored = json.loads((tmp_path / "out" / "colour_histogram" / f"split-{k}.json").read_text())
        assert stored["split_ids"]["test"] == sorted(ids.test)
    # the chance row is the training mean predicted for every test GIF
    ids = split_ids(dataset, tiny_config(), 1, None)
    chance = chance_metrics(dataset, ids.train, ids.test)
    y = dataset.scores[dataset.rows(ids.test)]
    pred = np.repeat(dataset.scores[dataset.rows(ids.train)].mean(0, keepdims=True), len(y), 0)
    assert chance["nmse_per_emotion"] == pytest.approx(metrics.nmse_per_emotion(pred, y))
    row = {r["name"]: r for r in results["rows"]}
    assert row["chance"]["metrics"]["nmse_per_emotion"]["values"][1] == pytest.approx(chance["nmse_per_emotion"])
    # attention localisation only for the attention row, as rates
    loc = row["att"]["localisation"]["hit_rate"]
    assert all(0.0 <= v <= 1.0 for v in loc["values"]) and "localisation" not in row["noatt"]
    scored = json.loads((tmp_path / "out" / "att" / "split-0" / "localisation.json").read_text())
    assert scored["face_frames"] > 0 and scored["face_hits"] <= scored["face_frames"]
    # the exact box is stricter than the grown one, for the model and for the centre prior
    assert scored["exact"]["face_hits"] <= scored["face_hits"]
    assert scored["centre_prior_exact"]["face_hits"] <= scored["centre_prior"]["face_hits"]
    assert scored["exact"]["face_frames"] == scored["centre_prior"]["face_frames"] == scored["face_frames"]
    text = (tmp_path / "out" / "results.md").read_text()
    assert "## Table 1: quadrant accuracy" in text and "## Table 2: nMSE" in text
    assert "Only 2 of the protocol's 5 splits" in text
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    assert saved["configs"]["att"]["hash"] == row["att"]["config_hash"]
    assert len(saved["dataset"]["fingerprint"]) == 64
    assert saved["split_source"]["split_mode"] == "random"
    assert "- splits: 5 random 80/20 splits (seeded; test sets may overlap), split seed 0\n" in text

    # rerun: nothing is retrained or refitted
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "out").rglob("*.json") if p.name != "results.json"}
    stamps.update({p: p.stat().st_mtime_ns for p in (tmp_path / "out").rglob("model.safetensors")})
    again = run_ablation(settings, ["kavan", "ablation", "test"])
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    for before, after in zip(results["rows"], again["rows"]):
        assert after["metrics"]["nmse_per_emotion"] == before["metrics"]["nmse_per_emotion"]


def test_rows_must_share_their_splits(synth24, tmp_path):
    first, second = write_configs(tmp_path / "configs")
    second.write_text(yaml.safe_dump(tiny_mapping("train.feature_cache=true", "data.split_seed=3")))
    with pytest.raises(KavanError, match="different splits"):
        run_ablation(AblationSettings(data=synth24, configs=(first, second), out=tmp_path / "out", baselines=(),
                                      progress=False), ["kavan"])
    second.write_text(yaml.safe_dump(tiny_mapping("train.feature_cache=true", "data.split_mode=folds")))
    with pytest.raises(KavanError, match="different splits .*split_mode"):
        run_ablation(AblationSettings(data=synth24, configs=(first, second), out=tmp_path / "out", baselines=(),
                                      progress=False), ["kavan"])
    with pytest.raises(KavanError, match="--splits"):
        run_ablation(AblationSettings(data=synth24, configs=(first,), out=tmp_path / "out", baselines=(), n_splits=6,
                                      progress=False), ["kavan"])


def test_command_prints_the_tables_and_records_the_command(synth24, tmp_path, capsys):
    from kavan.cli import main

    first, _ = write_configs(tmp_path / "configs")
    out = tmp_path / "cli"
    assert main(["ablation", "--data", str(synth24), "--configs", str(first), "--splits", "1", "--baselines",
                 "--out", str(out), "--cache-dir", str(tmp_path / "features"), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "## Table 1: quadrant accuracy" in printed and "| Soft" not in printed and "| att |" in printed
    saved = json.loads((out / "results.json").read_text())
    assert saved["command"] == ["kavan", "ablation", "--data", str(synth24), "--configs", str(first), "--settings",
                                "bench", "--splits", "1", "--out", str(out), "--cache-dir",
                                str(tmp_path / "features"), "--baselines"]
    assert [row["name"] for row in saved["rows"]] == ["chance", "att"]
    # a dataset folder that does not exist: one clear error, exit status 1
    assert main(["ablation", "--data", str(tmp_path / "missing"), "--configs", str(first), "--out",
                 str(tmp_path / "x"), "--no-progress"]) == 1
