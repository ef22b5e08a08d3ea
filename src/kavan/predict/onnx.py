"""ONNX export of a kavan model file, checked against PyTorch, and an ONNX Runtime Predictor.

    kavan export model.safetensors --onnx model.onnx [--check a.gif b.gif ...]
    predictor = kavan.load("model.onnx", backend="onnxruntime")        # the same API and JSON as the torch one
    kavan predict clips/ --checkpoint model.onnx --backend onnxruntime

The exported graph is the whole network from normalised clips to outputs: input ``clips`` (B, T, 3, S, S) float32,
B dynamic; outputs ``intensities`` (B, 17), and ``quadrant_logits`` (B, 4) and ``attention`` (B, T, K, K) when
the model has them. It is made by torch's dynamo exporter (``torch.onnx.export(..., dynamo=True)``, which needs
onnxscript) at opset ``OPSET``; the model file's config and training record travel in the ONNX file's metadata,
so ``load_onnx`` builds the same ModelInfo (and the same JSON fields) as ``kavan.load`` does.

Every export is checked before it is kept: the ONNX file runs in ONNX Runtime on sample clips (the files given
with ``check``, else seeded random clips, at batch sizes 1 and 3), and each output must equal PyTorch's within
``TOLERANCE`` (absolute); otherwise the export is refused and no file is left. The decoding and the frame
transform are the torch backend's (kavan.predict.clip), so an ONNX Runtime Predictor differs from the torch one
only in the network's arithmetic.

Needs the ``[onnx]`` extra (onnx, onnxscript, onnxruntime).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from kavan.config import KavanConfig, from_mapping
from kavan.core.errors import KavanError
from kavan.media import decode
from kavan.predict.predictor import Predictor, load, resolve_device
from kavan.predict.result import ModelInfo

log = logging.getLogger(__name__)

OPSET = 18
TOLERANCE = 1e-4
"""Largest absolute difference allowed between ONNX Runtime's and PyTorch's outputs (intensities in [0, 1],
logits, attention masks summing to 1); measured differences are about 1e-6."""
OUTPUTS = ("intensities", "quadrant_logits", "attention")
FORMAT = "kavan-onnx/1"


def _outputs(model: torch.nn.Module, clips: torch.Tensor) -> dict[str, torch.Tensor]:
    """The model's outputs for normalised clips, by OUTPUTS name, the ones it has."""
    output = model(features=model.encode_frames(clips))
    return {name: value for name, value in zip(OUTPUTS, (output.intensities, output.quadrant_logits,
                                                          output.attention)) if value is not None}


