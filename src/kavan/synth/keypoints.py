"""A simulated face-keypoint detector: true SynthGIF landmarks in, detector-like estimates out.

It makes the errors the paper's keypoint attention must survive (OpenPose on cartoons and small faces):

* a share of faces is never found (no keypoints in any frame), and single frames miss a face;
* every found point is off by Gaussian jitter (standard deviation in face widths) and carries a
  confidence uniform in [kp_conf_min, 1];
* a share of points is missing (x = y = confidence = 0);
* a share of points is wrong: moved between kp_wrong_distance and twice that many face widths from the
  truth, in a random direction that keeps it inside the frame, with a low confidence (≤ kp_wrong_conf).

Points are clipped to the frame. Like a detector without tracking, each frame lists the faces it found in
order, so face slot 0 of frame t is the first face found in that frame; frames with fewer faces are padded
with zeros (the keypoint-cache layout, kavan.keypoints.cache).
"""

from __future__ import annotations

import numpy as np

from kavan.synth.config import SynthConfig


def _push_far(truth: np.ndarray, dist: np.ndarray, angle: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Points ``dist`` away from ``truth`` at ``angle``, or the opposite way when that leaves the frame."""
    w, h = size
    step = dist[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=-1)
    ahead = truth + step
    inside = (ahead[:, 0] >= 0) & (ahead[:, 0] <= w - 1) & (ahead[:, 1] >= 0) & (ahead[:, 1] <= h - 1)
    return np.where(inside[:, None], ahead, truth - step)


def simulate_detector(truth: np.ndarray, widths: np.ndarray, cfg: SynthConfig,
                      rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Estimated keypoints (F, N, 70, 3) float32 for true landmarks ``truth`` (F, faces, 70, 2) of faces
    ``widths`` (faces,) pixels wide; also (faces,) bool: which faces the detector found at all.

    N is the most faces found in any frame (at least 1). With no faces the result is all zeros.
    """
    f, n_faces, n_points, _ = truth.shape
    size = (cfg.width, cfg.height)
    found = rng.random(n_faces) >= cfg.kp_face_missing
    per_face = []
    for k in range(n_faces):
        u = rng.random((f, n_points))
        wrong = (u >= cfg.kp_drop) & (u < cfg.kp_drop + cfg.kp_wrong)
        xy = truth[:, k] + rng.normal(0.0, cfg.kp_jitter * widths[k], (f, n_points, 2))
        conf = rng.uniform(cfg.kp_conf_min, 1.0, (f, n_points))
        dist = rng.uniform(cfg.kp_wrong_distance, 2 * cfg.kp_wrong_distance, (f, n_points)) * widths[k]
        angle = rng.uniform(0, 2 * np.pi, (f, n_points))
        far = _push_far(truth[:, k].reshape(-1, 2), dist.ravel(), angle.ravel(), size).reshape(f, n_points, 2)
        xy = np.where(wrong[..., None], far, xy)
        conf = np.where(wrong, rng.uniform(0.01, cfg.kp_wrong_conf, (f, n_points)), conf)
        xy = np.clip(xy, 0, [size[0] - 1, size[1] - 1])
        kp = np.concatenate([xy, conf[..., None]], axis=-1)
        kp[u < cfg.kp_drop] = 0.0
        missed = rng.random(f) < cfg.kp_frame_missing
        kp[missed | (not found[k])] = 0.0
        per_face.append(kp)
    present = [[kp[t] for kp in per_face if kp[t, :, 2].any()] for t in range(f)]
    slots = max([1] + [len(p) for p in present])
    out = np.zeros((f, slots, n_points, 3), dtype=np.float32)
    for t, faces in enumerate(present):
        for s, kp in enumerate(faces):
            out[t, s] = kp
    return out, found
