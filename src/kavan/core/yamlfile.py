"""The one YAML reader of user input (config files, dataset.yaml, ``--set`` values): PyYAML's safe loader with
YAML 1.2's reading of numbers with an exponent.

PyYAML implements YAML 1.1, where a float needs a dot and a signed exponent: ``1e-4``, ``1E3``, ``-2e-3``, ``5e+2``
and ``1.0e5`` are read as strings, so ``--set train.lr=1e-4`` would be refused as "must be float". ``Loader``
reads them as floats, as YAML 1.2, JSON and Python do: a float is an optional sign, digits (``_`` allowed, as
YAML 1.1 allows them), and a dot with optional digits, an exponent (``e`` or ``E``, optional sign, digits), or
both; ``.5``, ``.inf`` and ``.nan`` as before. Everything else is unchanged: ``5`` stays an int, ``1e``, ``e5``
and ``1e4x`` stay strings, and a quoted ``"1e-4"`` is a string.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

FLOAT_TAG = "tag:yaml.org,2002:float"

_FLOAT = re.compile(r"""^(?:
     [-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+
    |[-+]?\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""", re.VERBOSE)


class Loader(yaml.SafeLoader):
    """``yaml.SafeLoader`` whose floats also include exponents without a dot or without a sign (module doc)."""


# Replace the float resolver rather than add a second one; no int, bool, null or timestamp matches it, so "5",
# "1_000", "0x1f" and "2024-01-02" read as before.
Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != FLOAT_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
Loader.add_implicit_resolver(FLOAT_TAG, _FLOAT, list("-+0123456789."))


def load_yaml(text: str) -> Any:
    """The YAML document ``text`` read with ``Loader``; yaml.YAMLError when it is not valid YAML."""
    return yaml.load(text, Loader=Loader)  # noqa: S506 (Loader is a SafeLoader)
