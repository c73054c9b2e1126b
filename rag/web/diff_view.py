"""The "what changed" view of a ``Diff``: both windows, the counts and notes, then one
table row per pair, window A's sentence beside window B's, each verbatim, dated and
linked to the release at it."""

from __future__ import annotations

import html

from ..ingest.releases import format_day
from ..query.diff import Diff, DiffSentence
from .render import link_html

EMPTY = ('<div class="diff empty">Give a subject and two windows (“2022”, “March 2022”, '
         '“2022-03-01..2022-06-30”, or a release id), or ask in the chat “How did the '
         'description of X change between 2022 and 2023?”.</div>')


def _sentence_html(s: DiffSentence | None) -> str:
    if s is None:
        return '<td class="side none">—</td>'
    return (f'<td class="side" data-date="{s.date.isoformat()}">'
            f'<div class="diff-meta">{format_day(s.date)} · {link_html(s.title, s.link)}</div>'
            f'<div class="diff-text">“{html.escape(s.text)}”</div></td>')


def diff_html(diff: Diff | None) -> str:
    """The diff panel (``EMPTY`` without a diff)."""
    if diff is None:
        return EMPTY
    counts = " · ".join(f"{n} {status}" for status, n in diff.counts.items())
    a, b = diff.window_a, diff.window_b
    parts = ['<div class="diff">',
             f'<p class="diff-subject">What changed: {html.escape(diff.subject)}</p>',
             f'<p class="diff-counts">{html.escape(counts)}</p>']
    parts.extend(f'<p class="diff-note">{html.escape(note)}</p>' for note in diff.notes)
    if not diff.pairs:
        parts.append('<p class="diff-none">No sentence on the subject in either window.</p>')
    else:
        parts.append(f'<table class="diff-table"><thead><tr><th>Status</th>'
                     f'<th>A: {html.escape(a.describe())} ({a.sentences_shown})</th>'
                     f'<th>B: {html.escape(b.describe())} ({b.sentences_shown})</th>'
                     f'</tr></thead><tbody>')
        for pair in diff.pairs:
            score = f" {pair.similarity:.2f}" if pair.similarity is not None else ""
            parts.append(f'<tr class="diff-row {pair.status}" data-status="{pair.status}">'
                         f'<td class="status">{pair.status}{score}</td>'
                         f'{_sentence_html(pair.a)}{_sentence_html(pair.b)}</tr>')
        parts.append("</tbody></table>")
    parts.append("</div>")
    return "".join(parts)


CSS = """
.diff-subject { font-weight: 700; margin: .2em 0; }
.diff-counts { margin: .2em 0 .4em 0; }
.diff-note { color: #6b7280; font-size: .9em; margin: .1em 0; }
.diff-table { border-collapse: collapse; width: 100%; font-size: .92em; table-layout: fixed; }
.diff-table th, .diff-table td { border-bottom: 1px solid #e5e7eb; padding: .35em .5em;
  text-align: left; vertical-align: top; }
.diff-table th:first-child, .diff-table td.status { width: 7em; }
.diff-row.kept td.status { color: #047857; }
.diff-row.reworded td.status { color: #b45309; }
.diff-row.dropped td.status { color: #b91c1c; }
.diff-row.new td.status { color: #1d4ed8; }
.diff-meta { color: #6b7280; font-size: .85em; margin-bottom: .2em; }
"""
