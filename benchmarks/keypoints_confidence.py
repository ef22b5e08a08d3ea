"""Do low keypoint confidences mark the wrong and hidden points? Measured on the shared real GIFs.

No ground-truth landmarks exist for these GIFs, so two error proxies stand in for the error, each independent of
some of the confidence factors:

- flip error: run the estimator on the horizontally flipped frame, flip its points back (and swap left/right
  points with kavan.keypoints.landmarks.MIRROR), and measure how far each point moved, in face sizes. A point the model
  really sees lands in the same place both times; a guessed (hidden, blurred, out-of-frame) one often does not.
  It uses neither dlib nor the confidence formula.
- dlib disagreement: the distance between the mesh's and dlib's point (the agreement factor's input), for
  judging the factors that do not use it (detection score, visibility, in-frame).

For the confidence and each factor the script prints, per confidence band, the points' share and median flip
error, and the AUROC with which a low value picks out "wrong" points (flip error above --wrong face sizes): 0.5
is chance, 1.0 perfect. `--draw DIR` also writes, for a few frames, the 8 lowest- and 8 highest-confidence points
(red and green) to look at by eye.

Each GIF runs as `kavan keypoints` runs it: frames in order, faces tracked between detections every
--detect-every frames (on tracked frames the detection score is the one the face was detected with); its mirror
image runs the same way.

    .venv/bin/python benchmarks/keypoints_confidence.py [--gifs DIR] [--draw OUT_DIR]   # DIR defaults to $KAVAN_REAL_GIFS
        [--detect-every 1]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from _measure import iou
from kavan.keypoints.backends import Estimator
from kavan.keypoints.config import KeypointConfig
from kavan.keypoints.landmarks import MIRROR
from kavan.media.decode import iter_frames
from kavan.showcase.demo import real_gif_folder

DRAW_FRAMES = {"folgers-decaffeinated.gif": (10, 40, 44, 60, 100), "dis-good.gif": (8,), "like-a-boss.gif": (2, 14),
               "what-is-this.gif": (15,), "gob-magic.gif": (9,), "a-bold-claim.gif": (30,)}


def auroc(score: np.ndarray, positive: np.ndarray) -> float:
    """Probability that a random positive has a higher score than a random negative (ties count half)."""
    from scipy.stats import rankdata

    ranks = rankdata(score)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if not n_pos or not n_neg:
        return float("nan")
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def flipped_back(faces, width: int):
    """Points and boxes of faces found on the mirrored frame, in the original frame's coordinates and order."""
    points = faces.points.copy()
    points[..., 0] = width - 1 - points[..., 0]
    boxes = faces.boxes.copy()
    boxes[:, [0, 2]] = width - 1 - faces.boxes[:, [2, 0]]
    return points[:, MIRROR], boxes


def collect(gif_dir: Path, estimator: Estimator, draw_dir: Path | None) -> dict[str, np.ndarray]:
    rows: dict[str, list] = {k: [] for k in ("confidence", "score", "visibility", "in_frame", "agreement",
                                             "flip_error", "dlib_error", "point")}
    for gif in sorted(gif_dir.glob("*.gif")):
        frames = [rgb for _, rgb in iter_frames(gif)]
        # the GIF and its mirror image each run as one sequence, as `kavan keypoints` runs them (tracked between
        # detections unless --detect-every 1); one after the other, since a sequence follows the graph's last frame
        found = list(estimator.sequence(frames))
        mirrored = list(estimator.sequence(np.ascontiguousarray(rgb[:, ::-1]) for rgb in frames))
        for index, (rgb, faces, mirror) in enumerate(zip(frames, found, mirrored)):
            if not len(faces):
                continue
            back, back_boxes = flipped_back(mirror, rgb.shape[1])
            size = np.sqrt(np.prod(faces.boxes[:, 2:] - faces.boxes[:, :2], axis=1))
            for i in range(len(faces)):
                overlaps = [iou(faces.boxes[i], b) for b in back_boxes]
                if not overlaps or max(overlaps) < 0.5:
                    continue
                k = int(np.argmax(overlaps))
                flip_err = np.linalg.norm(faces.points[i] - back[k], axis=1) / size[i]
                # dlib disagreement, recovered from the agreement factor: d = scale * sqrt(-2 ln a)
                a = np.clip(faces.agreement[i], 1e-12, 1.0)
                dlib_err = estimator.config.agreement_scale * np.sqrt(-2.0 * np.log(a))
                for key, value in (("confidence", faces.confidence[i]), ("visibility", faces.visibility[i]),
                                   ("in_frame", faces.in_frame[i]), ("agreement", faces.agreement[i]),
                                   ("score", np.full(70, faces.score[i])), ("flip_error", flip_err),
                                   ("dlib_error", dlib_err), ("point", np.arange(70))):
                    rows[key].append(value)
            if draw_dir is not None and index in DRAW_FRAMES.get(gif.name, ()):
                draw_extremes(rgb, faces, draw_dir / f"{gif.stem}-{index:03d}.png")
    return {k: np.concatenate(v) for k, v in rows.items()}


