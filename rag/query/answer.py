"""Extractive answers: sentences quoted verbatim from retrieved passages, each cited."""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import numpy as np

from ..config import AnswerConfig
from ..errors import RagError
from ..generate import Generated, LLMSettings
from ..index.lexical import analyse
from ..ingest.sentences import paragraph_spans, passage_sentences, sentence_spans
from .answer_types import answer_spans, expected_type, holds_answer, span_pieces
from .collection import Collection
from .completion import introducing_sentence, naming_sentence, referred_sentences
from .parts import question_parts
from .dates import DateWindow
from .generated import generated_json, ready_key, with_generated
from .links import text_fragment_link
from .retrieve import Hit, Retriever

NO_ANSWER = "No release in the index answers this question."
_MIN_WORDS = 4
# Each part of a question that asks two things is also searched on its own, and its
# best passages not already read join the sources read: the passages that best match
# the whole question are often about one part only.
PART_HITS = 2


@dataclass(frozen=True)
class Quote:
    """A sentence quoted from a source: ``body[start:end] == text`` in that release."""

    text: str
    source: int  # the source's number, as in the [n] marker
    release_id: str
    start: int
    end: int
    score: float
    # Where the thing asked for stands (the name, the figure), as body offsets.
    spans: tuple[tuple[int, int], ...] = ()
    # Quoted for the next quote's sake: it names in full what that one names in short,
    # or introduces it ("... signed into law:").
    completes: bool = False

    def pieces(self) -> list[tuple[str, bool]]:
        """The quote's text in order, in pieces, each with whether it is an answer span."""
        return span_pieces(self.text, self.start, self.spans)

    def marked(self, mark: Callable[[str], str]) -> str:
        """The quote with each answer span passed through ``mark`` (``**...**`` say)."""
        return "".join(mark(t) if span else t for t, span in self.pieces())

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "source": self.source, "release_id": self.release_id,
                "start": self.start, "end": self.end,
                "answer_spans": [{"start": s, "end": e, "text": self.text[s - self.start:
                                                                         e - self.start]}
                                 for s, e in self.spans],
                "completes": self.completes}


@dataclass(frozen=True)
class Source:
    """A numbered retrieved passage, with a link to its release at the quoted sentence."""

    number: int
    hit: Hit
    link: str
    cited: bool

    def to_dict(self) -> dict[str, Any]:
        return {**self.hit.to_dict(), "link": self.link}


@dataclass(frozen=True)
class Answer:
    """An answer: quoted sentences with [n] markers and the sources they cite.

    When the evidence is too weak, ``abstained`` is true, ``text`` says no release
    answers, ``quotes`` is empty and ``sources`` are the nearest passages.
    ``generated`` is None unless a generated answer was asked for (see
    rag.query.generated); ``text`` stays the extracted answer either way.
    """

    question: str
    text: str
    quotes: list[Quote]
    sources: list[Source]
    abstained: bool
    date_window: DateWindow | None
    confidence: float
    mode: str
    reason: str = ""  # why it abstained ('' when it answered)
    generated: Generated | None = None
    collection: Collection | None = None  # set when collect mode was chosen (rag.query.collect)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``rag ask --json``."""
        window = self.date_window.to_dict() if self.date_window is not None else None
        data = {"answer": self.text, "abstained": self.abstained, "date_window": window,
                "sentences": [q.to_dict() for q in self.quotes],
                "sources": [s.to_dict() for s in self.sources]}
        if self.generated is not None:
            data.update(generated_json(self, self.generated))
        if self.collection is not None:
            data["collection"] = self.collection.to_dict()
        if self.abstained:
            data["abstention"] = {"reason": self.reason, "closest": [
                {"id": s.hit.release_id, "title": s.hit.title, "date": s.hit.date.isoformat()}
                for s in self.sources[:3]]}
        return data


@dataclass(frozen=True)
class _Candidate:
    source: int
    release_id: str
    start: int
    end: int
    text: str
    # What its paragraph is about, where the sentence itself may not say: the heading
    # line above the paragraph and the paragraph's first sentence (when that is another).
    lead: str = ""


