"""A timeline (``Collection``) or a diff (``Diff``) as CSV and Markdown files to download.

The quotes are verbatim; each comes with its release's date, title and text-fragment
link. CSV is written by the ``csv`` module (every field quoted), so commas, quotes and
line breaks in a quote survive a round trip. In Markdown, every character that could
start markup is backslash-escaped (CommonMark renders ``\\*`` as ``*``), ``|`` too, so a
quote cannot break out of its table cell, and a line break inside a cell is ``<br>``.
"""

from __future__ import annotations

import atexit
import csv
import io
import itertools
import os
import re
import shutil
import tempfile
from pathlib import Path

from ..query.collection import Collection, Row
from ..query.diff import Diff, DiffSentence

COLLECTION_COLUMNS = ("date", "title", "text", "items", "link", "release_id", "category", "url")
DIFF_COLUMNS = ("status", "similarity",
                "a_date", "a_title", "a_text", "a_link", "a_release_id",
                "b_date", "b_title", "b_text", "b_link", "b_release_id")
ITEM_SEPARATOR = "; "

# Inline markup (emphasis, code, links, HTML, entities, table cells, strikethrough,
# math); all ASCII punctuation, so backslash-escapable. What starts a block ("# ",
# "- ", "1. ") is escaped only where a text starts.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|&~$])")
_LINE_BREAK = re.compile(r"[ \t]*(?:\r\n|[\r\n\u2028\u2029\x0b\x0c\x1c-\x1e\x85])[ \t]*")
_BLOCK_START = re.compile(r"^(\s*)(\d+)?([#+\-=.)!])")


def _csv(header: tuple[str, ...], rows: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def collection_csv(collection: Collection) -> str:
    """The timeline's rows as CSV, oldest first: one line per release, with the header
    ``COLLECTION_COLUMNS`` (items joined by "; ")."""
    return _csv(COLLECTION_COLUMNS, [
        [r.date.isoformat(), r.title, r.text, ITEM_SEPARATOR.join(r.items), r.link,
         r.release_id, r.category, r.url] for r in collection.rows])


def _sentence_fields(s: DiffSentence | None) -> list[str]:
    if s is None:
        return ["", "", "", "", ""]
    return [s.date.isoformat(), s.title, s.text, s.link, s.release_id]


def diff_csv(diff: Diff) -> str:
    """The diff's pairs as CSV, in the diff's order: status, alignment score (empty for
    dropped and new), then the A and the B sentence (empty when there is none)."""
    return _csv(DIFF_COLUMNS, [
        [p.status, "" if p.similarity is None else f"{p.similarity:.4f}",
         *_sentence_fields(p.a), *_sentence_fields(p.b)] for p in diff.pairs])


def markdown_text(text: str, line_start: bool = False) -> str:
    """Text shown literally in Markdown, on one line (for a table cell); with
    ``line_start``, also what would start a heading or a list there ("# ", "1. ")."""
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", text)
    if line_start:
        escaped = _BLOCK_START.sub(lambda m: f"{m[1]}{m[2] or ''}\\{m[3]}", escaped)
    return _LINE_BREAK.sub("<br>", escaped)


def _url(url: str) -> str:
    """A link target in angle brackets; what could end it is percent-encoded."""
    return "<" + "".join(f"%{ord(c):02X}" if c in "<> \n\r\t\\" else c for c in url) + ">"


def _link(title: str, link: str) -> str:
    # Only web links are links: a release's url comes from its file.
    if link.startswith(("https://", "http://")):
        return f"[{markdown_text(title)}]({_url(link)})"
    return markdown_text(title)


def _row_text(row: Row) -> str:
    return "".join(f"**{markdown_text(t)}**" if bold else markdown_text(t)
                   for t, bold in row.pieces())


def collection_markdown(collection: Collection) -> str:
    """The timeline as Markdown: the question, the count line, the distinct items with
    how many releases name each, then a table (date, release linked, quote with the
    items in bold, items)."""
    lines = [f"# {markdown_text(collection.question, True)}", "",
             markdown_text(collection.count_line, True), ""]
    if collection.date_window is not None:
        lines += [f"Dates: {markdown_text(collection.date_window.describe())}", ""]
    if collection.items:
        lines += ["## Items", ""]
        lines += [f"- {markdown_text(i.text, True)}: {len(i.releases)} "
                  f"release{'s' if len(i.releases) != 1 else ''}" for i in collection.items]
        lines.append("")
    lines += ["## Timeline", "", "| Date | Release | Quote | Items |", "|---|---|---|---|"]
    lines += [f"| {r.date.isoformat()} | {_link(r.title, r.link)} | “{_row_text(r)}” | "
              f"{markdown_text(ITEM_SEPARATOR.join(r.items))} |" for r in collection.rows]
    return "\n".join(lines) + "\n"


def _sentence_cell(s: DiffSentence | None) -> str:
    if s is None:
        return ""
    return f"{s.date.isoformat()}, {_link(s.title, s.link)}: “{markdown_text(s.text)}”"


def diff_markdown(diff: Diff) -> str:
    """The diff as Markdown: the subject, both windows, the counts and notes, then a
    table of pairs (status, the A sentence, the B sentence, each dated and linked)."""
    counts = ", ".join(f"{n} {status}" for status, n in diff.counts.items())
    lines = [f"# What changed: {markdown_text(diff.subject)}", ""]
    for side in (diff.window_a, diff.window_b):
        n = side.sentences_shown
        lines.append(f"- {side.label}: {markdown_text(side.describe())}, "
                     f"{n} sentence{'s' if n != 1 else ''}")
    lines += ["", markdown_text(counts, True), ""]
    lines += [f"> {markdown_text(note)}" for note in diff.notes]
    if diff.notes:
        lines.append("")
    lines += [f"| Status | A: {markdown_text(diff.window_a.describe())} | "
              f"B: {markdown_text(diff.window_b.describe())} |", "|---|---|---|"]
    lines += [f"| {p.status} | {_sentence_cell(p.a)} | {_sentence_cell(p.b)} |"
              for p in diff.pairs]
    return "\n".join(lines) + "\n"


# Exports kept on disk per process: every answer with a timeline writes two files, so
# a long-running app would otherwise fill the temporary folder. Gradio copies a file
# into its own cache when it is offered for download, so only recent ones are needed.
KEEP_EXPORTS = 64
_numbers = itertools.count()


def write_export(text: str, name: str, root: Path | None = None,
                 keep: int = KEEP_EXPORTS) -> Path:
    """``text`` written (UTF-8) as ``name`` in a new folder below ``root`` (a folder of
    this process's in the system's temporary folder by default), for a download. All
    but the ``keep`` newest export folders there are deleted."""
    root = Path(root) if root is not None else _export_root()
    root.mkdir(parents=True, exist_ok=True)
    # Numbered, so the newest are known without trusting coarse file times.
    path = Path(tempfile.mkdtemp(prefix=f"{next(_numbers):09d}-", dir=root)) / name
    path.write_text(text, encoding="utf-8", newline="")
    _prune(root, keep)
    return path


def _export_root() -> Path:
    return Path(tempfile.gettempdir()) / f"rag-exports-{os.getpid()}"


def _prune(root: Path, keep: int) -> None:
    folders = sorted(root.iterdir())
    for old in folders[:max(len(folders) - keep, 0)]:
        shutil.rmtree(old, ignore_errors=True)  # another thread may be pruning too


@atexit.register
def _remove_exports() -> None:
    shutil.rmtree(_export_root(), ignore_errors=True)
