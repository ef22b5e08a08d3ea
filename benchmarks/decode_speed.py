"""GIF decoding speed and memory on the shared real GIFs, against Pillow.

    .venv/bin/python benchmarks/decode_speed.py [--repeat 5] [--folder DIR]

Per file: `probe` (block structure only, image data skipped); `read_frames` of the 8 frames TSN evaluation picks
(what prediction and the feature cache decode); every frame through `iter_frames` (what `kavan keypoints` decodes);
and Pillow seeking to every frame and converting it to RGB (Pillow composites differently, see docs/decoding.md, so
this is a speed reference, not the same output). Times are the fastest of --repeat runs, so other processes on the
machine disturb them least. Peak is the traced memory while reading the 8 frames, in RGBA canvases of the file's
size (the 8 returned RGB frames are 6 of them). The last row sums the files.
"""

from __future__ import annotations

import argparse
import os
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from kavan.media.decode import iter_frames, probe, read_frames
from kavan.media.sampling import tsn_indices
from kavan.showcase.demo import real_gif_folder


def fastest(run: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def pillow_all(path: Path, n: int) -> None:
    with Image.open(path) as im:
        for k in range(n):
            im.seek(k)
            im.convert("RGB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--folder", type=Path, default=None, help="GIF folder (default: the shared real GIFs)")
    args = parser.parse_args()
    folder = args.folder or real_gif_folder()
    paths = sorted(folder.glob("*.gif"))
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
    print("| file | frames | probe | read 8 frames | all frames | Pillow, all frames | peak (canvases) |")
    print("|---|---|---|---|---|---|---|")
    totals = [0, 0.0, 0.0, 0.0, 0.0]
    for path in paths:
        info = probe(path)
        picked = tsn_indices(info.n_frames, 8, train=False)
        times = [fastest(lambda: probe(path), args.repeat),
                 fastest(lambda: read_frames(path, picked), args.repeat),
                 fastest(lambda: sum(1 for _ in iter_frames(path)), args.repeat),
                 fastest(lambda: pillow_all(path, info.n_frames), args.repeat)]
        tracemalloc.start()
        read_frames(path, picked)
        peak = tracemalloc.get_traced_memory()[1] / (info.width * info.height * 4)
        tracemalloc.stop()
        totals = [totals[0] + info.n_frames, *(a + b for a, b in zip(totals[1:], times))]
        cells = " | ".join(f"{t * 1e3:.1f} ms" for t in times)
        print(f"| {path.name} | {info.n_frames} | {cells} | {peak:.1f} |")
    cells = " | ".join(f"{t * 1e3:.0f} ms" for t in totals[1:])
    print(f"| all {len(paths)} files | {totals[0]} | {cells} | |")
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
