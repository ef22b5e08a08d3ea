"""What a SynthGIF face feels and how it shows it over time: emotion mixtures, expression signatures, time
courses, and the head's path across the frame.

Every emotion has an *expression signature*: an early and a late expression (changes from the neutral face,
see ``kavan.synth.face.PARAMS``). Most are steady (early = late). Seven form the temporal design, in which
only the early frames or the order of events tell emotions apart:

* embarrassment = smile → downcast,    guilt = downcast throughout,   pride = downcast → smile
  (pride and embarrassment show the same two events in opposite order; guilt ends like embarrassment);
* shame = startled → sad downcast,     sadness = sad downcast throughout;
* relief = worried → content,          contentment = content throughout.

Within each pair the late frames are identical and only the early ones differ, so a model that forgets the
start of a GIF confuses them (embarrassment/guilt and shame/sadness even sit in different circumplex
quadrants). A face's expression at each frame is the neutral face plus the intensity-weighted signatures of
the emotions it shows, divided by max(1, sum of those intensities), plus a fixed per-face offset.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kavan.core.emotions import EMOTION_QUADRANT, EMOTION_QUADRANT_INDEX, EMOTIONS
from kavan.synth.config import SynthConfig
from kavan.synth.face import HIGH, LOW, NEUTRAL, PARAMS, P

N_EMOTIONS = len(EMOTIONS)

# +1 for emotions in the two "pleasure" quadrants, -1 for the two "misery" ones (kavan.core.emotions).
VALENCE_SIGN = np.array([1.0 if EMOTION_QUADRANT[e].startswith("pleasure") else -1.0 for e in EMOTIONS])


def _expr(**changes: float) -> np.ndarray:
    delta = np.zeros(len(PARAMS))
    for name, value in changes.items():
        delta[P[name]] = value
    return delta


# Named expressions shared by the two-phase signatures.
PHASES: dict[str, np.ndarray] = {
    "smile": _expr(mouth_curve=0.85, mouth_open=0.15, eye_open=-0.2),
    "downcast": _expr(mouth_curve=0.1, gaze_y=0.9, head_pitch=0.75, head_yaw=0.3, eye_open=-0.35),
    "sad-downcast": _expr(mouth_curve=-0.75, brow_furrow=-0.8, gaze_y=0.8, head_pitch=0.5, eye_open=-0.4),
    "startled": _expr(eye_open=0.45, brow_raise=0.6, mouth_open=0.35, mouth_curve=-0.2),
    "worried": _expr(brow_raise=0.6, brow_furrow=-0.8, mouth_open=0.3, mouth_curve=-0.35, eye_open=0.35),
    "content": _expr(mouth_curve=0.5, eye_open=-0.4, head_roll=0.4),
}

# emotion -> (early phase, late phase); steady emotions repeat one expression.
_STEADY = {
    "amusement": _expr(mouth_curve=0.9, mouth_open=0.55, brow_raise=0.2, eye_open=-0.45, nod=0.7),
    "anger": _expr(mouth_curve=-0.6, mouth_open=0.2, brow_raise=-0.5, brow_furrow=1.0, eye_open=0.15,
                   head_pitch=0.25, shake=0.5),
    "contempt": _expr(mouth_curve=0.2, mouth_asym=0.9, eye_open=-0.3, head_yaw=0.5, gaze_x=-0.5, head_pitch=-0.35),
    "disgust": _expr(mouth_curve=-0.75, mouth_open=0.25, mouth_asym=0.3, brow_raise=-0.5, brow_furrow=0.6,
                     eye_open=-0.55, head_yaw=-0.5, head_pitch=-0.2),
    "excitement": _expr(mouth_curve=0.85, mouth_open=0.8, brow_raise=0.8, eye_open=0.45, nod=1.0),
    "fear": _expr(mouth_curve=-0.45, mouth_open=0.6, brow_raise=0.9, brow_furrow=-0.9, eye_open=0.6,
                  head_pitch=-0.15, shake=0.35),
    "happiness": _expr(mouth_curve=1.0, mouth_open=0.3, brow_raise=0.15, eye_open=-0.25),
    "pleasure": _expr(mouth_curve=0.6, eye_open=-0.8, head_pitch=-0.45, head_roll=0.3),
    "satisfaction": _expr(mouth_curve=0.6, eye_open=-0.15, head_pitch=-0.25, nod=0.35),
    "surprise": _expr(mouth_curve=0.05, mouth_open=0.9, brow_raise=1.0, eye_open=0.6, head_pitch=-0.15),
}
_TWO_PHASE = {
    "embarrassment": ("smile", "downcast"),
    "guilt": ("downcast", "downcast"),
    "pride": ("downcast", "smile"),
    "shame": ("startled", "sad-downcast"),
    "sadness": ("sad-downcast", "sad-downcast"),
    "relief": ("worried", "content"),
    "contentment": ("content", "content"),
}
SIGNATURES: dict[str, tuple[np.ndarray, np.ndarray]] = {
    **{e: (d, d) for e, d in _STEADY.items()},
    **{e: (PHASES[a], PHASES[b]) for e, (a, b) in _TWO_PHASE.items()},
}
_EARLY = np.stack([SIGNATURES[e][0] for e in EMOTIONS])
_LATE = np.stack([SIGNATURES[e][1] for e in EMOTIONS])

# The temporal design: pairs with identical late frames whose early frames differ, and a pair that shows
# the same two expressions in opposite order.
ORDER_PAIRS: tuple[tuple[str, str], ...] = (("embarrassment", "guilt"), ("shame", "sadness"),
                                            ("relief", "contentment"))
REVERSED_PAIRS: tuple[tuple[str, str], ...] = (("pride", "embarrassment"),)


def pattern(emotion: str) -> str:
    """The time-course name of an emotion's signature: "steady" or "<early>-><late>"."""
    early, late = _TWO_PHASE.get(emotion, (None, None))
    return "steady" if early is None or early == late else f"{early}->{late}"


