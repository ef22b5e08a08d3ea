"""kavan: human-centred emotion recognition in animated GIFs (KAVAN, Yang, Zhang & Luo, ICME 2019)."""

from __future__ import annotations

import os
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kavan.predict import Predictor

try:  # the one version is pyproject.toml's, read from the installed package's metadata
    __version__ = version("kavan")
except PackageNotFoundError:  # a source tree on sys.path that was never installed
    __version__ = "0+unknown"


def load(checkpoint: str | os.PathLike[str], device: str = "auto", backend: str = "torch") -> Predictor:
    """A Predictor for a trained model file: ``kavan.load("model.safetensors").predict("cool.gif")``.

    torch and the model code are imported on the first call, so ``import kavan`` stays light.
    See kavan.predict.predictor.load for the options.
    """
    from kavan.predict import load as load_predictor

    return load_predictor(checkpoint, device, backend=backend)
