"""Keypoint heatmaps (Eq. 8): hand-computed values, peaks, confidences, mouth factor, faces, flips, face sizes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from helpers.face_template import face_keypoints
from helpers.heatmap_defaults_table import face_stats
from kavan.config import load_config
from kavan.core.errors import KavanError
from kavan.keypoints.heatmaps import HeatmapConfig, keypoint_heatmaps, single_point_peak
from kavan.keypoints.landmarks import MIRROR, MOUTH

SIZE = 224
K = 7
CELL = SIZE / K


def single_point(n_points: int, index: int, x: float, y: float, conf: float = 1.0) -> np.ndarray:
    points = np.zeros((1, n_points, 3), dtype=np.float32)
    points[0, index] = (x, y, conf)
    return points


def reference_heatmaps(keypoints: np.ndarray, image_size: tuple[int, int], k: int,
                       config: HeatmapConfig) -> np.ndarray:
    """Eq. 8 written with plain loops over frames, faces, points and cells, in float64 (k must divide grid)."""
    width, height = image_size
    g = config.grid
    b = g // k
    points = keypoints.reshape(keypoints.shape[0], -1, keypoints.shape[-2], 3)
    # u_1: one unit Gaussian centred on a b x b block, pooled: (block mean along one axis) squared.
    u1 = (sum(math.exp(-(i - (b - 1) / 2) ** 2 / (2 * config.sigma ** 2)) for i in range(b)) / b) ** 2
    out = []
    for frame in points:
        logits = np.zeros((k, k))
        for face in frame:
            overlay, unit = np.zeros((g, g)), np.zeros((g, g))
            for j, (x, y, c) in enumerate(face):
                if c <= 0:
                    continue
                weight = config.mouth_weight if 48 <= j <= 67 else 1.0
                u = (x + 0.5) * g / width - 0.5
                v = (y + 0.5) * g / height - 0.5
                for row in range(g):
                    for col in range(g):
                        d2 = (col - u) ** 2 + (row - v) ** 2
                        overlay[row, col] += c * weight * math.exp(-d2 / (2 * config.sigma ** 2))
                        unit[row, col] += weight * math.exp(-d2 / (2 * config.sigma ** 2))
            pooled = overlay.reshape(k, b, k, b).mean(axis=(1, 3))
            if config.normalise == "peak":
                pooled /= max(unit.reshape(k, b, k, b).mean(axis=(1, 3)).max(), u1)
            logits += pooled
        e = np.exp(logits / config.temperature - (logits / config.temperature).max())
        out.append(e / e.sum())
    return np.stack(out)


def test_hand_computed_tiny_case():
    # The unnormalised formula (normalise="none").
    # grid 4 on an 8 x 12 image: x = 2.5 -> u = 3 * 4/8 - 0.5 = 1, y = 4 -> v = 4.5 * 4/12 - 0.5 = 1,
    # the centre of fine cell (1, 1). sigma 0.5: per axis, cells 0..3 get exp(-2 d^2).
    config = HeatmapConfig(grid=4, sigma=0.5, mouth_weight=0.5, temperature=0.25, normalise="none")
    axis = [math.exp(-2.0), 1.0, math.exp(-2.0), math.exp(-8.0)]
    near, far = axis[0] + axis[1], axis[2] + axis[3]      # 2-cell block sums along one axis
    for index, amp in ((30, 1.0), (50, 0.5)):             # nose point, then a lip point
        pooled = amp * np.array([[near * near, near * far], [far * near, far * far]]) / 4
        expected = np.exp(pooled / 0.25) / np.exp(pooled / 0.25).sum()
        maps, has = keypoint_heatmaps(single_point(68, index, 2.5, 4.0), (8, 12), 2, config)
        assert maps.dtype == torch.float32 and maps.shape == (1, 2, 2)
        np.testing.assert_allclose(maps[0].numpy(), expected, rtol=1e-6)
        assert has.tolist() == [True]
    # The same numbers spelled out for the nose point: pooled [[0.32225, 0.03851], [0.03851, 0.00460]],
    # divided by tau = 0.25 and softmaxed.
    logits = np.array([0.32225, 0.03851, 0.03851, 0.00460]) / 0.25
    maps, _ = keypoint_heatmaps(single_point(68, 30, 2.5, 4.0), (8, 12), 2, config)
    np.testing.assert_allclose(maps[0].flatten().numpy(), np.exp(logits) / np.exp(logits).sum(), rtol=1e-4)


def test_hand_computed_peak_normalisation():
    # Same geometry as above (grid 4 on 8 x 12, k 2, sigma 0.5, so per axis cells 0..3 get exp(-2 d^2)), with
    # normalise="peak" and two faces in one frame.
    config = HeatmapConfig(grid=4, sigma=0.5, mouth_weight=0.5, temperature=0.25)
    assert config.normalise == "peak"
    near, far = 1 + math.exp(-2.0), math.exp(-2.0) + math.exp(-8.0)       # 2-cell block sums, point at cell 1
    # u_1: a point centred on a 2-cell block is 0.5 from both cells: (mean exp(-0.5))^2 = exp(-1).
    u1 = math.exp(-1.0)
    assert single_point_peak(4, 2, 0.5) == pytest.approx(u1, rel=1e-12)
    # Face 0: two full-weight points at fine cell (1, 1) as above, confidences 0.5 and 1. At full confidence
    # they peak at 2 near^2 / 4 = 0.64449 (> u_1), the overlay is 1.5 near^2 / 4 there, so the face's logits
    # are 0.75 * [1, r, r, r^2] with r = far / near = 0.11950: the strongest cell gets the mean confidence.
    face0 = single_point(68, 30, 2.5, 4.0, conf=0.5)[0]
    face0[27] = (2.5, 4.0, 1.0)
    # Face 1: a lip point (amplitude mouth_weight = 0.5), confidence 1, at x = 5.5 -> u = 2.5, the centre of
    # the right block (per axis: block sums exp(-12.5) + exp(-4.5) and 2 exp(-0.5)), y as face 0. Its peak
    # 0.5 * 2 exp(-0.5) * near / 4 = 0.17215 is below u_1, so it is divided by u_1 instead.
    face1 = single_point(68, 50, 5.5, 4.0, conf=1.0)[0]
    left, right = math.exp(-12.5) + math.exp(-4.5), 2 * math.exp(-0.5)
    logits0 = 0.75 * np.array([[1, far / near], [far / near, (far / near) ** 2]])
    logits1 = 0.5 * np.array([[near * left, near * right], [far * left, far * right]]) / 4 / u1
    logits = (logits0 + logits1) / 0.25
    expected = np.exp(logits) / np.exp(logits).sum()
    maps, has = keypoint_heatmaps(np.stack([face0, face1])[None], (8, 12), 2, config)
    np.testing.assert_allclose(maps[0].numpy(), expected, rtol=1e-5)
    assert has.tolist() == [True]
    # The same numbers spelled out: logits [[3.01715, 2.23035], [0.36054, 0.26652]], softmaxed.
    np.testing.assert_allclose(maps[0].numpy(), [[0.62918, 0.28646], [0.04416, 0.04020]], atol=2e-5)
    # Each face alone: face 0's strongest cell has logit 0.75 / tau = 3; a lone point is divided by u_1.
    for face, face_logits in ((face0, logits0), (face1, logits1)):
        alone, _ = keypoint_heatmaps(face[None], (8, 12), 2, config)
        np.testing.assert_allclose(alone[0].numpy(), np.exp(face_logits / 0.25) / np.exp(face_logits / 0.25).sum(),
                                   rtol=1e-5)


@pytest.mark.parametrize("normalise", ["peak", "none"])
def test_matches_loop_reference_on_random_input(normalise):
    rng = np.random.default_rng(0)
    points = np.zeros((3, 2, 70, 3), dtype=np.float32)
    points[..., 0] = rng.uniform(-10, 50, size=(3, 2, 70))
    points[..., 1] = rng.uniform(-10, 30, size=(3, 2, 70))
    points[..., 2] = rng.uniform(0, 1, size=(3, 2, 70)) * (rng.random((3, 2, 70)) > 0.3)
    config = HeatmapConfig(grid=8, sigma=1.2, mouth_weight=0.3, temperature=0.7, normalise=normalise)
    maps, has = keypoint_heatmaps(points, (40, 20), 4, config)
    np.testing.assert_allclose(maps.numpy(), reference_heatmaps(points, (40, 20), 4, config),
                               rtol=1e-5, atol=1e-7)
    assert has.tolist() == [True, True, True]


def test_each_map_sums_to_one():
    rng = np.random.default_rng(1)
    points = np.concatenate([face_keypoints((rng.uniform(0, SIZE), rng.uniform(0, SIZE)), 60)[None]
                             for _ in range(5)])
    maps, _ = keypoint_heatmaps(points, (SIZE, SIZE), K)
    np.testing.assert_allclose(maps.sum(dim=(1, 2)).numpy(), np.ones(5), rtol=1e-6)
    assert bool((maps > 0).all())


@pytest.mark.parametrize("row, col", [(0, 0), (3, 3), (1, 5), (6, 2)])
def test_peak_cell_is_where_the_face_is(row, col):
    face = face_keypoints(((col + 0.5) * CELL, (row + 0.5) * CELL), 40)
    maps, _ = keypoint_heatmaps(face[None], (SIZE, SIZE), K)
    assert divmod(int(maps[0].argmax()), K) == (row, col)


def test_peak_on_non_square_image():
    # 320 x 180 image, K = 7: the face centre (250, 40) lies in column 250 / (320/7) = 5.5 -> 5,
    # row 40 / (180/7) = 1.6 -> 1.
    face = face_keypoints((250, 40), 30)
    maps, _ = keypoint_heatmaps(face[None], (320, 180), K)
    assert divmod(int(maps[0].argmax()), K) == (1, 5)


def test_tiny_face_still_peaks_at_the_face():
    face = face_keypoints((5.5 * CELL, 1.5 * CELL), 8)          # an 8-pixel face in a 224 frame
    maps, _ = keypoint_heatmaps(face[None], (SIZE, SIZE), K)
    assert divmod(int(maps[0].argmax()), K) == (1, 5)
    assert float(maps[0, 1, 5]) > 0.5


def test_zero_confidence_point_changes_nothing():
    face = face_keypoints((100, 120), 50)
    silenced = face.copy()
    silenced[40, 2] = 0.0
    moved = silenced.copy()
    moved[40, :2] = (np.nan, np.nan)                 # garbage coordinates do not matter at c = 0
    infinite = silenced.copy()
    infinite[40, :2] = (np.inf, -np.inf)
    far = silenced.copy()
    far[40, :2] = (3.0, 200.0)
    maps, has = keypoint_heatmaps(np.stack([silenced, moved, infinite, far]), (SIZE, SIZE), K)
    assert all(torch.equal(maps[0], maps[i]) for i in (1, 2, 3)) and has.all()
    full, _ = keypoint_heatmaps(face[None], (SIZE, SIZE), K)
    assert not torch.allclose(full[0], maps[0])      # the point did matter while it was confident
    # ... and the silenced map is Eq. 8 summed over the other points only (the loop skips c = 0).
    reference = reference_heatmaps(silenced[None], (SIZE, SIZE), K, HeatmapConfig())
    np.testing.assert_allclose(maps[0].numpy(), reference[0], rtol=1e-5, atol=1e-8)


def test_all_zero_confidence_frames_are_flagged_and_uniform():
    face = face_keypoints((100, 100), 50)
    empty = face.copy()
    empty[:, 2] = 0.0
    maps, has = keypoint_heatmaps(np.stack([face, empty, np.zeros_like(face)]), (SIZE, SIZE), K)
    assert has.tolist() == [True, False, False]
    np.testing.assert_allclose(maps[1:].numpy(), np.full((2, K, K), 1 / K ** 2), rtol=1e-6)


def _lip_only_cells(face: np.ndarray) -> list[tuple[int, int]]:
    cells = np.floor((face[:, :2] + 0.5) / CELL).astype(int)
    lips = {(int(r), int(c)) for c, r in cells[48:68]}
    eyes = {(int(r), int(c)) for c, r in cells[36:48]}
    return sorted(lips - eyes)


def test_mouth_factor_lowers_the_mouth_mass():
    face = face_keypoints((112, 100), 112)            # a close-up: lips and eyes in different cells
    cells = _lip_only_cells(face)
    assert cells
    masses = []
    for weight in (1.0, 0.5, 0.25):
        maps, _ = keypoint_heatmaps(face[None], (SIZE, SIZE), K, HeatmapConfig(mouth_weight=weight))
        masses.append(sum(float(maps[0, r, c]) for r, c in cells))
    assert masses[0] > masses[1] > masses[2]


def test_mouth_factor_touches_only_lip_points():
    face = face_keypoints((112, 100), 60)
    face[list(MOUTH), 2] = 0.0
    a, _ = keypoint_heatmaps(face[None], (SIZE, SIZE), K, HeatmapConfig(mouth_weight=1.0))
    b, _ = keypoint_heatmaps(face[None], (SIZE, SIZE), K, HeatmapConfig(mouth_weight=0.1))
    assert torch.equal(a, b)


def test_mirrored_keypoints_give_column_reversed_map():
    rng = np.random.default_rng(2)
    faces = np.stack([face_keypoints((rng.uniform(20, 200), rng.uniform(20, 200)), rng.uniform(10, 80))
                      for _ in range(4)])
    faces[..., 2] = rng.uniform(0.2, 1.0, size=faces.shape[:2])
    mirrored = faces.copy()
    mirrored[..., 0] = SIZE - 1 - mirrored[..., 0]
    mirrored = mirrored[:, MIRROR, :]
    maps, _ = keypoint_heatmaps(faces, (SIZE, SIZE), K)
    flipped, _ = keypoint_heatmaps(mirrored, (SIZE, SIZE), K)
    torch.testing.assert_close(flipped, maps.flip(-1), rtol=1e-5, atol=1e-7)


def test_68_and_70_points():
    face70 = face_keypoints((90, 130), 50)
    face68 = face70[:68]
    no_pupils = face70.copy()
    no_pupils[68:, 2] = 0.0
    m68, _ = keypoint_heatmaps(face68[None], (SIZE, SIZE), K)
    m70, _ = keypoint_heatmaps(no_pupils[None], (SIZE, SIZE), K)
    torch.testing.assert_close(m68, m70, rtol=1e-6, atol=1e-8)
    with_pupils, _ = keypoint_heatmaps(face70[None], (SIZE, SIZE), K)
    assert not torch.allclose(with_pupils, m70)


def test_faces_overlay_adds_logits():
    # Overlaying sums the Gaussians, so log H(a and b) - log H(a) - log H(b) + log H(none) is the
    # same in every cell (softmax only adds a per-map constant).
    a = face_keypoints((1.5 * CELL, 1.5 * CELL), 30)
    b = face_keypoints((5.5 * CELL, 4.5 * CELL), 30)
    empty = np.zeros_like(a)
    both, has = keypoint_heatmaps(np.stack([a, b])[None], (SIZE, SIZE), K)
    single, _ = keypoint_heatmaps(np.stack([np.stack([a, empty]), np.stack([empty, b])]), (SIZE, SIZE), K)
    diff = both[0].double().log() - single[0].double().log() - single[1].double().log()
    torch.testing.assert_close(diff, torch.full_like(diff, float(diff.mean())), rtol=0, atol=1e-4)
    assert has.tolist() == [True]
    peaks = both[0].flatten().topk(2).indices.tolist()
    assert {divmod(p, K) for p in peaks} == {(1, 1), (4, 5)}


def test_points_outside_contribute_only_their_tail():
    near = single_point(68, 0, -3.0, 100.0)              # just left of the image
    far = single_point(68, 0, -1000.0, 100.0)
    maps, has = keypoint_heatmaps(np.concatenate([near, far]), (SIZE, SIZE), K)
    assert has.tolist() == [True, True]
    assert int(maps[0].argmax()) == 3 * K + 0            # the tail peaks in the left column
    np.testing.assert_allclose(maps[1].numpy(), np.full((K, K), 1 / K ** 2))


def test_accepts_torch_and_float64_input():
    face = face_keypoints((100, 100), 50)[None]
    ref, _ = keypoint_heatmaps(face, (SIZE, SIZE), K)
    for other in (torch.from_numpy(face), face.astype(np.float64)):
        maps, _ = keypoint_heatmaps(other, (SIZE, SIZE), K)
        assert torch.equal(maps, ref)


def test_empty_clip():
    maps, has = keypoint_heatmaps(np.zeros((0, 2, 70, 3), np.float32), (SIZE, SIZE), K)
    assert maps.shape == (0, K, K) and has.shape == (0,)


def test_adaptive_pooling_when_grid_is_not_a_multiple_of_k():
    face = face_keypoints((150, 60), 40)
    maps, _ = keypoint_heatmaps(face[None], (SIZE, SIZE), 5, HeatmapConfig(grid=56))
    assert maps.shape == (1, 5, 5)
    assert divmod(int(maps[0].argmax()), 5) == (1, 3)


@pytest.mark.parametrize("k", [5, 7, 9])
def test_separable_pooling_equals_pooling_the_fine_overlay(k):
    # The 1-D Gaussians are pooled before they are combined; that equals adaptive 2-D pooling of the fine
    # overlay, also when k does not divide the grid (blocks of 6 and 7 fine cells for k = 9, G = 56).
    face = face_keypoints((130, 70), 60)
    face[::3, 2] = 0.6
    config = HeatmapConfig(normalise="none", temperature=1.0)
    maps, _ = keypoint_heatmaps(face[None], (SIZE, SIZE), k, config)
    g = config.grid
    cells = torch.arange(g, dtype=torch.float64)
    pts = torch.from_numpy(face).double()
    amp = pts[:, 2] * torch.tensor([config.mouth_weight if 48 <= j <= 67 else 1.0 for j in range(70)],
                                   dtype=torch.float64)
    gx = torch.exp(-((cells - ((pts[:, 0] + 0.5) * g / SIZE - 0.5)[:, None]) ** 2) / (2 * config.sigma ** 2))
    gy = torch.exp(-((cells - ((pts[:, 1] + 0.5) * g / SIZE - 0.5)[:, None]) ** 2) / (2 * config.sigma ** 2))
    fine = torch.einsum("m,my,mx->yx", amp, gy, gx)
    pooled = torch.nn.functional.adaptive_avg_pool2d(fine[None, None], k).flatten()
    torch.testing.assert_close(maps[0].double().flatten(), torch.softmax(pooled, 0), rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("bad, match", [
    (np.zeros((2, 69, 3)), "keypoints must have shape"),
    (single_point(70, 3, 10, 10, conf=-0.5), "confidences"),
    (single_point(70, 3, np.nan, 10, conf=0.5), "finite coordinates"),
])
def test_bad_keypoints_raise(bad, match):
    with pytest.raises(KavanError, match=match):
        keypoint_heatmaps(bad, (SIZE, SIZE), K)


def test_bad_sizes_raise():
    face = face_keypoints((100, 100), 50)[None]
    with pytest.raises(KavanError, match="image size"):
        keypoint_heatmaps(face, (0, 100), K)
    with pytest.raises(KavanError, match="heatmap size k"):
        keypoint_heatmaps(face, (SIZE, SIZE), 57)


@pytest.mark.parametrize("kwargs", [dict(grid=0), dict(sigma=0.0), dict(mouth_weight=1.5),
                                    dict(mouth_weight=0.0), dict(temperature=-1.0), dict(normalise="max")])
def test_bad_config_raises(kwargs):
    with pytest.raises(KavanError):
        HeatmapConfig(**kwargs)


def test_defaults_match_the_documented_measurements():
    # docs/heatmaps.md quotes these for a quarter-width face: peaked, on the face, not one-hot.
    peak, entropy, on_face, low, high = face_stats(HeatmapConfig(), 56)
    assert peak == pytest.approx(0.77, abs=0.01)
    assert entropy == pytest.approx(0.80, abs=0.01)
    assert on_face == pytest.approx(1.00, abs=0.01)
    assert (low, high) == (pytest.approx(0.34, abs=0.01), pytest.approx(0.98, abs=0.01))


def template_faces(share: float) -> np.ndarray:
    """Frontal template faces ``share`` of a 224 frame wide, landmark box centred, at 4 x 4 positions
    sweeping one 7 x 7 cell (shrunk where the face would leave the frame)."""
    width = share * SIZE
    xy = face_keypoints((0.0, 0.0), width)[:, :2]
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    centre = SIZE / 2 - 0.5 - (lo + hi) / 2
    slack = np.clip((SIZE - (hi - lo)) / 2 - 0.5, 0.0, CELL / 2)
    steps = np.linspace(-1.0, 1.0, 4)
    return np.stack([face_keypoints(tuple(centre + (dx * slack[0], dy * slack[1])), width)
                     for dx in steps for dy in steps])


def concentration(faces: np.ndarray, k: int, config: HeatmapConfig) -> tuple[np.ndarray, np.ndarray]:
    """Per face: the map's entropy in bits and its mass on the K-cells the landmark box covers."""
    maps, _ = keypoint_heatmaps(faces, (SIZE, SIZE), k, config)
    flat = maps.reshape(len(faces), -1).double()
    entropy = -(flat * flat.log2()).sum(dim=1).numpy()
    cell = SIZE / k
    inside = []
    for face, heat in zip(faces, maps):
        lo = np.clip(np.floor((face[:, :2].min(axis=0) + 0.5) / cell).astype(int), 0, k - 1)
        hi = np.clip(np.floor((face[:, :2].max(axis=0) + 0.5) / cell).astype(int), 0, k - 1)
        inside.append(float(heat[lo[1]:hi[1] + 1, lo[0]:hi[0] + 1].sum()))
    return entropy, np.array(inside)


