"""Web pages: `kavan serve` (drop a GIF, see its attention, emotions and quadrant) and `kavan label` (answer
GIFGIF-style pairwise questions into a dataset's votes.csv).

- ``server``: the HTTP server both pages run on (Starlette on uvicorn) and the answers they share;
- ``app``: the prediction demo (kavan.predict, torch);
- ``label_app``: the labelling page's questions, tickets and votes (kavan.labels; no torch), ``label_web`` its
  routes, ``access`` its tokens;
- ``http_checks``: the Host and Origin checks both servers make.

The demo's names are imported on first use, so that the labelling page starts without importing torch.

May import: every package below it (it uses kavan.predict, kavan.labels and kavan.media).
"""

from __future__ import annotations

import importlib
from typing import Any

_DEMO_NAMES = ("DemoApp", "DemoServer", "ServeSettings", "UploadRefused", "make_server")

__all__ = list(_DEMO_NAMES)


def __getattr__(name: str) -> Any:
    """The demo's names, from kavan.serve.app when first asked for."""
    if name in _DEMO_NAMES:
        return getattr(importlib.import_module("kavan.serve.app"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
