"""SynthGIF's knobs, each checked on generated GIFs (kavan.synth.make_gif; nothing written to disk)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from kavan.core.emotions import EMOTIONS
from kavan.synth import SynthConfig, make_gif
from kavan.synth.trajectories import ORDER_PAIRS, REVERSED_PAIRS, VALENCE_SIGN, frame_times, valence

# Small, fast GIFs: the knobs under test do not depend on canvas size or clutter.
TINY = SynthConfig(width=64, height=64, n_frames=8, clutter=2, decoys=0, supersample=1)
ONE_FACE = dataclasses.replace(TINY, p_no_face=0.0, p_two_faces=0.0)


def _gifs(cfg: SynthConfig, n: int, seed: int = 0) -> list:
    return [make_gif(cfg, seed, i) for i in range(n)]


def test_same_seed_and_index_give_the_same_gif_and_others_differ():
    a, b = make_gif(TINY, 5, 3), make_gif(TINY, 5, 3)
    np.testing.assert_array_equal(a.frames, b.frames)
    np.testing.assert_array_equal(a.estimate, b.estimate)
    assert a.meta == b.meta
    assert not np.array_equal(make_gif(TINY, 6, 3).frames, a.frames)
    assert not np.array_equal(make_gif(TINY, 5, 4).frames, a.frames)


def test_frames_have_the_configured_count_and_size():
    cfg = dataclasses.replace(TINY, width=48, height=40, n_frames=5)
    sample = make_gif(cfg, 0, 0)
    assert sample.frames.shape == (5, 40, 48, 3) and sample.frames.dtype == np.uint8
    assert sample.truth.shape[0] == sample.estimate.shape[0] == 5


def test_no_face_and_two_face_shares_follow_the_config():
    cfg = dataclasses.replace(TINY, width=32, height=32, n_frames=2, clutter=0, p_no_face=0.3, p_two_faces=0.2)
    metas = [g.meta for g in _gifs(cfg, 400)]
    faces = np.array([m["n_faces"] for m in metas])
    assert abs((faces == 0).mean() - 0.3) < 0.06
    assert abs((faces == 2).mean() - 0.2) < 0.06
    assert all(len(m["faces"]) == m["n_faces"] for m in metas)
    none = dataclasses.replace(cfg, p_no_face=0.0, p_two_faces=0.0)
    assert {g.meta["n_faces"] for g in _gifs(none, 50)} == {1}


def _ear_to_ear(truth: np.ndarray, face: int) -> np.ndarray:
    return np.linalg.norm(truth[:, face, 16, :2] - truth[:, face, 0, :2], axis=-1)


@pytest.mark.parametrize("low, high", [(0.1, 0.15), (0.3, 0.42)])
def test_face_width_stays_in_the_configured_range(low, high):
    cfg = dataclasses.replace(ONE_FACE, face_size_min=low, face_size_max=high)
    side = min(cfg.width, cfg.height)
    widths = []
    for g in _gifs(cfg, 40):
        width = g.meta["faces"][0]["width_px"]
        assert low * side - 1e-6 <= width <= high * side + 1e-6
        measured = _ear_to_ear(g.truth, 0)           # a head turn shortens it by at most cos(25 degrees)
        assert (measured <= width + 1e-3).all() and (measured >= width * math.cos(math.radians(25)) - 1e-3).all()
        widths.append(width)
    assert min(widths) < (low + 0.2 * (high - low)) * side and max(widths) > (high - 0.2 * (high - low)) * side


def test_faces_stay_inside_the_frame_and_two_faces_do_not_overlap():
    cfg = dataclasses.replace(TINY, p_no_face=0.0, p_two_faces=1.0, face_size_max=0.45)
    for g in _gifs(cfg, 20):
        xy = g.truth[..., :2]
        assert xy.min() >= 0 and xy[..., 0].max() <= cfg.width - 1 and xy[..., 1].max() <= cfg.height - 1
        assert xy[:, 0, :, 0].max() < cfg.width / 2 <= xy[:, 1, :, 0].min()


def _detector_cfg(**knobs) -> SynthConfig:
    base = dict(kp_jitter=0.0, kp_drop=0.0, kp_wrong=0.0, kp_face_missing=0.0, kp_frame_missing=0.0)
    return dataclasses.replace(ONE_FACE, **{**base, **knobs})


@pytest.mark.parametrize("jitter", [0.01, 0.03, 0.06])
def test_jitter_sets_the_mean_keypoint_error(jitter):
    errors = []
    for g in _gifs(_detector_cfg(kp_jitter=jitter), 20):
        d = np.linalg.norm(g.estimate[:, 0, :, :2] - g.truth[:, 0, :, :2], axis=-1)
        errors.append(d / g.meta["faces"][0]["width_px"])
    # A 2-D Gaussian error of standard deviation s has mean length s * sqrt(pi / 2).
    assert np.mean(errors) == pytest.approx(jitter * math.sqrt(math.pi / 2), rel=0.08)


def test_no_jitter_means_exact_keypoints_with_good_confidence():
    g = make_gif(_detector_cfg(kp_conf_min=0.6), 0, 0)
    np.testing.assert_allclose(g.estimate[:, 0, :, :2], g.truth[:, 0, :, :2], atol=1e-4)
    assert g.estimate[..., 2].min() >= 0.6


@pytest.mark.parametrize("drop", [0.05, 0.3])
def test_drop_share_is_the_share_of_zero_confidence_points(drop):
    conf = np.concatenate([g.estimate[..., 2].ravel() for g in _gifs(_detector_cfg(kp_drop=drop), 15)])
    assert (conf == 0).mean() == pytest.approx(drop, abs=0.02)


def test_wrong_points_are_far_and_have_low_confidence():
    cfg = _detector_cfg(kp_wrong=0.2, kp_wrong_distance=0.5, kp_wrong_conf=0.2, kp_conf_min=0.5)
    far, shares = [], []
    for g in _gifs(cfg, 15):
        width = g.meta["faces"][0]["width_px"]
        err = np.linalg.norm(g.estimate[:, 0, :, :2] - g.truth[:, 0, :, :2], axis=-1) / width
        conf = g.estimate[:, 0, :, 2]
        wrong = conf <= 0.2
        assert (conf[~wrong] >= 0.5).all() and (err[~wrong] < 1e-3).all()   # the others are exact (no jitter)
        assert (conf[wrong] > 0).all()
        far.append(err[wrong])
        shares.append(wrong.mean())
    far = np.concatenate(far)
    assert np.mean(shares) == pytest.approx(0.2, abs=0.03)
    assert (far <= 1.0 + 1e-3).all() and np.mean(far >= 0.5 - 1e-3) > 0.97   # in [d, 2d] unless clipped


def test_share_of_faces_without_any_keypoints():
    gifs = _gifs(_detector_cfg(kp_face_missing=0.4), 120)
    found = np.array([g.meta["faces"][0]["keypoints_found"] for g in gifs])
    assert (~found).mean() == pytest.approx(0.4, abs=0.1)
    for g, ok in zip(gifs, found):
        assert (g.estimate[..., 2] > 0).any() == ok
        assert g.estimate.shape[1] == 1


def test_missed_frames_are_padded_with_zeros():
    gifs = _gifs(_detector_cfg(kp_frame_missing=0.3), 30)
    per_frame = np.concatenate([(g.estimate[..., 2] > 0).any(axis=2).sum(axis=1) for g in gifs])
    assert (per_frame == 0).mean() == pytest.approx(0.3, abs=0.06)


def test_two_faces_get_two_keypoint_slots_in_found_order():
    cfg = dataclasses.replace(_detector_cfg(), p_two_faces=1.0, face_size_max=0.4)
    g = make_gif(cfg, 0, 1)
    assert g.estimate.shape[1] == 2
    np.testing.assert_allclose(g.estimate[..., :2], g.truth[..., :2], atol=1e-4)


def _normalised(g, face: int = 0) -> np.ndarray:
    """Landmarks relative to the nose bridge top, in face widths: the expression without the placement."""
    lm = g.truth[:, face, :, :2].astype(np.float64)
    return (lm - lm[:, 27:28]) / g.meta["faces"][0]["width_px"]


def _pure(cfg: SynthConfig, n: int = 150) -> dict[str, list]:
    """One-face GIFs showing a single emotion at full intensity, grouped by that emotion."""
    by = {}
    for g in _gifs(cfg, n):
        by.setdefault(g.meta["faces"][0]["dominant"], []).append(g)
    return by


PURE = dataclasses.replace(ONE_FACE, n_frames=16, max_secondary=0, dominant_min=1.0, dominant_max=1.0,
                           expression_noise=0.0, blink_prob=0.0)


@pytest.mark.parametrize("start, end", [(0.15, 0.3), (0.6, 0.7)])
def test_order_pairs_share_late_frames_and_differ_early(start, end):
    cfg = dataclasses.replace(PURE, transition_start=start, transition_end=end)
    by = _pure(cfg)
    t = frame_times(cfg.n_frames)
    late = t >= end + cfg.transition_length
    early = t <= start
    assert late.any() and early.any()
    for a, b in ORDER_PAIRS:
        la, lb = _normalised(by[a][0]), _normalised(by[b][0])
        np.testing.assert_allclose(la[late], lb[late], atol=1e-5)
        assert np.abs(la[early] - lb[early]).max() > 0.03, (a, b)
    pride, embarrassment = (_normalised(by[e][0]) for e in REVERSED_PAIRS[0])
    assert np.abs(pride[late] - embarrassment[late]).max() > 0.03      # same events, other order
    # Frames between the two windows are late under the early window and early under the late one.
    middle = (t >= 0.3 + cfg.transition_length) & (t <= 0.6)
    assert middle.sum() >= 2
    a, b = (_normalised(by[e][0]) for e in ORDER_PAIRS[0])
    if start > 0.5:
        assert np.abs(a[middle] - b[middle]).max() > 0.03
    else:
        np.testing.assert_allclose(a[middle], b[middle], atol=1e-5)


def test_steady_emotions_keep_one_expression():
    by = _pure(dataclasses.replace(PURE, n_frames=6), n=60)
    for emotion in ("happiness", "anger", "surprise"):
        lm = _normalised(by[emotion][0])
        np.testing.assert_allclose(lm, np.broadcast_to(lm[:1], lm.shape), atol=1e-6)


@pytest.mark.parametrize("strength", [0.0, 0.5, 1.0])
def test_global_cue_leans_with_valence_at_the_configured_strength(strength):
    cfg = dataclasses.replace(TINY, width=32, height=32, n_frames=2, clutter=0, p_no_face=0.0,
                              cue_strength=strength)
    metas = [g.meta for g in _gifs(cfg, 300)]
    cue = np.array([m["cue"] for m in metas])
    val = np.array([m["valence"] for m in metas])
    r = np.corrcoef(cue, val)[0, 1]
    # cue = s*v + (1 - s)*u with u ~ U(-1, 1) independent of v: corr = s sd(v) / sqrt(s^2 var(v) + (1-s)^2 / 3).
    expected = strength * val.std() / math.sqrt(strength**2 * val.var() + (1 - strength) ** 2 / 3)
    assert r == pytest.approx(expected, abs=0.1)
    if strength == 1.0:
        np.testing.assert_allclose(cue, val, atol=1e-5)


def test_the_tint_shows_the_cue_in_the_pixels():
    cfg = dataclasses.replace(TINY, width=32, height=32, n_frames=2, cue_alpha=0.5)
    gifs = _gifs(cfg, 120)
    warmth = np.array([g.frames[..., 0].mean() - g.frames[..., 2].mean() for g in gifs])
    cue = np.array([g.meta["cue"] for g in gifs])
    assert np.corrcoef(warmth, cue)[0, 1] > 0.7
    untinted = [make_gif(dataclasses.replace(cfg, cue_alpha=0.0), 0, i) for i in range(120)]
    warmth0 = np.array([g.frames[..., 0].mean() - g.frames[..., 2].mean() for g in untinted])
    assert abs(np.corrcoef(warmth0, cue)[0, 1]) < 0.25


def test_face_gif_latents_combine_their_faces():
    for how, reduce in (("max", np.max), ("mean", np.mean)):
        cfg = dataclasses.replace(TINY, width=32, height=32, n_frames=2, p_no_face=0.0, p_two_faces=1.0,
                                  two_face_label=how)
        for g in _gifs(cfg, 10):
            faces = np.array([f["latents"] for f in g.meta["faces"]])
            np.testing.assert_allclose(g.latents, reduce(faces, axis=0), atol=2e-6)
            assert g.meta["valence"] == pytest.approx(valence(g.latents), abs=1e-6)


def test_face_mixture_has_a_dominant_emotion_in_range():
    cfg = dataclasses.replace(ONE_FACE, width=32, height=32, n_frames=2, dominant_min=0.6, dominant_max=0.9,
                              background_max=0.1, secondary_max=0.5)
    dominants = []
    for g in _gifs(cfg, 200):
        face = g.meta["faces"][0]
        lat = np.array(face["latents"])
        d = EMOTIONS.index(face["dominant"])
        assert 0.6 <= lat[d] <= 0.9 and lat.argmax() == d
        shown = [EMOTIONS.index(e) for e in face["expressed"]]
        hidden = np.setdiff1d(np.arange(17), shown)
        assert (lat[hidden] <= 0.1).all() and (lat[shown[1:]] <= 0.5 * lat[d] + 1e-9).all()
        assert len(shown) <= 1 + cfg.max_secondary
        dominants.append(d)
    assert len(set(dominants)) == 17                 # every emotion gets to dominate


def test_no_face_labels_follow_the_cue_alone():
    cfg = dataclasses.replace(TINY, width=32, height=32, n_frames=2, p_no_face=1.0, p_two_faces=0.0, no_face_max=0.7,
                              background_max=0.1)
    for g in _gifs(cfg, 30):
        rest = g.latents - 0.7 * np.clip(g.meta["cue"] * VALENCE_SIGN, 0, None)
        assert (rest >= -1e-6).all() and (rest <= 0.1 + 1e-6).all()
        assert not g.truth.any() and not g.estimate.any() and g.truth.shape[1] == 1