CLOSE_UPS = (0.25, 0.375, 0.5, 0.625, 0.75, 0.875, 1.0)


@pytest.mark.parametrize("k", [7, 14])
def test_target_stays_focused_from_quarter_width_faces_to_close_ups(k):
    # Bounds, for every width and position: the map says at least 2 bits about where the face is (entropy at
    # most log2 K^2 - 2, i.e. more than knowing which quadrant of the frame holds it; 2^H at most a quarter of
    # the grid), and at least 95 % of its mass lies on the cells of the face's landmark box (what spills
    # out are the Gaussians' tails). The unnormalised formula breaks them for faces 0.375 of the frame wide
    # and wider (docs/heatmaps.md: 3.8-5.5 of 5.61 bits at K = 7, 76-85 % on a face box smaller than the grid).
    bound = math.log2(k * k) - 2
    old = HeatmapConfig(temperature=0.6, normalise="none")
    old_fails = False
    for share in CLOSE_UPS:
        faces = template_faces(share)
        entropy, inside = concentration(faces, k, HeatmapConfig())
        assert entropy.max() < bound, (share, entropy.max())
        assert inside.min() > 0.95, (share, inside.min())
        entropy, inside = concentration(faces, k, old)
        old_fails |= bool(entropy.max() >= bound or inside.min() <= 0.95)
    assert old_fails


