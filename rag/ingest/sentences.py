"""Sentence and paragraph boundaries in the plain text of a release body."""

from __future__ import annotations

import re

_ABBREVIATIONS = frozenset("""
mr mrs ms dr st jr sr gen lt col maj capt sgt adm cmdr sen rep gov amb sec prof hon rev
no nos vol vs etc inc co corp ltd llc jan feb mar apr jun jul aug sep sept oct nov dec
mt ft ave blvd dept est approx fig ph.d u.s u.n u.k e.u d.c a.m p.m i.e e.g u.s.a
""".split())

# A sentence ends at . ! or ? (plus closing quotes/brackets) followed by space and
# something that can start a sentence.
# subtle: the look-behind starts a match only at the first mark of a run; without it
# every "." of a long run of dots rescans the run (minutes for a line of dots).
_BOUNDARY_RE = re.compile(r"(?<![.!?])[.!?]+[\"'”’)\]]*(?=\s+[\"'“‘(\[]?[A-Z0-9$])")
_WORD_BEFORE_RE = re.compile(r"([A-Za-z][A-Za-z.]*)\.$")


def _is_abbreviation(text: str, dot_end: int) -> bool:
    match = _WORD_BEFORE_RE.search(text, max(0, dot_end - 12), dot_end)
    if not match:
        return False
    word = match.group(1).lower()
    if word in _ABBREVIATIONS:
        return True
    # Initials such as "John F. Kennedy" or "H.R." never end a sentence.
    return re.fullmatch(r"(?:[a-z]\.)*[a-z]", word) is not None


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Sentence spans (start, end) within ``text[start:end]``, a single paragraph.

    Spans cover the paragraph's non-space characters; whitespace between sentences
    is left out. Offsets are into ``text``.
    """
    end = len(text) if end is None else end
    spans = []
    pos = start
    for match in _BOUNDARY_RE.finditer(text, start, end):
        stop = match.end()
        if text[match.start()] == "." and _is_abbreviation(text, match.start() + 1):
            continue
        spans.append((pos, stop))
        pos = stop
        while pos < end and text[pos].isspace():
            pos += 1
    if pos < end:
        tail_end = end
        while tail_end > pos and text[tail_end - 1].isspace():
            tail_end -= 1
        if tail_end > pos:
            spans.append((pos, tail_end))
    return spans


def paragraph_spans(text: str) -> list[tuple[int, int]]:
    """Spans of the paragraphs of a normalised body (separated by blank lines)."""
    spans = []
    pos = 0
    for match in re.finditer(r"\n\s*\n", text):
        if match.start() > pos:
            spans.append((pos, match.start()))
        pos = match.end()
    if pos < len(text):
        spans.append((pos, len(text)))
    return [(s, e) for s, e in spans if text[s:e].strip()]


def passage_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans of a text of one or more paragraphs (offsets into ``text``)."""
    return [span for ps, pe in paragraph_spans(text) for span in sentence_spans(text, ps, pe)]
