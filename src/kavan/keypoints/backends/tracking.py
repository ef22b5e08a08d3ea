"""Following faces from frame to frame of one GIF: the face detector runs on some frames, the others reuse the
faces found before.

The frames of a GIF are consecutive video frames, so a face rarely moves far between two of them. MediaPipe's face
mesh can grow a frame's meshes from the regions the previous frame's landmarks outline (tracking) instead of from
fresh face detections; the full-range detector is then skipped, which is about half of the graph's time on a
frame with one face. ``FrameTracker`` chooses, frame by frame:

- **detect** (static-image mode: fresh detections, nothing from the previous frame) on the first frame, then
  every ``detect_every`` frames, so that a face entering the picture is found within ``detect_every`` frames and
  a tracked mesh cannot drift for longer than that;
- **track** on the frames in between, as long as the previous frame had a face; after a frame without one the
  detector runs on every frame until it finds one (nothing can be tracked, and a frame with no face costs the
  detector only: no landmarks, no dlib);
- **detect again** on the same frame when tracking returns fewer faces than it followed (a face turned away,
  left, or was cut away from; the mesh's presence score dropped below its threshold), when a tracked face moved
  more than ``max_motion`` face sizes since the previous frame (the region tracking grows a mesh from is the
  previous frame's face, which lags behind a fast face), or when the caller finds a tracked face doubtful
  (``redetect``; the Estimator does when dlib contradicts the mesh): the frame's faces then come from the
  detector, as in static-image mode, and the interval restarts. While faces move that fast, the next frame is
  detected straight away.

A tracked face has no detection of its own. It keeps the detection score of the face it was tracked from, and
its detection box moves with it: the box is stored relative to the mesh's extent (the bounding box of its 468
surface vertices) on the frame it was detected on, and placed relative to the mesh's extent on every tracked
frame. So the confidence's score factor, face size and dlib's region stay those of the detection the face grew
from. Faces are matched to the previous frame's by overlap of their mesh extents.

``detect_every=1`` detects on every frame: static-image mode throughout, the results of ``FaceMesh`` alone.
One tracker per GIF; its first frame is always detected without tracking, so nothing leaks from one GIF to the
next even though the MediaPipe graph is shared.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from kavan.keypoints.backends.mediapipe_mesh import MeshFrame, extents, overlap_matches


@dataclass
class TrackingStats:
    """What trackers did: frames seen, frames detected (first frames, interval, nothing to track), frames tracked,
    and frames detected again after tracking lost a face (those ran the graph twice). Detector runs are
    ``detected + redetected``."""

    frames: int = 0
    detected: int = 0
    tracked: int = 0
    redetected: int = 0

    def add(self, other: TrackingStats) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


class FrameTracker:
    """The faces of one GIF's frames, in order: ``tracker(rgb)`` -> MeshFrame (see module doc).

    mesh: a ``FaceMesh`` (or anything called the same way); detect_every: frames from one detection to the next
    (1: every frame); max_motion: face sizes a tracked face may move from one frame to the next before the frame
    is detected again (KeypointConfig.redetect_motion); unmeshed_faces: whether a detection whose landmark pass
    found no face is a face of the output all the same (the dlib backend): it has no mesh to follow, so while the
    last frame had one the detector runs on every frame.
    """

    def __init__(self, mesh, detect_every: int, max_motion: float, unmeshed_faces: bool = False):
        if detect_every < 1:
            raise ValueError(f"detect_every must be >= 1, got {detect_every}")
        self._mesh = mesh
        self.detect_every = detect_every
        self.max_motion = max_motion
        self.unmeshed_faces = unmeshed_faces
        self.stats = TrackingStats()
        self._since_detection = 0
        self._previous: MeshFrame | None = None
        self._before: MeshFrame | None = None
        self._fast = False
        self._relative_boxes = np.zeros((0, 4))

    def __call__(self, rgb: np.ndarray) -> MeshFrame:
        self.stats.frames += 1
        previous = self._previous
        unfollowable = self.unmeshed_faces and previous is not None \
            and (previous.mesh_detection >= 0).sum() < len(previous.boxes)
        if previous is None or not len(previous.meshes) or self._since_detection >= self.detect_every \
                or self._fast or unfollowable:
            found = self._detect(rgb)
            self.stats.detected += 1
        else:
            found = self._carry(previous, self._mesh(rgb, detect=False, track=True))
            if found is None or motion(previous, found) > self.max_motion:
                found = self._detect(rgb)
                self.stats.redetected += 1
            else:
                self._since_detection += 1
                self.stats.tracked += 1
        self._settle(previous, found)
        return found

    def redetect(self, rgb: np.ndarray) -> MeshFrame:
        """Detect afresh the frame just given to the tracker, whose tracked faces a later check found doubtful
        (kavan.keypoints.backends.Estimator: a tracked mesh that dlib contradicts); counted as re-detected."""
        found = self._detect(rgb)
        self.stats.tracked -= 1
        self.stats.redetected += 1
        self._settle(self._before, found)
        return found

    def _settle(self, previous: MeshFrame | None, found: MeshFrame) -> None:
        """``found`` is the frame's result: remember it, and whether faces moved fast into it."""
        self._fast = previous is not None and motion(previous, found) > self.max_motion
        self._before, self._previous = previous, found

    def _detect(self, rgb: np.ndarray) -> MeshFrame:
        """Fresh detections; remember each mesh's box relative to its extent (the extent itself where no
        detection overlaps the mesh: the box is then the extent, as kavan.keypoints.backends uses it)."""
        found = self._mesh(rgb, detect=True, track=False)
        self._since_detection = 1
        boxes = extents(found.meshes)
        matched = found.mesh_detection >= 0
        boxes[matched] = found.boxes[found.mesh_detection[matched]]
        self._relative_boxes = _relative(boxes, extents(found.meshes))
        return found

    def _carry(self, previous: MeshFrame, tracked: MeshFrame) -> MeshFrame | None:
        """A tracked frame: each mesh takes the score and the relative box of the previous frame's face it
        overlaps most (one detection per mesh, in mesh order). None when a face was lost: fewer meshes than
        followed, or one that overlaps none of the previous frame's faces."""
        source = overlap_matches(extents(tracked.meshes), extents(previous.meshes))
        if len(source) < len(previous.meshes) or (source < 0).any():
            return None
        n = len(tracked.meshes)
        scores = np.zeros(n)
        relative = np.zeros((n, 4))
        for i, k in enumerate(source):
            detection = previous.mesh_detection[k]
            scores[i] = previous.scores[detection] if detection >= 0 else np.nan
            relative[i] = self._relative_boxes[k]
        self._relative_boxes = relative
        boxes = _absolute(relative, extents(tracked.meshes))
        has_score = ~np.isnan(scores)
        return MeshFrame(meshes=tracked.meshes, boxes=boxes[has_score], scores=scores[has_score],
                         mesh_detection=np.where(has_score, np.cumsum(has_score) - 1, -1), tracked=True)


