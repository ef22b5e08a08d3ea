"""SynthGIF's one configuration: every knob of the generator in a frozen dataclass, plus named presets.

Each field is documented below and, with the reason for its default, in docs/synthgif.md. ``--set key=value``
on the command line goes through :func:`apply_overrides`, which converts the value to the field's type and
re-validates the whole config, so an unknown key, a wrong type or an out-of-range value is a KavanError.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass

from kavan.core.checks import at_least, within
from kavan.core.errors import KavanError
from kavan.core.overrides import parse_override

PREFIX = "synth config: "  # every range error names what it checks
TWO_FACE_LABELS = ("max", "mean")


@dataclass(frozen=True)
class SynthConfig:
    """All knobs of SynthGIF. Lengths are fractions of the canvas side (min(width, height)) or of the face
    width, as named; probabilities are per GIF unless said otherwise.

    Frames
        width, height: canvas size in pixels.
        n_frames: frames per GIF.
        frame_ms: display time of each frame, a multiple of 10 (the GIF loops forever).
        palette_size: colours in each GIF's one shared palette (fewer colours, smaller files).
        supersample: frames are drawn this many times larger and box-filtered down (anti-aliasing).
    Scenario
        p_no_face: share of GIFs without a face; their labels follow the global cue alone.
        p_two_faces: share of GIFs with two faces, each with its own emotion mixture.
        two_face_label: how two faces' latent intensities combine into the GIF's ("max" or "mean").
        face_size_min, face_size_max: frontal face width (ear to ear) as a fraction of the canvas side,
            drawn uniformly; two-face GIFs cap it so both faces fit side by side.
    Emotion mixture
        dominant_min, dominant_max: intensity range of each face's dominant emotion.
        max_secondary: up to this many secondary emotions per face (uniform count 0..max).
        secondary_max: a secondary's intensity is uniform in [background_max, secondary_max x dominant].
        secondary_same_quadrant: chance a secondary comes from the dominant's circumplex quadrant.
        background_max: the other emotions get uniform intensities in [0, background_max] that the face
            does not show (annotators' baseline); keeps every label above zero.
        no_face_max: label scale of face-less GIFs (see docs/synthgif.md for the exact rule).
    Time course
        transition_start, transition_end: the switch of two-phase emotions happens at a time drawn uniformly
            in this window (fractions of the GIF's duration).
        transition_length: duration of the smooth blend from early to late phase (fraction of the GIF).
    Face
        expression_noise: standard deviation of each face's fixed idiosyncratic offset on every expression
            parameter (its "resting face").
        blink_prob: per-frame chance of a blink.
        drift: largest straight-line drift of a face over the GIF (fraction of the canvas side).
        motion_amplitude: nod/shake amplitude at full strength, in face widths.
    Scene
        clutter: number of moving background shapes.
        decoys: number of moving skin-coloured blobs without facial features.
        clutter_speed: largest speed of a clutter shape (fraction of the canvas side per frame).
        background_speed: panning speed of the background gradient (periods per frame).
    Global cue
        cue_strength: weight s of the GIF's valence in its cue value, cue = s·valence + (1 − s)·u,
            u ~ U(−1, 1).
        cue_alpha: opacity of the full-frame tint that shows the cue (cool for −1, warm for +1).
    Estimated keypoints
        kp_jitter: standard deviation of the Gaussian position error, in face widths.
        kp_drop: per-point chance of a missing point (confidence 0).
        kp_wrong: per-point chance of a wrong point, displaced far and given low confidence.
        kp_wrong_distance: a wrong point lies between this and twice this many face widths from the truth.
        kp_wrong_conf: wrong points' confidence is uniform in [0.01, kp_wrong_conf].
        kp_conf_min: good points' confidence is uniform in [kp_conf_min, 1].
        kp_face_missing: per-face chance that the detector never finds the face (no keypoints in any frame).
        kp_frame_missing: per-face, per-frame chance of a missed detection.
    Votes
        votes_per_gif: votes each GIF takes part in, per emotion.
        vote_noise: standard deviation of the annotator's perception noise on each latent intensity.
        vote_lapse: chance that an annotator answers at random (a, b or neither).
        neither_level: "neither" when both perceived intensities are below this.
        neither_margin: "neither" when the perceived intensities differ by less than this.
    """

    width: int = 128
    height: int = 128
    n_frames: int = 16
    frame_ms: int = 100
    palette_size: int = 64
    supersample: int = 2

    p_no_face: float = 0.15
    p_two_faces: float = 0.15
    two_face_label: str = "max"
    face_size_min: float = 0.19
    face_size_max: float = 0.32

    dominant_min: float = 0.5
    dominant_max: float = 1.0
    max_secondary: int = 2
    secondary_max: float = 0.6
    secondary_same_quadrant: float = 0.6
    background_max: float = 0.1
    no_face_max: float = 0.7

    transition_start: float = 0.25
    transition_end: float = 0.45
    transition_length: float = 0.15

    expression_noise: float = 0.06
    blink_prob: float = 0.05
    drift: float = 0.08
    motion_amplitude: float = 0.06

    clutter: int = 10
    decoys: int = 1
    clutter_speed: float = 0.03
    background_speed: float = 0.03

    cue_strength: float = 0.5
    cue_alpha: float = 0.25

    kp_jitter: float = 0.02
    kp_drop: float = 0.1
    kp_wrong: float = 0.04
    kp_wrong_distance: float = 0.5
    kp_wrong_conf: float = 0.2
    kp_conf_min: float = 0.4
    kp_face_missing: float = 0.25
    kp_frame_missing: float = 0.1

    votes_per_gif: int = 24
    vote_noise: float = 0.1
    vote_lapse: float = 0.02
    neither_level: float = 0.3
    neither_margin: float = 0.05

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise KavanError(f"synth config: {f.name} must be a finite number, got {value}")
        at_least(self, ("width", "height"), 32, PREFIX)
        at_least(self, ("n_frames", "supersample"), 1, PREFIX)
        at_least(self, ("max_secondary", "clutter", "decoys", "votes_per_gif"), 0, PREFIX)
        if not 2 <= self.palette_size <= 256:
            raise KavanError(f"synth config: palette_size must be in [2, 256], got {self.palette_size}")
        if self.frame_ms < 20 or self.frame_ms % 10:
            raise KavanError(f"synth config: frame_ms must be a multiple of 10 and at least 20 (GIF delays are in "
                             f"hundredths of a second, and players show shorter ones at 100 ms), got {self.frame_ms}")
        if self.supersample > 4:
            raise KavanError(f"synth config: supersample must be at most 4, got {self.supersample}")
        within(self, ("p_no_face", "p_two_faces", "secondary_same_quadrant", "background_max", "no_face_max",
                        "transition_start", "transition_end", "blink_prob", "cue_strength", "cue_alpha",
                        "kp_drop", "kp_wrong", "kp_wrong_conf", "kp_conf_min", "kp_face_missing",
                        "kp_frame_missing", "vote_lapse", "neither_level", "neither_margin",
                        "dominant_min", "dominant_max", "secondary_max"), "[0, 1]", PREFIX)
        at_least(self, ("expression_noise", "drift", "motion_amplitude", "clutter_speed", "background_speed",
                         "kp_jitter", "kp_wrong_distance", "vote_noise"), 0.0, PREFIX)
        if self.p_no_face + self.p_two_faces > 1:
            raise KavanError("synth config: p_no_face + p_two_faces must be at most 1")
        if self.two_face_label not in TWO_FACE_LABELS:
            raise KavanError(f"synth config: two_face_label must be one of {TWO_FACE_LABELS}, "
                             f"got {self.two_face_label!r}")
        if not 0.05 <= self.face_size_min <= self.face_size_max <= 0.45:
            raise KavanError("synth config: need 0.05 <= face_size_min <= face_size_max <= 0.45, got "
                             f"{self.face_size_min} and {self.face_size_max}")
        if self.dominant_min > self.dominant_max:
            raise KavanError("synth config: dominant_min must not exceed dominant_max")
        if self.transition_start > self.transition_end:
            raise KavanError("synth config: transition_start must not exceed transition_end")
        if not 0 < self.transition_length <= 1:
            raise KavanError(f"synth config: transition_length must be in (0, 1], got {self.transition_length}")
        if self.kp_wrong_conf < 0.01 or self.kp_wrong_conf > self.kp_conf_min:
            raise KavanError("synth config: need 0.01 <= kp_wrong_conf <= kp_conf_min, so wrong points stay "
                             "below good ones")
        if self.cue_alpha > 0.5:
            raise KavanError(f"synth config: cue_alpha must be at most 0.5, got {self.cue_alpha}")
        if self.kp_drop + self.kp_wrong > 1:
            raise KavanError("synth config: kp_drop + kp_wrong must be at most 1")


PRESETS: dict[str, SynthConfig] = {
    "default": SynthConfig(),
    # Smaller faces among more clutter and decoys, noisier keypoints and annotators, livelier faces.
    "hard": SynthConfig(
        face_size_min=0.15, face_size_max=0.28, clutter=20, decoys=3, expression_noise=0.12,
        kp_jitter=0.05, kp_drop=0.2, kp_wrong=0.1, kp_face_missing=0.45, kp_frame_missing=0.2,
        vote_noise=0.2, vote_lapse=0.05,
    ),
}


def _convert(name: str, kind: type, text: str) -> object:
    try:
        if kind is int:
            return int(text)
        if kind is float:
            return float(text)
    except ValueError:
        raise KavanError(f"synth config: {name} needs {'an integer' if kind is int else 'a number'}, "
                         f"got {text!r}") from None
    return text


def apply_overrides(config: SynthConfig, items: list[str]) -> SynthConfig:
    """``config`` with ``key=value`` overrides applied; KavanError on unknown keys, bad types or ranges."""
    hints = typing.get_type_hints(SynthConfig)
    changes: dict[str, object] = {}
    for item in items:
        override = parse_override(item, context="synth config: ")
        if override.key not in hints:
            raise KavanError(f"synth config: unknown key {override.key!r} (known: {', '.join(sorted(hints))})")
        changes[override.key] = _convert(override.key, hints[override.key], override.text)
    return dataclasses.replace(config, **changes)


def resolve(preset: str = "default", overrides: list[str] | None = None) -> SynthConfig:
    """The named preset with ``key=value`` overrides applied."""
    if preset not in PRESETS:
        raise KavanError(f"unknown synth preset {preset!r} (known: {', '.join(sorted(PRESETS))})")
    return apply_overrides(PRESETS[preset], overrides or [])
