"""Feature-extraction speed of the two baselines: seconds per GIF without and with the cache.

    .venv/bin/python benchmarks/baselines_speed.py --data DIR [--data DIR ...] [--real-gifs DIR] [--n N]

For each dataset folder (and, with --real-gifs, a temporary dataset of symbolic links to the shared real GIFs
with dummy scores), runs each baseline's extract_features on the first N GIFs into a fresh temporary cache
(every GIF computed: decode the T = 8 sampled frames, features), then again (every GIF read from the cache; this
includes hashing every media file, which every check of a cache entry does).
Prints a Markdown table with the wall-clock seconds per GIF, and the machine's load average before and after,
since other processes share the cores.
"""

from __future__ import annotations

import argparse
import csv
import os
import tempfile
import time
from pathlib import Path

from kavan.baselines import BASELINES, baseline_module
from kavan.core.emotions import EMOTIONS
from kavan.data.dataset import Dataset


def real_gif_dataset(gif_dir: Path, root: Path) -> Path:
    """A dataset folder of symbolic links to the GIFs in ``gif_dir`` (no copies), every score 0.5."""
    (root / "gifs").mkdir(parents=True)
    ids = []
    for path in sorted(gif_dir.glob("*.gif")):
        (root / "gifs" / path.name).symlink_to(path.resolve())
        ids.append(path.stem)
    with open(root / "scores.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", *EMOTIONS])
        writer.writerows([[gif_id, *[0.5] * len(EMOTIONS)] for gif_id in ids])
    return root


def time_extraction(dataset: Dataset, ids: list[str], name: str, cache: Path) -> float:
    start = time.perf_counter()
    baseline_module(name).extract_features(dataset, ids, cache, progress=False)
    return (time.perf_counter() - start) / len(ids)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", action="append", default=[], help="dataset folder (repeatable)")
    parser.add_argument("--real-gifs", help="folder of the shared real GIFs")
    parser.add_argument("--n", type=int, default=200, help="GIFs per dataset (default 200)")
    args = parser.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        folders = [Path(d) for d in args.data]
        if args.real_gifs:
            folders.append(real_gif_dataset(Path(args.real_gifs), Path(tmp) / "real-gifs"))
        print("| dataset | GIFs | frame size | baseline | s/GIF, computed | s/GIF, cached |")
        print("|---|---|---|---|---|---|")
        for folder in folders:
            dataset = Dataset(folder)
            ids = dataset.ids[:args.n]
            info = dataset.media_info(ids[0])
            size = f"{info.width}×{info.height}" if folder.name != "real-gifs" else "240×180 to 540×540"
            for name in BASELINES:
                cache = Path(tempfile.mkdtemp(dir=tmp))
                computed = time_extraction(dataset, ids, name, cache)
                cached = time_extraction(dataset, ids, name, cache)
                print(f"| {folder.name} | {len(ids)} | {size} | {name} | {computed:.4f} | {cached:.5f} |")
    load_after = os.getloadavg()
    print(f"\nload average (1, 5, 15 min) before: {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}; "
          f"after: {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}; {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
