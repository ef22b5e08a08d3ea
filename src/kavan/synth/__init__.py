"""SynthGIF: the built-in procedural benchmark of cartoon-face GIFs with known emotions.

``generate_dataset`` writes a dataset folder; ``SynthConfig`` and ``PRESETS`` hold every knob; the
sub-modules each do one job (face drawing, scene, emotion time courses, keypoint and vote simulation, a
simulated labelling session that answers a pair selector's questions (``labelling``), preview). Documentation: docs/synthgif.md.

May import: kavan.core, kavan.labels, kavan.media, kavan.keypoints, kavan.config, kavan.data.
"""

from kavan.synth.config import PRESETS, SynthConfig, apply_overrides, resolve
from kavan.synth.generate import generate_dataset, make_gif

__all__ = ["PRESETS", "SynthConfig", "apply_overrides", "generate_dataset", "make_gif", "resolve"]
