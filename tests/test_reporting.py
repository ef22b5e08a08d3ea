from kavan.experiments.reporting import render_results
from kavan.experiments.tables import mean_std_cell


def entry(values):
    import numpy as np
    return {"mean": float(np.mean(values)), "std": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0,
            "values": values}


def results():
    def metrics(acc, nmse_e, nmse_g, r):
        return {"accuracy": entry(acc), "nmse_per_emotion": entry(nmse_e), "nmse_per_gif": entry(nmse_g),
                "pearson_mean": entry(r)}
    return {
        "command": ["kavan", "ablation", "--data", "d"],
        "settings": "bench",
        "dataset": {"name": "d", "path": "/x/d", "n_gifs": 10, "fingerprint": "ab" * 32,
                    "synthgif": {"preset": "default", "seed": 0}},
        "code": {"commit": "0123456789abcdef", "dirty": False},
        "n_splits_protocol": 5,
        "splits": [0, 1],
        "split_source": {"n_splits": 5, "split_seed": 0, "train_fraction": 0.8, "split_mode": "random",
                         "val_fraction": 0.0},
        "rows": [
            {"name": "mtl", "label": "MTL", "kind": "model", "config_hash": "f" * 64,
             "metrics": metrics([0.5, 0.6], [0.8, 0.9], [1.0, 1.2], [0.3, 0.4]),
             "localisation": {"hit_rate": entry([0.9, 0.8]),
                              "withheld_hit_rate": {"mean": None, "std": None, "values": [None, None]},
                              "exact_hit_rate": entry([0.7, 0.5]), "exact_withheld_hit_rate": entry([0.5, 0.5]),
                              "centre_prior_hit_rate": entry([1.0, 0.9]),
                              "centre_prior_exact_hit_rate": entry([0.6, 0.6]),
                              "mass": entry([0.4, 0.6]), "face_area": entry([0.1, 0.2])}},
            {"name": "chance", "label": "Chance", "kind": "chance", "config_hash": None,
             "metrics": metrics([0.25, 0.25], [1.0, 1.0], [1.5, 1.5], [float("nan"), float("nan")])},
        ],
    }


def test_cells():
    assert mean_std_cell(entry([0.5, 0.6])) == "0.550 ± 0.071"
    assert mean_std_cell(entry([0.5, 0.6]), percent=True) == "55.0 ± 7.1 %"
    assert mean_std_cell(entry([0.5])) == "0.500"
    assert mean_std_cell({"mean": None, "std": None, "values": []}) == "n/a"
    assert mean_std_cell(None) == "n/a"


def test_hand_built_results_render_exactly():
    text = render_results(results())
    assert text.startswith("# Ablation on `d`: 2 splits, bench settings\n\n"
                           "**Only 2 of the protocol's 5 splits (splits 0, 1).**\n\n"
                           "- dataset: `/x/d`, 10 GIFs, fingerprint `abababababababab`; SynthGIF preset `default`, "
                           "seed 0\n"
                           "- splits: 5 random 80/20 splits (seeded; test sets may overlap), split seed 0\n"
                           "- code: `0123456789ab`\n- command: `kavan ablation --data d`\n"
                           "- `mtl`: config hash `ffffffffffffffff`\n")
    table1 = ("## Table 1: quadrant accuracy\n\n"
              "| Method | Accuracy | Attention on face (all face frames) | Attention on face (keypoints withheld) "
              "| On exact face box (all) | On exact face box (withheld) | Attention mass on face |\n"
              "|---|---|---|---|---|---|---|\n"
              "| Chance | 25.0 ± 0.0 % | n/a | n/a | n/a | n/a | n/a |\n"
              "| MTL | 55.0 ± 7.1 % | 85.0 ± 7.1 % | n/a | 60.0 ± 14.1 % | 50.0 ± 0.0 % | 50.0 ± 14.1 % |\n")
    table2 = ("## Table 2: nMSE\n\n"
              "| Method | nMSE (per emotion, Jou et al.) | nMSE per GIF | mean Pearson r |\n"
              "|---|---|---|---|\n"
              "| Chance | 1.000 ± 0.000 | 1.500 ± 0.000 | n/a |\n"
              "| MTL | 0.850 ± 0.071 | 1.100 ± 0.141 | 0.350 ± 0.071 |\n")
    assert table1 in text
    assert table2 in text
    assert "Attention on face: share of test frames" in text
    assert ("always peaks at the centre cell scores 95.0 ± 7.1 % (grown box) and 60.0 ± 0.0 % (exact box) on the "
            "same frames, and a uniform map puts 15.0 ± 7.1 % of its mass on the faces.") in text


def test_no_localisation_columns_without_ground_truth():
    data = results()
    del data["rows"][0]["localisation"]
    data["splits"] = [0, 1, 2, 3, 4]
    text = render_results(data)
    assert "| Method | Accuracy |\n|---|---|\n| Chance | 25.0 ± 0.0 % |\n| MTL | 55.0 ± 7.1 % |\n" in text
    assert "Only" not in text and "Attention on face" not in text
    data["split_source"]["split_mode"] = "folds"
    data["settings"] = "paper"
    assert render_results(data).startswith("# Ablation on `d`: 5 splits, the paper's architecture (ResNet-50 end to "
                                           "end) with project-default hyper-parameters\n\n")
    assert "- splits: 5 disjoint folds (seeded, 80/20; every GIF tested once), split seed 0\n" in render_results(data)
