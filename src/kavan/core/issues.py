"""Problems found in dataset files, collected rather than raised one at a time.

The dataset readers (scores.csv, votes.csv, dataset.yaml, the media folder) record every problem they find in
an ``IssueLog``. ``kavan data check`` prints the whole log; the strict loaders call ``raise_if_errors`` and
fail on the first error, so both paths share one set of rules. Each issue names the file, says what is wrong
and what to do about it.
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Literal

from kavan.core.errors import KavanError

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Issue:
    """One problem: ``error`` makes the folder unusable, ``warning`` does not (e.g. an ignored extra file)."""

    severity: Severity
    kind: str
    path: str
    message: str
    fix: str = ""

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" + (f"; {self.fix}" if self.fix else "")

    def to_json(self) -> dict[str, str]:
        return asdict(self)


class IssueLog:
    """Issues in the order found, keeping at most ``limit`` per (file, kind) and counting the rest.

    The cap keeps a report readable (and its JSON small) when one mistake repeats on every row of a
    340,000-line votes file; the overflow is reported as one more issue of the same kind and severity.
    """

    def __init__(self, limit: int = 10):
        self.limit = limit
        self._kept: list[Issue] = []
        self._seen: Counter[tuple[str, str]] = Counter()
        self._first: dict[tuple[str, str], Issue] = {}

    def error(self, kind: str, path: object, message: str, fix: str = "") -> None:
        self.add(Issue("error", kind, str(path), message, fix))

    def warning(self, kind: str, path: object, message: str, fix: str = "") -> None:
        self.add(Issue("warning", kind, str(path), message, fix))

    def add(self, issue: Issue) -> None:
        key = (issue.path, issue.kind)
        self._seen[key] += 1
        self._first.setdefault(key, issue)
        if self._seen[key] <= self.limit:
            self._kept.append(issue)

    @property
    def issues(self) -> list[Issue]:
        """Every kept issue, then one summary issue per (file, kind) that went over the cap."""
        overflow = [
            Issue(first.severity, first.kind, first.path,
                  f"... and {self._seen[key] - self.limit} more problem(s) of this kind", first.fix)
            for key, first in self._first.items() if self._seen[key] > self.limit
        ]
        return self._kept + overflow

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "warning"]

    def count(self, severity: Severity) -> int:
        """How many issues of ``severity`` were found, including those over the cap."""
        return sum(n for key, n in self._seen.items() if self._first[key].severity == severity)

    def raise_if_errors(self) -> None:
        """Raise a KavanError for the first error, saying how many more there are."""
        errors = self.errors
        if not errors:
            return
        first = errors[0]
        more = self.count("error") - 1
        reason = first.message + (f"; {first.fix}" if first.fix else "")
        if more:
            reason += f" ({more} more error(s); run `kavan data check` for the full list)"
        raise KavanError(reason, first.path)


def well_formed_rows(path, width: int, rows: Iterable[list[str]], issues: IssueLog,
                     first_line: int = 2) -> Iterator[tuple[int, list[str]]]:
    """(line number, row) for each non-blank CSV row with ``width`` fields; a bad-row error for any other."""
    for line, row in enumerate(rows, start=first_line):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != width:
            issues.error("bad-row", path, f"line {line}: {len(row)} fields, the header has {width}",
                         "fix the row's commas")
            continue
        yield line, row


def closest_name(name: str, expected: Iterable[str]) -> str | None:
    """The expected name a mistyped ``name`` most likely meant (case-insensitive), or None."""
    expected = list(expected)
    lowered = {e.lower(): e for e in expected}
    if name.strip().lower() in lowered:
        return lowered[name.strip().lower()]
    match = difflib.get_close_matches(name.strip().lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[match[0]] if match else None
