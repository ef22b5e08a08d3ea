"""Result tables in Markdown: one cell format for "mean ± std" and one table renderer, for evaluation.md
(kavan.experiments.protocol) and results.md (kavan.experiments.reporting)."""

from __future__ import annotations

import math
from typing import Any


def mean_std_cell(entry: dict[str, Any] | None, digits: int = 3, percent: bool = False,
                  one_value_alone: bool = True) -> str:
    """"0.512 ± 0.031" (or "51.2 ± 3.1 %" with ``percent``); "n/a" for a missing or undefined mean; a mean over
    fewer splits than the entry has values for says so ("0.512 ± 0.031 (4 of 5 splits)").

    With ``one_value_alone`` a mean that comes from one value prints alone (one split has no spread to report);
    evaluation.md keeps its "± 0.0000" there, as it always has.
    """
    if entry is None or entry.get("mean") is None or not math.isfinite(entry["mean"]):
        return "n/a"
    mean, std = entry["mean"], entry["std"] if entry.get("std") is not None else math.nan
    values = [v for v in entry.get("values", []) if v is not None and math.isfinite(v)]
    if one_value_alone and len(values) == 1:
        return f"{100 * mean:.{max(0, digits - 2)}f} %" if percent else f"{mean:.{digits}f}"
    missing = len(entry.get("values", [])) - len(values)
    of = f" ({len(values)} of {len(values) + missing} splits)" if missing > 0 else ""
    if percent:
        return f"{100 * mean:.{max(0, digits - 2)}f} ± {100 * std:.{max(0, digits - 2)}f} %{of}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}{of}"


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table, one line per row, ending in a newline."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"
