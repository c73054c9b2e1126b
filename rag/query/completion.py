"""Quotes that answer completely: the sentence of the same release that names in full
what the quoted sentence names in short.

A later sentence often names a person by surname ("Collins said ...") or a programme
by its acronym ("LIHEAP funds ..."); the release named them in full earlier ("Senator
Susan Collins", "the Low Income Home Energy Assistance Program (LIHEAP)"). Quoting only
the short form leaves a reader without the answer, so that earlier sentence is quoted
too.
"""

from __future__ import annotations

import re


_ACRONYM_RE = re.compile(r"\b[A-Z][A-Z&-]{1,7}[A-Z]\b")
_SURNAME_RE = re.compile(r"^[A-Z][a-z’'-]{2,}$")


def naming_sentence(body: str, start: int, spans: list[tuple[int, int]],
                    sentences: list[tuple[int, int]],
                    surnames: bool = True) -> tuple[int, int] | None:
    """An earlier sentence of ``body`` that names in full what the sentence at ``start``
    names in short (its answer ``spans``: a lone surname, or an acronym), or None.

    Args:
        body: the release body.
        start: where the quoted sentence begins.
        spans: the answer spans inside it (body offsets).
        sentences: all sentence spans of the body (``rag.ingest.sentences.passage_sentences``).
        surnames: whether a lone capitalised word is a surname (the question asks for a
            person); acronyms are completed whatever was asked.
    """
    shorts = [body[s:e] for s, e in spans]
    for short in shorts:
        if _ACRONYM_RE.fullmatch(short):
            # "... Program (LIHEAP)": the expansion stands right before the acronym.
            pattern = re.compile(rf"\b(?:[A-Z][\w’'-]*\s+(?:(?:of|for|and|the|on|to)\s+)?)"
                                 rf"{{2,}}\(\s*{re.escape(short)}\s*\)")
        elif surnames and _SURNAME_RE.match(short):
            # A name of two or more capitalised words ending in the surname.
            pattern = re.compile(rf"\b[A-Z][\w’'.-]*(?:\s+[A-Z][\w’'.-]*)*\s+{re.escape(short)}\b")
        else:
            continue
        for s, e in sentences:
            if s >= start:
                break
            if pattern.search(body, s, e):
                return (s, e)
    return None


def introducing_sentence(body: str, start: int, sentences: list[tuple[int, int]]
                         ) -> tuple[int, int] | None:
    """The sentence right before the one at ``start`` when it introduces it (ends in a
    colon: "On October 1, 2024, the President signed into law:", "The delegation:"),
    or None. An item of a list says what it is only with its introduction."""
    before = None
    for s, e in sentences:
        if s >= start:
            break
        before = (s, e)
    if before is None or not body[before[0]:before[1]].rstrip().endswith(":"):
        return None
    # Only when nothing but white space stands between them (no heading, no paragraph
    # of its own in between).
    return before if not body[before[1]:start].strip() else None
