"""Fine-tuning: a run's starting weights from a trained model file or a training checkpoint (``kavan train --init``).

The parent file is read through kavan.core.tensorfile (safetensors only, never unpickled): a model file
(kavan.models.storage, format kavan-model/1) gives all its tensors, a checkpoint (kavan.training.checkpoint,
kavan-checkpoint/1) its ``model.*`` tensors. Every tensor of the new model whose name and shape are in the file is
loaded from it; the others keep the initialisation the config gave them. ``match_tensors`` sorts the names:

- loaded: in the model and in the file, with the same shape;
- new: in the model only (a module the parent did not have), or in both with another shape: initialised by the
  config;
- skipped: in the file only (a module the new config leaves out), or in both with another shape.

``apply_init`` refuses, with a KavanError naming the file and, in one line, the tensors:

- a file with a NaN or infinite value in any of its weights (``read_init``);
- a file that gives less than ``MIN_LOADED_SHARE`` of the values this run trains: another network, whose few
  same-shaped scalars and biases would make a run from scratch look like a fine-tuning;
- a tensor of the model's name with another shape in the file, unless ``partial`` (``--init-partial``): a part
  of the same name but another size is more often a forgotten ``--set`` than a wish to train it anew.

docs/training.md, "Fine-tuning from a model (--init)", says when to use it and why these rules.

``init_record`` is the provenance the run keeps, in run.json and as ``trained_on["init"]`` in every model file and
checkpoint it writes: the parent's path, SHA-256 and format, the parent's own ``trained_on`` (which holds its own
``init`` when it was fine-tuned too, so a chain of fine-tunings reads back whole: ``lineage``) and the counts.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from kavan.core.errors import KavanError
from kavan.core.tensorfile import read_safetensors, sha256_of
from kavan.models.storage import MODEL_FORMAT
from kavan.training.checkpoint import CHECKPOINT_FORMAT

MIN_LOADED_SHARE = 0.01  # below this share of the trained values loaded, the file is another network
LISTED = 10  # names shown per list before "... (N more)"
Shape = tuple[int, ...]


@dataclass(frozen=True)
class InitSource:
    """A parent file as read for --init: its weights by the model's names, what it was trained on, its digest."""

    path: Path
    sha256: str
    format: str
    tensors: dict[str, torch.Tensor]
    trained_on: dict[str, Any]


@dataclass(frozen=True)
class InitMatch:
    """How a parent's tensors meet a model's: names loaded, missing from the file, only in the file, and the
    names in both with other shapes (name, model shape, file shape); ``trained_share``: the share of the values
    the model trains that the loaded tensors cover."""

    loaded: list[str]
    missing: list[str]
    unexpected: list[str]
    mismatched: list[tuple[str, Shape, Shape]]
    trained_share: float

    @property
    def new(self) -> list[str]:
        """The model's tensors the file does not give: they keep the config's initialisation."""
        return sorted(self.missing + [name for name, _, _ in self.mismatched])

    @property
    def skipped(self) -> list[str]:
        """The file's tensors the model does not take."""
        return sorted(self.unexpected + [name for name, _, _ in self.mismatched])


def file_digest(path: str | os.PathLike[str]) -> str:
    """SHA-256 of an --init file (its identity in a run's record); KavanError naming it when it cannot be read."""
    try:
        return sha256_of(path)
    except OSError as err:
        raise KavanError(f"cannot read the --init file: {err.strerror or err}", path) from None


