"""A ``Diff`` as text for a terminal: ``rag diff`` without ``--json``."""

from __future__ import annotations

import textwrap

from .diff import Diff, DiffPair, DiffSentence, DiffSide

_MARKS = {"kept": "=", "reworded": "~", "dropped": "-", "new": "+"}
_WIDTH = 100


def _side_line(side: DiffSide) -> str:
    return f"  {side.label}: {side.describe()}, {side.sentences_shown} sentences"


def _sentence_lines(label: str, s: DiffSentence) -> list[str]:
    lines = [f"  {label}  {s.date.isoformat()}  {s.title} ({s.category})"]
    lines += textwrap.wrap(s.text, _WIDTH, initial_indent="     ", subsequent_indent="     ")
    lines.append(f"     {s.link or '(no url)'}")
    return lines


def _pair_lines(pair: DiffPair) -> list[str]:
    similarity = f" ({pair.similarity:.2f})" if pair.similarity is not None else ""
    lines = [f"{_MARKS[pair.status]} {pair.status}{similarity}"]
    if pair.a is not None:
        lines += _sentence_lines("A", pair.a)
    if pair.b is not None:
        lines += _sentence_lines("B", pair.b)
    return lines


def format_diff(diff: Diff) -> str:
    """The windows and counts, then one block per pair: its status (= kept, ~ reworded,
    - dropped, + new), and the A and/or B sentence with date, title and link."""
    counts = ", ".join(f"{n} {status}" for status, n in diff.counts.items())
    lines = [f"What changed: {diff.subject}", _side_line(diff.window_a),
             _side_line(diff.window_b), f"  {counts}"]
    lines += [f"  note: {note}" for note in diff.notes]
    for pair in diff.pairs:
        lines += [""] + _pair_lines(pair)
    if not diff.pairs:
        lines += ["", "No sentence on the subject in either window."]
    return "\n".join(lines)
