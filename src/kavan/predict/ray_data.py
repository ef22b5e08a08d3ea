"""Batch prediction on a Ray cluster: kavan's model as a Ray Data ``map_batches`` callable class.

    import ray
    from kavan.predict.ray_data import RayPredictor, predict_dataset

    predict_dataset(["s3://bucket/gifs/"], "model.safetensors", "s3://bucket/predictions/", concurrency=8)

    # or by hand, with Ray's own reader and writers:
    ds = ray.data.read_binary_files(paths, include_paths=True)
    ds = ds.map_batches(RayPredictor, fn_constructor_kwargs={"checkpoint": "model.safetensors"},
                        batch_size=4, compute=ray.data.ActorPoolStrategy(size=2), num_cpus=1)
    ds.write_json("predictions/")                      # or ds.write_parquet(...)

``RayPredictor`` loads the model once per actor (its constructor) and then takes batches of Ray's binary-file
rows (``path``, ``bytes``). Each file is written to a private temporary file, prepared exactly as `kavan predict`
prepares it (kavan.predict.clip) and predicted in one forward per batch (kavan.predict.batch.finish_batch), so
its records equal `kavan predict`'s: each output row has the file's ``path`` and its ``record``, the JSON text of
`kavan predict`'s line for it (a prediction, or ``{"path", "error"}`` for a file that cannot be read; the batch
goes on). ``read_records`` reads such an output back as dicts. ``backend="onnxruntime"`` runs an exported ONNX
file instead (kavan.predict.onnx); on GPU actors (``num_gpus=1``) the torch backend uses the GPU. docs/scale.md
has the recipe.

Needs the ``[ray]`` extra (ray[data]).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kavan.core.errors import KavanError
from kavan.predict.batch import collate, finish_batch
from kavan.predict.inputs import MEDIA_EXTENSIONS
from kavan.predict.predictor import load


class RayPredictor:
    """A ``map_batches`` callable class: the model loaded once, then one forward per batch of binary-file rows."""

    def __init__(self, checkpoint: str, backend: str = "torch", device: str = "auto"):
        self.predictor = load(checkpoint, device, backend=backend)
        self.preparer = self.predictor.preparer()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        paths = [str(p) for p in batch["path"]]
        items = []
        with tempfile.TemporaryDirectory(prefix="kavan-ray-") as folder:
            for index, (path, blob) in enumerate(zip(paths, batch["bytes"])):
                staged = os.path.join(folder, f"{index}{os.path.splitext(path)[1]}")
                with open(staged, "wb") as handle:
                    handle.write(bytes(blob))
                try:
                    items.append((index, self.preparer.from_path(staged)))
                except KavanError as err:
                    items.append((index, err.reason))
        results = finish_batch(self.predictor, paths, collate(items))
        records = [json.dumps(results[k].to_json(), allow_nan=False) for k in range(len(paths))]
        return {"path": np.array(paths, dtype=object), "record": np.array(records, dtype=object)}


def predict_dataset(paths: str | Sequence[str], checkpoint: str, out: str, output_format: str = "json",
                    backend: str = "torch", batch_size: int = 4, concurrency: int = 1, num_cpus: float = 1,
                    num_gpus: float = 0) -> None:
    """Predict every media file under ``paths`` (local folders or object-store prefixes Ray can read) into the
    folder ``out``: JSON Lines (``output_format="json"``) or Parquet, one row per file with ``path`` and ``record``.
    ``concurrency`` actors, each with ``num_cpus`` CPUs and ``num_gpus`` GPUs, each loading the model once."""
    import ray

    if output_format not in ("json", "parquet"):
        raise KavanError(f"output_format must be json or parquet, got {output_format!r}")
    extensions = sorted(suffix.lstrip(".") for suffix in MEDIA_EXTENSIONS)
    dataset = ray.data.read_binary_files(paths, include_paths=True, file_extensions=extensions)
    predicted = dataset.map_batches(RayPredictor, fn_constructor_kwargs={"checkpoint": checkpoint, "backend": backend},
                                    batch_size=batch_size, compute=ray.data.ActorPoolStrategy(size=concurrency),
                                    num_cpus=num_cpus, num_gpus=num_gpus, batch_format="numpy")
    if output_format == "json":
        predicted.write_json(out)
    else:
        predicted.write_parquet(out)


def read_records(folder: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The records of a ``predict_dataset`` JSON output folder, as `kavan predict`'s dicts, sorted by path."""
    rows = []
    for path in sorted(Path(folder).glob("*.json*")):
        rows += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return sorted((json.loads(row["record"]) for row in rows), key=lambda record: record["path"])