_HEADING_WORDS = 12  # a one-line paragraph of at most this many words heads the next one


def _paragraph_leads(body: str, start: int, end: int,
                     paragraphs: list[tuple[int, int]] | None = None
                     ) -> list[tuple[int, str, int]]:
    """(start, heading, end of first sentence) of each paragraph of ``body`` that meets
    [start, end): the heading is the one-line paragraph right above it, if any ("Frank R.
    Lautenberg (posthumous)" above his citation), else "". ``paragraphs``: the body's
    ``paragraph_spans``, when the caller has them already."""
    out, heading = [], ""
    for ps, pe in paragraphs if paragraphs is not None else paragraph_spans(body):
        if ps >= end:
            break
        if pe > start:
            first = sentence_spans(body, ps, pe)
            out.append((ps, heading, first[0][1] if first else pe))
        text = body[ps:pe].strip()
        heading = text if len(text.split()) <= _HEADING_WORDS and "\n" not in text else ""
    return out


def _candidates(index: Retriever, hits: list[Hit]) -> list[_Candidate]:
    """Every sentence of every hit, with offsets into its release body and the lead of
    its paragraph."""
    out = []
    paragraphs: dict[str, list[tuple[int, int]]] = {}  # a release's, split once
    for number, hit in enumerate(hits, 1):
        body = index.release(hit.release_id).body
        if hit.release_id not in paragraphs:
            paragraphs[hit.release_id] = paragraph_spans(body)
        leads = _paragraph_leads(body, hit.start, hit.end, paragraphs[hit.release_id])
        for ps, pe in paragraph_spans(body[hit.start:hit.end]):
            # The paragraph of the body this passage paragraph is part of (a passage may
            # begin inside one).
            para, heading, first_end = next(
                (p for p in reversed(leads) if p[0] <= hit.start + ps), (0, "", 0))
            for s, e in sentence_spans(body, hit.start + ps, hit.start + pe):
                text = body[s:e]
                if len(text.split()) >= _MIN_WORDS or len(hits) == 1:
                    first = body[para:first_end].strip() if s >= first_end else ""
                    lead = " ".join(t for t in (heading, first) if t)
                    out.append(_Candidate(number, hit.release_id, s, e, text, lead))
    return out


def _similarities(index: Retriever, query: str, candidates: list[_Candidate]
                  ) -> tuple[np.ndarray, list[float]]:
    """The query's vector, and the cosine similarity of each candidate sentence to it."""
    query_vector = index.query_vector(query)
    return query_vector, (_sentence_vectors(index, candidates) @ query_vector).tolist()


def _sentence_vectors(index: Retriever, candidates: list[_Candidate]) -> np.ndarray:
    """The candidates' vectors, a row each.

    Sentence vectors come from the index (pooled from their passage's pass at build
    time); only a sentence not stored there is embedded now.
    """
    by_release: dict[str, list[int]] = {}
    for i, c in enumerate(candidates):
        by_release.setdefault(c.release_id, []).append(i)
    vectors: list[np.ndarray | None] = [None] * len(candidates)
    for release_id, rows in by_release.items():
        stored = index.stored_sentence_vectors(release_id, [(candidates[i].start,
                                                             candidates[i].end) for i in rows])
        for i, v in zip(rows, stored):
            vectors[i] = v
    missing = [i for i, v in enumerate(vectors) if v is None]
    if missing:
        fresh = index.embed([candidates[i].text for i in missing])
        for i, v in zip(missing, fresh):
            vectors[i] = v
    return np.stack(vectors)


def _coverage(question_terms: list[str], text_terms: set[str], idf) -> float:
    """Share of the question's IDF weight whose terms occur in the text."""
    weights = {t: idf(t) for t in question_terms}
    total = sum(weights.values())
    if total <= 0:
        return 0.0
    return sum(w for t, w in weights.items() if t in text_terms) / total


