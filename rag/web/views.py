"""What the Timeline and What-changed tabs show for a collection or a diff: the panel's
HTML and the two export files (CSV and Markdown) its download buttons offer."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..query.collection import Collection
from ..query.diff import Diff
from . import diff_view, timeline
from .export import collection_csv, collection_markdown, diff_csv, diff_markdown, write_export


@dataclass(frozen=True)
class View:
    """A tab's content: its HTML, and the files to download (None: nothing to export)."""

    html: str
    csv: Path | None = None
    markdown: Path | None = None


def timeline_view(collection: Collection | None, sort: str = "date") -> View:
    """The Timeline tab for a collection (rows in ``sort`` order; the exports keep the
    timeline's own order, oldest first)."""
    if collection is None:
        return View(timeline.EMPTY)
    return View(timeline.timeline_html(collection, sort),
                write_export(collection_csv(collection), "timeline.csv"),
                write_export(collection_markdown(collection), "timeline.md"))


def diff_panel(diff: Diff | None) -> View:
    """The What-changed tab for a diff."""
    if diff is None:
        return View(diff_view.EMPTY)
    return View(diff_view.diff_html(diff), write_export(diff_csv(diff), "diff.csv"),
                write_export(diff_markdown(diff), "diff.md"))
