"""The Python API: ``kavan.load(checkpoint)`` gives a Predictor; ``.predict(...)`` and ``.attention(...)`` use it.

    import kavan
    predictor = kavan.load("model.safetensors")          # a model file written by kavan train / make demo
    result = predictor.predict("cool.gif")               # Prediction: the fields of kavan predict's JSON
    result.quadrant.label, result.top                    # 'pleasure-arousal', [('happiness', 0.61), ...]
    maps = predictor.attention("cool.gif")               # Attention: (T, K, K) cells and (T, H, W) maps

A Predictor holds one model in eval mode on one device; a call runs one clip through it. Batches of files with
decoding in worker processes are kavan.predict.batch's job. A Predictor is not thread-safe: share it between
threads behind a lock (as kavan serve does).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from kavan.config import KavanConfig, config_hash
from kavan.core.errors import KavanError
from kavan.media import decode
from kavan.media.overlay import upsample_map
from kavan.predict.clip import ClipPreparer, PreparedClip, Source
from kavan.predict.result import Analysis, Attention, ModelInfo, Prediction, make_prediction

log = logging.getLogger(__name__)

SYNTHGIF_WARNING = ("the model was trained on SynthGIF (synthetic cartoon faces), not on real labelled GIFs: "
                    "its predictions on real GIFs are not meaningful")


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """torch's intra-op threads set to 1 inside the block, restored after it."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def resolve_device(device: str | torch.device) -> torch.device:
    """``auto``: the GPU when torch sees one, else the CPU; otherwise the torch device named."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise KavanError(f"unknown device {device!r} ({err}); use auto, cpu, cuda or cuda:N") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise KavanError(f"device {device!r} asked for, but torch sees no CUDA GPU")
    return resolved


class Predictor:
    """A trained KAVAN ready to predict files or frames (see the module docstring)."""

    def __init__(self, model: torch.nn.Module, config: KavanConfig, info: ModelInfo,
                 device: torch.device, limits: decode.Limits = decode.DEFAULT_LIMITS):
        self.model = model.to(device).eval()
        self.config = config
        self.info = info
        self.device = device
        self.limits = limits

    @property
    def t(self) -> int:
        """Frames sampled per clip."""
        return self.config.model.t

    @property
    def has_attention(self) -> bool:
        return self.config.model.attention.enabled

    def preparer(self, keep_frames: bool = False) -> ClipPreparer:
        """The sampling and transform this model needs (picklable, for DataLoader workers)."""
        return ClipPreparer(self.t, self.config.model.input_size, self.limits, keep_frames,
                            keep_grey=self.config.model.glimpse.enabled)

    def predict(self, source: Source) -> Prediction:
        """Emotions and quadrant of a file (GIF, MP4/WebM, still image) or of frames: (N, H, W, 3) uint8 RGB."""
        return self.analyse(source, with_attention=False).prediction

    def attention(self, source: Source) -> Attention:
        """The attention masks of a file or of frames, per sampled frame (KavanError without attention)."""
        if not self.has_attention:
            raise KavanError("the model has no attention (model.attention.enabled is false)", self.info.checkpoint)
        attention = self.analyse(source, with_attention=True).attention
        assert attention is not None
        return attention

    def analyse(self, source: Source, with_attention: bool = True) -> Analysis:
        """Prediction and (with_attention, when the model has attention) the attention maps, from one forward."""
        clip = self.preparer(keep_frames=with_attention)(source)
        path = os.fspath(source) if isinstance(source, (str, os.PathLike)) else None
        outputs = self.forward(clip.inputs[None], grey_of([clip]))
        bad = self.non_finite(outputs)
        if bad:
            raise KavanError(f"{path}: {bad[0]}" if path else bad[0])
        return self.results([clip], [path], outputs)[0]

    @torch.inference_mode()
    def forward(self, inputs: torch.Tensor, grey: list[torch.Tensor] | None = None) -> dict[str, np.ndarray | None]:
        """Run the model on a batch (B, T, 3, S, S) of normalised clips; outputs as float32 numpy on the CPU.
        ``grey``: a glimpse model's grey frames of each clip (``grey_of`` the prepared clips).

        On the CPU the backbone runs with torch's threads and the rest (attention, LSTMs, heads: many small ops)
        with one: threads only add synchronisation to ops that small, and on a busy machine each op waits for a
        descheduled thread (measured on 2 shared cores: 1.1-1.7 s per batch of 4 clips with 2 threads, 16 ms
        with 1; docs/predict.md).
        """
        features = self.model.encode_frames(inputs.to(self.device, non_blocking=True))
        with single_thread() if self.device.type == "cpu" else contextlib.nullcontext():
            output = self.model(features=features, grey=grey)

        def cpu(tensor: torch.Tensor | None) -> np.ndarray | None:
            return None if tensor is None else tensor.float().cpu().numpy()

        return {"intensities": cpu(output.intensities), "quadrant_logits": cpu(output.quadrant_logits),
                "attention": cpu(output.attention)}

    def non_finite(self, outputs: dict[str, np.ndarray | None]) -> dict[int, str]:
        """{row: reason} of the batch rows whose outputs hold NaN or infinity: a model file from a diverged run
        or an overflow. Such a row is an error, never a prediction (JSON has no NaN)."""
        bad = np.zeros(len(outputs["intensities"]), dtype=bool)
        for value in outputs.values():
            if value is not None:
                bad |= ~np.isfinite(value.reshape(len(bad), -1)).all(axis=1)
        reason = str(KavanError("the model's output is NaN or infinite: the model file holds non-finite weights "
                                "or the input overflowed it", self.info.checkpoint))
        return {int(row): reason for row in np.flatnonzero(bad)}

    def results(self, clips: list[PreparedClip], paths: list[str | None],
                outputs: dict[str, Any]) -> list[Analysis]:
        """One Analysis per clip of a batch from the batch's ``forward`` outputs."""
        analyses = []
        for row, (clip, path) in enumerate(zip(clips, paths)):
            logits = outputs["quadrant_logits"]
            prediction = make_prediction(path, outputs["intensities"][row], None if logits is None else logits[row],
                                         clip.frames_used, self.info)
            attention = None
            if outputs["attention"] is not None and clip.frames is not None:
                cells = outputs["attention"][row]
                height, width = clip.frames.shape[1:3]
                maps = np.stack([upsample_map(c, height, width) for c in cells])
                attention = Attention(clip.frames_used, clip.frames, cells, maps)
            analyses.append(Analysis(prediction, attention))
        return analyses


