"""MediaPipe 0.10.21 face mesh on static images: full-range face detection, refined landmarks (478 points).

MediaPipe's legacy ``FaceMesh`` solution runs its graph ``face_landmark_front_cpu`` with the *short-range* face
detector, which is made for faces filling a selfie: on the shared real GIFs it finds one face or none where people
see three or four (like-a-boss.gif, frames 0-5). This module runs the same graph with the detector sub-graph
swapped for the full-range one that the wheel also carries (``FaceDetectionFullRangeCpu``; the short-range one
stays available, about 3.5 ms a frame faster), and asks the graph for its detections too, so every mesh comes
with the score of the detection it grew from.

Detecting and tracking are chosen frame by frame. MediaPipe's graph gates its face detector with the number of
faces tracked from the previous frame (the detector runs whenever fewer than ``num_faces`` are tracked, so with
room for several faces and one in view it would run on every frame) and switches tracking on or off for a whole
run (the ``use_prev_landmarks`` side packet). Here both gates take a per-frame input instead: ``detect`` runs
the detector on the frame, ``track`` grows meshes from the regions the previous frame's landmarks give (the graph's
own loop-back). ``detect`` without ``track`` is static-image mode (nothing from the previous frame) and is how a
new GIF starts, so nothing carries over from one GIF to the next; kavan.keypoints.backends.tracking decides per
frame.

The models ship inside the mediapipe wheel; nothing is downloaded.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from kavan.keypoints.mapping import N_MESH, N_SURFACE

FACE_AXES = (234, 454, 10, 152)
"""Mesh vertices at the subject's right and left side (eye level), the top of the forehead and the chin."""
_GRAPH = "modules/face_landmark/face_landmark_front_cpu.binarypb"
_DETECTORS = {"short-range": "FaceDetectionShortRangeCpu", "full-range": "FaceDetectionFullRangeCpu"}
_SCORE_PARAM = "{}__{}__facedetection__TensorsToDetectionsCalculator.min_score_thresh"
_PRESENCE_PARAM = "facelandmarkcpu__ThresholdingCalculator.threshold"
DETECT_STREAM = "detect"
TRACK_STREAM = "track"
# A serialised NormalizedLandmarkList whose landmarks carry exactly x, y, z: per landmark the field tag (0x0a),
# length 15, then three tagged little-endian floats. Reading it with numpy is 40x faster than the Python objects.
_LANDMARK_RECORD = np.dtype([("tag", "u1"), ("len", "u1"), ("tx", "u1"), ("x", "<f4"), ("ty", "u1"),
                             ("y", "<f4"), ("tz", "u1"), ("z", "<f4")])


@dataclass(frozen=True)
class MeshFrame:
    """What the graph found in one frame, in pixels (pixel centres at integer coordinates).

    meshes: (n, 478, 3) x, y and depth z (MediaPipe's relative depth times the frame width; smaller is nearer).
    boxes: (m, 4) x0, y0, x1, y1 of the face detections; scores: (m,) their scores. n <= m: a detection whose
    landmark pass finds no face (presence below threshold) has no mesh.
    mesh_detection: (n,) index of the detection each mesh grew from (-1 if none overlaps it).
    tracked: whether the meshes were followed from the previous frame instead of detected (the boxes and scores
    are then those carried along, kavan.keypoints.backends.tracking).
    """

    meshes: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray
    mesh_detection: np.ndarray
    tracked: bool = False


