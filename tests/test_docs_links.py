"""Every place the documentation sends a reader exists.

README.md, docs/*.md and the docstrings under src/kavan name doc pages (``docs/model.md``), source files
(``src/kavan/models/hslstm.py``, ``src/kavan/serve/static/``) and modules or their members (``kavan.training.losses.total_loss``). Each must
resolve in the repository as it is: a page or file on disk, a dotted name to a module (found with
``importlib.util.find_spec``) plus, for what follows the module, attributes reached with ``getattr``. And no file
sends the reader to the design notes that were never part of the repository: the doc pages hold that material.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "src" / "kavan"

DOC_PAGE = re.compile(r"(?<![\w/.-])docs/[\w.-]+\.md\b")
SOURCE_PATH = re.compile(r"(?<![\w/.-])src/kavan(?:/[\w.-]*)*")  # a file or a folder: src/kavan/serve/static/
# kavan.x, kavan.x.y, ...: not a file name such as models/kavan.py, nor an attribute of something else
DOTTED = re.compile(r"(?<![\w/.-])kavan(?:\.[A-Za-z_]\w*)+")
# the design notes' name, in two parts so that this file does not match itself; "<name>.md", "<name>'s" alike
OUTSIDE_SPEC = re.compile(r"\bDES" + r"IGN\b")


def markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def source_files() -> list[Path]:
    return sorted(p for p in SOURCE.rglob("*.py") if "__pycache__" not in p.parts)


def docstrings(path: Path) -> str:
    """Every module, class and function docstring of a Python file, one after the other."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    nodes = [tree, *(n for n in ast.walk(tree)
                     if isinstance(n, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef))]
    return "\n".join(doc for node in nodes if (doc := ast.get_docstring(node, clean=False)))


def texts() -> list[tuple[str, str]]:
    """(where, text) for README.md, every doc page and the docstrings of every module under src/kavan."""
    found = [(str(p.relative_to(ROOT)), p.read_text(encoding="utf-8")) for p in markdown_files()]
    found += [(str(p.relative_to(ROOT)), docstrings(p)) for p in source_files()]
    return found


def references(pattern: re.Pattern[str]) -> list[tuple[str, str]]:
    """Sorted unique (where, name) for every match of ``pattern``."""
    return sorted({(where, m.group(0)) for where, text in texts() for m in pattern.finditer(text)})


@cache
def find_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a parent that is no package, or no module at all
        return False


def has_member(owner: object, name: str) -> bool:
    """``getattr``, or a field a class declares only by annotation (a dataclass field without a default)."""
    if hasattr(owner, name):
        return True
    return isinstance(owner, type) and any(name in vars(c).get("__annotations__", {}) for c in owner.__mro__)


def resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    n = 1
    while n < len(parts) and find_module(".".join(parts[:n + 1])):
        n += 1
    owner: object = importlib.import_module(".".join(parts[:n]))
    for part in parts[n:]:
        if not has_member(owner, part):
            return False
        owner = getattr(owner, part, None)
    return True


def test_the_scan_finds_references():
    """The patterns match what the pages use, so an empty result below means something."""
    assert len(references(DOC_PAGE)) > 10
    assert len(references(DOTTED)) > 50


def test_every_doc_page_named_exists():
    missing = [f"{where}: {name}" for where, name in references(DOC_PAGE) if not (ROOT / name).is_file()]
    assert not missing, "no such page:\n" + "\n".join(missing)


def test_every_source_path_named_exists():
    missing = [f"{where}: {name}" for where, name in references(SOURCE_PATH)
               if not (ROOT / name.rstrip(".")).exists()]
    assert not missing, "no such file or folder:\n" + "\n".join(missing)


def test_every_dotted_name_resolves():
    missing = [f"{where}: {name}" for where, name in references(DOTTED) if not resolves(name)]
    assert not missing, "no such module or attribute:\n" + "\n".join(missing)


@pytest.mark.parametrize("folder", ["src", "docs", "tests", "benchmarks"])
def test_nothing_points_outside_the_repository(folder):
    paths = [p for p in (ROOT / folder).rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    if folder == "docs":
        paths.append(ROOT / "README.md")
    mentions = []
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:  # pictures
            continue
        mentions += [f"{path.relative_to(ROOT)}:{i}" for i, line in enumerate(text.splitlines(), 1)
                     if OUTSIDE_SPEC.search(line)]
    assert not mentions, "the design notes are not in the repository; point to the doc page instead:\n" + \
        "\n".join(mentions)
