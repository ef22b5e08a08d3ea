"""The acceptance runs' tables in docs/results.md, printed from their committed results.json files.

    .venv/bin/python benchmarks/acceptance_report.py --add RUN/results.json --name default-7301 [--root acc]
    .venv/bin/python benchmarks/acceptance_report.py --write      # rewrite the docs' blocks from the committed files
    .venv/bin/python benchmarks/acceptance_report.py --check      # exit 1 when a block differs from its file

``--add`` copies an ablation's results.json into docs/results/acceptance/<name>.json, with the machine's folders
taken out (the dataset path, the config paths and the command's words are made relative to ``--root``, the folder
the acceptance commands of docs/results.md ran in), so the committed file says only what the docs may say.

docs/results.md holds one block per file, between the lines ``<!-- acceptance: NAME -->`` and
``<!-- /acceptance -->``: the report `kavan ablation` prints for that results.json (kavan.experiments.reporting,
with the corrected and Holm-adjusted claims of kavan.experiments.claims), its headings moved three levels down to
sit under the docs' own. ``--write`` regenerates every block; tests/test_results_tables.py checks that each block
is exactly what this script prints, so no acceptance table is typed by hand.

The block between ``<!-- acceptance-summary -->`` and ``<!-- /acceptance-summary -->`` is the overview: one line
per claim of the paper, one column per committed run (in the page's order), each cell that run's Holm-adjusted
verdict (``summary``). A block between ``<!-- comparison: FIRST SECOND -->`` and ``<!-- /comparison -->`` is what
benchmarks/compare_settings.py prints for those two committed runs, named by their settings (``bench``,
``bench-trainable``), on the splits both ran.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FOLDER = REPO / "docs" / "results" / "acceptance"
DOCS = REPO / "docs" / "results.md"
BLOCK = re.compile(r"(<!-- acceptance: (?P<name>[\w.-]+) -->\n)(?P<body>.*?)(<!-- /acceptance -->)", re.S)
COMPARISON = re.compile(r"(<!-- comparison: (?P<first>[\w.-]+) (?P<second>[\w.-]+) -->\n)(?P<body>.*?)(<!-- /comparison -->)",
                        re.S)
SUMMARY = re.compile(r"(<!-- acceptance-summary -->\n)(?P<body>.*?)(<!-- /acceptance-summary -->)", re.S)


def block(results: dict) -> str:
    """The docs' block of one results.json: `kavan ablation`'s report, headings three levels down (under the docs'
    "####" heading of the set)."""
    from kavan.experiments.reporting import render_results

    text = render_results(results)
    return re.sub(r"^(#+) ", lambda m: "#" * (len(m.group(1)) + 3) + " ", text, flags=re.M)


def summary(runs: dict[str, dict]) -> str:
    """One line per claim of the paper, one column per run (name: results), each cell the run's Holm-adjusted
    verdict; "not run" where the run lacks the claim's rows. Runs that decide no claim of the paper are left out."""
    from kavan.experiments.claims import bold_verdict, check_claims

    verdicts = {name: {c.text: c.verdict for c in check_claims(results)} for name, results in runs.items()}
    verdicts = {name: found for name, found in verdicts.items() if found}
    claims = list(dict.fromkeys(text for found in verdicts.values() for text in found))
    names = list(verdicts)
    heads = [f"{name} ({runs[name].get('settings', 'bench')}, {len(runs[name]['splits'])} splits)" for name in names]
    lines = ["| claim | " + " | ".join(heads) + " |", "|---" * (len(names) + 1) + "|"]
    for text in claims:
        cells = [verdicts[name].get(text, "not run") for name in names]
        lines.append(f"| {text} | " + " | ".join(c if c == "not run" else bold_verdict(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def committed(names: list[str]) -> dict[str, dict]:
    """The committed results.json files of ``names``, in that order."""
    return {name: json.loads((FOLDER / f"{name}.json").read_text(encoding="utf-8")) for name in names}


def comparison(first: str, second: str) -> str:
    """benchmarks/compare_settings.py's report of two committed runs, each named by its settings."""
    from compare_settings import report  # a script beside this one: its folder is on the import path

    runs = committed([first, second])
    return report(runs[first], runs[second], (runs[first]["settings"], runs[second]["settings"]))


def relative(text: str, root: Path) -> str:
    """``text`` with the absolute folder ``root`` (and the repository) taken out of every path in it."""
    for folder, name in ((root.resolve(), root.name), (REPO, ".")):
        text = text.replace(str(folder) + "/", name + "/" if name != "." else "").replace(str(folder), name)
    return text


def add(source: Path, name: str, root: Path) -> Path:
    results = json.loads(source.read_text(encoding="utf-8"))
    cleaned = json.loads(relative(json.dumps(results), root))
    FOLDER.mkdir(parents=True, exist_ok=True)
    target = FOLDER / f"{name}.json"
    target.write_text(json.dumps(cleaned, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return target


def expected(docs: str) -> str:
    """docs/results.md with every block regenerated from its committed file (KeyError for a block without one)."""
    def fill(match: re.Match) -> str:
        path = FOLDER / f"{match['name']}.json"
        if not path.is_file():
            raise KeyError(f"docs/results.md has a block for {match['name']}, but {path.relative_to(REPO)} is missing")
        return match.group(1) + block(json.loads(path.read_text(encoding="utf-8"))) + match.group(4)
    docs = BLOCK.sub(fill, docs)
    docs = COMPARISON.sub(lambda match: match.group(1) + comparison(match["first"], match["second"]) + match.group(4), docs)
    in_order = committed([match["name"] for match in BLOCK.finditer(docs)])  # the columns in the page's order
    return SUMMARY.sub(lambda match: match.group(1) + summary(in_order) + match.group(3), docs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--add", type=Path, metavar="RESULTS_JSON", help="commit an ablation's results.json")
    parser.add_argument("--name", help="its name under docs/results/acceptance/ (with --add)")
    parser.add_argument("--root", type=Path, default=Path("acc"), help="the folder the runs were made in (with --add)")
    parser.add_argument("--write", action="store_true", help="rewrite the docs' blocks from the committed files")
    parser.add_argument("--check", action="store_true", help="exit 1 when a block differs from its file")
    args = parser.parse_args(argv)
    if args.add:
        if not args.name:
            parser.error("--add needs --name")
        print(f"wrote {add(args.add, args.name, args.root).relative_to(REPO)}")
    docs = DOCS.read_text(encoding="utf-8")
    new = expected(docs)
    if args.write and new != docs:
        DOCS.write_text(new, encoding="utf-8")
        print("docs/results.md: blocks rewritten")
    if args.check and new != docs:
        print("docs/results.md: a block differs from its results.json (run with --write)", file=sys.stderr)
        return 1
    if not (args.add or args.write or args.check):
        for match in BLOCK.finditer(docs):
            print(block(json.loads((FOLDER / f"{match['name']}.json").read_text(encoding="utf-8"))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
