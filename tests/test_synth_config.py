"""SynthGIF's config: presets, key=value overrides (typed, checked), validation, documentation."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from kavan.core.errors import KavanError
from kavan.synth.config import PRESETS, SynthConfig, apply_overrides, resolve

DOCS = Path(__file__).resolve().parents[1] / "docs" / "synthgif.md"


def test_defaults_match_the_brief():
    cfg = SynthConfig()
    assert (cfg.width, cfg.height, cfg.n_frames, cfg.frame_ms) == (128, 128, 16, 100)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.width = 64  # type: ignore[misc]


def test_overrides_convert_to_the_field_type():
    cfg = apply_overrides(SynthConfig(), ["width=64", "kp_jitter=0.05", "two_face_label=mean", " clutter = 3 "])
    assert (cfg.width, cfg.kp_jitter, cfg.two_face_label, cfg.clutter) == (64, 0.05, "mean", 3)
    assert isinstance(cfg.width, int) and isinstance(cfg.kp_jitter, float)
    assert apply_overrides(cfg, []) == cfg


@pytest.mark.parametrize("item, message", [
    ("no_such_knob=1", "unknown key 'no_such_knob'"),
    ("width=12.5", "width needs an integer"),
    ("kp_drop=lots", "kp_drop needs a number"),
    ("kp_drop", "not of the form key=value"),
    ("kp_drop=1.5", r"kp_drop must be in \[0, 1\]"),
    ("width=8", "width must be >= 32"),
    ("frame_ms=15", "multiple of 10"),
    ("kp_jitter=nan", "finite"),
    ("two_face_label=sum", "two_face_label must be one of"),
    ("face_size_min=0.5", "face_size_min <= face_size_max"),
    ("p_no_face=0.7", "p_no_face \\+ p_two_faces"),
    ("kp_wrong_conf=0.9", "kp_wrong_conf <= kp_conf_min"),
    ("cue_alpha=0.8", "cue_alpha must be at most 0.5"),
])
def test_bad_overrides_are_kavan_errors(item, message):
    overrides = [item, "p_two_faces=0.5"] if item.startswith("p_no_face") else [item]
    with pytest.raises(KavanError, match=message):
        apply_overrides(SynthConfig(), overrides)


def test_presets_and_resolve():
    assert resolve() == SynthConfig()
    assert resolve("hard", ["n_frames=8"]) == dataclasses.replace(PRESETS["hard"], n_frames=8)
    with pytest.raises(KavanError, match="unknown synth preset 'easy'"):
        resolve("easy")


def test_hard_preset_is_harder_on_every_axis():
    easy, hard = PRESETS["default"], PRESETS["hard"]
    assert hard.face_size_max < easy.face_size_max and hard.face_size_min < easy.face_size_min
    assert hard.clutter > easy.clutter and hard.decoys > easy.decoys
    for knob in ("kp_jitter", "kp_drop", "kp_wrong", "kp_face_missing", "kp_frame_missing", "vote_noise",
                 "vote_lapse"):
        assert getattr(hard, knob) > getattr(easy, knob), knob


def test_every_knob_is_documented_with_its_default():
    text = DOCS.read_text(encoding="utf-8")
    for field in dataclasses.fields(SynthConfig):
        row = next((line for line in text.splitlines() if line.startswith(f"| `{field.name}` ")), None)
        assert row is not None, f"{field.name} missing from docs/synthgif.md"
        assert f"`{field.default}`" in row, f"{field.name}: default {field.default} not in its docs row"
