"""Tracked against static keypoints on the shared real GIFs: what detecting only every k frames changes.

For every real GIF the default estimator runs over the frames in order twice or more: with ``detect_every=1``
(static-image mode, the detector on every frame: the reference) and with each k of ``--detect-every``. Per GIF
and in all it prints:

- faces: the faces found in all frames, static and tracked, and the frames where tracking found fewer or more;
- point distance: for faces found by both (matched by detection-box overlap), the mean distance between the two
  estimates of the 70 points, in face sizes (square root of the static detection box area, about its width):
  mean over faces and the 95th percentile;
- confidence: mean confidence of the matched faces, static and tracked, and the mean absolute difference per point;
- dlib agreement: mean agreement factor of the matched faces (how close the mesh's points are to dlib's, which
  tracking does not touch), static and tracked;
- detector runs and CPU milliseconds per frame of the estimator (decoding not included).

    .venv/bin/python benchmarks/keypoints_tracking.py [--gifs ../shared/data/real-gifs] [--detect-every 4,8,16]
        [--redetect-motion 0.1] [--redetect-agreement 0.3] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from kavan.keypoints.backends import Estimator
from kavan.keypoints.backends.mediapipe_mesh import overlap_matches
from kavan.keypoints.confidence import face_size
from kavan.keypoints.config import KeypointConfig
from kavan.media.decode import iter_frames


def run(estimator: Estimator, frames: list[np.ndarray]) -> tuple[list, float]:
    """The estimator's faces of every frame, and its CPU seconds."""
    start = time.process_time()
    faces = list(estimator.sequence(frames))
    return faces, time.process_time() - start


def detector_runs(estimator: Estimator) -> int:
    return estimator.tracking.detected + estimator.tracking.redetected


