"""``--set key=value``: the one parser of command-line overrides, for every command that takes them.

An override is a dotted key and a value typed as YAML (``train.epochs=3``, ``data.crop_scale=[0.8, 1.0]``,
``model.weights=none``, ``kp_jitter=0.05``). ``parse_override`` splits and checks one; ``set_overrides`` writes a
list of them into a parsed YAML mapping, making sections as it goes. Each config type then checks the values
against its own fields (kavan.config for experiment configs, kavan.synth.config for SynthGIF), so a wrong key
or type is reported by the code that knows the field.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from kavan.core.errors import KavanError
from kavan.core.yamlfile import load_yaml


@dataclass(frozen=True)
class Override:
    """One ``key=value`` item: the dotted key and the value as typed, both stripped of surrounding blanks."""

    item: str
    key: str
    text: str

    @property
    def path(self) -> list[str]:
        """The key's parts: ``train.epochs`` -> ``["train", "epochs"]``."""
        return self.key.split(".")

    def value(self, source: str | os.PathLike[str] | None = None) -> Any:
        """The value read as YAML (kavan.core.yamlfile: ``3`` an int, ``1e-4`` a float, ``[1, 2]`` a list,
        ``none`` the string 'none')."""
        try:
            return load_yaml(self.text)
        except yaml.YAMLError as err:
            raise KavanError(f"override {self.item!r}: value is not valid YAML: {err}", source) from None


def parse_override(item: str, source: str | os.PathLike[str] | None = None, context: str = "",
                   form: str = "key=value") -> Override:
    """Split ``key=value``; KavanError (naming ``source``, prefixed by ``context``, showing ``form``) when there is
    no ``=`` or no key."""
    key, sep, text = item.partition("=")
    if not sep or not key.strip():
        raise KavanError(f"{context}override {item!r} is not of the form {form}", source)
    return Override(item, key.strip(), text.strip())


def set_overrides(data: Mapping[str, Any], items: Sequence[str],
                  source: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """A copy of the parsed YAML mapping ``data`` with every ``dotted.key=value`` item set (value read as YAML)."""
    result = copy.deepcopy(dict(data))
    for item in items:
        override = parse_override(item, source, form="section.key=value")
        *parents, leaf = override.path
        node = result
        for part in parents:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            elif not isinstance(child, dict):
                raise KavanError(f"override {item!r}: {part} is not a section", source)
            node = child
        node[leaf] = override.value(source)
    return result


def as_arguments(items: Sequence[str]) -> list[str]:
    """The items as command-line words again, ``["--set", item, ...]``, for the command a run records."""
    return [word for item in items for word in ("--set", item)]