def motion(previous: MeshFrame, current: MeshFrame) -> float:
    """The largest move of a face from ``previous`` to ``current``: the distance between the centres of its mesh
    extents over the size (square root of the area) of its previous extent; faces matched by overlap, 0 if none."""
    before, after = extents(previous.meshes), extents(current.meshes)
    source = overlap_matches(after, before)
    matched = source >= 0
    if not matched.any():
        return 0.0
    before, after = before[source[matched]], after[matched]
    shift = np.linalg.norm((after[:, :2] + after[:, 2:] - before[:, :2] - before[:, 2:]) / 2, axis=1)
    size = np.sqrt(np.prod(np.maximum(before[:, 2:] - before[:, :2], 1e-9), axis=1))
    return float((shift / size).max())


def _relative(boxes: np.ndarray, extent: np.ndarray) -> np.ndarray:
    """(n, 4) boxes in the frame of (n, 4) extents: (x - x0) / width, (y - y0) / height."""
    origin = np.concatenate([extent[:, :2], extent[:, :2]], axis=1)
    scale = np.maximum(np.concatenate([extent[:, 2:] - extent[:, :2]] * 2, axis=1), 1e-9)
    return (boxes - origin) / scale


def _absolute(relative: np.ndarray, extent: np.ndarray) -> np.ndarray:
    """Inverse of ``_relative``."""
    origin = np.concatenate([extent[:, :2], extent[:, :2]], axis=1)
    scale = np.concatenate([extent[:, 2:] - extent[:, :2]] * 2, axis=1)
    return origin + relative * scale