def grey_of(clips: list[PreparedClip]) -> list[torch.Tensor] | None:
    """The clips' grey frames for a glimpse model's forward, or None when they hold none (any other model)."""
    return None if any(clip.grey is None for clip in clips) else [clip.grey for clip in clips]


BACKENDS = ("torch", "onnxruntime")


def load(checkpoint: str | os.PathLike[str], device: str | torch.device = "auto",
         limits: decode.Limits = decode.DEFAULT_LIMITS, backend: str = "torch") -> Predictor:
    """A Predictor for a model file (``model.safetensors`` from kavan train or make demo).

    device: ``auto`` (the GPU when there is one), ``cpu``, ``cuda`` or ``cuda:N``. limits: the decoder's
    refusal thresholds (file size, canvas size, frame count) for the files it will read. backend: ``torch``, or
    ``onnxruntime`` for an ONNX file written by `kavan export --onnx` (kavan.predict.onnx; the ``[onnx]`` extra;
    ONNX Runtime picks its own device: CUDA when its CUDA provider is installed, else the CPU).
    A file that is missing, damaged or not a kavan model file is a KavanError naming it.
    """
    from kavan.models.storage import load_model

    if backend not in BACKENDS:
        raise KavanError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend == "onnxruntime":
        from kavan.predict.onnx import load_onnx

        predictor = load_onnx(checkpoint, limits=limits)
        if predictor.info.synthgif:
            log.warning("%s: %s", checkpoint, SYNTHGIF_WARNING)
        return predictor

    target = resolve_device(device)
    loaded = load_model(checkpoint, target)
    # The hash the trainer recorded identifies the config as it was trained (kavan train's metrics carry the same);
    # hashing the loaded config would change whenever a later version adds a config field with its default.
    recorded = loaded.trained_on.get("config_hash")
    info = ModelInfo(os.path.abspath(os.fspath(checkpoint)), loaded.trained_on,
                     recorded if isinstance(recorded, str) else config_hash(loaded.config))
    if info.synthgif:
        log.warning("%s: %s", checkpoint, SYNTHGIF_WARNING)
    return Predictor(loaded.model, loaded.config, info, target, limits)