def _word_set(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


def _overlap_above(wa: set[str], wb: set[str], threshold: float) -> bool:
    """Whether two word sets share more than ``threshold`` of their words (Jaccard)."""
    return len(wa & wb) / max(1, len(wa | wb)) > threshold


def _near_duplicate(a: str, b: str, threshold: float = 0.8) -> bool:
    """Whether two texts share more than ``threshold`` of their words."""
    return _overlap_above(_word_set(a), _word_set(b), threshold)


def _evidence(index: Retriever, candidates: list[_Candidate], query: str, terms: list[str],
              kind: str | None, config: AnswerConfig) -> dict[int, float]:
    """For each candidate that holds the kind of answer asked for, the part of its score
    that does not depend on its cosine: question terms covered and passage rank.

    A sentence without the kind of thing asked for (a name for "who", an amount for
    "how much") restates the question at best: it is never quoted, so it gets no entry.
    """
    evidence = {}
    analysed: dict[str, set[str]] = {}  # a title, or a sentence that is also the next one's

    def words(text: str) -> set[str]:
        found = analysed.get(text)
        if found is None:
            found = analysed[text] = set(analyse(text))
        return found

    for i, cand in enumerate(candidates):
        if not holds_answer(cand.text, kind, query):
            continue
        previous = _previous(candidates, i)
        title = index.release(cand.release_id).title
        # The terms of sentence, title, previous sentence and paragraph lead (analysed
        # apart: the same terms as of them joined by spaces).
        context = (words(cand.text) | words(title) | words(cand.lead)
                   | (words(previous.text) if previous else set()))
        covered = _coverage(terms, context, index.idf)
        evidence[i] = (config.lexical_weight * covered
                       + config.rank_weight / math.sqrt(cand.source))
    return evidence


def _previous(candidates: list[_Candidate], i: int) -> _Candidate | None:
    """The sentence before candidate ``i`` in the same source, if any."""
    return candidates[i - 1] if i and candidates[i - 1].source == candidates[i].source \
        else None


def _score(candidates: list[_Candidate], similarity: list[float], evidence: dict[int, float],
           config: AnswerConfig, rows: Iterable[int]) -> list[tuple[float, _Candidate]]:
    """Scores of the candidates in ``rows`` (those with evidence)."""
    scored = []
    for i in rows:
        # An answer often follows the sentence that names the subject ("... announced
        # a delegation:" then the names), so a sentence also draws on the one before it.
        sim = similarity[i]
        if _previous(candidates, i) is not None:
            sim = max(sim, config.context_weight * similarity[i - 1])
        scored.append((config.semantic_weight * max(0.0, sim) + evidence[i], candidates[i]))
    return scored


def answer(index: Retriever, question: str, top_k: int | None = None,
           config: AnswerConfig | None = None, *, generate: bool = False,
           llm: LLMSettings | None = None, api_key: str | None = None,
           **filters: Any) -> Answer:
    """An extractive answer: 1-3 sentences quoted verbatim from the best passages,
    each followed by its source's [n] marker; abstains when the evidence is weak.

    Args:
        index: the loaded index to search.
        question: the question, in plain words.
        top_k: how many passages to retrieve and list as sources.
        config: how sentences are scored and chosen (default: ``AnswerConfig()``).
        generate: also ask the ``llm`` model to answer from the quotes and check its
            reply (``Answer.generated``); no call when the extracted answer abstains.
        llm: the language model's settings (needed when ``generate``).
        api_key: its key, as ``load_config`` read it (``Config.llm_api_key``).
        **filters: as :meth:`Retriever.search` takes them (mode, since, until,
            category, question_dates).

    Raises:
        QuestionError: an unusable question or filter.
        ConfigError: ``generate`` without a configured model (llm.base_url, llm.model).
    """
    if generate:
        ready_key(llm or LLMSettings(), api_key)  # fail before searching
    result = index.search(question, top_k, **filters)
    hits, config = with_part_hits(index, question, result.hits, config or AnswerConfig(),
                                  filters)
    extracted = compose(index, question, result.query, hits, result.window, result.mode,
                        config)
    if not generate:
        return extracted
    return with_generated(index, extracted, llm or LLMSettings(), api_key)


def with_part_hits(index: Retriever, question: str, hits: list[Hit], config: AnswerConfig,
                   filters: dict[str, Any]) -> tuple[list[Hit], AnswerConfig]:
    """The hits with each part's own best ``PART_HITS`` passages put after the first
    ``config.passages`` (none that overlaps a passage already there), and the config
    that reads them too. A question of one part gets its hits back unchanged.

    Each part is searched with the filters given; a date in the part is its own window
    ("in the October 2022 release, and how many in the December 2023 release?").
    """
    parts = question_parts(question)
    if len(parts) < 2:
        return hits, config

    def overlaps(hit: Hit, others: list[Hit]) -> bool:
        return any(h.release_id == hit.release_id and h.start < hit.end
                   and hit.start < h.end for h in others)

    head, extra = hits[:config.passages], []
    for part in parts:
        extra += [h for h in index.search(part, PART_HITS, **filters).hits
                  if not overlaps(h, head + extra)]
    if not extra:
        return hits, config
    tail = [h for h in hits[config.passages:] if not overlaps(h, extra)]
    merged = [dataclasses.replace(h, rank=rank) for rank, h in
              enumerate(head + extra + tail, 1)]
    return merged, dataclasses.replace(config, passages=min(20, config.passages + len(extra)))


def _scored_for(index: Retriever, candidates: list[_Candidate], part: str, kind: str | None,
                query_vector: np.ndarray, similarity: list[float], config: AnswerConfig,
                alone: dict[int, float]) -> list[tuple[float, _Candidate]]:
    """The candidates that hold what ``part`` asks for, scored, best first.

    ``alone`` holds the cosine of each candidate embedded on its own, by row, filled as
    needed and shared by the parts of a question, so no sentence is embedded twice.
    """
    evidence = _evidence(index, candidates, part, analyse(part), kind, config)
    scored = _score(candidates, similarity, evidence, config, evidence)
    if config.rescore and scored:
        # Second pass over the best few: each sentence embedded on its own says
        # what it states itself, which the pooled vector (steeped in its passage's
        # topic) blurs; on the development set the mean of the two ranked and
        # abstained best (benchmarks/RESULTS.md).
        scored.sort(key=lambda sc: (-sc[0], sc[1].source, sc[1].start))
        position = {id(c): i for i, c in enumerate(candidates)}
        rows = [position[id(c)] for c in _telling(scored, kind, part, config.rescore)]
        new = [i for i in rows if i not in alone]
        if new:
            alone.update(zip(new, (index.embed([candidates[i].text for i in new])
                                   @ query_vector).tolist()))
        mixed = list(similarity)
        for i in rows:
            mixed[i] = (similarity[i] + alone[i]) / 2
        scored = _score(candidates, mixed, evidence, config, rows)
    scored.sort(key=lambda sc: (-sc[0], sc[1].source, sc[1].start))
    return scored


def _answers_in(cand: _Candidate, kind: str | None, question: str) -> frozenset[str]:
    """The things of the kind asked for that the sentence gives ("December 24, 2024"),
    normalised; empty for a question that asks for no particular kind."""
    return frozenset(" ".join(cand.text[s:e].split()).casefold().strip(" .,;:")
                     for s, e in answer_spans(cand.text, kind, question))


def _telling(scored: list[tuple[float, _Candidate]], kind: str | None, question: str,
             limit: int) -> list[_Candidate]:
    """The best ``limit`` sentences of ``scored`` (best first), passing over any whose
    answers (``_answers_in``) the ones before it all gave already: "which two days"
    is better served by the order closing on January 9 than by a third sentence of the
    one closing on December 24."""
    out: list[_Candidate] = []
    given: set[str] = set()
    for _, cand in scored:
        if len(out) == limit:
            break
        answers = _answers_in(cand, kind, question)
        if answers and out and answers <= given:
            continue
        out.append(cand)
        given |= answers
    return out


# What an abstention says was missing, by the kind of answer asked for.
_KIND_WORDS = {"money": "amount", "percent": "share or rate", "tally": "vote count",
               "number": "number", "date": "date", "person": "name of a person",
               "name": "name", "organization": "organization", "place": "place",
               "law": "name of the law or programme"}
@dataclass
class Ranking:
    """The candidate sentences of one question, ranked for each of its parts.

    ``ranked[k]`` holds (score, sentence) pairs for part ``k``, best first.
    ``similarity`` is each candidate's cosine to the question from its stored vector;
    ``alone`` the cosine of those embedded on their own (by candidate row).
    """

    parts: list[str]
    kinds: list[str | None]
    candidates: list[_Candidate]
    ranked: list[list[tuple[float, _Candidate]]]
    similarity: list[float]
    alone: dict[int, float]


def rank_sentences(index: Retriever, query: str, hits: list[Hit], config: AnswerConfig
                   ) -> Ranking:
    """Every candidate sentence of the first ``config.passages`` hits, scored and ranked
    for each part of the question (see :func:`compose`)."""
    candidates = _candidates(index, hits[:config.passages])
    parts = question_parts(query)
    kinds = [expected_type(part) for part in parts] if len(parts) > 1 else [expected_type(query)]
    ranked: list[list[tuple[float, _Candidate]]] = [[] for _ in parts]
    similarity: list[float] = []
    alone: dict[int, float] = {}
    if candidates:
        vectors = _sentence_vectors(index, candidates)
        query_vector = index.query_vector(query)
        similarity = (vectors @ query_vector).tolist()
        ranked = []
        for part, kind in zip(parts, kinds):
            own = similarity
            if len(parts) > 1:
                # A part is judged by the mean of the whole question's cosine (which
                # knows the context an elliptical part leaves out: "the ceremony") and
                # its own (which knows which of the two things it asks).
                own = ((vectors @ index.query_vector(part) + similarity) / 2).tolist()
            ranked.append(_scored_for(index, candidates, part if len(parts) > 1 else query,
                                      kind, query_vector, own, config, alone))
    return Ranking(parts, kinds, candidates, ranked, similarity, alone)


def select(index: Retriever, ranking: Ranking, config: AnswerConfig
           ) -> list[tuple[float, _Candidate, int]]:
    """The sentences to quote, as (score, sentence, part): none when the best score is
    below ``min_score``; else each part's best, then the best part's next ones while
    they score at least ``relative_cutoff`` of the best, up to ``max_sentences``,
    skipping near-copies."""
    ranked, parts = ranking.ranked, ranking.parts
    best = max((r[0][0] for r in ranked if r), default=0.0)
    chosen: list[tuple[float, _Candidate, int]] = []

    def take(score: float, cand: _Candidate, part: int) -> None:
        if any(_near_duplicate(cand.text, c.text) for _, c, _ in chosen):
            return
        if index.release(cand.release_id).body[cand.start:cand.end] != cand.text:
            raise RagError(f"internal error: quote does not match {cand.release_id} "
                           f"at {cand.start}:{cand.end}")
        chosen.append((score, cand, part))

    if best < config.min_score:
        return chosen
    if len(parts) > 1:
        for part, scored in enumerate(ranked):
            if scored and scored[0][0] >= config.min_score:
                take(*scored[0], part)
    first = max(range(len(ranked)), key=lambda k: ranked[k][0][0] if ranked[k] else 0.0)
    for score, cand in ranked[first]:
        if len(chosen) >= max(config.max_sentences, len(parts)) \
                or score < best * config.relative_cutoff:
            break
        take(score, cand, first)
    return chosen


def compose(index: Retriever, question: str, query: str, hits: list[Hit],
            window: DateWindow | None, mode: str, config: AnswerConfig) -> Answer:
    """Choose the sentences that answer the question and cite them.

    Each sentence of the first ``config.passages`` hits is scored by its cosine
    similarity to the question, the share of the question's term weight it (with its
    release title) covers, and its passage's rank. The best sentence is quoted, and up
    to ``max_sentences - 1`` others within ``relative_cutoff`` of it that are not
    near-copies. A question of two parts ("How much X, and how much of it Y?") gets the
    best sentence of each part first. A quoted sentence is preceded by the sentences of
    its release it needs: the one naming its answer in full where it names it in short
    (a surname, an acronym), the one introducing it where it is an item of a list
    (``rag.query.completion``). Every quote is checked against its release body.
    """
    ranking = rank_sentences(index, query, hits, config)
    return answer_from(index, question, hits, window, mode, ranking,
                       select(index, ranking, config))


def answer_from(index: Retriever, question: str, hits: list[Hit], window: DateWindow | None,
                mode: str, ranking: Ranking, chosen: list[tuple[float, _Candidate, int]]
                ) -> Answer:
    """The answer quoting the ``chosen`` sentences of a ranking (or abstaining)."""
    parts, kinds, ranked, candidates = (ranking.parts, ranking.kinds, ranking.ranked,
                                        ranking.candidates)
    best = max((r[0][0] for r in ranked if r), default=0.0)
    quotes = _quotes(index, chosen, parts, kinds)
    first_quote = {}
    for q in quotes:
        first_quote.setdefault(q.source, q)
    sources = [Source(n, h, text_fragment_link(h.url, first_quote[n].text) if n in first_quote
                      else h.url, n in first_quote) for n, h in enumerate(hits, 1)]
    reason = ""
    if quotes:
        text = " ".join(f"{q.text} [{q.source}]" for q in quotes)
    elif window is not None and not hits:
        text = f"No release dated {window.describe()} answers this question."
        reason = "no release in the date window"
    else:
        text = NO_ANSWER
        if window is not None:
            text = f"No release dated {window.describe()} answers this question."
        reason = "the evidence is too weak"
        missing = [k for k, r in zip(kinds, ranked) if k is not None and not r]
        if candidates and missing:
            # The releases found are on the subject, yet no sentence of them holds
            # the kind of thing asked for: say so, rather than just "no answer".
            what = _KIND_WORDS.get(missing[0], "answer")
            text = (f"The releases found discuss this, but none of their sentences gives "
                    f"the {what} asked for; the closest are listed under Sources.")
            reason = f"no sentence gives the {what} asked for"
    return Answer(question=question, text=text, quotes=quotes, sources=sources,
                  abstained=not quotes, date_window=window, confidence=float(best), mode=mode,
                  reason=reason)


def _quotes(index: Retriever, chosen: list[tuple[float, _Candidate, int]], parts: list[str],
            kinds: list[str | None]) -> list[Quote]:
    """The chosen sentences as quotes, with their answer spans marked, each preceded by
    the sentences of its release it needs to be understood: the one naming its answer in
    full where it names it in short, and the one introducing it where it is an item of a
    list (``rag.query.completion``)."""
    quotes: list[Quote] = []
    taken = {(c.release_id, c.start) for _, c, _ in chosen}
    sentences_of: dict[str, list[tuple[int, int]]] = {}
    for score, cand, part in chosen:
        kind = kinds[part]
        spans = tuple((cand.start + s, cand.start + e)
                      for s, e in answer_spans(cand.text, kind, parts[part]))
        body = index.release(cand.release_id).body
        if cand.release_id not in sentences_of:
            sentences_of[cand.release_id] = passage_sentences(body)
        sentences = sentences_of[cand.release_id]
        needed = [introducing_sentence(body, cand.start, sentences),
                  *referred_sentences(body, cand.start, sentences)]
        if kind in _NAMED_KINDS and spans:
            needed.insert(0, naming_sentence(body, cand.start, list(spans), sentences,
                                             surnames=kind == "person"))
        for span in sorted({n for n in needed if n is not None}):
            if (cand.release_id, span[0]) in taken:
                continue
            taken.add((cand.release_id, span[0]))
            context = body[span[0]:span[1]]
            quotes.append(Quote(context, cand.source, cand.release_id, span[0], span[1], score,
                                tuple((span[0] + s, span[0] + e) for s, e in
                                      answer_spans(context, kind, parts[part])),
                                completes=True))
        quotes.append(Quote(cand.text, cand.source, cand.release_id, cand.start, cand.end,
                            score, spans))
    return quotes


_NAMED_KINDS = ("person", "organization", "law", "name", "place")
