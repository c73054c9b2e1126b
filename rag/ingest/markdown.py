"""Plain text from the releases' Markdown bodies."""

from __future__ import annotations

import html
import re

# Tags the scraper's Markdown carries for layout. Any other tag (<script>, <img ...>)
# is left as literal text: it is shown escaped, never interpreted and never hidden.
_BLOCK_TAGS = "table|thead|tbody|tfoot|tr|td|th|colgroup|col|caption|br|div|p|figure|figcaption|hr"
_INLINE_TAGS = "span|strong|em|b|i|u|s|strike|del|ins|mark|sup|sub|a|small"
_LAYOUT_TAG_RE = re.compile(rf"</?(?:{_BLOCK_TAGS})\b[^<>]*>", re.IGNORECASE)
_INLINE_TAG_RE = re.compile(rf"</?(?:{_INLINE_TAGS})\b[^<>]*>", re.IGNORECASE)
# Tables, rows and cells are found as "opening tag, then the first closing tag after
# it" by _elements below, not by `<table\b.*?</table>`: that regex rescans to the end
# of the text from every unclosed opening tag (minutes for a file of "<table" runs).
_TABLE_OPEN_RE = re.compile(r"<table\b", re.IGNORECASE)
_TABLE_CLOSE_RE = re.compile(r"</table>", re.IGNORECASE)
_ROW_OPEN_RE = re.compile(r"<tr\b", re.IGNORECASE)
_ROW_CLOSE_RE = re.compile(r"</tr>", re.IGNORECASE)
_CELL_OPEN_RE = re.compile(r"<t[hd]\b[^<>]*>", re.IGNORECASE)
_CELL_CLOSE_RE = re.compile(r"</t[hd]>", re.IGNORECASE)
# Link and image texts stop at a "[": otherwise each "[" of a run of them rescans to
# the end of the paragraph (quadratic time on a line of "[[[[...").
_IMAGE_RE = re.compile(r"!\[([^\[\]]*)\]\([^()]*\)")
_LINK_RE = re.compile(r"(?<!\\)\[((?:[^\[\]\\]|\\.)*)\]\((?:[^()\s]|\([^()\s]*\))*(?:\s+\"[^\"]*\")?\)")
_LIST_ITEM_RE = re.compile(r"^\s{0,3}(?:[-*+•]|\d{1,3}[.)])\s+(?=\S)")
_HEADING_RE = re.compile(r"^\s{0,3}#{1,6}\s+")
_END_MARKER_RE = re.compile(r"^\s*(?:\*\*|__)?\\?#{3}(?:\*\*|__)?\s*$")
_ESCAPE_RE = re.compile(r"\\([!-/:-@\[-`{-~])")
_EMPHASIS_RE = re.compile(r"(?<![\\*])(?:\*{2,3}|__)|(?<![\\\w*])\*(?=\S)|(?<=\S)(?<![\\*])\*(?![\w*])")
_AUTOLINK_RE = re.compile(r"<((?:https?|mailto):[^<>\s]+)>")
_SPACES_RE = re.compile(r"[ \t\u00a0\u2007\u202f\u200b\ufeff]+")


def _elements(text: str, open_re: re.Pattern[str], close_re: re.Pattern[str]):
    """(start, inner start, inner end, end) of each element: an opening tag and the
    first closing tag after it, as ``open.*?close`` would match, in linear time."""
    pos = 0
    while (opening := open_re.search(text, pos)) is not None:
        closing = close_re.search(text, opening.end())
        if closing is None:  # no closing tag after this one: none after a later one either
            return
        yield opening.start(), opening.end(), closing.start(), closing.end()
        pos = closing.end()


def _table_to_text(table: str) -> str:
    rows = []
    for _, row_start, row_end, _ in _elements(table, _ROW_OPEN_RE, _ROW_CLOSE_RE):
        row = table[row_start:row_end]
        cells = [html.unescape(_INLINE_TAG_RE.sub("", _LAYOUT_TAG_RE.sub(" ", row[a:b])))
                 for _, a, b, _ in _elements(row, _CELL_OPEN_RE, _CELL_CLOSE_RE)]
        cells = [" ".join(c.split()) for c in cells]
        if any(cells):
            rows.append(" | ".join(cells))
    return "\n\n" + "\n\n".join(rows) + "\n\n"


def _tables_to_text(text: str) -> str:
    parts, pos = [], 0
    for start, _, _, end in _elements(text, _TABLE_OPEN_RE, _TABLE_CLOSE_RE):
        parts += [text[pos:start], _table_to_text(text[start:end])]
        pos = end
    parts.append(text[pos:])
    return "".join(parts)


def _strip_comments(text: str) -> str:
    """Remove HTML comments (``<!-- -->`` separates lists in the scraper's Markdown).

    An opening ``<!--`` with no ``-->`` after it stays as text: dropping the rest of
    the release would lose words a reader can see on the page's source.
    """
    parts, pos = [], 0
    while (start := text.find("<!--", pos)) >= 0:
        end = text.find("-->", start + 4)
        if end < 0:
            break
        parts.append(text[pos:start])
        pos = end + 3
    parts.append(text[pos:])
    return "".join(parts)


def _inline(text: str) -> str:
    # Each pattern needs a character most paragraphs lack: skipping it then changes
    # nothing and halves the time to read a corpus (benchmarks/RESULTS.md).
    if "](" in text:
        if "![" in text:
            text = _IMAGE_RE.sub(r"\1", text)
        text = _LINK_RE.sub(r"\1", text)
    if "<" in text:
        text = _AUTOLINK_RE.sub(r"\1", text)
        text = _LAYOUT_TAG_RE.sub(" ", text)
        text = _INLINE_TAG_RE.sub("", text)
    if "*" in text or "__" in text:
        text = _EMPHASIS_RE.sub("", text)
    if "\\" in text:
        text = _ESCAPE_RE.sub(r"\1", text)
    return _SPACES_RE.sub(" ", text).strip()


def markdown_to_text(markdown: str) -> str:
    """Turn a release body into plain text.

    Hard-wrapped lines are joined into paragraphs, separated by one blank line;
    list items, headings and table rows become paragraphs of their own. Markdown
    markup (emphasis, links, escapes), HTML comments and layout tags are removed, non-breaking
    spaces become spaces, and the trailing ``\\###`` marker is dropped. Every other
    character (curly quotes, dashes, literal ``<`` ...) is kept as it is.
    """
    text = markdown.replace("\r\n", "\n").replace("\r", "\n")
    text = _tables_to_text(_strip_comments(text))
    paragraphs: list[str] = []
    current: list[str] = []

    def flush() -> None:
        if current:
            joined = _inline(" ".join(current))
            if joined:
                paragraphs.append(joined)
            current.clear()

    for line in text.split("\n"):
        stripped = line.strip(" \t\u00a0")
        if not stripped or _END_MARKER_RE.match(line):
            flush()
            continue
        if stripped.startswith(">"):
            stripped = stripped.lstrip("> ")
        if _HEADING_RE.match(stripped):
            flush()
            current.append(_HEADING_RE.sub("", stripped))
            flush()
            continue
        item = _LIST_ITEM_RE.match(line)
        if item:
            flush()
            stripped = line[item.end():].strip()
        current.append(stripped)
    flush()
    return "\n\n".join(paragraphs)
