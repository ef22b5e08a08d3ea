"""The default keypoint backend on the shared real GIFs: faces found where a person sees them, none on the
cartoon, hand-labelled points, pupils in the right eyes, a left/right symmetric map, and confidences that drop
on the hidden side of a turned head."""

from __future__ import annotations

import numpy as np
import pytest

from kavan.keypoints.landmarks import LEFT_EYE, LEFT_PUPIL, MIRROR, RIGHT_EYE, RIGHT_PUPIL
from kavan.media.decode import read_frames

# Faces per frame, counted by eye on contact sheets of every frame. Frames listed are the ones checked; the
# film clips with one person show that one face in every frame (gob-magic's half hidden by a knife and, in most
# frames, hands holding cards; dis-good's small and turned; a-bold-claim's dark).
ONE_FACE_EVERY_FRAME = {"cool.gif": 53, "what-is-this.gif": 30, "oopsy-daisy.gif": 18, "help-me-help-you.gif": 41,
                        "a-bold-claim.gif": 48, "gob-magic.gif": 18, "dis-good.gif": 16}

# Hand-labelled on 6-12x enlargements of the frames (pixel centres at integer coordinates): eye corners, nose
# tip, mouth corners. cool.gif's eyes are behind glasses frames at this resolution, so only nose and mouth.
HAND_LABELS = {
    ("what-is-this.gif", 15): {36: (167.5, 166.0), 39: (201.0, 166.0), 42: (253.0, 169.0), 45: (292.0, 168.0),
                               30: (222.0, 212.0), 48: (189.0, 258.0), 54: (266.0, 262.5)},
    ("oopsy-daisy.gif", 5): {36: (271.7, 118.9), 39: (296.7, 119.4), 42: (318.9, 121.7), 45: (348.3, 123.9),
                             30: (299.0, 147.0), 48: (281.1, 171.7), 54: (326.1, 178.9)},
    ("cool.gif", 10): {30: (150.5, 104.5), 48: (137.9, 126.75), 54: (166.7, 127.2)},
}
TOLERANCE = 0.05
"""Largest distance from a hand label, in face sizes (square root of the detection box area): 5 % is 7 px on
oopsy-daisy's 136-px face; the labels themselves are uncertain by a few pixels (the canthus in mascara, the nose
tip on a turned face)."""


def _faces(estimator, gif_dir, name, index):
    return estimator.faces(read_frames(gif_dir / name, [index])[0])


@pytest.mark.parametrize("name", sorted(ONE_FACE_EVERY_FRAME))
def test_one_person_clips_give_one_face_per_frame(estimator, real_gifs, name):
    n = ONE_FACE_EVERY_FRAME[name]
    frames = list(range(0, n, 3))
    counts = [len(estimator.faces(rgb)) for rgb in read_frames(real_gifs / name, frames)]
    # tolerance: one frame in ten may miss the face; none may show two
    assert max(counts) == 1
    assert sum(counts) >= 0.9 * len(frames), dict(zip(frames, counts))


def test_group_scene_keeps_every_clear_face(estimator, real_gifs):
    # like-a-boss.gif: frames 0-5 show three clear faces (woman, centre man, bearded man) and one half-hidden
    # man behind them; frames 12-17 the two men in front.
    crowd = [len(estimator.faces(rgb)) for rgb in read_frames(real_gifs / "like-a-boss.gif", range(6))]
    pair = [len(estimator.faces(rgb)) for rgb in read_frames(real_gifs / "like-a-boss.gif", range(12, 18))]
    assert all(3 <= n <= 4 for n in crowd), crowd
    assert pair == [2] * 6


def test_folgers_long_clip_first_shot_has_one_face(estimator, real_gifs):
    # frames 0-37: one man, frontal to three-quarter view, before he turns to profile
    counts = [len(estimator.faces(rgb)) for rgb in read_frames(real_gifs / "folgers-decaffeinated.gif",
                                                               range(0, 38, 4))]
    assert counts == [1] * len(counts)


def test_no_face_invented_on_the_cartoon(estimator, real_gifs):
    for rgb in read_frames(real_gifs / "rainbow-vomit.gif", [0, 1]):
        assert len(estimator.faces(rgb)) == 0


@pytest.mark.parametrize("key", sorted(HAND_LABELS))
def test_hand_labelled_points(estimator, real_gifs, key):
    faces = _faces(estimator, real_gifs, *key)
    assert len(faces) == 1
    size = float(np.sqrt(np.prod(faces.boxes[0, 2:] - faces.boxes[0, :2])))
    errors = {j: float(np.hypot(*(faces.points[0, j] - xy))) / size for j, xy in HAND_LABELS[key].items()}
    assert max(errors.values()) <= TOLERANCE, {j: round(e, 3) for j, e in errors.items()}


