"""Markdown pieces the report is made of: paragraphs, numbers, counts and tables."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .stats import Summary

DASH: Final = "—"


def paragraph(text: str) -> str:
    """Return ``text`` as one markdown line (its whitespace collapsed)."""
    return " ".join(text.split())


def code_name(name: str) -> str:
    """Put the action of a path name in backticks: `a.b` (what it is)."""
    action, space, rest = name.partition(" ")
    if "." not in action:
        return name
    comma = "," if action.endswith(",") else ""
    return f"`{action.removesuffix(',')}`{comma}{space}{rest}"


def number(value: float, digits: int) -> str:
    """Format a number with thousands separators."""
    return f"{value:,.{digits}f}"


def cells(summary: Summary | None, digits: int) -> list[str]:
    """Return the median, min and max cells of a summary."""
    if summary is None:
        return [DASH, DASH, DASH]
    return [
        number(summary.median, digits),
        number(summary.minimum, digits),
        number(summary.maximum, digits),
    ]


def count(summary: Summary, codes: Sequence[int] = ()) -> str:
    """Return a count: the median, the range when runs differed, the errcodes."""
    text = number(summary.median, 0)
    if not summary.constant:
        text += f" ({summary.minimum:.0f}–{summary.maximum:.0f})"
    if codes and summary.maximum:
        text += " (errcode " + ", ".join(str(code) for code in codes) + ")"
    return text


def times(value: float) -> str:
    """Return a ratio with a multiplication sign and two decimals."""
    return f"×{value:.2f}"


def runs(total: int, noun: str = "run") -> str:
    """Return "1 run" or "N runs"."""
    return f"{total} {noun}" if total == 1 else f"{total} {noun}s"


def table(
    header: Sequence[str], rows: Sequence[Sequence[str]], *, numeric: bool = True
) -> list[str]:
    """Return a markdown table; numeric ones right-align all but the first column."""
    align = "---:" if numeric else "---"
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---", *[align] * (len(header) - 1)]) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return [*lines, ""]
