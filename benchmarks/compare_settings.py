"""Two ablations of the same dataset side by side (e.g. the frozen and the trainable-backbone benchmark settings):
each row's numbers in both, its paired change from the first to the second, and every claim of the paper with its
verdict in each, all on the splits both ablations ran.

    .venv/bin/python benchmarks/compare_settings.py FIRST/results.json SECOND/results.json \\
        [--names frozen trainable]

Both results.json files come from `kavan ablation` on the same dataset with the same split settings; rows are
matched by config name. A setting with more splits is cut to the splits the other one ran, so every number and
verdict is paired split by split. The rows table's changes are judged like the claims (kavan.experiments.claims:
the corrected resampled t-test, the metric's resolution as the floor of the spread, no verdict below 3 splits) and
Holm-adjusted over every change of the table, the unadjusted verdict beside it. Prints Markdown (``report``, which
tests/test_results_tables.py holds docs/results.md's comparison of the committed acceptance runs to).
"""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path
from typing import Any

from kavan.experiments.claims import check_claims, holm, paired, resolution, test_share
from kavan.experiments.protocol import mean_std

METRICS = (("accuracy", "accuracy", True), ("nmse_per_emotion", "nMSE per emotion", False))


def restrict(results: dict[str, Any], splits: list[int]) -> dict[str, Any]:
    """``results`` with every per-split value list (metrics and localisation) cut to ``splits``."""
    positions = [results["splits"].index(k) for k in splits]
    out = copy.deepcopy(results)
    out["splits"] = list(splits)

    def cut(entries: dict[str, Any]) -> None:
        for key, entry in entries.items():
            if isinstance(entry, dict) and "values" in entry:
                entries[key] = mean_std([entry["values"][p] for p in positions])

    for row in out["rows"]:
        cut(row["metrics"])
        if row.get("localisation"):
            cut(row["localisation"])
    return out


def common_splits(first: dict[str, Any], second: dict[str, Any]) -> list[int]:
    if first.get("split_source") != second.get("split_source"):
        raise SystemExit(f"the two ablations used different splits: {first.get('split_source')} and "
                         f"{second.get('split_source')}")
    return [k for k in first["splits"] if k in second["splits"]]


def cell(entry: dict[str, Any], percent: bool) -> str:
    scale, digits = (100.0, 1) if percent else (1.0, 3)
    return f"{scale * entry['mean']:.{digits}f} ± {scale * entry['std']:.{digits}f}"


def rows_table(first: dict[str, Any], second: dict[str, Any], names: tuple[str, str]) -> str:
    """Each model row in both settings and the paired change (second − first, positive = better), judged with the
    claims' test and Holm-adjusted over the table."""
    share = test_share(second)
    by_name = {row["name"]: row for row in first["rows"]}
    changes = []
    for row in second["rows"]:
        if row["kind"] != "model" or row["name"] not in by_name:
            continue
        for key, label, higher in METRICS:
            a, b = by_name[row["name"]]["metrics"][key], row["metrics"][key]
            changes.append((row["label"], key, label, a, b, paired(b, a, higher, share, sd_floor=resolution(second, key))))
    adjusted = holm([p.p_value for *_, p in changes])
    lines = [f"| row | metric | {names[0]} | {names[1]} | change, splits improved, noise bar | verdict (Holm) | "
             "unadjusted |", "|---|---|---|---|---|---|---|"]
    for (row_label, key, label, a, b, p), p_holm in zip(changes, adjusted):
        scale, unit, digits = (100.0, " pts", 1) if key == "accuracy" else (1.0, "", 3)
        change = f"{scale * p.mean:+.{digits}f}{unit}, {p.won}/{p.n}"
        if p.n >= 2:
            change += f", ±{scale * p.bar:.{digits}f}{unit}"
        lines.append(f"| {row_label} | {label} | {cell(a, key == 'accuracy')} | {cell(b, key == 'accuracy')} | "
                     f"{change} | {p.decide(p_holm)} | {p.verdict} |")
    return "\n".join(lines)


def claims_table(first: dict[str, Any], second: dict[str, Any], names: tuple[str, str]) -> str:
    """Every claim either setting can decide, with both verdicts and the second setting's evidence."""
    a = {claim.text: claim for claim in check_claims(first)}
    b = {claim.text: claim for claim in check_claims(second)}
    lines = [f"| claim | {names[0]} (Holm) | {names[1]} (Holm) | evidence ({names[1]}) |", "|---|---|---|---|"]
    for text in list(a) + [t for t in b if t not in a]:
        verdicts = [(a[text].verdict if text in a else "not run"), (b[text].verdict if text in b else "not run")]
        evidence = b[text].evidence if text in b else ""
        lines.append(f"| {text} | {verdicts[0]} | {verdicts[1]} | {evidence} |")
    return "\n".join(lines)


def report(first: dict[str, Any], second: dict[str, Any], names: tuple[str, str]) -> str:
    """Both tables, on the splits both ablations ran."""
    splits = common_splits(first, second)
    if not splits:
        raise SystemExit("the two ablations share no split")
    first, second = restrict(first, splits), restrict(second, splits)
    return (f"Splits both ran: {', '.join(map(str, splits))} (of {first.get('n_splits_protocol')}).\n\n"
            f"{rows_table(first, second, names)}\n\n{claims_table(first, second, names)}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("first", type=Path, help="results.json of the first ablation")
    parser.add_argument("second", type=Path, help="results.json of the second ablation")
    parser.add_argument("--names", nargs=2, default=("first", "second"), metavar=("FIRST", "SECOND"))
    args = parser.parse_args()
    first, second = (json.loads(path.read_text(encoding="utf-8")) for path in (args.first, args.second))
    print(report(first, second, tuple(args.names)), end="")


if __name__ == "__main__":
    main()
