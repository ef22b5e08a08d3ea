"""Settings of offline keypoint estimation (`kavan keypoints`): a frozen dataclass, like every config here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from kavan.core.checks import at_least, positive, within
from kavan.core.errors import KavanError

Backend = Literal["mediapipe-face-mesh", "mediapipe-dlib68"]
BACKENDS: tuple[str, ...] = ("mediapipe-face-mesh", "mediapipe-dlib68")
Detector = Literal["full-range", "short-range"]
DETECTORS: tuple[str, ...] = ("full-range", "short-range")


@dataclass(frozen=True)
class KeypointConfig:
    """How faces are found and how each point's confidence is made (formula: docs/keypoints.md).

    backend: ``mediapipe-face-mesh`` (default: MediaPipe 0.10.21 face mesh with refined landmarks, mapped to the
        70-point layout, pupils included) or ``mediapipe-dlib68`` (the same MediaPipe face detections, then
        dlib's 68-point shape predictor; pupils confidence 0). Both run both estimators: the other one checks
        the points (agreement factor).
    detector: MediaPipe's ``full-range`` face detector (default: finds small and background faces too) or its
        ``short-range`` one (made for faces filling the frame; about 3.5 ms a frame faster, misses faces in group
        scenes: 0-1 instead of 3-4 in like-a-boss.gif frames 0-5).
    detect_every: the face detector runs on a GIF's first frame and then every ``detect_every`` frames (and
        again on any frame where tracking loses a face); the frames in between follow the faces of the frame
        before (kavan.keypoints.backends.tracking). 1 detects on every frame (static-image mode, the slowest).
    redetect_motion: a tracked face that moves more than this many face sizes (square root of its mesh extent's
        area) from one frame to the next is detected afresh on that frame, and the next frame is detected too while
        faces move that fast: tracking grows a mesh from the previous frame's landmarks, which lag behind a fast
        face (on the real GIFs, tracking without this rule put such meshes up to 0.24 face sizes from the static
        ones).
    redetect_agreement: a tracked face whose points agree with dlib's less than this on average (the mean of the
        agreement factor over the 68 iBUG points) is detected afresh on that frame: a mesh that drifted off the face
        while tracked disagrees with dlib (folgers-decaffeinated.gif frame 99: 0.10, where the static mesh has
        0.70). At 0.3 it fires on 4 of the 448 frames of the real GIFs.
    max_faces: faces kept per frame at most (the detector's best-scoring ones). Real reaction GIFs show up to
        4 clear faces; crowd scenes more. Each face costs one landmark pass (about 3 ms).
    min_detection_score: MediaPipe full-range face detection threshold (its own default, 0.5). On the shared real
        GIFs 0.5 finds no face on the cartoon and every face a person sees on the film clips but the tiny or
        blurred ones.
    min_presence: the face mesh's face-presence threshold (its default); below it the mesh is dropped.
    agreement_scale: tau of the agreement factor exp(-d^2 / (2 tau^2)), d = distance between the two
        estimators' points over the face size (square root of the detection box area).
    facing_visible: a point whose surface faces the camera at least this much (cosine of the angle between the
        mesh normal and the view direction) counts as fully visible; at 0 (edge-on) and below it has
        visibility 0, linearly in between.
    out_of_frame_margin: a point outside the frame loses confidence linearly over this fraction of the face
        size, reaching 0 there.
    unverified_agreement: agreement factor of a dlib face for which the mesh found nothing to compare with.
    """

    backend: Backend = "mediapipe-face-mesh"
    detector: Detector = "full-range"
    detect_every: int = 8
    redetect_motion: float = 0.1
    redetect_agreement: float = 0.3
    max_faces: int = 10
    min_detection_score: float = 0.5
    min_presence: float = 0.5
    agreement_scale: float = 0.05
    facing_visible: float = 0.25
    out_of_frame_margin: float = 0.1
    unverified_agreement: float = 0.5

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise KavanError(f"keypoint backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if self.detector not in DETECTORS:
            raise KavanError(f"face detector must be one of {', '.join(DETECTORS)}, got {self.detector!r}")
        at_least(self, ("detect_every", "max_faces"), 1)
        within(self, ("min_detection_score", "min_presence", "redetect_agreement", "unverified_agreement"))
        positive(self, ("redetect_motion", "agreement_scale", "facing_visible", "out_of_frame_margin"))

    def describe(self) -> str:
        """The settings as one stable string, stored in each cache's backend version so a rerun with other
        settings recomputes instead of skipping."""
        return (f"detector={self.detector} detect_every={self.detect_every} "
                f"redetect_motion={self.redetect_motion:g} redetect_agreement={self.redetect_agreement:g} "
                f"max_faces={self.max_faces} "
                f"min_detection_score={self.min_detection_score:g} "
                f"min_presence={self.min_presence:g} agreement_scale={self.agreement_scale:g} "
                f"facing_visible={self.facing_visible:g} out_of_frame_margin={self.out_of_frame_margin:g} "
                f"unverified_agreement={self.unverified_agreement:g}")
