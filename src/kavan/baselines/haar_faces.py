"""Face detection with OpenCV's Haar cascade, the largest face, and fer's face crop.

The cascade is ``haarcascade_frontalface_default.xml`` from the OpenCV 4.x wheel (``cv2.data.haarcascades``);
OpenCV 5 wheels have no CascadeClassifier. Detection runs on the grey frame with ``detectMultiScale``. The crop
follows ``fer.FER.detect_emotions`` step by step, so the network sees faces framed as it was used in fer: the
box is made square by growing its short side about its centre, grown by ``margin`` pixels on every side, cut
from the grey frame padded by 40 pixels of the mean grey of its bottom two rows (so boxes at the border stay
whole), and resized to 64×64 with bilinear interpolation.
"""

from __future__ import annotations

import cv2
import numpy as np

from kavan.baselines.config import FaceExpressionConfig
from kavan.core.errors import KavanError

CASCADE_FILE = "haarcascade_frontalface_default.xml"
CASCADE_WINDOW = 24  # the frontal-face cascade's detection window in pixels: no smaller face can be found
CROP_SIZE = 64
PAD = 40  # fer's PADDING


def load_cascade() -> cv2.CascadeClassifier:
    """OpenCV's frontal-face Haar cascade from the installed wheel."""
    path = cv2.data.haarcascades + CASCADE_FILE
    cascade = cv2.CascadeClassifier(path)
    if cascade.empty():
        raise KavanError("OpenCV could not load its Haar cascade (is an OpenCV 4.x wheel installed?)", path)
    return cascade


def grey(frame: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 RGB → (H, W) uint8 grey (ITU-R BT.601 luma, as cv2.cvtColor computes it)."""
    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


def detect_faces(grey_frame: np.ndarray, cascade: cv2.CascadeClassifier, config: FaceExpressionConfig) -> np.ndarray:
    """Face boxes (k, 4) int as x, y, width, height in pixels; (0, 4) when there is none.

    OpenCV runs on one thread meanwhile (restored afterwards): with several, ``detectMultiScale`` merges its
    candidate windows in the order the threads deliver them, and the merged boxes differ from run to run (seen on
    7 of 2,000 SynthGIF GIFs); one thread makes them reproducible and was no slower here.
    """
    smallest = max(CASCADE_WINDOW, round(config.min_face * min(grey_frame.shape[:2])))
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        boxes = cascade.detectMultiScale(grey_frame, scaleFactor=config.scale_factor,
                                         minNeighbors=config.min_neighbors, flags=cv2.CASCADE_SCALE_IMAGE,
                                         minSize=(smallest, smallest))
    finally:
        cv2.setNumThreads(threads)
    return np.asarray(boxes, dtype=np.int64).reshape(-1, 4)


def largest_face(boxes: np.ndarray) -> np.ndarray | None:
    """The box of largest area (the first such on a tie), or None when there are no boxes."""
    if len(boxes) == 0:
        return None
    return boxes[int(np.argmax(boxes[:, 2] * boxes[:, 3]))]


def crop_face(grey_frame: np.ndarray, box: np.ndarray, margin: int) -> np.ndarray:
    """The (64, 64) uint8 crop of ``box`` (x, y, w, h) from a grey frame, made as fer makes it (module docstring)."""
    x, y, w, h = (int(v) for v in box)
    if w > h:
        y, h = y - (w - h) // 2, w
    elif h > w:
        x, w = x - (h - w) // 2, h
    rows = grey_frame.shape[0]
    fill = cv2.mean(grey_frame[rows - 2:rows])[0]
    padded = cv2.copyMakeBorder(grey_frame, PAD, PAD, PAD, PAD, cv2.BORDER_CONSTANT, value=[fill, fill, fill])
    x1, y1 = max(0, x - margin + PAD), max(0, y - margin + PAD)
    x2, y2 = x + w + margin + PAD, y + h + margin + PAD
    return cv2.resize(padded[y1:y2, x1:x2], (CROP_SIZE, CROP_SIZE))
