"""The trainable setting's backbone cut, chosen on validation GIFs: the rule of docs/results.md ("Fresh acceptance
sets") applied to `kavan train` runs of split 0.

    .venv/bin/python benchmarks/cut_choice.py --runs CUT_DIR [--out cut-choice.json]
    .venv/bin/python benchmarks/cut_choice.py --report cut-choice.json

CUT_DIR holds one folder per cut (``features.13``, ``last-map``) and in each one run folder per row
(``resnet50-lstm``, ``mtl-softatt-hslstm``). For each run: the lowest validation nMSE per emotion of its log.csv
(the epoch train.select keeps), that epoch, and the validation accuracy there. The rule, written down before the
runs: the cut whose full model (``mtl-softatt-hslstm``) reaches the lower validation nMSE per emotion is chosen.
Test GIFs are not read.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from _measure import add_result_options, kept_epoch, measure_or_report

FULL_MODEL = "mtl-softatt-hslstm"


def kept(run: Path) -> dict:
    """The kept epoch's validation numbers of one run."""
    best, epochs = kept_epoch(run)
    return {"val_nmse_per_emotion": float(best["val_nmse_per_emotion"]), "val_accuracy": float(best["val_accuracy"]),
            "epoch": int(best["epoch"]), "epochs": epochs}


def choose(cuts: dict[str, dict[str, dict]]) -> str:
    """The cut whose full model has the lower validation nMSE per emotion."""
    return min((cut for cut in cuts if FULL_MODEL in cuts[cut]), key=lambda cut: cuts[cut][FULL_MODEL]["val_nmse_per_emotion"])


def measure(args: argparse.Namespace) -> dict:
    cuts = {}
    for folder in sorted(p for p in Path(args.runs).iterdir() if p.is_dir()):
        runs = {run.name: kept(run) for run in sorted(folder.iterdir()) if (run / "log.csv").is_file()}
        if runs:
            cuts[folder.name] = runs
    return {"cuts": cuts, "chosen": choose(cuts)}


def table(result: dict) -> str:
    rows = sorted({row for runs in result["cuts"].values() for row in runs})
    lines = ["| cut | " + " | ".join(f"`{row}`: validation nMSE per emotion (epoch kept), accuracy" for row in rows)
             + " |", "|---|" + "---|" * len(rows)]
    for cut, runs in result["cuts"].items():
        cells = [f"{r['val_nmse_per_emotion']:.3f} ({r['epoch']} of {r['epochs']}), {100 * r['val_accuracy']:.1f} %"
                 if (r := runs.get(row)) else "-" for row in rows]
        lines.append(f"| `{cut}` | " + " | ".join(cells) + " |")
    return "\n".join(lines) + f"\n\nChosen by the rule: `{result['chosen']}`.\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", help="the folder of cut folders of run folders")
    add_result_options(parser)
    measure_or_report(parser.parse_args(), measure, table)


if __name__ == "__main__":
    main()
