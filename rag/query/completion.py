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
# A title before a surname still names the person in short: "Senator Collins",
# "President Moon", "Mr. Noorzai".
_TITLES = (r"(?:President|Vice President|Prime Minister|Chancellor|King|Queen|"
           r"Senator|Representative|Congressman|Congresswoman|Governor|Mayor|"
           r"Secretary|Ambassador|General|Admiral|Colonel|Captain|Sergeant|"
           r"Judge|Justice|Chairman|Chairwoman|Chair|Director|Minister|Leader|"
           r"Speaker|Dr|Mr|Mrs|Ms|Mx)\.?")
_TITLE_RE = re.compile(rf"^(?:{_TITLES}\s+)+")
# Capitalised words that are no part of a person's name.
_NOT_NAME_RE = re.compile(rf"\b(?:{_TITLES}|White|House|The|United|States|Republic|Today)\b\.?")
# A sentence that opens by pointing back at the sentences before it: "All of these as
# symbols of ...", "These are ...", "Together, these will ..." (up to three of them), or
# at the one before it: "These shipments will ...".
_BACK_MANY_RE = re.compile(r"^\W*(?:(?:together|combined|taken together),\s+)?"
                           r"(?:(?:all|both|each|many|most|some|none) of (?:these|those|them)\b"
                           r"|(?:these|those)\s+(?:are|were|will|would|can|could|have|has|"
                           r"include|as|and|all)\b|(?:these|those)\W)", re.IGNORECASE)
_BACK_ONE_RE = re.compile(r"^\W*(?:these|those)\s+[a-z]", re.IGNORECASE)
_BACK_SENTENCES = 3  # sentences of its paragraph a sentence pointing back draws on


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
    shorts = [_TITLE_RE.sub("", body[s:e]) for s, e in spans]
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
            # A name in full, not the short form again behind a title ("President Moon").
            if any(len(_NOT_NAME_RE.sub(" ", m.group(0)).split()) >= 2
                   for m in pattern.finditer(body, s, e)):
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


def referred_sentences(body: str, start: int, sentences: list[tuple[int, int]]
                       ) -> list[tuple[int, int]]:
    """The sentences before the one at ``start`` that it points back at, when it opens
    with "these", "those", "all of these" and the like: up to ``_BACK_SENTENCES`` of its
    own paragraph (none across a blank line), or only the one before it where "these"
    is followed by a noun ("These shipments ..."), nearest last. Quoted alone, "All of these
    as symbols of our relationship" says nothing of what "these" are."""
    own = next(((s, e) for s, e in sentences if s == start), None)
    if own is None:
        return []
    text = body[own[0]:own[1]]
    wanted = (_BACK_SENTENCES if _BACK_MANY_RE.match(text)
              else 1 if _BACK_ONE_RE.match(text) else 0)
    if not wanted:
        return []
    before: list[tuple[int, int]] = []
    for s, e in sentences:
        if s >= start:
            break
        before.append((s, e))
    out: list[tuple[int, int]] = []
    edge = start
    for s, e in reversed(before):
        if len(out) == wanted or "\n" in body[e:edge]:
            break
        out.insert(0, (s, e))
        edge = s
    return out
