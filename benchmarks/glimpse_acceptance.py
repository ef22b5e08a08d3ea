"""The face-glimpse row's acceptance runs side by side: one line per committed run, printed from its results.json.

    .venv/bin/python benchmarks/glimpse_acceptance.py              # the table of docs/results.md ("Small faces")

Reads the acceptance results.json files under docs/results/acceptance/ that hold the glimpse row (``NAMES``, in
that order, those present), and prints per set the mean nMSE per emotion and accuracy of the full model, the glimpse
row and the strongest baseline of each kind, and the glimpse row's Holm-adjusted verdicts in nMSE per emotion
against the colour histogram and against the full model (kavan.experiments.claims.check_beyond_paper).
tests/test_results_tables.py checks that the docs' block is what this prints.

A run made with the glimpse row alone (``glimpse-default-7301``) takes the full model's row from the set's own
acceptance run (``COMPANIONS``), checked to be the same dataset (fingerprint) on the same splits (split settings
and split indices): every row of an ablation trains on its own from its own seed, so the pair is what one run of
both rows would hold, and the paired test compares them split by split.
"""

from __future__ import annotations

import json
from pathlib import Path

FOLDER = Path(__file__).resolve().parents[1] / "docs" / "results" / "acceptance"
NAMES = ("setS-7411", "glimpse-setA-7311", "glimpse-default-7301")
ROWS = ("mtl-softatt-hslstm", "mtl-softatt-hslstm-glimpse", "colour_histogram", "face_expression_ridge")
COMPANIONS = {"glimpse-default-7301": "default-7301"}
VERSUS = {"colour_histogram": "the glimpse row beats colour histogram + ridge",
          "mtl-softatt-hslstm": "the glimpse row beats the full model (MTL Soft-Att + HS-LSTM)"}


def cell(row: dict | None) -> str:
    if row is None:
        return "-"
    metrics = row["metrics"]
    return f"{metrics['nmse_per_emotion']['mean']:.3f} / {100 * metrics['accuracy']['mean']:.1f} %"


def verdict(claims: dict, text: str) -> str:
    """The nMSE part of one beyond-the-paper claim: "holds (+0.118, won 5/5, noise bar ±0.065, p 0.0075, Holm p
    0.0311)"."""
    claim = claims.get(text)
    return "-" if claim is None else dict(claim.metrics)["nMSE per emotion"]


def with_companion(results: dict, name: str, folder: Path) -> dict:
    """``results`` with the full model's row of its companion run added, when it lacks one (a KeyError-free no-op
    otherwise); ValueError when the companion is another dataset or other splits."""
    rows = {row["name"] for row in results["rows"]}
    if ROWS[0] in rows or name not in COMPANIONS:
        return results
    other = json.loads((folder / f"{COMPANIONS[name]}.json").read_text(encoding="utf-8"))
    for key in ("split_source", "splits"):
        if other[key] != results[key]:
            raise ValueError(f"{COMPANIONS[name]} and {name} differ in {key}")
    if other["dataset"]["fingerprint"] != results["dataset"]["fingerprint"]:
        raise ValueError(f"{COMPANIONS[name]} and {name} are not the same dataset")
    full = next(row for row in other["rows"] if row["name"] == ROWS[0])
    return {**results, "rows": [*results["rows"], full]}


def table(folder: Path = FOLDER) -> str:
    from kavan.experiments.claims import check_beyond_paper

    lines = ["| set | GIFs | full model | glimpse row | colour histogram + ridge | face expression + ridge | "
             "glimpse vs histogram, nMSE (Holm) | glimpse vs full model, nMSE (Holm) |",
             "|---|---|---|---|---|---|---|---|"]
    for name in NAMES:
        path = folder / f"{name}.json"
        if not path.is_file():
            continue
        results = with_companion(json.loads(path.read_text(encoding="utf-8")), name, folder)
        rows = {row["name"]: row for row in results["rows"]}
        claims = {claim.text: claim for claim in check_beyond_paper(results)}
        cells = [cell(rows.get(row)) for row in ROWS]
        cells[1] = f"**{cells[1]}**"
        lines.append(f"| `{results['dataset']['name']}` | {results['dataset']['n_gifs']} | " + " | ".join(cells)
                     + " | " + " | ".join(verdict(claims, VERSUS[row]) for row in VERSUS) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(table(), end="")
