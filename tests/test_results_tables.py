"""The small-set tables in docs/results.md are what benchmarks/regression_learning_curve.py --report prints from the
committed results.json files, so no table is typed by hand and every one can be regenerated."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
RESULTS = sorted((REPO / "docs" / "results" / "small-sets").glob("*.json"))


def benchmark(name: str):
    """The script benchmarks/<name>.py as a module (its folder on the import path, as when it runs)."""
    if str(REPO / "benchmarks") not in sys.path:
        sys.path.insert(0, str(REPO / "benchmarks"))
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def docs_block(doc: str, marker: str) -> str:
    """The text between <!-- marker --> and <!-- /marker --> in docs/<doc>."""
    return (REPO / "docs" / doc).read_text().split(f"<!-- {marker} -->\n")[1].split(f"<!-- /{marker} -->")[0]


def learning_curve():
    return benchmark("regression_learning_curve")


def test_every_small_set_is_committed():
    assert [p.stem for p in RESULTS] == ["lc-default", "lc-hard", "lc-own"]


@pytest.mark.parametrize("path", RESULTS, ids=lambda p: p.stem)
def test_the_docs_table_is_the_scripts(path):
    table = learning_curve().table(json.loads(path.read_text()))
    assert table in (REPO / "docs" / "results.md").read_text()


def test_a_verdict_needs_the_recipe_to_win_on_the_splits():
    """A hand-made result: the recipe wins every split by 0.10 with a spread of 0.01 (holds), and ties chance."""
    results = {"data": "x", "splits": [0, 1, 2], "sizes": [100], "cells": [
        {"split": k, "size": 100, "n_test": 20, "rows": {
            "init+ridge": {"nmse_per_emotion": 0.80 + 0.01 * k, "accuracy": 0.5},
            "colour_histogram": {"nmse_per_emotion": 0.90 + 0.02 * k, "accuracy": 0.4},
            "chance": {"nmse_per_emotion": 0.80 + 0.01 * (2 - k), "accuracy": 0.3}}} for k in range(3)]}
    row = learning_curve().table(results).splitlines()[-1]
    # differences 0.10, 0.11, 0.12: mean 0.11, s 0.01, share 20/100: SE = sqrt((1/3 + 0.2) · 1e-4) = 0.0073
    assert "| 100 | 0.810 ± 0.010 | 0.920 ± 0.020 | 0.810 ± 0.010 |" in row
    assert "holds (+0.110, bar ±0.031, 3/3)" in row  # t(0.975, 2) = 4.303; 4.303 · 0.0073 = 0.031
    assert "within noise (+0.000" in row


def acceptance_report():
    return benchmark("acceptance_report")


def test_the_acceptance_blocks_are_the_scripts_and_every_committed_run_has_one():
    report = acceptance_report()
    docs = (REPO / "docs" / "results.md").read_text()
    assert report.expected(docs) == docs  # every block is what the script prints from its results.json
    blocks = {m["name"] for m in report.BLOCK.finditer(docs)}
    assert blocks == {p.stem for p in report.FOLDER.glob("*.json")}


def test_the_summary_gives_each_runs_holm_verdict_and_leaves_out_what_it_did_not_run():
    report = acceptance_report()
    runs = report.committed(["setC-7337", "glimpse-default-7301"])
    lines = report.summary(runs).splitlines()
    # glimpse-default-7301 trained only the glimpse row, which decides no claim of the paper: no column
    assert lines[0] == "| claim | setC-7337 (bench, 5 splits) |"
    # set C: the ridge face baseline is level with the full model (0.906 against 0.914), Holm-adjusted within noise
    assert "| the full model beats face expression + ridge (the strongest face baseline) | within noise |" in lines
    assert "| MTL Soft-Att + HS-LSTM: attention on the face | holds |" in lines
    # set C trained the full model alone, so the attention-only and temporal comparisons are not there at all
    assert not any(line.startswith("| Soft-Att + LSTM beats") for line in lines)
    docs = (REPO / "docs" / "results.md").read_text()
    assert "<!-- acceptance-summary -->" in docs


def test_an_acceptance_block_is_the_ablation_report_under_the_docs_headings(tmp_path):
    from kavan.experiments.reporting import render_results

    report = acceptance_report()
    entry = {"mean": 0.5, "std": 0.1, "values": [0.4, 0.5, 0.6]}
    root = tmp_path / "acc"
    results = {"command": ["kavan", "ablation", "--data", f"{root}/default-7301"], "settings": "bench",
               "n_splits_protocol": 3, "splits": [0, 1, 2],
               "split_source": {"n_splits": 3, "split_seed": 0, "train_fraction": 0.8, "val_fraction": 0.1},
               "dataset": {"name": "default-7301", "path": f"{root}/default-7301", "n_gifs": 2000,
                           "fingerprint": "ab" * 32},
               "rows": [{"name": "chance", "label": "Chance", "kind": "chance", "config_hash": None,
                         "metrics": {k: entry for k in ("accuracy", "nmse_per_emotion", "nmse_per_gif",
                                                        "pearson_mean")}}]}
    cleaned = json.loads(report.relative(json.dumps(results), root))
    assert cleaned["dataset"]["path"] == "acc/default-7301" and str(tmp_path) not in json.dumps(cleaned)
    text = report.block(cleaned)
    assert text.startswith("#### Ablation on `default-7301`") and "##### Table 1: quadrant accuracy" in text
    assert text.replace("#### ", "# ", 1).replace("##### ", "## ") == render_results(cleaned)


def test_the_onnx_table_is_the_benchmarks_report():
    result = json.loads((REPO / "docs" / "results" / "onnx" / "results.json").read_text())
    assert docs_block("predict.md", "onnx-report") == benchmark("onnx_backend").tables(result)
    assert all(result[key][name] <= result["tolerance"] for key in ("parity_real", "parity_synth")
               for name in ("intensities", "quadrant_logits", "attention"))


def test_the_ray_table_is_the_benchmarks_report():
    result = json.loads((REPO / "docs" / "results" / "ray" / "results.json").read_text())
    assert docs_block("scale.md", "ray-report") == benchmark("ray_throughput").table(result)
    assert result["records_equal"]


def test_the_pipeline_table_is_the_benchmarks_report():
    result = json.loads((REPO / "docs" / "results" / "pipeline" / "results.json").read_text())
    assert docs_block("predict.md", "pipeline-report") == benchmark("pipeline_speed").table(result)
    assert all(row["ratio"] == row["end_to_end_s"] / max(row["decode_s"], row["model_s"]) for row in result["rows"])


def test_the_glimpse_acceptance_table_is_the_benchmarks_report():
    assert docs_block("results.md", "glimpse-acceptance") == benchmark("glimpse_acceptance").table()


# (doc, block marker, benchmark script, its committed JSON under docs/results/): each block is its script's --report
REPORTS = [
    ("results.md", "glimpse-choice", "glimpse_choice", "glimpse/choice-dev9012.json"),
    ("results.md", "glimpse-cost", "glimpse_cost", "glimpse/cost.json"),
    ("results.md", "distance-account", "distance_account", "glimpse/account-default-7301.json"),
    ("results.md", "cut-choice", "cut_choice", "cut/choice-default-7301.json"),
    ("architecture.md", "suite-time", "suite_time", "suite-time.json"),
]


@pytest.mark.parametrize("doc, marker, script, source", REPORTS, ids=[r[1] for r in REPORTS])
def test_the_docs_table_is_the_benchmarks_report(doc, marker, script, source):
    result = json.loads((REPO / "docs" / "results" / source).read_text())
    assert docs_block(doc, marker) == benchmark(script).table(result)


def test_a_settings_change_is_judged_and_holm_adjusted_over_the_table():
    """The committed default run against a copy of itself in which one row gains 10 points on every split."""
    compare = benchmark("compare_settings")
    first = json.loads((REPO / "docs" / "results" / "acceptance" / "default-7301.json").read_text())
    second = json.loads(json.dumps(first))
    row = next(r for r in second["rows"] if r["name"] == "resnet50-lstm")
    row["metrics"]["accuracy"]["values"] = [v + 0.1 for v in row["metrics"]["accuracy"]["values"]]
    lines = compare.report(first, second, ("before", "after")).splitlines()
    assert lines[0] == "Splits both ran: 0, 1, 2, 3, 4 (of 5)."
    changed = next(line for line in lines if line.startswith("| No attention + LSTM | accuracy |"))
    # equal differences: the spread is floored at one test GIF (1/400), so the bar is
    # t(0.975, 4) · sqrt(1/5 + 400/1440) · 0.0025 = 2.776 · 0.691 · 0.0025 = 0.0048, 0.5 points
    assert changed.endswith("| +10.0 pts, 5/5, ±0.5 pts | holds | holds |")
    unchanged = next(line for line in lines if line.startswith("| No attention + LSTM | nMSE per emotion |"))
    # no change: floored at 0.001 nMSE, bar 2.776 · 0.691 · 0.001 = 0.0019; a zero difference is never judged
    assert unchanged.endswith("| +0.000, 0/5, ±0.002 | within noise | within noise |")