def read_init(path: str | os.PathLike[str]) -> InitSource:
    """The weights of a kavan model file or training checkpoint, by the names of the model's state dict.

    Anything else (another safetensors format, a pickle, a damaged file) and any weight holding NaN or infinity
    is refused with a KavanError naming the file."""
    path = Path(path)
    tensors, meta = read_safetensors(path)
    found = meta.get("format")
    if found == MODEL_FORMAT:
        weights = dict(tensors)
    elif found == CHECKPOINT_FORMAT:
        weights = {name[len("model."):]: value for name, value in tensors.items() if name.startswith("model.")}
    else:
        raise KavanError(f"--init takes a kavan model file ({MODEL_FORMAT}) or a training checkpoint "
                         f"({CHECKPOINT_FORMAT}), found format {found!r}", path)
    try:
        trained_on = json.loads(meta.get("trained_on", "{}"))
    except ValueError as err:
        raise KavanError(f"damaged {found} file: trained_on is not JSON ({err})", path) from None
    bad = sorted(name for name, value in weights.items()
                 if value.is_floating_point() and not bool(torch.isfinite(value).all()))
    if bad:
        raise KavanError(f"--init refused: {_count(len(bad), 'weight')} with NaN or infinite values: {_listed(bad)}",
                         path)
    return InitSource(path=path, sha256=file_digest(path), format=found, tensors=weights,
                      trained_on=trained_on if isinstance(trained_on, dict) else {})


def match_tensors(model: torch.nn.Module, tensors: dict[str, torch.Tensor]) -> InitMatch:
    """Sort the model's and the file's tensor names into loaded, missing, unexpected and mismatched."""
    state = model.state_dict()
    loaded = sorted(name for name in state if name in tensors and tensors[name].shape == state[name].shape)
    mismatched = [(name, tuple(state[name].shape), tuple(tensors[name].shape)) for name in sorted(state)
                  if name in tensors and tensors[name].shape != state[name].shape]
    trained = {name: p.numel() for name, p in model.named_parameters() if p.requires_grad}
    total = sum(trained.values())
    share = sum(trained.get(name, 0) for name in loaded) / total if total else 0.0
    return InitMatch(loaded=loaded, missing=sorted(set(state) - set(tensors)),
                     unexpected=sorted(set(tensors) - set(state)), mismatched=mismatched, trained_share=share)


def apply_init(model: torch.nn.Module, source: InitSource, partial: bool = False) -> InitMatch:
    """Load the tensors of ``source`` that fit ``model`` (same name, same shape) and return the match; refuse
    (KavanError naming the file) what the module docstring lists, leaving the model untouched."""
    match = match_tensors(model, source.tensors)
    state = list(model.state_dict())
    if match.trained_share < MIN_LOADED_SHARE:
        parts = [f"--init refused: the file matches nothing this run trains ({match.trained_share:.1%} of those "
                 f"values would load; same name and shape: {_listed(_compact(match.loaded, state))})"]
        if match.mismatched:
            parts.append(f"other shapes: {_listed(_shapes(match.mismatched))}")
        if match.missing:
            parts.append(f"not in the file: {_listed(_compact(match.missing, state))}")
        if match.unexpected:
            parts.append(f"only in the file: {_listed(_compact(match.unexpected, list(source.tensors)))}")
        raise KavanError("; ".join(parts), source.path)
    if match.mismatched and not partial:
        raise KavanError(
            f"--init refused: {_count(len(match.mismatched), 'tensor')} of the model's names with other shapes in the file: "
            f"{_listed(_shapes(match.mismatched))}; pass --init-partial (init_partial=True) to initialise them "
            "from the config instead", source.path)
    result = model.load_state_dict({name: source.tensors[name] for name in match.loaded}, strict=False)
    if result.unexpected_keys:  # cannot happen: loaded names are the model's own
        raise KavanError(f"--init: unexpected tensors {result.unexpected_keys}", source.path)
    return match


def init_record(source: InitSource, match: InitMatch, partial: bool) -> dict[str, Any]:
    """The provenance of a fine-tuned run's starting weights (run.json's ``init``, ``trained_on["init"]``)."""
    return {
        "path": str(source.path.resolve()),
        "sha256": source.sha256,
        "format": source.format,
        "trained_on": source.trained_on,
        "loaded": len(match.loaded),
        "new": len(match.new),
        "skipped": len(match.skipped),
        "trained_share": round(match.trained_share, 6),
        "partial": partial,
        "new_tensors": match.new,
        "skipped_tensors": match.skipped,
        "other_shapes": {name: {"model": list(ours), "file": list(theirs)} for name, ours, theirs in match.mismatched},
    }


