import math

import numpy as np

from kavan.experiments.localisation import (
    CellBox,
    LocalisationScore,
    argmax_cell,
    centre_prior,
    face_boxes,
    pixel_to_cell,
    score_frame,
    score_gif,
)
from kavan.keypoints.cache import KeypointRecord


def face(x0, y0, x1, y1):
    """(70, 3) landmarks spread over the pixel box [x0, x1] × [y0, y1], confidence 1."""
    xs = np.linspace(x0, x1, 70)
    ys = np.linspace(y0, y1, 70)
    return np.stack([xs, ys, np.ones(70)], axis=1).astype(np.float32)


def test_pixel_to_cell_uses_pixel_centres_and_clips():
    # 112 px, 7 cells of 16 px: pixel 15 is the last of cell 0 (its right edge is at 15.5)
    assert pixel_to_cell(15.0, 112, 7) == 0
    assert pixel_to_cell(15.6, 112, 7) == 1
    assert pixel_to_cell(-3.0, 112, 7) == 0
    assert pixel_to_cell(500.0, 112, 7) == 6


def test_face_box_is_grown_by_one_cell_and_clipped():
    # a face over pixels 40..60 (cells 2..3) of a 112 px frame, 7 cells
    boxes = face_boxes(face(40, 40, 60, 60)[None], 112, 112, 7)
    assert boxes == [CellBox(top=1, left=1, bottom=4, right=4)]
    assert face_boxes(face(0, 0, 10, 10)[None], 112, 112, 7) == [CellBox(0, 0, 1, 1)]
    assert face_boxes(np.zeros((1, 70, 3), np.float32), 112, 112, 7) == []


def test_hand_built_attention_hits_and_misses():
    landmarks = face(40, 40, 60, 60)[None]          # grown box: rows/cols 1..4
    attention = np.zeros((7, 7), np.float32)
    attention[4, 1] = 1.0                            # the grown box's corner: a hit
    assert argmax_cell(attention) == (4, 1)
    assert score_frame(attention, landmarks, 112, 112) is True
    attention[4, 1] = 0.0
    attention[5, 2] = 1.0                            # one row below the grown box: a miss
    assert score_frame(attention, landmarks, 112, 112) is False
    assert score_frame(attention, landmarks, 112, 112, grow=2) is True
    # no face in the frame: not scored
    assert score_frame(attention, np.zeros((1, 70, 3), np.float32), 112, 112) is None
    # two faces: a hit on either counts
    two = np.stack([face(40, 40, 60, 60), face(20, 90, 40, 110)])  # second face: rows 4..6, cols 0..3
    assert score_frame(attention, two, 112, 112) is True


def test_score_gif_counts_face_frames_and_withheld_frames():
    frames = 4
    truth = np.zeros((frames, 1, 70, 3), np.float32)
    truth[0, 0] = truth[1, 0] = truth[2, 0] = face(40, 40, 60, 60)   # frame 3 has no face
    estimated = truth.copy()
    estimated[1] = 0.0                                               # frame 1's keypoints withheld
    attention = np.zeros((3, 7, 7), np.float32)
    attention[0, 2, 2] = 1.0                                         # frame 0: hit
    attention[1, 3, 3] = 1.0                                         # frame 1 (withheld): hit
    attention[2, 6, 6] = 1.0                                         # frame 3: no face
    score = score_gif(attention, np.array([0, 1, 3]), KeypointRecord(truth, "t", "1", 112, 112),
                      KeypointRecord(estimated, "e", "1", 112, 112))
    # each face frame puts all its mass in the grown box (rows/cols 1..4: 16 of 49 cells)
    assert score == LocalisationScore(face_frames=2, face_hits=2, withheld_frames=1, withheld_hits=1,
                                      face_mass=2.0, withheld_mass=1.0, face_area=2 * 16 / 49)
    attention[1] = 0.0
    attention[1, 6, 0] = 1.0                                         # withheld frame now misses
    score = score_gif(attention, np.array([0, 1, 3]), KeypointRecord(truth, "t", "1", 112, 112),
                      KeypointRecord(estimated, "e", "1", 112, 112))
    assert (score.hit_rate, score.withheld_hit_rate) == (0.5, 0.0)
    # a GIF without any estimated keypoints: every face frame is withheld
    none = score_gif(attention, np.array([0, 1, 3]), KeypointRecord(truth, "t", "1", 112, 112), None)
    assert none.withheld_frames == 2
    assert math.isnan(LocalisationScore(0, 0, 0, 0).hit_rate)


def test_attention_mass_on_the_face_against_a_uniform_map():
    truth = face(40, 40, 60, 60)[None, None]                         # exact box: rows/cols 2..3, 4 of 49 cells
    record = KeypointRecord(truth, "t", "1", 112, 112)
    attention = np.full((1, 7, 7), 0.5 / 45, np.float32)
    attention[0, 2:4, 2:4] = 0.5 / 4                                 # half the mass on the face's 4 cells
    exact = score_gif(attention, np.array([0]), record, record, grow=0).to_dict()
    assert math.isclose(exact["mass"], 0.5, rel_tol=1e-6)
    assert math.isclose(exact["face_area"], 4 / 49)
    assert math.isnan(exact["withheld_mass"])                        # the keypoints were given: nothing withheld
    uniform = score_gif(np.full((1, 7, 7), 1 / 49, np.float32), np.array([0]), record, None, grow=0).to_dict()
    assert math.isclose(uniform["mass"], uniform["face_area"], rel_tol=1e-6)  # a uniform map's mass is the area
    assert math.isclose(uniform["withheld_mass"], 4 / 49, rel_tol=1e-6)


def test_centre_prior_peaks_at_the_centre_cell():
    prior = centre_prior(np.random.default_rng(0).random((2, 3, 7, 7)).astype(np.float32))
    assert prior.shape == (2, 3, 7, 7) and prior.sum() == 6
    assert argmax_cell(prior[1, 2]) == (3, 3)
