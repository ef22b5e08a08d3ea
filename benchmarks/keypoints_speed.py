"""Throughput of `kavan keypoints` on the shared real GIFs: frames per second with 1 and 2 worker processes.

What is timed is `kavan.keypoints.run.run_dataset` on a dataset folder whose gifs/ links to the real GIFs
(each linked --repeat times, so that worker start-up is spread over more frames, as on a real dataset): decoding,
face mesh, dlib, confidences and writing the caches, start-up of the worker processes included. A per-stage
breakdown in CPU time follows (decode, face mesh graph with each detector, dlib, the rest), to show where the time
goes.

The machine is shared: the load average before and after each run is printed with the numbers, and so is the
throughput per CPU-second of the run's processes (start-up included), which the other jobs change much less than
the wall clock.

    .venv/bin/python benchmarks/keypoints_speed.py [--gifs ../shared/data/real-gifs] [--repeat 3]
        [--detectors full-range,short-range] [--json OUT]
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

from kavan.decode import iter_frames
from kavan.keypoints.config import KeypointConfig
from kavan.keypoints.run import run_dataset


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


def cpu_seconds() -> float:
    """User + system CPU time of this process and of its finished child processes (the workers)."""
    return sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF),
                                                  resource.getrusage(resource.RUSAGE_CHILDREN)))


def throughput(root: Path, workers: int, detector: str) -> dict:
    """Wall-clock frames/s of one run, and frames per CPU-second: on a shared machine the wall clock measures the
    share of the cores the run got, while CPU time estimates what each core does when it is not shared."""
    load_before = os.getloadavg()[0]
    cpu = cpu_seconds()
    start = time.perf_counter()
    report = run_dataset(root, KeypointConfig(detector=detector), workers=workers, force=True, progress=False)
    seconds = time.perf_counter() - start
    cpu = cpu_seconds() - cpu
    if report.failed:
        raise RuntimeError(f"failed: {report.failed}")
    return {"detector": detector, "workers": workers, "frames": report.frames, "seconds": round(seconds, 2),
            "frames_per_second": round(report.frames / seconds, 1),
            "frames_per_cpu_second": round(report.frames / cpu, 1),
            "load_before": round(load_before, 2), "load_after": round(os.getloadavg()[0], 2)}


def stages(gif_dir: Path) -> dict:
    """CPU milliseconds per frame of each stage in this process, the stages timed in turn on each frame (so that
    other jobs on the machine weigh on all of them alike): decoding, the face mesh graph with either detector, dlib
    on the default's faces, and the default estimator in all."""
    from kavan.keypoints.backends import Estimator

    clock = time.process_time
    t0 = time.perf_counter()
    default = Estimator(KeypointConfig())
    startup = time.perf_counter() - t0
    short = Estimator(KeypointConfig(detector="short-range"))
    totals = dict.fromkeys(("decode", "mesh_full_range", "mesh_short_range", "dlib", "default_estimator"), 0.0)
    frames = faces = 0
    for gif in sorted(gif_dir.glob("*.gif")):
        decoded = iter_frames(gif)
        while True:
            t0 = clock()
            item = next(decoded, None)
            totals["decode"] += clock() - t0
            if item is None:
                break
            rgb = item[1]
            t0 = clock()
            found = default._mesh(rgb)
            t1 = clock()
            short._mesh(rgb)
            t2 = clock()
            default._dlib(rgb, found.boxes[found.mesh_detection[found.mesh_detection >= 0]])
            t3 = clock()
            default(rgb)
            t4 = clock()
            for key, dt in (("mesh_full_range", t1 - t0), ("mesh_short_range", t2 - t1), ("dlib", t3 - t2),
                            ("default_estimator", t4 - t3)):
                totals[key] += dt
            frames += 1
            faces += len(found.meshes)
    default.close()
    short.close()
    ms = {key: round(1000 * value / frames, 2) for key, value in totals.items()}
    ms["rest"] = round(ms["default_estimator"] - ms["mesh_full_range"] - ms["dlib"], 2)
    ms["default_with_decode"] = round(ms["default_estimator"] + ms["decode"], 2)
    return {"frames": frames, "faces": faces, "startup_s": round(startup, 2), "cpu_ms_per_frame": ms,
            "load_after": round(os.getloadavg()[0], 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gifs", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/real-gifs")
    parser.add_argument("--repeat", type=int, default=3, help="links per real GIF (default 3)")
    parser.add_argument("--workers", default="1,2", help="worker counts to time (default 1,2)")
    parser.add_argument("--detectors", default="full-range",
                        help="face detectors to time, comma-separated (default full-range; also short-range)")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args(argv)
    result = {"cpus": os.cpu_count(), "runs": []}
    with tempfile.TemporaryDirectory(prefix="kavan-kp-bench-") as tmp:
        frames = linked_dataset(args.gifs, args.repeat, Path(tmp))
        print(f"{frames} frames ({args.repeat} x the real GIFs in {args.gifs}), {os.cpu_count()} CPUs")
        for detector in args.detectors.split(","):
            for workers in (int(w) for w in args.workers.split(",")):
                run = throughput(Path(tmp), workers, detector)
                result["runs"].append(run)
                print(f"{detector} detector, workers={workers}: {run['frames_per_second']} frames/s ({run['frames']} frames in "
                      f"{run['seconds']} s; {run['frames_per_cpu_second']} frames per CPU-second; load average "
                      f"{run['load_before']} before, {run['load_after']} after)")
    result["stages"] = stages(args.gifs)
    s = result["stages"]
    print(f"CPU ms per frame, one process ({s['frames']} frames, {s['faces']} faces; load average "
          f"{s['load_after']} after): " + ", ".join(f"{k} {v}" for k, v in s["cpu_ms_per_frame"].items())
          + f"; estimator start-up {s['startup_s']} s")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
