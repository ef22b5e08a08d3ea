"""The numbers behind the face mesh -> 70-point map and the dlib box calibration, on the shared real GIFs.

For every face that both dlib's HOG face detector and MediaPipe find (IoU > 0.3) in every frame of the real GIFs:

- box calibration: where dlib's HOG box lies relative to MediaPipe's detection box (centre shift in box widths
  and heights, side ratios; medians), the numbers kavan.keypoints.backends.dlib68.hog_box applies;
- map agreement: distance between dlib's 68 points (placed by the HOG box, as dlib was trained) and the mapped
  face mesh points, in inter-ocular distances (dlib's outer eye corners 36-45): the per-point medians, and their
  mean over all 68 points, the jaw (0-16) and the rest.

    .venv/bin/python benchmarks/keypoints_map_vs_dlib.py [--gifs DIR]   # default $KAVAN_REAL_GIFS
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from _measure import iou
from kavan.keypoints.backends.dlib68 import model_path
from kavan.keypoints.backends.mediapipe_mesh import FaceMesh
from kavan.keypoints.mapping import mesh_to_layout
from kavan.media.decode import iter_frames
from kavan.showcase.demo import real_gif_folder


def main(argv: list[str] | None = None) -> int:
    import dlib

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gifs", type=Path, default=real_gif_folder(), required=real_gif_folder() is None,
                        help="folder of real GIFs (default $KAVAN_REAL_GIFS)")
    args = parser.parse_args(argv)
    mesh = FaceMesh(max_faces=10, min_detection_score=0.5, min_presence=0.5)
    hog = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(str(model_path()))
    shifts, ratios, distances = [], [], []
    for gif in sorted(args.gifs.glob("*.gif")):
        for _, rgb in iter_frames(gif):
            found = mesh(rgb)
            for rect in hog(rgb, 1):
                h = np.array([rect.left(), rect.top(), rect.right(), rect.bottom()], float)
                for m, k in enumerate(found.mesh_detection):
                    if k < 0 or iou(h, found.boxes[k]) <= 0.3:
                        continue
                    box = found.boxes[k]
                    size = box[2:] - box[:2]
                    shifts.append(((h[:2] + h[2:]) / 2 - (box[:2] + box[2:]) / 2) / size)
                    ratios.append((h[2:] - h[:2]) / size)
                    shape = predictor(rgb, rect)
                    points = np.array([(p.x, p.y) for p in shape.parts()], float)
                    iod = np.linalg.norm(points[36] - points[45])
                    layout = mesh_to_layout(found.meshes[m, :, :2])[:68]
                    distances.append(np.linalg.norm(points - layout, axis=1) / iod)
    distances = np.array(distances)
    per_point = np.median(distances, axis=0)
    print(f"{len(distances)} faces found by both detectors")
    print("HOG box vs MediaPipe box (medians): centre shift", np.round(np.median(shifts, axis=0), 3),
          "box sizes; side ratios", np.round(np.median(ratios, axis=0), 3))
    print(f"mesh map vs dlib, mean of per-point median distances (inter-ocular): all {per_point.mean():.3f}, "
          f"jaw {per_point[:17].mean():.3f}, rest {per_point[17:].mean():.3f}")
    print("per point:", " ".join(f"{j}:{d:.3f}" for j, d in enumerate(per_point)))
    mesh.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
