import csv
from pathlib import Path

import numpy as np
import pytest

from kavan.core.emotions import (
    EMOTION_QUADRANT,
    EMOTION_QUADRANT_INDEX,
    EMOTIONS,
    QUADRANTS,
    VALENCE_AROUSAL,
    quadrant_index,
    quadrant_label,
    quadrant_of,
)

# The whole mapping, pinned.
EXPECTED = {
    "amusement": "pleasure-sleep",
    "anger": "misery-arousal",
    "contempt": "misery-sleep",
    "contentment": "pleasure-sleep",
    "disgust": "misery-arousal",
    "embarrassment": "misery-arousal",
    "excitement": "pleasure-arousal",
    "fear": "misery-arousal",
    "guilt": "misery-sleep",
    "happiness": "pleasure-arousal",
    "pleasure": "pleasure-arousal",
    "pride": "pleasure-arousal",
    "relief": "pleasure-sleep",
    "sadness": "misery-sleep",
    "satisfaction": "pleasure-sleep",
    "shame": "misery-arousal",
    "surprise": "pleasure-arousal",
}


def test_seventeen_emotions_in_fixed_alphabetical_order():
    assert len(EMOTIONS) == 17 and list(EMOTIONS) == sorted(EMOTIONS)
    assert EMOTIONS[0] == "amusement" and EMOTIONS[9] == "happiness" and EMOTIONS[16] == "surprise"
    assert QUADRANTS == ("pleasure-arousal", "pleasure-sleep", "misery-arousal", "misery-sleep")


def test_whole_quadrant_mapping_is_pinned():
    assert EMOTION_QUADRANT == EXPECTED
    assert [QUADRANTS[i] for i in EMOTION_QUADRANT_INDEX] == [EXPECTED[e] for e in EMOTIONS]
    assert np.bincount(EMOTION_QUADRANT_INDEX, minlength=4).tolist() == [5, 4, 5, 3]


def test_valence_arousal_values_are_on_the_1_to_9_scale_and_pinned():
    assert set(VALENCE_AROUSAL) == set(EMOTIONS)
    assert all(1 <= v <= 9 and 1 <= a <= 9 for v, a in VALENCE_AROUSAL.values())
    assert VALENCE_AROUSAL["sadness"] == (2.40, 2.81) and VALENCE_AROUSAL["happiness"] == (8.48, 6.50)


def test_quadrant_of_boundaries():
    assert quadrant_of(5.0, 5.0) == "pleasure-arousal"
    assert quadrant_of(4.99, 5.0) == "misery-arousal"
    assert quadrant_of(5.0, 4.99) == "pleasure-sleep"
    assert quadrant_of(1.0, 1.0) == "misery-sleep"


def test_gif_quadrant_is_that_of_its_strongest_emotion():
    scores = np.full(17, 0.1)
    scores[EMOTIONS.index("sadness")] = 0.9
    assert quadrant_label(scores) == "misery-sleep"
    batch = np.zeros((3, 17))
    batch[0, EMOTIONS.index("fear")] = 1
    batch[1, EMOTIONS.index("relief")] = 1
    batch[2, EMOTIONS.index("pride")] = 1
    assert quadrant_index(batch).tolist() == [2, 1, 0]
    # ties go to the first emotion in order: amusement
    assert quadrant_label(np.ones(17)) == "pleasure-sleep"
    with pytest.raises(ValueError):
        quadrant_index(np.ones(16))


# The published rows of the 17 words (tests/fixtures/warriner2013_gifgif17.csv names its source).
NORMS = Path(__file__).resolve().parent / "fixtures" / "warriner2013_gifgif17.csv"


def published_norms() -> dict[str, tuple[float, float, int, int]]:
    """Word → (V.Mean.Sum, A.Mean.Sum, V.Rat.Sum, A.Rat.Sum) as the fixture copies them from the norms file."""
    with NORMS.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(line for line in handle if not line.startswith("#")))
    return {row["Word"]: (float(row["V.Mean.Sum"]), float(row["A.Mean.Sum"]), int(row["V.Rat.Sum"]),
                          int(row["A.Rat.Sum"])) for row in rows}


def test_valence_arousal_match_published_norms():
    norms = published_norms()
    assert sorted(norms) == list(EMOTIONS)
    for emotion, (valence, arousal, n_valence, n_arousal) in norms.items():
        assert round(VALENCE_AROUSAL[emotion][0], 2) == round(valence, 2), emotion
        assert round(VALENCE_AROUSAL[emotion][1], 2) == round(arousal, 2), emotion
        assert n_valence >= 18 and n_arousal >= 18  # every word rated by at least 18 people per scale
        # the quadrant follows from the published values and the scale midpoint 5 (ties to pleasure / arousal)
        expected = ("pleasure" if valence >= 5 else "misery") + "-" + ("arousal" if arousal >= 5 else "sleep")
        assert EMOTION_QUADRANT[emotion] == expected == EXPECTED[emotion], emotion
