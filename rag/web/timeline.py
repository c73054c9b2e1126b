"""The timeline view of a collect answer: the count line, a table of one verbatim row per
release (sortable by date or title), and the distinct items with their support.

Sorting is done here, on the server, rather than by script in the page: the HTML is
set with innerHTML, which runs no script, and a sorted copy is easy to test.
"""

from __future__ import annotations

import html

from ..ingest.releases import format_day
from ..query.collection import Collection, Row
from .render import link_html

# (label, value) pairs for the sort switch; the value is what sorted_rows takes.
SORTS = [("Date, oldest first", "date"), ("Date, newest first", "date-desc"),
         ("Title", "title")]
_SORT_VALUES = tuple(value for _, value in SORTS)

EMPTY = ('<div class="timeline empty">A question that asks for a set or a history '
         '(“Which countries …?”, “every time …”, “how often …”) is answered here as a '
         'timeline of every release that answers it; set Collect to “on” to have one '
         'for any question.</div>')


def sorted_rows(rows: list[Row], sort: str = "date") -> list[Row]:
    """The rows in the order asked: ``date`` (oldest first, the collection's order),
    ``date-desc`` (newest first) or ``title`` (A-Z, then by date).

    Raises:
        ValueError: an unknown sort (the switch offers only the known ones).
    """
    if sort not in _SORT_VALUES:
        raise ValueError(f"sort = {sort!r} must be one of {', '.join(_SORT_VALUES)}")
    # Ties by release id and position, so the order never depends on the input order.
    by_date = sorted(rows, key=lambda r: (r.date, r.release_id, r.start))
    if sort == "date-desc":
        return sorted(by_date, key=lambda r: r.date, reverse=True)
    if sort == "title":
        return sorted(by_date, key=lambda r: r.title.casefold())
    return by_date


def _row_text_html(row: Row) -> str:
    return "".join(f"<strong>{html.escape(t)}</strong>" if bold else html.escape(t)
                   for t, bold in row.pieces()).replace("\n", "<br>")


def _row_html(row: Row) -> str:
    items = ", ".join(html.escape(i) for i in row.items)
    return (f'<tr class="timeline-row" data-date="{row.date.isoformat()}" '
            f'data-release="{html.escape(row.release_id, quote=True)}">'
            f'<td class="date">{format_day(row.date)}</td>'
            f'<td class="title">{link_html(row.title, row.link)}'
            f'<div class="category">{html.escape(row.category)}</div></td>'
            f'<td class="quote">“{_row_text_html(row)}”</td>'
            f'<td class="items">{items}</td></tr>')


def _items_html(collection: Collection) -> str:
    if not collection.items:
        return ""
    entries = "".join(
        f'<li><strong>{html.escape(i.text)}</strong> · {len(i.releases)} '
        f'release{"s" if len(i.releases) != 1 else ""}</li>' for i in collection.items)
    return (f'<div class="timeline-items"><h4>Items ({len(collection.items)})</h4>'
            f'<ul>{entries}</ul></div>')


def timeline_html(collection: Collection | None, sort: str = "date") -> str:
    """The timeline panel: the count line, the items, the table of rows in ``sort``
    order (see :func:`sorted_rows`); ``EMPTY`` when there is no collection."""
    if collection is None:
        return EMPTY
    parts = ['<div class="timeline">',
             f'<p class="timeline-question">{html.escape(collection.question)}</p>',
             f'<p class="count-line">{html.escape(collection.count_line)}</p>']
    if collection.date_window is not None:
        parts.append(f'<p class="timeline-window">Dates: '
                     f'{html.escape(collection.date_window.describe())}</p>')
    parts.append(_items_html(collection))
    if collection.rows:
        parts.append('<table class="timeline-table"><thead><tr><th>Date</th><th>Release</th>'
                     '<th>Quote</th><th>Items</th></tr></thead><tbody>')
        parts.extend(_row_html(r) for r in sorted_rows(collection.rows, sort))
        parts.append("</tbody></table>")
    parts.append("</div>")
    return "".join(parts)


CSS = """
.timeline-question { font-style: italic; margin: .2em 0; }
.timeline .count-line { font-weight: 700; margin: .2em 0 .5em 0; }
.timeline-window { color: #6b7280; font-size: .9em; margin: 0 0 .4em 0; }
.timeline-items ul { columns: 3; margin: .2em 0 .8em 0; }
.timeline-items h4 { margin: .4em 0 .2em 0; }
.timeline-table { border-collapse: collapse; width: 100%; font-size: .92em; }
.timeline-table th, .timeline-table td { border-bottom: 1px solid #e5e7eb; padding: .35em .5em;
  text-align: left; vertical-align: top; }
.timeline-table td.date { white-space: nowrap; }
.timeline-table .category { color: #6b7280; font-size: .85em; }
"""
