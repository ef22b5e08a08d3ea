"""The 17 GIFGIF emotions, their place on the circumplex, and a GIF's circumplex quadrant.

Valence and arousal come from the published norms of Warriner, Kuperman & Brysbaert (2013),
"Norms of valence, arousal, and dominance for 13,915 English lemmas", Behavior Research Methods 45(4),
1191–1207 (columns V.Mean.Sum and A.Mean.Sum, 1–9 rating scale). The four quadrants split that plane at
the scale's neutral midpoint 5: valence ≥ 5 is "pleasure", arousal ≥ 5 is "arousal". Disgust sits exactly on
the arousal midpoint (5.00) and so falls on the arousal side, with anger and fear.

Why these norms: they rate every one of the 17 GIFGIF words on the same scale with many raters per word, and
split at the scale midpoint they spread the emotions over all four quadrants (5/4/5/3). The NRC VAD lexicon v1
(Mohammad 2018) rates 15 of the 17 words above its arousal midpoint, which would leave two quadrants with one
emotion each.
"""

from __future__ import annotations

from typing import Final

import numpy as np

# GIFGIF's 17 emotions in alphabetical order: the column order of every score vector in kavan.
EMOTIONS: Final[tuple[str, ...]] = (
    "amusement", "anger", "contempt", "contentment", "disgust", "embarrassment", "excitement", "fear",
    "guilt", "happiness", "pleasure", "pride", "relief", "sadness", "satisfaction", "shame", "surprise",
)

# Quadrants of the valence–arousal plane (the paper's Fig. 4 names).
QUADRANTS: Final[tuple[str, ...]] = ("pleasure-arousal", "pleasure-sleep", "misery-arousal", "misery-sleep")

MIDPOINT: Final[float] = 5.0  # neutral point of the 1–9 rating scale

# (valence, arousal) on the 1–9 scale, Warriner et al. (2013).
VALENCE_AROUSAL: Final[dict[str, tuple[float, float]]] = {
    "amusement": (7.00, 4.82),
    "anger": (2.50, 5.93),
    "contempt": (3.22, 4.61),
    "contentment": (6.62, 4.60),
    "disgust": (3.32, 5.00),
    "embarrassment": (2.72, 5.45),
    "excitement": (7.62, 6.21),
    "fear": (2.93, 6.14),
    "guilt": (2.29, 4.48),
    "happiness": (8.48, 6.50),
    "pleasure": (7.80, 6.80),
    "pride": (6.50, 5.54),
    "relief": (6.63, 4.42),
    "sadness": (2.40, 2.81),
    "satisfaction": (7.18, 3.18),
    "shame": (2.62, 5.40),
    "surprise": (7.44, 6.57),
}


def quadrant_of(valence: float, arousal: float) -> str:
    """The circumplex quadrant of a point on the 1–9 valence/arousal plane."""
    pleasant = valence >= MIDPOINT
    aroused = arousal >= MIDPOINT
    return QUADRANTS[(0 if pleasant else 2) + (0 if aroused else 1)]


EMOTION_QUADRANT: Final[dict[str, str]] = {e: quadrant_of(*VALENCE_AROUSAL[e]) for e in EMOTIONS}

# Quadrant index of each emotion, in EMOTIONS order.
EMOTION_QUADRANT_INDEX: Final[np.ndarray] = np.array(
    [QUADRANTS.index(EMOTION_QUADRANT[e]) for e in EMOTIONS], dtype=np.int64
)
EMOTION_QUADRANT_INDEX.setflags(write=False)


def quadrant_index(scores) -> np.ndarray:
    """Quadrant index of the highest-scoring emotion, for scores of shape (..., 17).

    Ties go to the emotion that comes first in EMOTIONS (numpy's argmax).
    """
    scores = np.asarray(scores)
    if scores.shape[-1] != len(EMOTIONS):
        raise ValueError(f"expected {len(EMOTIONS)} emotion scores in the last axis, got shape {scores.shape}")
    return EMOTION_QUADRANT_INDEX[np.argmax(scores, axis=-1)]


def quadrant_label(scores) -> str:
    """Quadrant name of one GIF's 17 scores."""
    return QUADRANTS[int(quadrant_index(scores))]
