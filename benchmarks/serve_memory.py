"""Peak memory of `kavan serve` under parallel worst-case uploads; the budget is a peak RSS under 2 GB.

    .venv/bin/python benchmarks/serve_memory.py [--checkpoint CKPT | --config bench/mtl-softatt-hslstm]
        [--parallel 8]

Starts `python -m kavan serve` in a subprocess on a free port with its default settings (20 MB uploads, 2 uploads
decoded at once, 8 more waiting, kavan.serve.app.SERVE_LIMITS), then for each kind of upload below sends
--parallel copies of it at once and waits for every answer, and finally a mixed round of all kinds together:

- the 135 KB GIF of the issue: a 4000 x 4000 canvas and 9000 frames of 1 x 1 pixel (refused from its header);
- the same on a 2000 x 2000 canvas, within the canvas limit (refused by its decoding work, canvas x frames);
- a 2 KB PNG declaring 4096 x 4096 (refused from its header);
- the largest GIF the server accepts: a 2048 x 2048 canvas (the canvas limit) with as many full-canvas frames as
  the decoding budget allows the model's T sampled frames to reach;
- the largest still it accepts: a 2048 x 2048 PNG of noise (12.6 MB).

The server's resident memory is read from /proc/<pid>/status every 10 ms (VmRSS; psutil is not needed), and its
VmHWM (the kernel's own peak) at the end. Prints the machine, the load average (other processes share the cores)
and a Markdown table. With --config (the default) the model has random weights: memory does not depend on them.
"""

from __future__ import annotations

import argparse
import collections
import http.client
import io
import os
import platform
import struct
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from PIL import Image

BUDGET_MB = 2000


def frame_bomb(width: int, height: int, n_frames: int = 9000) -> bytes:
    """A GIF declaring a width x height canvas with n 1 x 1 frames (9000 frames: 135 KB, whatever the canvas)."""
    frame = b"," + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + bytes([2, 2, 0x44, 1, 0])
    return b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0) + bytes(6) + frame * n_frames + b";"


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def frames_within_budget(t: int, canvas_pixels: int, budget: int) -> int:
    """The most frames a GIF may have for TSN's last sampled frame (of t) to be reachable within the budget."""
    from kavan.media.sampling import tsn_indices

    n = 1
    while (tsn_indices(n + 1, t, train=False)[-1] + 1) * canvas_pixels <= budget:
        n += 1
    return n


def largest_gif(side: int, n_frames: int) -> bytes:
    """A side x side GIF whose every frame repaints the whole canvas (two flat colours in turn)."""
    palette = [0, 0, 0, 255, 255, 255] + [0] * 762
    frames = []
    for k in range(n_frames):
        frame = Image.new("P", (side, side), k % 2)
        frame.putpalette(palette)
        frames.append(frame)
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], optimize=False, duration=100,
                   disposal=1)
    return buffer.getvalue()


def cases(t: int) -> dict[str, tuple[str, bytes]]:
    """name -> (file name, bytes) of each kind of upload."""
    from kavan.serve.app import SERVE_LIMITS

    side = int(SERVE_LIMITS.max_canvas_pixels ** 0.5)
    n_frames = frames_within_budget(t, side * side, SERVE_LIMITS.max_composited_pixels)
    noise = np.random.default_rng(0).integers(0, 256, (side, side, 3), dtype=np.uint8)
    return {
        "GIF bomb, 4000 x 4000 canvas, 9000 frames of 1 x 1": ("bomb.gif", frame_bomb(4000, 4000)),
        "GIF bomb, 2000 x 2000 canvas, 9000 frames of 1 x 1": ("bomb2000.gif", frame_bomb(2000, 2000)),
        "PNG declaring 4096 x 4096": ("tiny.png", png(Image.new("1", (4096, 4096)))),
        f"largest GIF accepted: {side} x {side}, {n_frames} full frames": ("large.gif", largest_gif(side, n_frames)),
        f"largest still accepted: {side} x {side} PNG of noise": ("noise.png", png(Image.fromarray(noise))),
    }