@dataclass(frozen=True)
class FaceMixture:
    """One face's emotions: 17 latent intensities, and which of them the face shows (dominant first)."""

    latents: np.ndarray
    expressed: tuple[int, ...]

    @property
    def dominant(self) -> int:
        return self.expressed[0]


def sample_mixture(rng: np.random.Generator, cfg: SynthConfig) -> FaceMixture:
    """A dominant emotion (uniform over the 17), 0..max_secondary secondaries, a faint unshown background."""
    latents = rng.uniform(0.0, cfg.background_max, N_EMOTIONS)
    dominant = int(rng.integers(N_EMOTIONS))
    strength = rng.uniform(cfg.dominant_min, cfg.dominant_max)
    latents[dominant] = strength
    expressed = [dominant]
    for _ in range(int(rng.integers(cfg.max_secondary + 1))):
        free = np.array([e for e in range(N_EMOTIONS) if e not in expressed])
        same = free[EMOTION_QUADRANT_INDEX[free] == EMOTION_QUADRANT_INDEX[dominant]]
        pool = same if same.size and rng.random() < cfg.secondary_same_quadrant else free
        e = int(rng.choice(pool))
        low, high = sorted((cfg.background_max, cfg.secondary_max * strength))
        latents[e] = rng.uniform(low, high)
        expressed.append(e)
    return FaceMixture(latents=latents, expressed=tuple(expressed))


def combine(faces: list[FaceMixture], how: str) -> np.ndarray:
    """The GIF's latents from its faces': elementwise max (a GIF shows an emotion as strongly as its most
    expressive face) or mean."""
    stacked = np.stack([f.latents for f in faces])
    return stacked.max(axis=0) if how == "max" else stacked.mean(axis=0)


def valence(latents: np.ndarray) -> float:
    """A GIF's valence in [-1, 1]: mean valence sign of its emotions weighted by squared intensity, so the
    shown emotions count and the faint background hardly does."""
    w = np.asarray(latents, dtype=np.float64) ** 2
    return float((w * VALENCE_SIGN).sum() / max(w.sum(), 1e-12))


def global_cue(v: float, rng: np.random.Generator, cfg: SynthConfig) -> float:
    """The cue value shown by the tint: cue_strength·valence + (1 − cue_strength)·u, u ~ U(−1, 1)."""
    return float(cfg.cue_strength * v + (1 - cfg.cue_strength) * rng.uniform(-1.0, 1.0))


