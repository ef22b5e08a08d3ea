"""benchmarks/cut_choice.py: each run's kept epoch is its lowest validation nMSE per emotion, and the cut whose full
model is lower there is chosen, whatever the other row says."""

from __future__ import annotations

from test_results_tables import benchmark


def write_log(run, values, accuracies):
    run.mkdir(parents=True)
    lines = ["epoch,val_accuracy,val_nmse_per_emotion"]
    lines += [f"{i + 1},{a},{v}" for i, (v, a) in enumerate(zip(values, accuracies))]
    (run / "log.csv").write_text("\n".join(lines) + "\n")


def test_the_full_models_validation_decides_the_cut(tmp_path):
    cut = benchmark("cut_choice")
    write_log(tmp_path / "features.13" / "mtl-softatt-hslstm", [0.90, 0.85, 0.86], [0.5, 0.6, 0.7])
    write_log(tmp_path / "features.13" / "resnet50-lstm", [1.02, 1.01], [0.3, 0.4])
    write_log(tmp_path / "last-map" / "mtl-softatt-hslstm", [0.88, 0.87, 0.89, 0.90], [0.5, 0.5, 0.6, 0.7])
    write_log(tmp_path / "last-map" / "resnet50-lstm", [0.95, 0.96], [0.45, 0.44])   # better, but not the rule's row

    class Args:
        runs = tmp_path

    result = cut.measure(Args)
    assert result["cuts"]["features.13"]["mtl-softatt-hslstm"] == {
        "val_nmse_per_emotion": 0.85, "val_accuracy": 0.6, "epoch": 2, "epochs": 3}
    assert result["chosen"] == "features.13"
    table = cut.table(result)
    assert "| `last-map` | 0.870 (2 of 4), 50.0 % | 0.950 (1 of 2), 45.0 % |" in table
    assert table.endswith("Chosen by the rule: `features.13`.\n")
