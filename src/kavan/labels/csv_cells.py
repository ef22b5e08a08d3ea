"""Text cells of the CSV files kavan writes (votes.csv, scores.csv), safe to open in a spreadsheet.

A spreadsheet reads a cell that starts with ``=``, ``+``, ``-``, ``@`` (or a tab or carriage return) as a
formula: an annotator named ``=HYPERLINK("http://…")`` would become a link, or worse, when someone opens
votes.csv. ``formula_safe`` writes such a cell with a leading apostrophe, which spreadsheets show as text, and
``read_cell`` takes it off again, so kavan reads back exactly what it was given. A cell that itself starts with an
apostrophe gets one more, so that reading is exact for every cell. Numbers are never passed through these: only
text (ids, names, emotions, timestamps).
"""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
ESCAPE = "'"


def formula_safe(cell: str) -> str:
    """``cell`` as written: with a leading apostrophe when a spreadsheet would read it as a formula (or when it
    starts with an apostrophe)."""
    return ESCAPE + cell if cell.startswith(FORMULA_STARTS + (ESCAPE,)) else cell


def read_cell(cell: str) -> str:
    """The text ``formula_safe`` was given: one leading apostrophe taken off."""
    return cell[1:] if cell.startswith(ESCAPE) else cell