def test_pupils_sit_inside_their_own_eye(estimator, real_gifs):
    for name, index in (("what-is-this.gif", 15), ("oopsy-daisy.gif", 5), ("help-me-help-you.gif", 20)):
        points = _faces(estimator, real_gifs, name, index).points[0]
        for pupil, eye in ((RIGHT_PUPIL, RIGHT_EYE), (LEFT_PUPIL, LEFT_EYE)):
            contour = points[list(eye)]
            x, y = points[pupil]
            assert contour[:, 0].min() < x < contour[:, 0].max(), (name, pupil)
            assert contour[:, 1].min() - 2 < y < contour[:, 1].max() + 2, (name, pupil)
        # the subject's right eye is on the image's left in these frontal frames
        assert points[RIGHT_PUPIL, 0] < points[LEFT_PUPIL, 0]


def test_map_is_left_right_symmetric_under_a_flip(estimator, real_gifs):
    # Estimate on the frame and on its mirror image; flip the latter back and swap left/right with MIRROR. An
    # asymmetric map (say 49 from one lip vertex and 53 from the neighbour of its mirror vertex) leaves an offset
    # of about 0.04 face sizes at those points in every frame; the map as it is stays under 0.02 but on the jaw.
    distances = []
    for name, index in (("what-is-this.gif", 15), ("oopsy-daisy.gif", 5), ("cool.gif", 10),
                        ("help-me-help-you.gif", 20)):
        rgb = read_frames(real_gifs / name, [index])[0]
        faces = estimator.faces(rgb)
        mirrored = estimator.faces(np.ascontiguousarray(rgb[:, ::-1]))
        back = mirrored.points[0].copy()
        back[:, 0] = rgb.shape[1] - 1 - back[:, 0]
        back = back[MIRROR]
        size = float(np.sqrt(np.prod(faces.boxes[0, 2:] - faces.boxes[0, :2])))
        distances.append(np.linalg.norm(faces.points[0] - back, axis=1) / size)
    per_point = np.median(distances, axis=0)
    assert np.median(per_point) < 0.015
    assert per_point[17:].max() < 0.025, np.round(per_point, 3)     # every point but the jaw outline


def test_confidence_drops_on_the_far_side_of_a_profile(estimator, real_gifs):
    # folgers frame 40: the man in profile looking to the image's left, his left side (iBUG "left", points
    # 9-16 of the jaw, 22-26 brow, 42-47 eye) towards the camera, his right side hidden
    faces = _faces(estimator, real_gifs, "folgers-decaffeinated.gif", 40)
    assert len(faces) == 1
    conf = faces.confidence[0]
    visible = faces.visibility[0]
    assert visible[[1, 2, 3]].max() < 0.3 and visible[[13, 14, 15]].min() > 0.9
    assert conf[0:5].mean() < 0.5 * conf[12:17].mean()       # far jaw vs near jaw
    assert conf[36:42].mean() < conf[42:48].mean()           # far eye vs near eye


def test_frontal_faces_get_high_confidence_in_the_middle_of_the_face(estimator, real_gifs):
    faces = _faces(estimator, real_gifs, "what-is-this.gif", 15)
    conf = faces.confidence[0]
    assert 0.7 < faces.score[0] <= 1.0
    assert np.median(conf[27:48]) > 0.6                     # nose and eyes
    assert ((conf >= 0) & (conf <= 1)).all()


def test_dlib_backend_gives_68_points_and_no_pupils(dlib_estimator, real_gifs):
    rgb = read_frames(real_gifs / "what-is-this.gif", [15])[0]
    faces = dlib_estimator.faces(rgb)
    assert len(faces) == 1
    assert (faces.confidence[0, 68:] == 0).all() and (faces.confidence[0, :68] > 0).all()
    size = float(np.sqrt(np.prod(faces.boxes[0, 2:] - faces.boxes[0, :2])))
    for j, xy in HAND_LABELS[("what-is-this.gif", 15)].items():
        assert np.hypot(*(faces.points[0, j] - xy)) / size <= TOLERANCE, j


def test_points_cut_off_by_the_frame_edge_lose_confidence(estimator, real_gifs):
    # what-is-this frame 15 cut just left of the nose: the face's image-left half (jaw 0-7, right brow and eye)
    # lies outside the new frame, and the mesh extrapolates it
    rgb = read_frames(real_gifs / "what-is-this.gif", [15])[0]
    cut = np.ascontiguousarray(rgb[:, 205:])
    faces = estimator.faces(cut)
    assert len(faces) == 1
    outside = faces.points[0, :, 0] < -0.5
    assert outside[[0, 1, 2, 17, 36]].all() and not outside[[16, 26, 45, 54]].any()
    assert (faces.in_frame[0, outside] < 1).all() and (faces.in_frame[0, ~outside] == 1).all()
    assert faces.confidence[0, outside].mean() < 0.5 * faces.confidence[0, ~outside].mean()