@pytest.mark.parametrize("k", [7, 14])
def test_synthgif_sized_faces_are_no_worse_than_unnormalised(k):
    # SynthGIF's faces are 15-32 % of the frame wide: on average over those sizes and positions the map is
    # at least as much on the face and no more spread than with the unnormalised formula.
    faces = np.concatenate([template_faces(share) for share in (0.15, 0.2, 0.25, 0.32)])
    entropy, inside = concentration(faces, k, HeatmapConfig())
    old_entropy, old_inside = concentration(faces, k, HeatmapConfig(temperature=0.6, normalise="none"))
    assert inside.mean() >= old_inside.mean()
    assert entropy.mean() <= old_entropy.mean()


def test_confidence_still_scales_the_map():
    # Normalising by the full-confidence peak leaves the confidences in: a face whose points all have
    # confidence c gets logit c / tau in its strongest cell, so lower confidence is a flatter map.
    face = face_keypoints((112, 100), 112)
    peaks = []
    for conf in (1.0, 0.5, 0.2, 0.05):
        points = face.copy()
        points[:, 2] = conf
        maps, _ = keypoint_heatmaps(points[None], (SIZE, SIZE), K)
        peaks.append(float(maps[0].max()))
        logits = HeatmapConfig().temperature * maps[0].double().log()
        assert float(logits.max() - logits.min()) == pytest.approx(conf, rel=0.05)   # off-face cells ~ 0
    assert peaks == sorted(peaks, reverse=True) and peaks[-1] < 2 / K ** 2