def status_kib(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def mb(kib: int) -> float:
    return kib * 1024 / 1e6


class Sampler:
    """Samples a process's VmRSS every 10 ms in a thread; ``peak()`` since the last ``reset()``."""

    def __init__(self, pid: int):
        self.pid = pid
        self._peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._peak = max(self._peak, status_kib(self.pid, "VmRSS"))
            time.sleep(0.01)

    def reset(self) -> None:
        self._peak = status_kib(self.pid, "VmRSS")

    def peak(self) -> int:
        return self._peak

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def upload(port: int, name: str, blob: bytes) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=3600)
    try:
        connection.request("POST", "/api/predict", body=blob, headers={"X-Filename": name})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def round_of(port: int, sampler: Sampler, uploads: list[tuple[str, bytes]]) -> tuple[collections.Counter, float, int]:
    """Send the uploads at once; (answers by status, seconds, peak RSS in KiB during the round)."""
    sampler.reset()
    start = time.monotonic()
    with ThreadPoolExecutor(len(uploads)) as pool:
        statuses = list(pool.map(lambda item: upload(port, *item), uploads))
    seconds = time.monotonic() - start
    time.sleep(0.05)
    return collections.Counter(statuses), seconds, sampler.peak()


def random_model_file(config_path: str, folder: str) -> str:
    """A model file with random weights for a config (memory does not depend on the weights)."""
    from kavan.config import load_config
    from kavan.models import KAVAN
    from kavan.models.storage import save_model

    config = load_config(config_path, ["model.weights=none"])
    path = os.path.join(folder, "random-model.safetensors")
    save_model(path, KAVAN(config.model), config, {"note": f"random weights from {config_path}, for measuring only"})
    return path


def model_t(checkpoint: str) -> int:
    from kavan.models.storage import load_model

    return load_model(checkpoint, "cpu").config.model.t


def start_server(checkpoint: str) -> tuple[subprocess.Popen, int]:
    process = subprocess.Popen([sys.executable, "-m", "kavan", "serve", "--checkpoint", checkpoint, "--port", "0",
                                "--device", "cpu"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = process.stdout.readline()
    if not line.startswith("kavan serve: open http://"):
        process.kill()
        raise SystemExit(f"the server did not start: {line!r}")
    port = int(line.split()[3].rstrip("/").rsplit(":", 1)[1])
    return process, port


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", help="model file to serve (default: --config with random weights)")
    parser.add_argument("--config", default="bench/mtl-softatt-hslstm")
    parser.add_argument("--parallel", type=int, default=8, help="uploads sent at once (default 8)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        checkpoint = args.checkpoint or random_model_file(args.config, scratch)
        t = model_t(checkpoint)
        kinds = cases(t)
        print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; "
              f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}; model T = {t}; "
              f"load average before: {load_average()}", flush=True)
        process, port = start_server(checkpoint)
        sampler = Sampler(process.pid)
        try:
            idle = status_kib(process.pid, "VmRSS")
            rows = []
            for label, (name, blob) in kinds.items():
                answers, seconds, peak = round_of(port, sampler, [(name, blob)] * args.parallel)
                rows.append((label, f"{len(blob):,}", answers, seconds, peak))
                print(f"  {label}: {dict(answers)} in {seconds:.1f} s, peak {mb(peak):.0f} MB", flush=True)
            mixed = [item for item in kinds.values() if not item[0].startswith("bomb2000")]
            mixed = (mixed * args.parallel)[:args.parallel]
            answers, seconds, peak = round_of(port, sampler, mixed)
            rows.append((f"mixed: {', '.join(n for n, _ in mixed)}", "", answers, seconds, peak))
            hwm = status_kib(process.pid, "VmHWM")
        finally:
            sampler.stop()
            process.terminate()
            process.wait(timeout=60)
    print(f"\nload average after: {load_average()}\n")
    print(f"| uploads ({args.parallel} at once) | bytes each | answers | seconds | peak RSS (MB) |")
    print("|---|---|---|---|---|")
    for label, size, answers, seconds, peak in rows:
        statuses = ", ".join(f"{count} x {status}" for status, count in sorted(answers.items()))
        print(f"| {label} | {size} | {statuses} | {seconds:.1f} | {mb(peak):.0f} |")
    verdict = "within" if mb(hwm) < BUDGET_MB else "OVER"
    print(f"\nserver RSS after loading the model: {mb(idle):.0f} MB; peak RSS over the run (VmHWM): {mb(hwm):.0f} MB "
          f"-> {verdict} the {BUDGET_MB} MB budget")


if __name__ == "__main__":
    main()