def compare(static: list, tracked: list) -> dict:
    """Face counts and, over the faces both found, point distances, confidences and agreement."""
    counts_s = np.array([len(f) for f in static])
    counts_t = np.array([len(f) for f in tracked])
    dist, conf_s, conf_t, conf_diff, agree_s, agree_t = [], [], [], [], [], []
    for s, t in zip(static, tracked):
        for i, j in enumerate(overlap_matches(s.boxes, t.boxes)):
            if j < 0:
                continue
            size = face_size(s.boxes[i:i + 1])[0]
            dist.append(np.linalg.norm(s.points[i] - t.points[j], axis=-1).mean() / size)
            conf_s.append(s.confidence[i].mean())
            conf_t.append(t.confidence[j].mean())
            conf_diff.append(np.abs(s.confidence[i] - t.confidence[j]).mean())
            agree_s.append(s.agreement[i].mean())
            agree_t.append(t.agreement[j].mean())
    mean = lambda v: round(float(np.mean(v)), 4) if v else None  # noqa: E731
    return {"frames": len(static), "faces_static": int(counts_s.sum()), "faces_tracked": int(counts_t.sum()),
            "frames_fewer": [int(i) for i in np.flatnonzero(counts_t < counts_s)],
            "frames_more": [int(i) for i in np.flatnonzero(counts_t > counts_s)],
            "matched": len(dist), "distance_mean": mean(dist),
            "distance_p95": round(float(np.percentile(dist, 95)), 4) if dist else None,
            "confidence_static": mean(conf_s), "confidence_tracked": mean(conf_t),
            "confidence_abs_diff": mean(conf_diff), "agreement_static": mean(agree_s),
            "agreement_tracked": mean(agree_t), "_dist": dist, "_conf_diff": conf_diff,
            "_conf": (conf_s, conf_t), "_agree": (agree_s, agree_t)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gifs", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/real-gifs")
    parser.add_argument("--detect-every", default="4,8,16", help="k values to compare with static (default 4,8,16)")
    defaults = KeypointConfig()
    parser.add_argument("--redetect-motion", type=float, default=defaults.redetect_motion,
                        help=f"KeypointConfig.redetect_motion of the tracked runs (default {defaults.redetect_motion};"
                             " a large value turns the motion rule off)")
    parser.add_argument("--redetect-agreement", type=float, default=defaults.redetect_agreement,
                        help=f"KeypointConfig.redetect_agreement of the tracked runs (default "
                             f"{defaults.redetect_agreement}; 0 turns the dlib check off)")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args(argv)
    ks = [int(k) for k in args.detect_every.split(",")]
    static = Estimator(KeypointConfig(detect_every=1))
    tracked = {k: Estimator(KeypointConfig(detect_every=k, redetect_motion=args.redetect_motion,
                                           redetect_agreement=args.redetect_agreement)) for k in ks}
    cpu = dict.fromkeys([1, *ks], 0.0)
    per_gif: dict[int, dict[str, dict]] = {k: {} for k in ks}
    n_frames = 0
    for gif in sorted(args.gifs.glob("*.gif")):
        frames = [rgb for _, rgb in iter_frames(gif)]
        n_frames += len(frames)
        reference, seconds = run(static, frames)
        cpu[1] += seconds
        for k in ks:
            faces, seconds = run(tracked[k], frames)
            cpu[k] += seconds
            per_gif[k][gif.name] = compare(reference, faces)
    result = {"load_average_after": round(os.getloadavg()[0], 2),
              "static": {"frames": n_frames, "detector_runs": detector_runs(static),
                         "cpu_ms_per_frame": round(1000 * cpu[1] / n_frames, 2)}, "tracked": {}}
    print(f"static (detect_every=1): {n_frames} frames, {result['static']['detector_runs']} detector runs, "
          f"{result['static']['cpu_ms_per_frame']} CPU ms per frame")
    for k in ks:
        gifs = per_gif[k]
        dist = [d for g in gifs.values() for d in g["_dist"]]
        conf_diff = [d for g in gifs.values() for d in g["_conf_diff"]]
        conf_s = [c for g in gifs.values() for c in g["_conf"][0]]
        conf_t = [c for g in gifs.values() for c in g["_conf"][1]]
        agree_s = [a for g in gifs.values() for a in g["_agree"][0]]
        agree_t = [a for g in gifs.values() for a in g["_agree"][1]]
        total = {"frames": n_frames, "faces_static": sum(g["faces_static"] for g in gifs.values()),
                 "faces_tracked": sum(g["faces_tracked"] for g in gifs.values()),
                 "frames_fewer": sum(len(g["frames_fewer"]) for g in gifs.values()),
                 "frames_more": sum(len(g["frames_more"]) for g in gifs.values()),
                 "matched": len(dist), "distance_mean": round(float(np.mean(dist)), 4),
                 "distance_p95": round(float(np.percentile(dist, 95)), 4),
                 "distance_max": round(float(np.max(dist)), 4),
                 "confidence_static": round(float(np.mean(conf_s)), 4),
                 "confidence_tracked": round(float(np.mean(conf_t)), 4),
                 "confidence_abs_diff": round(float(np.mean(conf_diff)), 4),
                 "agreement_static": round(float(np.mean(agree_s)), 4),
                 "agreement_tracked": round(float(np.mean(agree_t)), 4),
                 "detector_runs": detector_runs(tracked[k]), "cpu_ms_per_frame": round(1000 * cpu[k] / n_frames, 2),
                 "tracking": vars(tracked[k].tracking)}
        result["tracked"][k] = {"all": total,
                                "gifs": {name: {key: v for key, v in g.items() if not key.startswith("_")}
                                         for name, g in gifs.items()}}
        print(f"\ndetect_every={k}: {total['detector_runs']} detector runs, {total['cpu_ms_per_frame']} CPU ms per "
              f"frame; tracker {total['tracking']}")
        print(f"  faces {total['faces_static']} static, {total['faces_tracked']} tracked; frames with fewer "
              f"{total['frames_fewer']}, more {total['frames_more']}; {total['matched']} matched faces: point "
              f"distance mean {total['distance_mean']}, p95 {total['distance_p95']}, max {total['distance_max']} "
              f"face sizes; confidence {total['confidence_static']} -> {total['confidence_tracked']} (mean |diff| "
              f"{total['confidence_abs_diff']}); dlib agreement {total['agreement_static']} -> "
              f"{total['agreement_tracked']}")
        for name, g in gifs.items():
            print(f"  {name:28s} faces {g['faces_static']:3d} -> {g['faces_tracked']:3d}  fewer {g['frames_fewer']} "
                  f"more {g['frames_more']}  distance {g['distance_mean']} (p95 {g['distance_p95']})  "
                  f"|dconf| {g['confidence_abs_diff']}")
    print(f"\nload average after: {result['load_average_after']}")
    for est in (static, *tracked.values()):
        est.close()
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