def test_lone_points_are_measured_against_one_full_confidence_point():
    # A lone point is divided by u_1, the peak of one full-confidence point centred in a K-cell: centred in
    # a cell it gets logit c / tau there; a stray low-confidence point stays nearly flat.
    u1 = single_point_peak(56, K, 1.5)
    centre = 3.5 * CELL - 0.5
    for conf in (1.0, 0.05):
        maps, _ = keypoint_heatmaps(single_point(70, 30, centre, centre, conf), (SIZE, SIZE), K)
        logits = HeatmapConfig().temperature * maps[0].double().log()
        assert float(logits[3, 3] - logits[0, 0]) == pytest.approx(conf, rel=1e-4)
    assert u1 == pytest.approx((sum(math.exp(-(i - 3.5) ** 2 / 4.5) for i in range(8)) / 8) ** 2, rel=1e-9)
    # Leaving the image, a point fades out smoothly instead of being blown up by its own tail.
    spills = []
    for x in (-0.5, -4.0, -8.0, -16.0, -40.0):
        maps, _ = keypoint_heatmaps(single_point(70, 30, x, centre), (SIZE, SIZE), K)
        spills.append(float(maps[0, 3, 0]))
    assert spills == sorted(spills, reverse=True)
    assert spills[0] > 0.5 and spills[-1] == pytest.approx(1 / K ** 2, rel=1e-3)


def test_normalise_config(tmp_path):
    with pytest.raises(KavanError, match="normalise"):
        HeatmapConfig(normalise="max")
    path = tmp_path / "c.yaml"
    path.write_text("data:\n  heatmap: {sigma: 1.5, temperature: 0.6}\n", encoding="utf-8")
    assert load_config(path).data.heatmap == HeatmapConfig(temperature=0.6)      # normalise: peak by default
    path.write_text("data:\n  heatmap: {temperature: 0.6, normalise: none}\n", encoding="utf-8")
    assert load_config(path).data.heatmap.normalise == "none"
    path.write_text("data:\n  heatmap: {normalise: max}\n", encoding="utf-8")
    with pytest.raises(KavanError, match="data.heatmap.normalise must be one of peak, none"):
        load_config(path)