class _Network(torch.nn.Module):
    """The model from normalised clips to its outputs (the ones it has), as one traceable forward."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, clips: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(_outputs(self.model, clips).values())


@dataclass(frozen=True)
class ExportReport:
    """What an export wrote and how close ONNX Runtime came to PyTorch on the check clips."""

    path: str
    outputs: tuple[str, ...]
    opset: int
    n_clips: int
    max_difference: dict[str, float]

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "outputs": list(self.outputs), "opset": self.opset, "check_clips": self.n_clips,
                "max_abs_difference": self.max_difference, "tolerance": TOLERANCE}


def _session(path: str | os.PathLike[str], threads: int | None = None):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(os.fspath(path), options, providers=_providers())


def _providers() -> list[str]:
    import onnxruntime

    available = onnxruntime.get_available_providers()
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]


def _check_clips(predictor: Predictor, files: Sequence[str], seed: int = 0) -> list[torch.Tensor]:
    """Batches of clips to compare on: the given files' clips (one batch), else seeded random clips at batch sizes
    1 and 3."""
    size = predictor.config.model.input_size
    if files:
        preparer = predictor.preparer()
        return [torch.stack([preparer(os.fspath(f)).inputs for f in files])]
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(b, predictor.t, 3, size, size, generator=generator) for b in (1, 3)]


def export_onnx(checkpoint: str | os.PathLike[str], out: str | os.PathLike[str], check: Sequence[str] = (),
                opset: int = OPSET) -> ExportReport:
    """Export the model file ``checkpoint`` to ``out`` (ONNX, dynamic batch), check it (see the module docstring)
    and write it only when every output is within TOLERANCE of PyTorch's; KavanError otherwise."""
    import onnx
    import onnxscript  # noqa: F401 (torch's dynamo exporter needs it: missing, the command names the extra)

    predictor = load(checkpoint, "cpu")
    if predictor.config.model.glimpse.enabled:
        raise KavanError("a glimpse model (model.glimpse) cuts faces out of each clip's frames at their own size, "
                         "which the ONNX graph's fixed-size input cannot carry: predict it with the torch backend",
                         checkpoint)
    network = _Network(predictor.model).eval()
    example = _check_clips(predictor, [], seed=1)[1]  # batch 3: torch.export would fix a batch of 1 as a constant
    with torch.inference_mode():
        names = tuple(_outputs(predictor.model, example))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".kavan-onnx-", dir=out.parent) as folder:
        staged = Path(folder) / "model.onnx"
        try:
            program = torch.onnx.export(network, (example,), input_names=["clips"], output_names=list(names),
                                        dynamic_shapes=({0: torch.export.Dim("batch", min=1, max=4096)},),
                                        opset_version=opset, dynamo=True, verbose=False)
        except Exception as err:  # the exporter's errors are many kinds; name the model and the reason
            raise KavanError(f"ONNX export failed: {type(err).__name__}: {err}", checkpoint) from None
        program.save(os.fspath(staged))
        model = onnx.load(os.fspath(staged))
        meta = {"format": FORMAT, "config": json.dumps(predictor.config.to_dict()),
                "trained_on": json.dumps(predictor.info.trained_on), "config_hash": predictor.info.config_hash,
                "source": os.path.basename(os.fspath(checkpoint))}
        for key, value in meta.items():
            entry = model.metadata_props.add()
            entry.key, entry.value = f"kavan.{key}", value
        onnx.save(model, os.fspath(staged))
        session = _session(staged)
        worst = dict.fromkeys(names, 0.0)
        batches = _check_clips(predictor, check)
        for clips in batches:
            with torch.inference_mode():
                expected = list(_outputs(predictor.model, clips).values())
            got = session.run(list(names), {"clips": clips.numpy()})
            for name, a, b in zip(names, got, expected):
                worst[name] = max(worst[name], float(np.abs(a - b.numpy()).max()))
        bad = {name: diff for name, diff in worst.items() if not diff <= TOLERANCE}
        if bad:
            raise KavanError(f"the ONNX graph differs from PyTorch beyond {TOLERANCE:g}: {bad}; not written", out)
        os.replace(staged, out)
    return ExportReport(os.fspath(out), names, opset, sum(len(c) for c in batches), worst)


class OnnxPredictor(Predictor):
    """A Predictor whose network runs in ONNX Runtime (decoding and transform as the torch one's)."""

    def __init__(self, path: str | os.PathLike[str], config: KavanConfig, info: ModelInfo, threads: int | None = None,
                 limits: decode.Limits = decode.DEFAULT_LIMITS):
        self.model = None
        self.config = config
        self.info = info
        self.device = resolve_device("cpu")
        self.limits = limits
        self.session = _session(path, threads)
        self.outputs = tuple(o.name for o in self.session.get_outputs())

    def forward(self, inputs: torch.Tensor, grey: list[torch.Tensor] | None = None) -> dict[str, np.ndarray | None]:
        """Predictor.forward through ONNX Runtime. ``grey`` is always None: a glimpse model has no ONNX export, so
        the clips of an exported network keep no grey frames."""
        values = self.session.run(list(self.outputs), {"clips": inputs.detach().cpu().float().numpy()})
        found = dict(zip(self.outputs, values))
        return {name: (None if found.get(name) is None else np.asarray(found[name], dtype=np.float32))
                for name in OUTPUTS}


def load_onnx(path: str | os.PathLike[str], threads: int | None = None,
              limits: decode.Limits = decode.DEFAULT_LIMITS) -> OnnxPredictor:
    """An ONNX Runtime Predictor for a file written by ``export_onnx``; KavanError naming the file when it is not
    one."""
    import onnx

    try:
        model = onnx.load(os.fspath(path), load_external_data=False)
    except FileNotFoundError:
        raise KavanError("ONNX file not found", path) from None
    except Exception as err:  # protobuf's decode errors have no common base
        raise KavanError(f"not an ONNX file: {type(err).__name__}", path) from None
    meta = {p.key.removeprefix("kavan."): p.value for p in model.metadata_props if p.key.startswith("kavan.")}
    if meta.get("format") != FORMAT:
        raise KavanError("an ONNX file without kavan's metadata: export it with `kavan export MODEL --onnx OUT`", path)
    try:
        config = from_mapping(KavanConfig, json.loads(meta["config"]), path)
        trained_on = json.loads(meta["trained_on"])
    except (KeyError, ValueError) as err:
        raise KavanError(f"damaged kavan metadata: {err!r}", path) from None
    info = ModelInfo(os.path.abspath(os.fspath(path)), trained_on, meta.get("config_hash", ""))
    return OnnxPredictor(path, config, info, threads, limits)