def draw_extremes(rgb: np.ndarray, faces, out: Path, k: int = 8) -> None:
    """Each face enlarged, its k lowest-confidence points red, k highest green (with index and confidence), the
    rest grey; faces side by side."""
    tiles = []
    for points, conf, box in zip(faces.points, faces.confidence, faces.boxes):
        w, h = box[2] - box[0], box[3] - box[1]
        x0, y0 = max(0, int(box[0] - 0.4 * w)), max(0, int(box[1] - 0.4 * h))
        x1, y1 = min(rgb.shape[1], int(box[2] + 0.4 * w)), min(rgb.shape[0], int(box[3] + 0.4 * h))
        scale = 600 / max(x1 - x0, y1 - y0)
        tile = Image.fromarray(rgb[y0:y1, x0:x1]).resize((round((x1 - x0) * scale), round((y1 - y0) * scale)),
                                                           Image.BICUBIC)
        pen = ImageDraw.Draw(tile)
        order = np.argsort(conf[:68])
        colour = {int(j): (160, 160, 160) for j in range(68)}
        colour.update({int(j): (255, 0, 0) for j in order[:k]})
        colour.update({int(j): (0, 255, 0) for j in order[-k:]})
        for j, (x, y) in enumerate(points[:68]):
            u, v = (x - x0 + 0.5) * scale - 0.5, (y - y0 + 0.5) * scale - 0.5
            pen.ellipse([u - 4, v - 4, u + 4, v + 4], outline=colour[j], width=2)
            if colour[j] != (160, 160, 160):
                pen.text((u + 5, v - 12), f"{j}:{conf[j]:.2f}", fill=colour[j])
        tiles.append(tile)
    sheet = Image.new("RGB", (sum(t.width for t in tiles), max(t.height for t in tiles)))
    x = 0
    for tile in tiles:
        sheet.paste(tile, (x, 0))
        x += tile.width
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out)


def report(rows: dict[str, np.ndarray], wrong: float) -> dict:
    bad = rows["flip_error"] > wrong
    out = {"points": int(len(bad)), "wrong_threshold": wrong, "wrong_share": float(bad.mean()), "factors": {}}
    for name in ("confidence", "score", "visibility", "in_frame", "agreement"):
        value = rows[name]
        bands = []
        for lo, hi in ((0.0, 0.2), (0.2, 0.4), (0.4, 0.6), (0.6, 0.8), (0.8, 1.01)):
            sel = (value >= lo) & (value < hi)
            if sel.any():
                bands.append({"band": f"[{lo:.1f}, {min(hi, 1.0):.1f}{')' if hi < 1 else ']'}",
                              "share": float(sel.mean()), "median_flip_error": float(np.median(rows["flip_error"][sel])),
                              "wrong_share": float(bad[sel].mean()),
                              "median_dlib_error": float(np.median(rows["dlib_error"][sel]))})
        out["factors"][name] = {"auroc_flip": auroc(-value, bad),
                                "auroc_dlib": auroc(-value, rows["dlib_error"] > wrong), "bands": bands}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gifs", type=Path, default=real_gif_folder(), required=real_gif_folder() is None,
                        help="folder of real GIFs (default $KAVAN_REAL_GIFS)")
    parser.add_argument("--wrong", type=float, default=0.05, help="flip error (face sizes) that counts as wrong")
    parser.add_argument("--draw", type=Path, help="write the lowest/highest-confidence pictures here")
    parser.add_argument("--detect-every", type=int, default=KeypointConfig().detect_every,
                        help="face detection interval (default: the default's; 1 detects on every frame)")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args(argv)
    rows = collect(args.gifs, Estimator(KeypointConfig(detect_every=args.detect_every)), args.draw)
    result = report(rows, args.wrong)
    print(f"{result['points']} points on faces found in both the frame and its mirror image; "
          f"{100 * result['wrong_share']:.1f}% move more than {args.wrong} face sizes under flipping ('wrong')")
    for name, f in result["factors"].items():
        print(f"\n{name}: AUROC (low value -> wrong) flip proxy {f['auroc_flip']:.3f}, "
              f"dlib proxy {f['auroc_dlib']:.3f}")
        print("  band        share  median flip err  wrong  median dlib err")
        for b in f["bands"]:
            print(f"  {b['band']:11s} {100 * b['share']:5.1f}%  {b['median_flip_error']:15.3f}  "
                  f"{100 * b['wrong_share']:4.0f}%  {b['median_dlib_error']:15.3f}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
