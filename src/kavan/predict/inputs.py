"""Which files `kavan predict PATH...` reads, and where each one's pictures go.

A PATH that is a file is taken whatever its name (the decoder goes by content). A folder is walked
recursively, in sorted order, for files with a media extension (MEDIA_EXTENSIONS, any case); hidden files and
folders (names starting with ".") are skipped. A PATH that does not exist is kept, so it gets its own
"file not found" error line like any unreadable file; a symbolic link with a media extension whose target is
missing, in a folder or given as a PATH, is kept too, and its error line says "a broken symbolic link (to
TARGET)" (kavan.media.layout.broken_link, through the decoder), while the batch goes on with the other files.

Pictures are named after the input: for a file inside a folder PATH, its path relative to PATH (sub-folders
kept); for a file PATH, its name; then ``.overlay.gif`` or ``.chart.png`` is appended (``a/x.gif`` ->
``a/x.gif.overlay.gif``), so ``x.gif`` and ``x.mp4`` never collide. Two inputs that would still get the same
name (files of one name from different folders) get ``-2``, ``-3``, ... in order.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import PurePath

from kavan.media.layout import MEDIA_SUFFIXES

# what `kavan predict` reads from a folder: a dataset's media, other videos PyAV decodes, and stills
MEDIA_EXTENSIONS = frozenset(MEDIA_SUFFIXES) | {".mov", ".mkv", ".png", ".jpg", ".jpeg", ".webp"}


@dataclass(frozen=True)
class InputFile:
    """One file to predict: its path as the user will see it in the output, and its pictures' base name."""

    path: str
    name: str


def _walk(folder: str) -> Iterable[str]:
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith(".") and os.path.splitext(name)[1].lower() in MEDIA_EXTENSIONS:
                yield os.path.join(root, name)


def expand_inputs(paths: Sequence[str]) -> list[InputFile]:
    """The files named by ``paths`` (see the module docstring), each once, in the order found."""
    found: list[InputFile] = []
    seen_paths: set[str] = set()
    used_names: set[str] = set()
    for given in paths:
        if os.path.isdir(given):
            pairs = [(path, os.path.relpath(path, given)) for path in _walk(given)]
        else:
            pairs = [(given, os.path.basename(os.path.normpath(given)) or given)]
        for path, name in pairs:
            key = os.path.abspath(path)
            if key in seen_paths:
                continue
            seen_paths.add(key)
            unique, n = name, 1
            while unique in used_names:
                n += 1
                unique = f"{name}-{n}"
            used_names.add(unique)
            found.append(InputFile(path, unique))
    return found


def picture_path(folder: str | os.PathLike[str], item: InputFile, kind: str) -> str:
    """Where ``item``'s picture of ``kind`` (``overlay.gif`` or ``chart.png``) goes under ``folder``."""
    return os.path.join(folder, *PurePath(item.name).parts[:-1], f"{PurePath(item.name).name}.{kind}")
