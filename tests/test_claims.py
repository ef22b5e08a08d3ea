"""The paper's claims judged from an ablation's results: margins, paired split wins, the 2-std bar, localisation."""

from __future__ import annotations

import numpy as np
import pytest

from kavan.claims import check_claims, claims_section, margin
from kavan.reporting import render_results


def entry(values):
    return {"mean": float(np.mean(values)), "std": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0,
            "values": list(values)}


def row(name, acc, nmse, localisation=None):
    out = {"name": name, "label": name.upper(), "kind": "model", "config_hash": "0" * 64,
           "metrics": {"accuracy": entry(acc), "nmse_per_emotion": entry(nmse), "nmse_per_gif": entry(nmse),
                       "pearson_mean": entry([0.1] * len(acc))}}
    if localisation:
        out["localisation"] = {key: entry(values) for key, values in localisation.items()}
    return out


def results(*rows):
    return {"command": ["kavan", "ablation"], "settings": "bench", "n_splits_protocol": 5,
            "splits": list(range(len(rows[0]["metrics"]["accuracy"]["values"]))),
            "dataset": {"name": "d", "path": "/d", "n_gifs": 10, "fingerprint": "ab" * 32}, "rows": list(rows)}


def by_text(claims):
    return {c.text: c for c in claims}


def test_margin_by_hand():
    a = row("a", [0.70, 0.72, 0.68], [0.77, 0.75, 0.80])
    b = row("b", [0.40, 0.45, 0.71], [1.00, 0.99, 0.70])
    acc = margin(a, b, "accuracy", higher_is_better=True)
    assert acc.difference == pytest.approx((0.30 + 0.27 - 0.03) / 3)
    assert (acc.splits_won, acc.n_splits) == (2, 3)
    # twice the larger std: b's accuracies 0.40, 0.45, 0.71
    assert acc.two_std == pytest.approx(2 * np.std([0.40, 0.45, 0.71], ddof=1))
    nmse = margin(a, b, "nmse_per_emotion", higher_is_better=False)
    assert nmse.difference == pytest.approx((0.23 + 0.24 - 0.10) / 3)
    assert nmse.splits_won == 2


def test_the_full_model_must_clear_twice_the_std_the_others_only_beat_the_mean():
    clear = results(row("mtl-softatt-hslstm", [0.70, 0.71, 0.72], [0.77, 0.78, 0.76]),
                    row("resnet50-lstm", [0.40, 0.41, 0.39], [1.00, 0.99, 1.01]))
    claim = check_claims(clear)[0]
    assert claim.holds and "won 3/3 splits" in claim.evidence and "clear of 2 std" in claim.evidence
    # same means, noisy splits: the margin is inside 2 std, so the strict claim fails ...
    noisy = results(row("mtl-softatt-hslstm", [0.40, 0.60, 0.80], [0.60, 1.00, 0.70]),
                    row("resnet50-lstm", [0.50, 0.55, 0.60], [0.80, 0.90, 0.85]))
    strict = check_claims(noisy)[0]
    assert not strict.holds and "within 2 std" in strict.evidence
    # ... while an ordinary comparison with the very same numbers holds on the means
    plain = results(row("softatt-lstm", [0.40, 0.60, 0.80], [0.60, 1.00, 0.70]),
                    row("resnet50-lstm", [0.50, 0.55, 0.60], [0.80, 0.90, 0.85]))
    assert by_text(check_claims(plain))["keypoint-supervised attention beats none (LSTM)"].holds


def test_winning_one_metric_is_not_enough_and_one_split_cannot_pass_the_strict_bar():
    mixed = results(row("softatt-hslstm", [0.6], [0.9]), row("resnet50-hslstm", [0.5], [0.8]))
    claim = by_text(check_claims(mixed))["keypoint-supervised attention beats none (HS-LSTM)"]
    assert not claim.holds and "(one split)" in claim.evidence
    single = results(row("mtl-softatt-hslstm", [0.9], [0.1]), row("resnet50-lstm", [0.2], [1.0]))
    assert not check_claims(single)[0].holds


def test_missing_rows_are_left_out():
    only = results(row("softatt-lstm", [0.6, 0.7], [0.8, 0.7]), row("resnet50-lstm", [0.5, 0.5], [0.9, 0.9]))
    assert [c.text for c in check_claims(only)] == ["keypoint-supervised attention beats none (LSTM)"]
    assert claims_section(results(row("other", [0.5], [1.0]))) == ""


def test_localisation_bars_and_unsupervised_attention():
    good = {"hit_rate": [0.95, 0.97], "withheld_hit_rate": [0.61, 0.70], "centre_prior_hit_rate": [0.5, 0.6],
            "mass": [0.6, 0.7]}
    short = {"hit_rate": [0.95, 0.97], "withheld_hit_rate": [0.50, 0.58]}
    unsup = {"hit_rate": [0.10, 0.20], "withheld_hit_rate": [0.05, 0.10], "mass": [0.2, 0.3]}
    claims = by_text(check_claims(results(
        row("mtl-softatt-hslstm", [0.7, 0.7], [0.8, 0.8], good),
        row("softatt-lstm", [0.7, 0.7], [0.8, 0.8], short),
        row("mtl-unsupatt-hslstm", [0.7, 0.7], [0.8, 0.8], unsup))))
    full = claims["MTL-SOFTATT-HSLSTM: attention on the face"]
    assert full.holds and "96.0 %" in full.evidence and "65.5 %" in full.evidence and "55.0 %" in full.evidence
    assert not claims["SOFTATT-LSTM: attention on the face"].holds  # withheld 54 % < 60 %
    lower = claims["unsupervised attention finds the face less often than keypoint-supervised attention"]
    assert lower.holds and "15.0 % vs" in lower.evidence
    mass = claims["unsupervised attention puts less of its mass on the face"]
    assert mass.holds and mass.evidence.startswith("MTL-UNSUPATT-HSLSTM 25.0 % vs MTL-SOFTATT-HSLSTM 65.0 %")


def test_results_md_has_the_claims_section():
    text = render_results(results(row("mtl-softatt-hslstm", [0.70, 0.71], [0.77, 0.78]),
                                  row("resnet50-lstm", [0.40, 0.41], [1.00, 0.99])))
    assert "## The paper's claims on these splits" in text
    assert "| the full model beats no attention + LSTM (by > 2 std) | holds |" in text


def test_two_maps_on_the_face_in_every_frame_tie():
    loc = lambda rate: {"hit_rate": [rate, rate], "withheld_hit_rate": [rate, rate], "mass": [0.9, 0.9]}  # noqa: E731
    claims = by_text(check_claims(results(row("mtl-softatt-hslstm", [0.7, 0.7], [0.8, 0.8], loc(1.0)),
                                          row("mtl-unsupatt-hslstm", [0.7, 0.7], [0.8, 0.8], loc(0.9999)))))
    tie = claims["unsupervised attention finds the face less often than keypoint-supervised attention"]
    assert not tie.holds and "lower by more than 0.5 pts needed" in tie.evidence
    assert not claims["unsupervised attention puts less of its mass on the face"].holds
