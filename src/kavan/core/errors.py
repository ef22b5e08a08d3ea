"""The one exception type the project raises for bad input, and its helper."""

from __future__ import annotations

import os


class KavanError(Exception):
    """A failure the user can act on. The message names the file (when there is one) and the reason."""

    def __init__(self, reason: str, path: str | os.PathLike[str] | None = None):
        self.path = None if path is None else os.fspath(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}" if self.path is not None else reason)
