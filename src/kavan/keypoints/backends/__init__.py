"""Keypoint backends: one pass runs MediaPipe's face mesh (with its detections) and dlib's 68-point predictor;
the backend decides whose points are kept, the other one checks them (the agreement factor of the confidence).

- ``mediapipe-face-mesh`` (default): one face per mesh; points from the mesh (kavan.keypoints.mapping), pupils
  included; dlib runs in the mesh's detection box.
- ``mediapipe-dlib68``: one face per detection; points from dlib, pupils at confidence 0; faces without a mesh
  get ``unverified_agreement`` and full visibility.

Over the frames of a GIF (``Estimator.sequence``) the detector runs every ``detect_every`` frames and the meshes
follow the faces in between (kavan.keypoints.backends.tracking); a frame on its own (``Estimator.faces``) is
always detected afresh.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

import numpy as np

from kavan.keypoints import confidence
from kavan.keypoints.backends.mediapipe_mesh import FACE_AXES, MeshFrame, extents
from kavan.keypoints.backends.tracking import FrameTracker, TrackingStats
from kavan.keypoints.config import KeypointConfig
from kavan.keypoints.landmarks import LEFT_EYE, LEFT_PUPIL, N_IBUG, N_POINTS, RIGHT_EYE, RIGHT_PUPIL
from kavan.keypoints.mapping import MESH_TO_70, N_SURFACE, mesh_to_layout

SCHEME = "kavan-keypoints/1"
"""Version of the map and the confidence formula; part of every cache's backend version."""


def _facing_layout() -> tuple[tuple[int, ...], np.ndarray]:
    """Surface vertices whose normals are needed, and the (70, V) matrix averaging them per layout point.

    A point's facing is the mean over its mesh vertices; a pupil's (the iris is not part of the surface mesh)
    is the mean over its eye's six points.
    """
    vertices = tuple(sorted({v for vs in MESH_TO_70 for v in vs if v < N_SURFACE}))
    column = {v: i for i, v in enumerate(vertices)}
    m = np.zeros((N_POINTS, len(vertices)))
    for j, vs in enumerate(MESH_TO_70):
        if j in (RIGHT_PUPIL, LEFT_PUPIL):
            continue
        for v in vs:
            m[j, column[v]] = 1.0 / len(vs)
    m[RIGHT_PUPIL] = m[list(RIGHT_EYE)].mean(axis=0)
    m[LEFT_PUPIL] = m[list(LEFT_EYE)].mean(axis=0)
    return vertices, m


_FACING_VERTICES, _FACING_MATRIX = _facing_layout()


@dataclass(frozen=True)
class Faces:
    """The faces of one frame with every factor of their confidence (kavan.keypoints.confidence), largest first.

    points: (n, 70, 2) pixel x, y; boxes: (n, 4) detection boxes x0, y0, x1, y1; score: (n,) detection scores
    (on a tracked frame, those of the detection the face was tracked from, its box moved with the face);
    visibility, in_frame, agreement: (n, 70) factors; confidence: (n, 70) their product with the score (pupils
    0 for the dlib backend); tracked: whether the faces were followed from the previous frame (no detector run).
    """

    points: np.ndarray
    boxes: np.ndarray
    score: np.ndarray
    visibility: np.ndarray
    in_frame: np.ndarray
    agreement: np.ndarray
    confidence: np.ndarray
    tracked: bool = False

    def __len__(self) -> int:
        return len(self.points)

    def array(self) -> np.ndarray:
        """(n, 70, 3) float32 x, y, confidence: what the keypoint cache stores."""
        return np.concatenate([self.points, self.confidence[..., None]], axis=-1).astype(np.float32)


def backend_version(config: KeypointConfig) -> str:
    """What a cache records as its backend version: this scheme, the library versions, the settings."""
    from importlib.metadata import version

    return (f"{SCHEME}; mediapipe=={version('mediapipe')}; dlib=={version('dlib-bin')}; "
            f"{config.describe()}")


