"""Generate SynthGIF: one GIF from (config, seed, index), and a whole dataset folder in parallel.

Each GIF's randomness comes from ``numpy.random.SeedSequence(seed, spawn_key=(0, index))``, split into
independent streams for its labels, faces, scene and keypoints; the votes use ``spawn_key=(1,)``. A GIF's
files therefore depend only on (config, seed, index), never on the number of workers or the order they run
in, and changing one knob (say keypoint jitter) leaves the draws of the other streams alone.

Dataset layout (docs/synthgif.md, "What is written"; the loader reads it like any other dataset, docs/data.md)::

    DIR/gifs/<id>.gif                       the GIFs
    DIR/keypoints/<id>.safetensors          simulated detector output (kavan.keypoints.cache format)
    DIR/votes.csv                           simulated pairwise votes (gif_a, gif_b, emotion, winner)
    DIR/scores.csv                          id + 17 emotions in [0, 1], TrueSkill mu / 50 from votes.csv
    DIR/groundtruth/landmarks/<id>.safetensors  true 70-point landmarks, same format, confidence 1
    DIR/groundtruth/latents.csv             id + the 17 latent intensities the votes were drawn from
    DIR/groundtruth/gifs.jsonl              per-GIF facts: faces, emotions, time course, cue, valence
    DIR/synth.json                          format, generator version, seed, n, preset, resolved config
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import json
import logging
import multiprocessing
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from tqdm import tqdm

from kavan import __version__
from kavan.core.emotions import EMOTIONS
from kavan.core.errors import KavanError
from kavan.keypoints.cache import KeypointRecord, cache_path, save
from kavan.keypoints.landmarks import N_POINTS
from kavan.labels.ratings import votes_to_scores
from kavan.synth import trajectories as traj
from kavan.synth.config import SynthConfig
from kavan.synth.face import FaceStyle, draw_face, model_points, project, random_style
from kavan.synth.keypoints import simulate_detector
from kavan.synth.scene import apply_tint, backgrounds, make_scene
from kavan.synth.votes import simulate_votes, write_votes

log = logging.getLogger(__name__)

FORMAT = "kavan-synthgif/1"
GENERATOR_VERSION = "1"  # bump whenever the same (config, seed) would produce different files
DETECTOR_BACKEND = "synthgif-simulated-detector"
TRUTH_BACKEND = "synthgif-truth"


def gif_id(index: int) -> str:
    """The id of GIF number ``index``: fixed width, so ids sort in generation order."""
    return f"synth{index:06d}"


def truth_path(dataset_dir: str | os.PathLike[str], gid: str) -> Path:
    """Where the true landmarks of GIF ``gid`` live."""
    return Path(dataset_dir) / "groundtruth" / "landmarks" / f"{gid}.safetensors"


@dataclass(frozen=True)
class Face:
    """One face of a GIF: what it feels, how it moves, how it looks."""

    mixture: traj.FaceMixture
    course: traj.ExpressionCourse
    width: float
    centre: np.ndarray          # (F, 2) pixel position of the face origin
    style: FaceStyle


@dataclass(frozen=True)
class GifSample:
    """Everything generated for one GIF before it is written."""

    gid: str
    frames: np.ndarray          # (F, H, W, 3) uint8, tint applied
    truth: np.ndarray           # (F, max(1, faces), 70, 3) float32, confidence 1 on real faces
    estimate: np.ndarray        # (F, N, 70, 3) float32, simulated detector
    latents: np.ndarray         # (17,)
    meta: dict


def _faces(n_faces: int, mixtures: list[traj.FaceMixture], cfg: SynthConfig,
           rng: np.random.Generator) -> list[Face]:
    widths = traj.face_widths(n_faces, cfg, rng)
    if n_faces == 2:
        regions = [(0.0, 0.0, cfg.width / 2, cfg.height), (cfg.width / 2, 0.0, cfg.width, cfg.height)]
    else:
        regions = [(0.0, 0.0, float(cfg.width), float(cfg.height))] * n_faces
    faces = []
    for mix, width, region in zip(mixtures, widths, regions):
        course = traj.expression_course(mix, cfg, rng)
        centre = traj.head_path(course.params, float(width), region, cfg, rng)
        faces.append(Face(mixture=mix, course=course, width=float(width), centre=centre, style=random_style(rng)))
    return faces


def _render(faces: list[Face], projected: list[np.ndarray], cue: float, cfg: SynthConfig,
            rng: np.random.Generator) -> np.ndarray:
    scene = make_scene(rng, cfg)
    s = cfg.supersample
    frames = np.empty((cfg.n_frames, cfg.height, cfg.width, 3), dtype=np.uint8)
    for t, image in enumerate(backgrounds(scene, cfg, s)):
        draw = ImageDraw.Draw(image)
        for face, pts in zip(faces, projected):
            draw_face(draw, (pts[t] + 0.5) * s - 0.5, face.width * s, face.style)
        if s > 1:
            image = image.resize((cfg.width, cfg.height), Image.Resampling.BOX)
        frames[t] = np.asarray(image)
    return apply_tint(frames, cue, cfg.cue_alpha)


def _r6(x: float) -> float:
    return round(float(x), 6)


def make_gif(cfg: SynthConfig, seed: int, index: int) -> GifSample:
    """Generate GIF number ``index`` of the dataset with ``seed`` (pure: nothing is written)."""
    streams = np.random.SeedSequence(seed, spawn_key=(0, index)).spawn(4)
    r_label, r_face, r_scene, r_kp = (np.random.default_rng(s) for s in streams)

    u = r_label.random()
    n_faces = 0 if u < cfg.p_no_face else 2 if u < cfg.p_no_face + cfg.p_two_faces else 1
    if n_faces == 0:
        mixtures: list[traj.FaceMixture] = []
        cue = float(r_label.uniform(-1.0, 1.0))
        latents = traj.no_face_latents(cue, r_label, cfg)
    else:
        mixtures = [traj.sample_mixture(r_label, cfg) for _ in range(n_faces)]
        latents = traj.combine(mixtures, cfg.two_face_label)
        cue = traj.global_cue(traj.valence(latents), r_label, cfg)

    faces = _faces(n_faces, mixtures, cfg, r_face)
    projected = [project(model_points(f.course.params), f.course.params, f.centre, f.width) for f in faces]
    frames = _render(faces, projected, cue, cfg, r_scene)

    truth = np.zeros((cfg.n_frames, max(1, n_faces), N_POINTS, 3), dtype=np.float32)
    for k, pts in enumerate(projected):
        truth[:, k, :, :2] = pts[:, :N_POINTS]
        truth[:, k, :, 2] = 1.0
    estimate, found = simulate_detector(truth[:, :n_faces, :, :2].astype(np.float64),
                                        np.array([f.width for f in faces]), cfg, r_kp)
    gid = gif_id(index)
    meta = {
        "id": gid,
        "index": index,
        "scenario": ("no_face", "one_face", "two_faces")[n_faces],
        "n_faces": n_faces,
        "cue": _r6(cue),
        "valence": _r6(traj.valence(latents)),
        "faces": [{
            "dominant": EMOTIONS[f.mixture.dominant],
            "expressed": [EMOTIONS[e] for e in f.mixture.expressed],
            "pattern": traj.pattern(EMOTIONS[f.mixture.dominant]),
            "switch": _r6(f.course.switch),
            "width_px": _r6(f.width),
            "keypoints_found": bool(found[k]),
            "latents": [_r6(v) for v in f.mixture.latents],
        } for k, f in enumerate(faces)],
    }
    return GifSample(gid=gid, frames=frames, truth=truth, estimate=estimate, latents=latents, meta=meta)


def write_gif_file(path: Path, frames: np.ndarray, cfg: SynthConfig) -> None:
    """Write frames (F, H, W, 3) as a looping GIF with one shared palette and fixed encoder settings."""
    f, h, w, _ = frames.shape
    strip = Image.fromarray(frames.reshape(f * h, w, 3), "RGB")
    indexed = strip.quantize(colors=cfg.palette_size, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    index = np.asarray(indexed).reshape(f, h, w).copy()
    palette = indexed.getpalette()
    n_colours = len(palette) // 3
    for t in range(1, f):
        # A GIF cannot hold two identical frames in a row (encoders merge them, and the frame count would no
        # longer match the keypoints); should quantisation make a still frame, one corner pixel changes.
        if np.array_equal(index[t], index[t - 1]):
            index[t, 0, 0] = (int(index[t, 0, 0]) + 1) % n_colours
    images = []
    for t in range(f):
        image = Image.fromarray(index[t], "P")
        image.putpalette(palette)
        images.append(image)
    images[0].save(path, format="GIF", save_all=True, append_images=images[1:], duration=cfg.frame_ms, loop=0,
                   optimize=False, disposal=1)


def _write_sample(sample: GifSample, out_dir: Path, cfg: SynthConfig) -> None:
    write_gif_file(out_dir / "gifs" / f"{sample.gid}.gif", sample.frames, cfg)
    save(cache_path(out_dir, sample.gid), KeypointRecord(
        keypoints=sample.estimate, backend=DETECTOR_BACKEND, backend_version=GENERATOR_VERSION,
        width=cfg.width, height=cfg.height))
    save(truth_path(out_dir, sample.gid), KeypointRecord(
        keypoints=sample.truth, backend=TRUTH_BACKEND, backend_version=GENERATOR_VERSION,
        width=cfg.width, height=cfg.height))


def _work(index: int, cfg: SynthConfig, seed: int, out_dir: Path) -> tuple[np.ndarray, dict]:
    sample = make_gif(cfg, seed, index)
    _write_sample(sample, out_dir, cfg)
    return sample.latents, sample.meta


@dataclass(frozen=True)
class SynthSummary:
    """What ``generate_dataset`` made."""

    out_dir: Path
    n: int
    n_votes: int
    scenarios: dict[str, int]


def _write_latents(path: Path, ids: list[str], latents: np.ndarray) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["id", *EMOTIONS])
        for gid, row in zip(ids, latents):
            writer.writerow([gid, *(f"{v:.6f}" for v in row)])


def _prepare(out_dir: Path) -> None:
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise KavanError("output folder exists and is not empty; choose a new one", out_dir)
    for sub in ("gifs", "keypoints", "groundtruth/landmarks"):
        (out_dir / sub).mkdir(parents=True, exist_ok=True)


def generate_dataset(out_dir: str | os.PathLike[str], n: int, seed: int, cfg: SynthConfig, *,
                     workers: int | None = None, preset: str = "default", overrides: list[str] | None = None,
                     progress: bool = True) -> SynthSummary:
    """Write a SynthGIF dataset of ``n`` GIFs into the new or empty folder ``out_dir`` (layout above).

    ``workers`` processes render the GIFs (default: the CPU count); the files are the same for any count.
    ``preset`` and ``overrides`` are only recorded in synth.json; ``cfg`` is what is used.
    """
    out_dir = Path(out_dir)
    if n < 2:
        raise KavanError(f"need at least 2 GIFs to simulate pairwise votes, got n={n}")
    if seed < 0:
        raise KavanError(f"seed must be >= 0, got {seed}")
    workers = max(1, min(workers or os.cpu_count() or 1, n))
    _prepare(out_dir)
    log.info("generating %d GIFs into %s with %d worker(s)", n, out_dir, workers)

    job = functools.partial(_work, cfg=cfg, seed=seed, out_dir=out_dir)
    bar = tqdm(total=n, desc="synth", unit="gif", disable=not progress)
    results: list[tuple[np.ndarray, dict]] = []
    if workers == 1:
        for i in range(n):
            results.append(job(i))
            bar.update()
    else:
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            for result in pool.imap(job, range(n), chunksize=max(1, min(16, n // (4 * workers)))):
                results.append(result)
                bar.update()
    bar.close()

    ids = [gif_id(i) for i in range(n)]
    latents = np.stack([r[0] for r in results])
    metas = [r[1] for r in results]
    _write_latents(out_dir / "groundtruth" / "latents.csv", ids, latents)
    with open(out_dir / "groundtruth" / "gifs.jsonl", "w", encoding="utf-8") as fh:
        for meta in metas:
            fh.write(json.dumps(meta, sort_keys=True) + "\n")

    rows = simulate_votes(latents, ids, cfg, np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1,))))
    write_votes(out_dir / "votes.csv", rows)
    log.info("rating %d votes with TrueSkill", len(rows))
    votes_to_scores(out_dir / "votes.csv", out_dir / "scores.csv", ids, normalise="mu")

    info = {
        "format": FORMAT,
        "generator_version": GENERATOR_VERSION,
        "kavan_version": __version__,
        "seed": seed,
        "n": n,
        "preset": preset,
        "overrides": list(overrides or []),
        "config": dataclasses.asdict(cfg),
        "emotions": list(EMOTIONS),
        "scores": "kavan.labels.ratings.votes_to_scores(votes.csv, normalise='mu'): TrueSkill mu / 50, in [0, 1]",
    }
    (out_dir / "synth.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    scenarios = {s: sum(m["scenario"] == s for m in metas) for s in ("no_face", "one_face", "two_faces")}
    return SynthSummary(out_dir=out_dir, n=n, n_votes=len(rows), scenarios=scenarios)