@lru_cache(maxsize=2)
def _graph_config(detector: str) -> bytes:
    """The face mesh graph with the given face detector sub-graph and per-frame ``detect`` and ``track`` gates,
    serialised (parsed once per process).

    MediaPipe's graph has two gates: one passes the previous frame's face regions when the side packet
    ``use_prev_landmarks`` allows it, the other passes the image to the detector unless enough faces were tracked
    (``prev_has_enough_faces``, from a NormalizedRectVectorHasMinSizeCalculator). Both are rewired to the boolean
    input streams ``track`` and ``detect``, and the face-count node, then unused, is dropped.
    """
    import mediapipe
    from mediapipe.framework import calculator_pb2

    config = calculator_pb2.CalculatorGraphConfig()
    with open(os.path.join(os.path.dirname(mediapipe.__file__), _GRAPH), "rb") as fh:
        config.ParseFromString(fh.read())

    def only(what: str, nodes: list[Any]) -> Any:
        if len(nodes) != 1:
            raise RuntimeError(f"{_GRAPH}: expected one {what} node, found {len(nodes)} (mediapipe version changed?)")
        return nodes[0]

    only(_DETECTORS["short-range"], [n for n in config.node if n.calculator == _DETECTORS["short-range"]]
         ).calculator = _DETECTORS[detector]
    track_gate = only("tracking gate", [n for n in config.node if n.calculator == "GateCalculator"
                                        and list(n.input_side_packet) == ["ALLOW:use_prev_landmarks"]])
    detect_gate = only("detector gate", [n for n in config.node if n.calculator == "GateCalculator"
                                         and "DISALLOW:prev_has_enough_faces" in n.input_stream])
    count = only("face count", [n for n in config.node
                                if n.calculator == "NormalizedRectVectorHasMinSizeCalculator"])
    del track_gate.input_side_packet[:]
    track_gate.input_stream.append(f"ALLOW:{TRACK_STREAM}")
    track_gate.ClearField("options")
    detect_gate.input_stream.remove("DISALLOW:prev_has_enough_faces")
    detect_gate.input_stream.append(f"ALLOW:{DETECT_STREAM}")
    detect_gate.ClearField("options")
    config.node.remove(count)
    config.input_stream.extend([f"DETECT:{DETECT_STREAM}", f"TRACK:{TRACK_STREAM}"])
    config.input_side_packet.remove("USE_PREV_LANDMARKS:use_prev_landmarks")
    return config.SerializeToString()


@contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null for a moment.

    MediaPipe's C++ code logs set-up chatter straight to descriptor 2, once per process: from its graph threads
    on the first frame (XNNPACK delegate, feedback tensors) and on the first face (NORM_RECT projection). Between
    progress bars that is noise; the estimator silences those two moments only.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _landmarks(landmark_list, width: int, height: int) -> np.ndarray:
    """(478, 3) pixel x, y, z of one NormalizedLandmarkList."""
    blob = landmark_list.SerializeToString()
    if len(blob) == N_MESH * _LANDMARK_RECORD.itemsize:
        rec = np.frombuffer(blob, _LANDMARK_RECORD)
        if (rec["tag"] == 0x0A).all() and (rec["len"] == 15).all() and (rec["tx"] == 0x0D).all() \
                and (rec["ty"] == 0x15).all() and (rec["tz"] == 0x1D).all():
            xyz = np.stack([rec["x"], rec["y"], rec["z"]], axis=1).astype(np.float64)
        else:
            xyz = None
    else:
        xyz = None
    if xyz is None:  # any other encoding (e.g. visibility set): the slow, general way
        xyz = np.array([(p.x, p.y, p.z) for p in landmark_list.landmark], np.float64)
    if xyz.shape != (N_MESH, 3):
        raise RuntimeError(f"face mesh returned {xyz.shape[0]} landmarks, expected {N_MESH}")
    return xyz * np.array([width, height, width]) - np.array([0.5, 0.5, 0.0])


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) intersection over union of x0, y0, x1, y1 boxes."""
    lo = np.maximum(a[:, None, :2], b[None, :, :2])
    hi = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(hi - lo, 0.0, None), axis=2)
    area = lambda r: np.prod(np.clip(r[:, 2:] - r[:, :2], 0.0, None), axis=1)  # noqa: E731
    return inter / np.maximum(area(a)[:, None] + area(b)[None, :] - inter, 1e-9)


def extents(meshes: np.ndarray) -> np.ndarray:
    """(n, 4) x0, y0, x1, y1 bounding boxes of the 468 surface vertices of (n, 478, 3) meshes."""
    surface = meshes[:, :N_SURFACE, :2]
    return np.concatenate([surface.min(axis=1), surface.max(axis=1)], axis=1).reshape(-1, 4)


def match_meshes(meshes: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """(n,) detection index for each mesh: greedy by overlap of the mesh's extent with the boxes, -1 if none."""
    return overlap_matches(extents(meshes), boxes)


