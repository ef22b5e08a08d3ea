"""Throughput of `kavan keypoints` on the shared real GIFs: frames per second with 1 and 2 worker processes.

What is timed is `kavan.keypoints.run.run_dataset` on a dataset folder whose gifs/ links to the real GIFs
(each linked --repeat times, so that worker start-up is spread over more frames, as on a real dataset; its CPU
time per worker is printed too): decoding, face mesh (tracked between detections, ``--detect-every``), dlib,
confidences and writing the caches, start-up of the worker processes included. A per-stage breakdown in CPU time
follows (decode, face mesh graph static with each detector and tracked as the default does, dlib, the rest, and
the estimator with and without tracking), to show where the time goes.

The machine is shared: the load average before and after each run is printed with the numbers, and so is the
throughput per CPU-second of the run's processes (start-up included), which the other jobs change much less than
the wall clock.

    .venv/bin/python benchmarks/keypoints_speed.py [--gifs ../shared/data/real-gifs] [--repeat 10]
        [--workers 1,2] [--detectors full-range,short-range] [--detect-every 8,1] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

from _measure import cpu_seconds
from kavan.keypoints.config import KeypointConfig
from kavan.keypoints.run import run_dataset
from kavan.media.decode import iter_frames


def linked_dataset(gif_dir: Path, repeat: int, root: Path) -> int:
    """gifs/ with --repeat links to every real GIF; the number of frames it holds."""
    gifs = root / "gifs"
    gifs.mkdir(parents=True)
    frames = 0
    for gif in sorted(gif_dir.glob("*.gif")):
        n = sum(1 for _ in iter_frames(gif))
        for k in range(repeat):
            (gifs / f"{gif.stem}-{k}.gif").symlink_to(gif.resolve())
            frames += n
    return frames


def worker_startup_cpu() -> float:
    """CPU seconds a worker process spends before its first frame: interpreter, imports (MediaPipe pulls in
    matplotlib and OpenCV), the MediaPipe graph and dlib's 100 MB model; measured in a fresh process, as
    `kavan keypoints --workers N` spawns them."""
    import subprocess

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-c", "from kavan.keypoints.run import _init_worker; "
                    "from kavan.keypoints.config import KeypointConfig; _init_worker(KeypointConfig())"],
                   check=True, capture_output=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def throughput(root: Path, workers: int, config: KeypointConfig) -> dict:
    """Wall-clock frames/s of one run, and frames per CPU-second: on a shared machine the wall clock measures the
    share of the cores the run got, while CPU time estimates what each core does when it is not shared."""
    load_before = os.getloadavg()[0]
    cpu = cpu_seconds()
    start = time.perf_counter()
    report = run_dataset(root, config, workers=workers, force=True, progress=False)
    seconds = time.perf_counter() - start
    cpu = cpu_seconds() - cpu
    if report.failed:
        raise RuntimeError(f"failed: {report.failed}")
    return {"detector": config.detector, "detect_every": config.detect_every, "workers": workers,
            "frames": report.frames, "seconds": round(seconds, 2),
            "frames_per_second": round(report.frames / seconds, 1),
            "frames_per_cpu_second": round(report.frames / cpu, 1),
            "load_before": round(load_before, 2), "load_after": round(os.getloadavg()[0], 2)}


class _Feed:
    """An endless iterable that yields whatever frame was set last: lets a generator that consumes frames (an
    Estimator's ``sequence``) be driven one frame at a time, in turn with the other stages."""

    def __init__(self) -> None:
        self.rgb = None

    def __iter__(self):
        while True:
            yield self.rgb


def stages(gif_dir: Path) -> dict:
    """CPU milliseconds per frame of each stage in this process, the stages timed in turn on each frame (so that
    other jobs on the machine weigh on all of them alike): decoding; the face mesh graph in static-image mode with
    either detector and with the default's tracking; dlib on the tracked faces; the default estimator in all
    (tracking) and the same estimator detecting on every frame (``detect_every=1``, the former default)."""
    from kavan.keypoints.backends import Estimator
    from kavan.keypoints.backends.mediapipe_mesh import FaceMesh
    from kavan.keypoints.backends.tracking import FrameTracker

    clock = time.process_time
    config = KeypointConfig()
    t0 = time.perf_counter()
    default = Estimator(config)
    startup = time.perf_counter() - t0
    static = Estimator(KeypointConfig(detect_every=1))
    meshes = {detector: FaceMesh(config.max_faces, config.min_detection_score, config.min_presence, detector)
              for detector in ("full-range", "short-range")}
    tracked_mesh = FaceMesh(config.max_faces, config.min_detection_score, config.min_presence, config.detector)
    keys = ("decode", "mesh_static_full_range", "mesh_static_short_range", "mesh_tracked", "dlib",
            "default_estimator", "static_estimator")
    totals = dict.fromkeys(keys, 0.0)
    per_gif = {}
    frames = faces = 0
    for gif in sorted(gif_dir.glob("*.gif")):
        gif_totals = dict.fromkeys(("decode", "default_estimator", "static_estimator"), 0.0)
        gif_frames = 0
        tracker = FrameTracker(tracked_mesh, config.detect_every, config.redetect_motion)
        feeds = {"default": _Feed(), "static": _Feed()}
        sequences = {"default": default.sequence(feeds["default"]), "static": static.sequence(feeds["static"])}
        decoded = iter_frames(gif)
        while True:
            t0 = clock()
            item = next(decoded, None)
            totals["decode"] += clock() - t0
            gif_totals["decode"] += clock() - t0
            if item is None:
                break
            rgb = item[1]
            times = {}
            for detector, mesh in meshes.items():
                t0 = clock()
                mesh(rgb)
                times[f"mesh_static_{detector.replace('-', '_')}"] = clock() - t0
            t0 = clock()
            found = tracker(rgb)
            times["mesh_tracked"] = clock() - t0
            t0 = clock()
            default._dlib(rgb, found.boxes[found.mesh_detection[found.mesh_detection >= 0]])
            times["dlib"] = clock() - t0
            for name in ("default", "static"):
                feeds[name].rgb = rgb
                t0 = clock()
                next(sequences[name])
                times[f"{name}_estimator"] = clock() - t0
            for key, dt in times.items():
                totals[key] += dt
                if key in gif_totals:
                    gif_totals[key] += dt
            frames += 1
            gif_frames += 1
            faces += len(found.meshes)
        per_gif[gif.name] = {"frames": gif_frames,
                             **{f"{name}_with_decode": round(1000 * (gif_totals[f"{name}_estimator"]
                                                                     + gif_totals["decode"]) / gif_frames, 2)
                                for name in ("default", "static")}}
        for sequence in sequences.values():
            sequence.close()
    for closable in (default, static, tracked_mesh, *meshes.values()):
        closable.close()
    ms = {key: round(1000 * value / frames, 2) for key, value in totals.items()}
    ms["rest"] = round(ms["default_estimator"] - ms["mesh_tracked"] - ms["dlib"], 2)
    ms["default_with_decode"] = round(ms["default_estimator"] + ms["decode"], 2)
    ms["static_with_decode"] = round(ms["static_estimator"] + ms["decode"], 2)
    return {"frames": frames, "faces": faces, "startup_s": round(startup, 2), "cpu_ms_per_frame": ms,
            "per_gif_cpu_ms_per_frame": per_gif, "tracking": vars(default.tracking),
            "load_after": round(os.getloadavg()[0], 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gifs", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/real-gifs")
    parser.add_argument("--repeat", type=int, default=10, help="links per real GIF (default 10)")
    parser.add_argument("--workers", default="1,2", help="worker counts to time (default 1,2)")
    parser.add_argument("--detectors", default="full-range",
                        help="face detectors to time, comma-separated (default full-range; also short-range)")
    parser.add_argument("--detect-every", default=str(KeypointConfig().detect_every),
                        help="detection intervals to time, comma-separated (default: the default's; 1 detects "
                             "on every frame)")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args(argv)
    result = {"cpus": os.cpu_count(), "runs": []}
    with tempfile.TemporaryDirectory(prefix="kavan-kp-bench-") as tmp:
        frames = linked_dataset(args.gifs, args.repeat, Path(tmp))
        print(f"{frames} frames ({args.repeat} x the real GIFs in {args.gifs}), {os.cpu_count()} CPUs")
        for detector in args.detectors.split(","):
            for detect_every in (int(k) for k in args.detect_every.split(",")):
                config = KeypointConfig(detector=detector, detect_every=detect_every)
                for workers in (int(w) for w in args.workers.split(",")):
                    run = throughput(Path(tmp), workers, config)
                    result["runs"].append(run)
                    print(f"{detector} detector, detect_every={detect_every}, workers={workers}: "
                          f"{run['frames_per_second']} frames/s ({run['frames']} frames in {run['seconds']} s; "
                          f"{run['frames_per_cpu_second']} frames per CPU-second; load average "
                          f"{run['load_before']} before, {run['load_after']} after)")
    result["worker_startup_cpu_s"] = round(worker_startup_cpu(), 2)
    print(f"worker start-up: {result['worker_startup_cpu_s']} CPU-seconds per worker process")
    result["stages"] = stages(args.gifs)
    s = result["stages"]
    print(f"CPU ms per frame, one process ({s['frames']} frames, {s['faces']} faces tracked; load average "
          f"{s['load_after']} after): " + ", ".join(f"{k} {v}" for k, v in s["cpu_ms_per_frame"].items())
          + f"; default tracking {s['tracking']}; estimator start-up {s['startup_s']} s")
    for name, g in s["per_gif_cpu_ms_per_frame"].items():
        print(f"  {name:28s} {g['frames']:4d} frames: default {g['default_with_decode']} CPU ms a frame, "
              f"detecting on every frame {g['static_with_decode']} (decoding included)")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
