"""Checking a model's reply sentence by sentence against the quotes each one cites.

A sentence is shown only if (a) it cites at least one quote and every quote it cites
exists, (b) every number, date and name in it appears in a quote it cites, and (c) its
meaning is close to a quote it cites (cosine similarity at or above a threshold).
"""

from __future__ import annotations

import re
from typing import Callable, Sequence

import numpy as np

from .facts import Evidence, Fact, evidence_of, facts_of
from .prompt import long_date
from .types import CITATION_RE, GeneratedSentence, QuoteInput, cited_numbers

Similarity = Callable[[list[str], list[str]], np.ndarray]

# The least cosine similarity between a sentence and the closest quote it cites, for
# the bundled all-MiniLM-L6-v2 (benchmarks/bench_generate_threshold.py, 118 seed pairs):
# a quote cut to 60% of its words scores 0.62 or more in 95 of 100 pairs (all pass),
# another sentence of the same release has a median of 0.36 (35% pass), a sentence of
# another release 0.13 (1% pass). It sits low on purpose: rewording lowers the score
# further, and the numbers, dates and names are checked exactly anyway.
DEFAULT_MIN_SIMILARITY = 0.45

_ABBREVIATIONS = frozenset("""
mr mrs ms dr st jr sr gen lt col maj capt sgt adm sen rep gov amb sec prof hon rev no vs
etc inc co corp ltd jan feb mar apr jun jul aug sep sept oct nov dec u.s u.n u.k e.u d.c
a.m p.m i.e e.g u.s.a
""".split())
# A sentence ends at . ! or ? (with closing quotes, and any citations after it), before
# a space and something that can open a sentence, or at the end of the text; or at a
# citation with no full stop before it ("... 13 HBCUs [Q1] Alabama A&M ...", as a model
# cites a headline or a list item), so that each claim is checked against its own quotes.
_OPENS = r"(?=\s+[\"'“‘(]?[A-Z0-9$]|\s*$)"
_END_RE = re.compile(rf"(?<![.!?])[.!?]+[\"'”’)]*(?:\s*\[\s*[Qq][\dQq,;\s]*\])*{_OPENS}"
                     rf"|(?:\s*\[\s*[Qq]\d[\dQq,;\s]*\])+(?=\s+[\"'“‘(]?[A-Z0-9$])")
_LIST_MARK_RE = re.compile(r"^\s*(?:[-*•]|\d{1,2}[.)])\s+")
_LABEL_RE = re.compile(r"^\s*(?:answer|response)\s*:\s*", re.IGNORECASE)


def split_sentences(reply: str) -> list[str]:
    """The sentences of a reply, citation markers kept with the sentence they close.

    Lines are split first (a list item is a sentence even without a full stop);
    Markdown emphasis, list marks and an "Answer:" label are removed.
    """
    sentences = []
    for line in reply.replace("**", "").replace("__", "").splitlines():
        line = _LABEL_RE.sub("", _LIST_MARK_RE.sub("", line)).strip()
        pos = 0
        for match in _END_RE.finditer(line):
            before = line[max(0, match.start() - 8):match.start() + 1]
            word = re.search(r"([A-Za-z][A-Za-z.]*)\.$", before)
            if line[match.start()] == "." and word and (
                    word.group(1).lower() in _ABBREVIATIONS or len(word.group(1)) == 1):
                continue  # "U.S." or an initial does not end a sentence
            sentences.append(line[pos:match.end()].strip())
            pos = match.end()
        if line[pos:].strip():
            sentences.append(line[pos:].strip())
    return [s for s in sentences if re.search(r"\w", CITATION_RE.sub("", s))]


def plain(sentence: str) -> str:
    """A sentence without its citation markers (what is compared with the quotes)."""
    text = CITATION_RE.sub(" ", sentence)
    return re.sub(r"\s+([.,;:!?])", r"\1", " ".join(text.split()))


def _quote_evidence(quote: QuoteInput) -> Evidence:
    # The model sees each quote with its title and date, so it may use them.
    return evidence_of(f"{quote.text}\n{quote.title}\n{long_date(quote.date)}")


def _labels(numbers: Sequence[int]) -> str:
    labels = [f"Q{n}" for n in numbers]
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " or " + labels[-1]


def _missing_fact(facts: list[Fact], evidence: list[Evidence]) -> Fact | None:
    for fact in facts:
        if not any(e.holds(fact) for e in evidence):
            return fact
    return None


def check_sentences(sentences: Sequence[str], quotes: Sequence[QuoteInput],
                    similarity: Similarity,
                    min_similarity: float = DEFAULT_MIN_SIMILARITY) -> list[GeneratedSentence]:
    """The verdict on each sentence: supported, or dropped with the first reason found.

    Args:
        sentences: The reply's sentences, as :func:`split_sentences` gives them.
        quotes: The numbered quotes the model was given.
        similarity: ``similarity(a, b)`` is the cosine matrix (len(a), len(b)).
        min_similarity: The least similarity to the closest cited quote.

    Returns:
        One GeneratedSentence per sentence, in order.
    """
    by_number = {q.number: q for q in quotes}
    evidence = {q.number: _quote_evidence(q) for q in quotes}
    verdicts: list[GeneratedSentence | None] = []
    to_compare: list[int] = []
    for i, sentence in enumerate(sentences):
        cited = cited_numbers(sentence)
        missing = [n for n in cited if n not in by_number]
        why = ""
        if not cited:
            why = "no citation"
        elif missing:
            why = (f"cites {_labels(missing).replace(' or ', ' and ')}, which "
                   f"{'does' if len(missing) == 1 else 'do'} not exist")
        elif (fact := _missing_fact(facts_of(plain(sentence)),
                                    [evidence[n] for n in cited])) is not None:
            why = f"{fact.kind} {fact.text} is not in {_labels(cited)}"
        if why:
            verdicts.append(GeneratedSentence(sentence, cited, False, why))
        else:
            verdicts.append(None)
            to_compare.append(i)
    if to_compare:
        texts = [plain(sentences[i]) for i in to_compare]
        scores = np.asarray(similarity(texts, [q.text for q in quotes]), dtype=np.float64)
        if scores.shape != (len(texts), len(quotes)):
            raise ValueError(f"similarity returned a {scores.shape} matrix for "
                             f"{len(texts)} sentences and {len(quotes)} quotes")
        column = {q.number: j for j, q in enumerate(quotes)}
        for row, i in enumerate(to_compare):
            cited = cited_numbers(sentences[i])
            best = max(cited, key=lambda n: scores[row, column[n]])
            score = float(scores[row, column[best]])
            ok = score >= min_similarity
            why = (f"supported by Q{best} ({score:.2f})" if ok else
                   f"too far from Q{best} ({score:.2f} < {min_similarity:.2f})")
            verdicts[i] = GeneratedSentence(sentences[i], cited, ok, why)
    return [v for v in verdicts if v is not None]
