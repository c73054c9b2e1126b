"""Releases -> passages: sentence-aware, paragraph-respecting, sized in model word pieces."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence

from ..config import ChunkConfig
from .releases import Release, format_day
from .sentences import paragraph_spans, passage_sentences, sentence_spans

TokenCounter = Callable[[Sequence[str]], list[int]]


@dataclass(frozen=True)
class Passage:
    """A slice of a release body: ``release.body[start:end] == text``."""

    release_id: str
    ordinal: int
    start: int
    end: int
    text: str
    tokens: int

    @property
    def id(self) -> str:
        return f"{self.release_id}#{self.ordinal}"


@dataclass(frozen=True)
class _Unit:
    start: int
    end: int
    tokens: int
    paragraph: int


_WORD_RE = re.compile(r"\S+")


def _split_long(body: str, start: int, end: int, tokens: int, budget: int,
                count_tokens: TokenCounter) -> list[tuple[int, int, int]]:
    """Cut one over-long sentence at word boundaries into pieces within budget."""
    words = [(m.start(), m.end()) for m in _WORD_RE.finditer(body, start, end)]
    counts = count_tokens([body[s:e] for s, e in words])
    pieces = []
    piece_start, piece_end, piece_tokens = words[0][0], words[0][0], 0
    for (s, e), n in zip(words, counts):
        if piece_tokens and piece_tokens + n > budget:
            pieces.append((piece_start, piece_end, piece_tokens))
            piece_start, piece_tokens = s, 0
        if n > budget:
            # One "word" longer than the budget (a huge URL or digit run): cut it by
            # characters; a character is never more than one word piece.
            step = max(1, budget // 2)
            for cut in range(s, e, step):
                pieces.append((cut, min(e, cut + step), min(e, cut + step) - cut))
            piece_start, piece_end, piece_tokens = e, e, 0
            continue
        piece_end = e
        piece_tokens += n
    if piece_tokens:
        pieces.append((piece_start, piece_end, piece_tokens))
    return [p for p in pieces if p[1] > p[0]]


def _units(release: Release, budget: int, count_tokens: TokenCounter) -> list[_Unit]:
    body = release.body
    spans: list[tuple[int, int, int]] = []
    for p, (ps, pe) in enumerate(paragraph_spans(body)):
        spans.extend((s, e, p) for s, e in sentence_spans(body, ps, pe))
    counts = count_tokens([body[s:e] for s, e, _ in spans]) if spans else []
    units = []
    for (s, e, p), n in zip(spans, counts):
        if n <= budget:
            units.append(_Unit(s, e, n, p))
        else:
            units.extend(_Unit(a, b, t, p) for a, b, t in
                         _split_long(body, s, e, n, budget, count_tokens))
    return units


def chunk_release(release: Release, config: ChunkConfig,
                  count_tokens: TokenCounter) -> list[Passage]:
    """Cut a release into passages of at most ``config.max_tokens`` word pieces.

    Passages are runs of whole sentences. A passage prefers to end at a paragraph
    break when that keeps it at least half full; when it has to end inside a
    paragraph, the next passage repeats its last ``overlap_sentences`` sentences.
    A sentence longer than the budget is cut at word boundaries.

    Args:
        release: the release to cut.
        config: budget and overlap.
        count_tokens: word pieces per text, by the embedding model's tokenizer
            (without special tokens).

    Returns:
        Passages in body order, ordinals from 0; each text is an exact body slice.
    """
    budget = config.max_tokens
    units = _units(release, budget, count_tokens)
    passages: list[Passage] = []
    i = 0
    while i < len(units):
        j, total = i, 0
        while j < len(units) and total + units[j].tokens <= budget:
            total += units[j].tokens
            j += 1
        j = max(j, i + 1)
        if j < len(units) and units[j].paragraph == units[j - 1].paragraph:
            # Ending mid-paragraph: back off to the start of that paragraph if what
            # comes before it still fills at least half the budget.
            k = j - 1
            while k > i and units[k].paragraph == units[k - 1].paragraph:
                k -= 1
            if k > i and 2 * sum(u.tokens for u in units[i:k]) >= budget:
                j = k
        start, end = units[i].start, units[j - 1].end
        passages.append(Passage(release.id, len(passages), start, end,
                                release.body[start:end], sum(u.tokens for u in units[i:j])))
        if j >= len(units):
            break
        i = j
        if units[j].paragraph == units[j - 1].paragraph:
            # Mid-paragraph break: repeat up to overlap_sentences sentences, as long
            # as the next passage still has room for the sentence that follows them.
            back = j
            while (j - back < config.overlap_sentences
                   and units[back - 1].paragraph == units[j].paragraph
                   and sum(u.tokens for u in units[back - 1:j + 1]) <= budget
                   and units[back - 1].start > start):
                back -= 1
            i = back
    return passages


def context_header(release: Release, config: ChunkConfig,
                   count_tokens: TokenCounter) -> str:
    """The short header embedded in front of each passage: title and date.

    The title is shortened word by word until the header fits ``header_tokens``.
    """
    if not config.header:
        return ""
    date = format_day(release.date)
    words = release.title.split()
    while True:
        header = f"{' '.join(words)} ({date})"
        if not words or count_tokens([header])[0] <= config.header_tokens:
            return header
        words = words[:-1]


def embedding_text(header: str, passage: Passage) -> str:
    """The text given to the model for a passage: header line, then the passage."""
    return f"{header}\n{passage.text}" if header else passage.text


def embedding_spans(text: str, passage: Passage) -> list[tuple[int, int]]:
    """The passage's sentence spans, as offsets into its embedding text (whose vectors
    are pooled from the same model pass)."""
    offset = len(text) - len(passage.text)
    return [(offset + s, offset + e) for s, e in passage_sentences(passage.text)]