class Estimator:
    """Estimates faces: ``estimator(rgb)`` -> (faces, 70, 3) float32 for one frame on its own (the detector
    always runs); ``estimator.sequence(frames)`` -> one Faces per frame of a GIF, following faces from frame to
    frame between detections every ``config.detect_every`` frames (kavan.keypoints.backends.tracking).

    x, y in pixels (pixel centres at integers), then the confidence; faces largest first (by detection box area).
    ``tracking`` adds up what the trackers of all sequences did. One estimator per process: the MediaPipe graph
    is not shareable.
    """

    def __init__(self, config: KeypointConfig = KeypointConfig()):
        from kavan.keypoints.backends.dlib68 import Dlib68
        from kavan.keypoints.backends.mediapipe_mesh import FaceMesh, neighbourhoods

        self.config = config
        self.name = config.backend
        self.version = backend_version(config)
        self._mesh = FaceMesh(config.max_faces, config.min_detection_score, config.min_presence, config.detector)
        self._dlib = Dlib68()
        self._neighbourhoods = neighbourhoods(_FACING_VERTICES)
        self.tracking = TrackingStats()

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        return self.faces(rgb).array()

    def faces(self, rgb: np.ndarray) -> Faces:
        """Every face of one (H, W, 3) uint8 RGB frame on its own, with the factors of each point's confidence."""
        _check_frame(rgb)
        return self._faces_of(rgb, self._mesh(rgb))

    def sequence(self, frames: Iterable[np.ndarray]) -> Iterator[Faces]:
        """The faces of consecutive frames of one GIF or video, in order (tracked between detections). A tracked
        face whose 68 points agree with dlib's less than ``config.redetect_agreement`` on average has drifted off
        the face or is doubtful: its frame is detected afresh."""
        tracker = FrameTracker(self._mesh, self.config.detect_every, self.config.redetect_motion,
                               unmeshed_faces=self.name == "mediapipe-dlib68")
        try:
            for rgb in frames:
                _check_frame(rgb)
                faces = self._faces_of(rgb, tracker(rgb))
                if faces.tracked and (faces.agreement[:, :N_IBUG].mean(axis=1)
                                      < self.config.redetect_agreement).any():
                    faces = self._faces_of(rgb, tracker.redetect(rgb))
                yield faces
        finally:
            self.tracking.add(tracker.stats)

    def _faces_of(self, rgb: np.ndarray, found: MeshFrame) -> Faces:
        faces = self._mesh_faces(rgb, found) if self.name == "mediapipe-face-mesh" else self._dlib_faces(rgb, found)
        return replace(faces, tracked=found.tracked)

    def facing(self, meshes: np.ndarray) -> np.ndarray:
        """(n, 70) facing cosine of each layout point of (n, 478, 3) meshes."""
        index, weight = self._neighbourhoods
        per_vertex = confidence.surface_facing(meshes, np.array(_FACING_VERTICES), index, weight, FACE_AXES)
        return per_vertex @ _FACING_MATRIX.T

    def _mesh_faces(self, rgb: np.ndarray, found: MeshFrame) -> Faces:
        cfg = self.config
        n = len(found.meshes)
        # The graph grows every mesh from a detection; should none overlap it, the mesh's own extent and the
        # threshold score stand in.
        boxes = extents(found.meshes)
        scores = np.full(n, cfg.min_detection_score)
        matched = found.mesh_detection >= 0
        boxes[matched] = found.boxes[found.mesh_detection[matched]]
        scores[matched] = found.scores[found.mesh_detection[matched]]
        size = confidence.face_size(boxes)
        points = mesh_to_layout(found.meshes[:, :, :2])
        return _faces(points, boxes, scores,
                      visibility=confidence.visibility(self.facing(found.meshes), cfg.facing_visible),
                      in_frame=confidence.in_frame(points, rgb.shape[1], rgb.shape[0], size,
                                                   cfg.out_of_frame_margin),
                      agreement=confidence.agreement(points, self._dlib(rgb, boxes), size, cfg.agreement_scale))

    def _dlib_faces(self, rgb: np.ndarray, found: MeshFrame) -> Faces:
        cfg = self.config
        m = len(found.boxes)
        size = confidence.face_size(found.boxes)
        points = np.zeros((m, N_POINTS, 2))
        points[:, :N_IBUG] = self._dlib(rgb, found.boxes)
        visible = np.ones((m, N_POINTS))
        agree = np.full((m, N_POINTS), cfg.unverified_agreement)
        has_detection = found.mesh_detection >= 0
        if has_detection.any():
            rows = found.mesh_detection[has_detection]
            meshes = found.meshes[has_detection]
            visible[rows] = confidence.visibility(self.facing(meshes), cfg.facing_visible)
            agree[rows] = confidence.agreement(points[rows], mesh_to_layout(meshes[:, :, :2]), size[rows],
                                               cfg.agreement_scale)
        in_frame = confidence.in_frame(points, rgb.shape[1], rgb.shape[0], size, cfg.out_of_frame_margin)
        in_frame[:, N_IBUG:] = 0.0  # no pupils from dlib
        return _faces(points, found.boxes, found.scores, visibility=visible, in_frame=in_frame, agreement=agree)

    def close(self) -> None:
        self._mesh.close()


def _check_frame(rgb: np.ndarray) -> None:
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 RGB frame, got {rgb.shape} {rgb.dtype}")


def _faces(points: np.ndarray, boxes: np.ndarray, scores: np.ndarray, **factors: np.ndarray) -> Faces:
    """Faces with their confidence, largest detection box first."""
    n = len(points)
    if n == 0:
        empty = np.zeros((0, N_POINTS))
        return Faces(np.zeros((0, N_POINTS, 2)), np.zeros((0, 4)), np.zeros(0), empty, empty, empty, empty)
    conf = confidence.combine(scores, *factors.values())
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    order = np.argsort(-area, kind="stable")
    return Faces(points=points[order], boxes=boxes[order], score=scores[order], confidence=conf[order],
                 **{k: v[order] for k, v in factors.items()})
