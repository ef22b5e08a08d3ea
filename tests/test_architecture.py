"""The package's layers: every import points down (or within its own package), as docs/architecture.md lists them.

The test reads the imports of every module under src/kavan (top-level and inside functions) with ``ast``, so a
lazy import inside a function counts as much as one at the top of a file.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import kavan

PACKAGE = Path(kavan.__file__).resolve().parent

# Bottom to top. A module may import from its own package and from any package listed above it.
LAYERS = [
    "kavan.core",
    "kavan.assets",
    "kavan.labels",
    "kavan.media",
    "kavan.config",
    "kavan.keypoints",
    "kavan.data",
    "kavan.synth",
    "kavan.models",
    "kavan.predict",
    "kavan.training",
    "kavan.baselines",
    "kavan.experiments",
    "kavan.showcase",
    "kavan.serve",
    "kavan.cli",
]


def layer_of(module: str) -> int:
    for i, name in enumerate(LAYERS):
        if module == name or module.startswith(name + "."):
            return i
    raise KeyError(module)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, imported module) for every ``import kavan...`` / ``from kavan... import`` in a file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "kavan":
                found += [(node.lineno, f"kavan.{a.name}") for a in node.names]
            elif node.module.startswith("kavan."):
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("kavan.")]
    return found


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if module_name(p) not in {"kavan", "kavan.__main__"})


def test_every_package_has_a_layer_and_a_docstring():
    for path in MODULES:
        layer_of(module_name(path))  # KeyError names a package missing from LAYERS
    for name in LAYERS:
        init = PACKAGE.parent / name.replace(".", "/") / "__init__.py"
        if not init.exists():  # a one-module layer
            init = init.parent.with_suffix(".py")
        doc = ast.get_docstring(ast.parse(init.read_text())) if init.exists() else None
        assert doc and "may import" in doc.lower(), f"{init}: the docstring should say what the package holds and may import"


def test_no_relative_imports():
    for path in MODULES:
        for node in ast.walk(ast.parse(path.read_text())):
            assert not (isinstance(node, ast.ImportFrom) and node.level), f"{path}:{node.lineno}: relative import"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_imports_point_down(path):
    own = layer_of(module_name(path))
    upward = [f"{path.relative_to(PACKAGE.parent)}:{line} imports {target} ({LAYERS[layer_of(target)]} is above "
              f"{LAYERS[own]})" for line, target in imports(path) if target != "kavan.__version__"
              and layer_of(target) > own]
    assert not upward, "\n".join(upward)


def test_the_root_package_stays_light():
    """``import kavan`` loads no torch: the root only names the version and a lazy ``kavan.load``."""
    assert {t for _, t in imports(PACKAGE / "__init__.py")} == {"kavan.predict"}


@pytest.mark.parametrize("where", [
    "kavan.data.loader:ClipDataset",           # the data loader
    "kavan.models.attention:FacialSoftAttention",  # the facial soft attention
    "kavan.models.hslstm:HSLSTM",              # the hierarchical segment LSTM
    "kavan.training.losses:total_loss",        # the multi-task loss
    "kavan.training.metrics:nmse_per_emotion",  # the paper's metric
    "kavan.experiments.claims:check_claims",   # the claims judged on the results
    "kavan.training.trainer:train_split",      # the training loop
    "kavan.predict:load",                      # the Python API
])
def test_the_parts_a_newcomer_looks_for_are_where_docs_architecture_says(where):
    import importlib

    module, name = where.split(":")
    assert hasattr(importlib.import_module(module), name)
    assert f"{module}" in (PACKAGE.parents[1] / "docs" / "architecture.md").read_text()


def declared_imports(layer: str) -> set[str]:
    """The packages a layer's docstring says it may import: the ``kavan.<name>`` words between "May import:" and the
    first bracket, semicolon or full stop; "every package below it" for all the layers under it; "nothing" for none."""
    init = PACKAGE.parent / layer.replace(".", "/") / "__init__.py"
    if not init.exists():
        init = init.parent.with_suffix(".py")
    doc = ast.get_docstring(ast.parse(init.read_text()))
    text = re.search(r"May import: (.*?)(?:[(;]|\.\s|\.$)", doc, re.S).group(1)
    if text.startswith("every package below it"):
        return set(LAYERS[:LAYERS.index(layer)])
    if text.startswith("nothing"):
        return set()
    return set(re.findall(r"kavan\.[a-z_]+", text))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_imports_are_those_the_package_declares(path):
    own = LAYERS[layer_of(module_name(path))]
    allowed = declared_imports(own) | {own}
    undeclared = [f"{path.relative_to(PACKAGE.parent)}:{line} imports {target}, but {own} declares only "
                  f"{', '.join(sorted(allowed - {own})) or 'nothing'}" for line, target in imports(path)
                  if target != "kavan.__version__" and LAYERS[layer_of(target)] not in allowed]
    assert not undeclared, "\n".join(undeclared)