def no_face_latents(cue: float, rng: np.random.Generator, cfg: SynthConfig) -> np.ndarray:
    """Labels of a face-less GIF from its cue alone: every emotion whose valence sign matches the cue's gets
    no_face_max·|cue|, the others 0, plus the usual faint background U(0, background_max)."""
    return cfg.no_face_max * np.clip(cue * VALENCE_SIGN, 0.0, None) + rng.uniform(0.0, cfg.background_max,
                                                                                  N_EMOTIONS)


def frame_times(n_frames: int) -> np.ndarray:
    """Normalised time of each frame, 0 at the first and 1 at the last."""
    return np.linspace(0.0, 1.0, n_frames) if n_frames > 1 else np.zeros(1)


def late_weight(n_frames: int, switch: float, cfg: SynthConfig) -> np.ndarray:
    """(F,) weight of the late phase: 0 until ``switch``, a smoothstep over transition_length, then 1."""
    s = np.clip((frame_times(n_frames) - switch) / cfg.transition_length, 0.0, 1.0)
    return s * s * (3 - 2 * s)


@dataclass(frozen=True)
class ExpressionCourse:
    """A face's expression parameters per frame, (F, len(PARAMS)), and its early→late switch time."""

    params: np.ndarray
    switch: float


def expression_course(mix: FaceMixture, cfg: SynthConfig, rng: np.random.Generator) -> ExpressionCourse:
    """The face's expression at every frame (see the module docstring), with blinks."""
    f = cfg.n_frames
    switch = float(rng.uniform(cfg.transition_start, cfg.transition_end))
    w = late_weight(f, switch, cfg)[:, None, None]
    idx = np.array(mix.expressed)
    a = mix.latents[idx]
    deltas = (1 - w) * _EARLY[idx] + w * _LATE[idx]                       # (F, k, P)
    expr = NEUTRAL + (a[None, :, None] * deltas).sum(axis=1) / max(1.0, float(a.sum()))
    expr = expr + rng.normal(0.0, cfg.expression_noise, len(PARAMS))
    blinks = rng.random(f) < cfg.blink_prob
    expr[blinks, P["eye_open"]] *= 0.05
    return ExpressionCourse(params=np.clip(expr, LOW, HIGH), switch=switch)


# Extent of a face around its origin, in face widths, allowing for roll and an open jaw.
HALF_WIDTH = 0.68
HALF_HEIGHT = 0.8


def face_widths(n_faces: int, cfg: SynthConfig, rng: np.random.Generator) -> np.ndarray:
    """Frontal face widths in pixels; with two faces each is capped to fit its half of the canvas."""
    side = min(cfg.width, cfg.height)
    widths = rng.uniform(cfg.face_size_min, cfg.face_size_max, n_faces) * side
    if n_faces == 2:
        widths = np.minimum(widths, (cfg.width / 2) / (2 * HALF_WIDTH + 2 * cfg.motion_amplitude))
    return widths


def head_path(expr: np.ndarray, width: float, region: tuple[float, float, float, float], cfg: SynthConfig,
              rng: np.random.Generator) -> np.ndarray:
    """(F, 2) pixel position of the face origin: a straight drift inside ``region`` (x0, y0, x1, y1) plus
    the nod (vertical) and shake (horizontal) oscillations its expression asks for."""
    f = cfg.n_frames
    amp = cfg.motion_amplitude * width
    lo = np.array([region[0] + HALF_WIDTH * width + amp, region[1] + HALF_HEIGHT * width + amp])
    hi = np.array([region[2] - HALF_WIDTH * width - amp, region[3] - HALF_HEIGHT * width - amp])
    hi = np.maximum(hi, lo)
    angle = rng.uniform(0, 2 * np.pi)
    drift = rng.uniform(0, cfg.drift) * min(cfg.width, cfg.height) * np.array([np.cos(angle), np.sin(angle)])
    drift = np.clip(drift, -(hi - lo), hi - lo)
    start = rng.uniform(lo - np.minimum(drift, 0), hi - np.maximum(drift, 0))
    t = frame_times(f)[:, None]
    path = start + t * drift
    cycles = rng.uniform(1.5, 3.0, 2)
    phase = rng.uniform(0, 2 * np.pi, 2)
    swing = np.sin(2 * np.pi * cycles * t + phase)                          # (F, 2): x shake, y nod
    path[:, 0] += amp * expr[:, P["shake"]] * swing[:, 0]
    path[:, 1] += amp * expr[:, P["nod"]] * swing[:, 1]
    return path