def overlap_matches(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a),) index of the box of ``b`` matched to each box of ``a``: greedy by intersection over union, best
    pair first, each box used once, -1 where none overlaps by more than 0.1."""
    out = np.full(len(a), -1, np.int64)
    if not len(a) or not len(b):
        return out
    overlap = _iou(a, b)
    for _ in range(min(len(a), len(b))):
        i, k = np.unravel_index(np.argmax(overlap), overlap.shape)
        if overlap[i, k] <= 0.1:
            break
        out[i] = k
        overlap[i, :] = -1.0
        overlap[:, k] = -1.0
    return out


class FaceMesh:
    """One MediaPipe graph, reused frame after frame (not thread-safe; one per worker process).

    ``mesh(rgb)`` detects afresh (static-image mode); ``mesh(rgb, detect=False, track=True)`` follows the faces
    of the frame this graph saw last into ``rgb`` without running the detector. ``calls`` and ``detector_runs``
    count the frames processed and those the detector ran on.
    """

    def __init__(self, max_faces: int, min_detection_score: float, min_presence: float,
                 detector: str = "full-range"):
        from mediapipe.framework import calculator_pb2
        from mediapipe.python.solution_base import PacketDataType, SolutionBase

        config = calculator_pb2.CalculatorGraphConfig()
        config.ParseFromString(_graph_config(detector))
        subgraph = _DETECTORS[detector].lower()
        score_param = _SCORE_PARAM.format(subgraph, subgraph.removesuffix("cpu"))
        with _native_stderr_silenced():
            self._solution = SolutionBase(
                graph_config=config,
                side_inputs={"num_faces": max_faces, "with_attention": True},
                calculator_params={score_param: min_detection_score, _PRESENCE_PARAM: min_presence},
                outputs=["multi_face_landmarks", "face_detections"],
                stream_type_hints={DETECT_STREAM: PacketDataType.BOOL, TRACK_STREAM: PacketDataType.BOOL})
            # The calculators open and load their models on the first frame: do it now, quietly.
            self._process(np.zeros((64, 64, 3), np.uint8), detect=True, track=False)
        self._face_seen = False
        self.calls = self.detector_runs = 0

    def _process(self, rgb: np.ndarray, detect: bool, track: bool):
        return self._solution.process(input_data={"image": np.ascontiguousarray(rgb), DETECT_STREAM: detect,
                                                  TRACK_STREAM: track})

    def __call__(self, rgb: np.ndarray, *, detect: bool = True, track: bool = False) -> MeshFrame:
        """Find the faces of one (H, W, 3) uint8 RGB frame: detect them (``detect``), follow those of the
        previous frame (``track``), or both (the graph then merges the two, one region where they overlap)."""
        if not (detect or track):
            raise ValueError("a frame must be detected, tracked or both")
        height, width = rgb.shape[:2]
        self.calls += 1
        self.detector_runs += detect
        if self._face_seen:
            result = self._process(rgb, detect, track)
        else:
            with _native_stderr_silenced():
                result = self._process(rgb, detect, track)
            self._face_seen = bool(result.multi_face_landmarks)
        meshes = np.array([_landmarks(lm, width, height) for lm in (result.multi_face_landmarks or [])],
                          np.float64).reshape(-1, N_MESH, 3)
        detections = result.face_detections or []
        boxes = np.zeros((len(detections), 4), np.float64)
        scores = np.zeros(len(detections), np.float64)
        for k, det in enumerate(detections):
            bb = det.location_data.relative_bounding_box
            boxes[k] = (bb.xmin * width - 0.5, bb.ymin * height - 0.5,
                        (bb.xmin + bb.width) * width - 0.5, (bb.ymin + bb.height) * height - 0.5)
            scores[k] = det.score[0]
        return MeshFrame(meshes=meshes, boxes=boxes, scores=scores, mesh_detection=match_meshes(meshes, boxes))

    def close(self) -> None:
        self._solution.close()


@lru_cache(maxsize=1)
def neighbourhoods(centres: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """For each centre vertex, itself and its mesh neighbours up to two edges away: (V, K) indices, padded
    with the centre, and (V, K) weights, 0 on the padding.

    Built from MediaPipe's triangulation (FACEMESH_TESSELATION); used for the surface normals of
    kavan.keypoints.confidence.surface_facing.
    """
    from mediapipe.python.solutions.face_mesh_connections import FACEMESH_TESSELATION

    adjacent: dict[int, set[int]] = {}
    for a, b in FACEMESH_TESSELATION:
        adjacent.setdefault(a, set()).add(b)
        adjacent.setdefault(b, set()).add(a)
    rings = []
    for c in centres:
        ring = {c} | adjacent[c]
        for v in list(ring):
            ring |= adjacent[v]
        rings.append(sorted(ring))
    k = max(len(r) for r in rings)
    index = np.array([r + [c] * (k - len(r)) for c, r in zip(centres, rings)], np.int64)
    weight = np.array([[1.0] * len(r) + [0.0] * (k - len(r)) for r in rings], np.float64)
    return index, weight