def report_lines(source: InitSource, model: torch.nn.Module, match: InitMatch) -> list[str]:
    """The summary line and the lists of what was newly initialised and skipped, names compacted (``a.*``
    stands for every tensor under ``a``)."""
    state, other = list(model.state_dict()), {name for name, _, _ in match.mismatched}
    lines = [f"init from {source.path} ({source.format}, SHA-256 {source.sha256[:12]}): "
             f"{_count(len(match.loaded), 'tensor')} loaded ({match.trained_share:.1%} of the values this run trains), "
             f"{len(match.new)} newly initialised, {len(match.skipped)} skipped"]
    if match.missing:
        lines.append(f"  new, not in the file: {_listed(_compact(match.missing, state))}")
    if other:
        lines.append(f"  new, other shape in the file (its tensor skipped): {_listed(_shapes(match.mismatched))}")
    if match.unexpected:
        lines.append(f"  skipped, not in the model: {_listed(_compact(match.unexpected, list(source.tensors)))}")
    return lines


def lineage(trained_on: dict[str, Any]) -> list[dict[str, Any]]:
    """The chain of a model's weights, newest first: what each link was trained on and how it started (the
    ``init`` counts and the parent's file, or None for the config's own initialisation)."""
    chain: list[dict[str, Any]] = []
    record: dict[str, Any] | None = trained_on
    while isinstance(record, dict):
        dataset = record.get("dataset") or {}
        split = record.get("split") or {}
        init = record.get("init")
        chain.append({
            "dataset": dataset.get("name"), "n_gifs": dataset.get("n_gifs"),
            "synthgif": bool(dataset.get("synthgif")), "split": split.get("index"), "run": record.get("run"),
            "init": None if not isinstance(init, dict) else
            {key: init.get(key) for key in ("path", "sha256", "loaded", "new", "skipped")},
        })
        record = init.get("trained_on") if isinstance(init, dict) else None
    return chain


def lineage_text(chain: list[dict[str, Any]]) -> str:
    """``lineage`` in one sentence: "trained on A (split 0), from FILE (n loaded, ...), which was trained on ..."."""
    parts = []
    for link in chain:
        where = f"trained on {link['dataset'] or 'an unrecorded dataset'}"
        if link["split"] is not None:
            where += f" (split {link['split']})"
        init = link["init"]
        if init is None:
            where += ", from the config's initialisation"
        else:
            where += (f", from {init['path']} (SHA-256 {str(init['sha256'])[:12]}: {init['loaded']} tensors loaded, "
                      f"{init['new']} new, {init['skipped']} skipped)")
        parts.append(where)
    return ", which was ".join(parts)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _shapes(mismatched: list[tuple[str, Shape, Shape]]) -> list[str]:
    return [f"{name} (model {_dims(ours)}, file {_dims(theirs)})" for name, ours, theirs in mismatched]


def _dims(shape: Shape) -> str:
    return "x".join(map(str, shape)) or "scalar"


def _compact(names: list[str], universe: list[str]) -> list[str]:
    """``names`` with every dotted prefix whose tensors in ``universe`` are all in ``names`` written ``prefix.*``
    (the shortest such prefix), sorted."""
    chosen = set(names)
    out: set[str] = set()
    for name in sorted(chosen):
        parts = name.split(".")
        for depth in range(1, len(parts)):
            prefix = ".".join(parts[:depth]) + "."
            under = [other for other in universe if other.startswith(prefix)]
            if len(under) > 1 and all(other in chosen for other in under):
                out.add(prefix + "*")
                break
        else:
            out.add(name)
    return sorted(out)


def _listed(items: list[str]) -> str:
    """Up to LISTED items, comma-separated, then how many more."""
    shown = ", ".join(items[:LISTED]) or "none"
    return shown + (f", ... ({len(items) - LISTED} more)" if len(items) > LISTED else "")
