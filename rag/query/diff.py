"""What changed: one subject in two date windows (or two releases), sentence by sentence.

``diff(index, "NATO battle groups", (2022-01-01, 2022-12-31), (2023-01-01, 2023-12-31))``
retrieves the subject in each window (both rankings, the date filter inside the
search), takes the sentences most on the subject from the best releases of each side,
aligns them one to one by meaning, and says of each whether it was kept, reworded,
dropped (only in A) or is new (only in B). Every sentence is quoted verbatim, checked
against its release body, with a link that opens the release at it.

Choices:

- A side's sentences come from the passages retrieved for it, in its ``releases`` best
  releases; each is scored by its cosine to the subject (the vector stored at build
  time) and the share of the subject's term weight it covers. The ``per_side`` best
  are kept, at least ``relative_cutoff`` of the best; the same words twice on one side
  (a fact sheet and its statement) count once. What was left out is counted in the
  side's figures and said in ``Diff.notes``.
- The kept sentences are embedded again on their own for the alignment: a pooled
  vector carries its passage's topic, and on one subject every sentence shares it.
- Two sentences align when ``cosine_weight * cosine + (1 - cosine_weight) * overlap``
  (overlap: IDF-weighted Jaccard of their terms) reaches ``align_min``; pairs are taken
  greedily, best first, so each sentence is in at most one pair.
- An aligned pair is "kept" when the words are the same but for a few (word-sequence
  ratio >= ``kept_min``) and the numbers are the same; else "reworded".
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from dataclasses import dataclass, field
from typing import Any, Union

import numpy as np

from ..errors import QuestionError, RagError
from ..index.lexical import analyse
from ..ingest.sentences import paragraph_spans, passage_sentences, sentence_spans
from .dates import DateWindow
from .diff_question import read_diff_question, read_window
from .links import release_json, text_fragment_link
from .retrieve import Hit, Retriever, check_question

STATUSES = ("kept", "reworded", "dropped", "new")
_MIN_WORDS = 5
_COSINE_SHARE = 0.6  # a sentence's relevance: cosine to the subject vs its terms covered
_NUMBER_RE = re.compile(r"\d[\d,.]*")
_WORD_RE = re.compile(r"\w+")

# A window as the API takes it: a DateWindow, a (since, until) pair of dates or
# YYYY-MM-DD strings (None: open), or a string (a release id, or "2022", "March 2022").
WindowSpec = Union[DateWindow, tuple, str]


@dataclass(frozen=True)
class DiffSettings:
    """How sentences are chosen and aligned (defaults fitted on the full corpus with
    the bundled model; ``benchmarks/bench_diff.py`` prints what they give)."""

    per_side: int = 12            # sentences shown per side, at most
    releases: int = 4             # best releases of a window whose sentences are used
    top_k: int = 30               # passages retrieved per window
    relative_cutoff: float = 0.6  # a sentence's relevance must be this share of the best
    cosine_weight: float = 0.7    # alignment score: cosine vs term overlap
    align_min: float = 0.6        # least alignment score of a pair
    kept_min: float = 0.9         # least word-sequence ratio of a kept pair

    def __post_init__(self) -> None:
        for name in ("per_side", "releases", "top_k"):
            if not 1 <= getattr(self, name) <= 100:
                raise QuestionError(f"{name} = {getattr(self, name)!r} must be 1 to 100")
        for name in ("relative_cutoff", "cosine_weight", "align_min", "kept_min"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise QuestionError(f"{name} = {getattr(self, name)!r} must be 0 to 1")


@dataclass(frozen=True)
class DiffSentence:
    """A sentence of one side: ``release.body[start:end] == text``."""

    text: str
    start: int
    end: int
    release_id: str
    title: str
    date: dt.date
    category: str
    url: str
    link: str
    relevance: float  # how much it is on the subject (cosine and terms covered)

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "start": self.start, "end": self.end, "link": self.link,
                "relevance": round(self.relevance, 4),
                "release": release_json(self.release_id, self.title, self.date, self.category,
                                        self.url)}


@dataclass(frozen=True)
class DiffPair:
    """One row of a diff: a sentence of A and/or of B, and what became of it."""

    status: str                  # kept | reworded | dropped | new
    a: DiffSentence | None
    b: DiffSentence | None
    similarity: float | None     # the alignment score; None for dropped and new

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "a": self.a.to_dict() if self.a else None,
                "b": self.b.to_dict() if self.b else None,
                "similarity": None if self.similarity is None else round(self.similarity, 4)}


@dataclass(frozen=True)
class DiffSide:
    """One side: a date window or one release, and how much of it the diff shows."""

    label: str                    # "A" or "B"
    window: DateWindow | None     # None for a release
    release_id: str | None        # set when the side is one release
    releases_found: int           # releases among the passages retrieved
    releases_used: tuple[str, ...]
    sentences_found: int          # sentences on the subject before the cap
    sentences_shown: int

    def describe(self) -> str:
        if self.release_id is not None:
            return f"release {self.release_id}"
        return self.window.describe() if self.window else "any date"

    def to_dict(self) -> dict[str, Any]:
        w = self.window
        return {"since": w.since.isoformat() if w and w.since else None,
                "until": w.until.isoformat() if w and w.until else None,
                "text": w.text if w else None, "release": self.release_id,
                "description": self.describe(), "releases_found": self.releases_found,
                "releases_used": list(self.releases_used),
                "sentences_found": self.sentences_found,
                "sentences_shown": self.sentences_shown}


@dataclass(frozen=True)
class Diff:
    """What changed on ``subject`` from window A to window B.

    ``pairs`` lists A's sentences in order (date, release, position), each kept,
    reworded or dropped, then B's new sentences in order.
    """

    subject: str
    window_a: DiffSide
    window_b: DiffSide
    pairs: list[DiffPair]
    notes: tuple[str, ...] = field(default=())

    @property
    def counts(self) -> dict[str, int]:
        return {status: sum(p.status == status for p in self.pairs) for status in STATUSES}

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``rag diff --json`` (README, "What changed")."""
        return {"subject": self.subject, "window_a": self.window_a.to_dict(),
                "window_b": self.window_b.to_dict(),
                "pairs": [p.to_dict() for p in self.pairs], "counts": self.counts,
                "notes": list(self.notes)}


# --- One side ----------------------------------------------------------------------------

def _window(index: Retriever, spec: WindowSpec, label: str) -> DateWindow | str:
    """A DateWindow, or the id of a release in the index."""
    if isinstance(spec, DateWindow):
        window = spec
    elif isinstance(spec, str):
        try:
            return index.release(spec).id
        except KeyError:
            if "/" in spec and ".." not in spec:
                raise QuestionError(f"window {label}: no release {spec!r} in the index "
                                    "(a release id is its path under the seeds folder)") from None
        window = read_window(spec, index.newest, label)
    elif isinstance(spec, (tuple, list)) and len(spec) == 2:
        since, until = (read_window(f"{d}..", index.newest, label).since if isinstance(d, str)
                        else d for d in spec)
        for d in (since, until):
            if d is not None and not isinstance(d, dt.date):
                raise QuestionError(f"window {label}: {d!r} is not a date")
        if since and until and since > until:
            raise QuestionError(f"window {label} starts ({since}) after it ends ({until}): "
                                "swap the two dates")
        window = DateWindow(since, until, "filter")
    else:
        raise QuestionError(f"window {label} = {spec!r}: give a DateWindow, a (since, until) "
                            "pair of dates, or a release id")
    return window  # a DateWindow never ends before it starts: it refuses to be made so


@dataclass(frozen=True)
class _Candidate:
    release_id: str
    start: int
    end: int
    text: str
    relevance: float


def _spans_of(index: Retriever, hits: list[Hit]) -> dict[str, list[tuple[int, int]]]:
    spans: dict[str, list[tuple[int, int]]] = {}
    for hit in hits:
        body = index.release(hit.release_id).body
        for ps, pe in paragraph_spans(body[hit.start:hit.end]):
            spans.setdefault(hit.release_id, []).extend(
                sentence_spans(body, hit.start + ps, hit.start + pe))
    return spans


def _relevant(index: Retriever, subject: str, spans: dict[str, list[tuple[int, int]]],
              settings: DiffSettings) -> list[_Candidate]:
    """The sentences on the subject, best first, one of each wording."""
    query = index.query_vector(subject)
    terms = analyse(subject)
    weights = {t: index.idf(t) for t in terms}
    total = sum(weights.values()) or 1.0
    found: dict[str, _Candidate] = {}
    for release_id, release_spans in spans.items():
        body = index.release(release_id).body
        release_spans = sorted(set(release_spans))
        release_spans = [(s, e) for s, e in release_spans
                         if len(_WORD_RE.findall(body[s:e])) >= _MIN_WORDS]
        vectors = index.stored_sentence_vectors(release_id, release_spans)
        missing = [i for i, v in enumerate(vectors) if v is None]
        if missing:
            fresh = index.embed([body[slice(*release_spans[i])] for i in missing])
            for i, v in zip(missing, fresh):
                vectors[i] = v
        for (s, e), vector in zip(release_spans, vectors):
            text = body[s:e]
            present = set(analyse(text))
            covered = sum(w for t, w in weights.items() if t in present) / total
            relevance = (_COSINE_SHARE * max(0.0, float(vector @ query))
                         + (1 - _COSINE_SHARE) * covered)
            key = " ".join(_WORD_RE.findall(text.lower()))
            if key not in found or found[key].relevance < relevance:
                found[key] = _Candidate(release_id, s, e, text, relevance)
    ranked = sorted(found.values(), key=lambda c: (-c.relevance, c.release_id, c.start))
    best = ranked[0].relevance if ranked else 0.0
    return [c for c in ranked if c.relevance >= best * settings.relative_cutoff]


def _side(index: Retriever, subject: str, target: DateWindow | str, label: str,
          settings: DiffSettings, mode: str | None, category: str | None
          ) -> tuple[DiffSide, list[DiffSentence]]:
    if isinstance(target, str):  # one release: all its sentences are candidates
        body = index.release(target).body
        spans, found, window = {target: passage_sentences(body)}, 1, None
        used = (target,)
    else:
        hits = index.search(subject, settings.top_k, mode=mode, since=target.since,
                            until=target.until, category=category,
                            question_dates=False).hits
        order = list(dict.fromkeys(h.release_id for h in hits))
        used = tuple(order[:settings.releases])
        spans = _spans_of(index, [h for h in hits if h.release_id in used])
        found, window = len(order), target
    candidates = _relevant(index, subject, spans, settings)
    shown = sorted(candidates[:settings.per_side],
                   key=lambda c: (index.release(c.release_id).date, c.release_id, c.start))
    sentences = [_sentence(index, c) for c in shown]
    side = DiffSide(label, window, target if isinstance(target, str) else None, found, used,
                    len(candidates), len(sentences))
    return side, sentences


def _sentence(index: Retriever, c: _Candidate) -> DiffSentence:
    release = index.release(c.release_id)
    if release.body[c.start:c.end] != c.text:
        raise RagError(f"internal error: sentence does not match {c.release_id} "
                       f"at {c.start}:{c.end}")
    return DiffSentence(c.text, c.start, c.end, release.id, release.title, release.date,
                        release.category, release.url, text_fragment_link(release.url, c.text),
                        c.relevance)


# --- Alignment ---------------------------------------------------------------------------

def _overlap(a: set[str], b: set[str], idf) -> float:
    """IDF-weighted Jaccard of two term sets."""
    union = sum(idf(t) for t in a | b)
    return sum(idf(t) for t in a & b) / union if union > 0 else 0.0


def _same_wording(a: str, b: str, kept_min: float) -> bool:
    if _NUMBER_RE.findall(a) != _NUMBER_RE.findall(b):
        return False  # "four battle groups" -> "eight battle groups" is a change
    wa, wb = _WORD_RE.findall(a.lower()), _WORD_RE.findall(b.lower())
    return difflib.SequenceMatcher(None, wa, wb, autojunk=False).ratio() >= kept_min


def align(index: Retriever, a: list[DiffSentence], b: list[DiffSentence],
          settings: DiffSettings) -> list[DiffPair]:
    """Pair A's sentences with B's one to one (greedy on the alignment score, best
    first) and classify every sentence: kept, reworded, dropped or new.

    Returns:
        A's sentences in their order, each with its partner or dropped, then B's
        unpaired sentences in their order, as new.
    """
    if not a or not b:
        return ([DiffPair("dropped", s, None, None) for s in a]
                + [DiffPair("new", None, s, None) for s in b])
    vectors = index.embed([s.text for s in a] + [s.text for s in b])
    cosine = vectors[:len(a)] @ vectors[len(a):].T
    terms_a = [set(analyse(s.text)) for s in a]
    terms_b = [set(analyse(s.text)) for s in b]
    score = np.array([[settings.cosine_weight * float(cosine[i, j])
                       + (1 - settings.cosine_weight) * _overlap(ta, tb, index.idf)
                       for j, tb in enumerate(terms_b)] for i, ta in enumerate(terms_a)])
    partner: dict[int, tuple[int, float]] = {}
    taken_b: set[int] = set()
    # Ties broken by position, so the same input always gives the same pairs.
    for flat in np.lexsort((np.arange(score.size), -score.ravel())):
        i, j = divmod(int(flat), len(b))
        if score[i, j] < settings.align_min:
            break
        if i in partner or j in taken_b:
            continue
        partner[i] = (j, float(score[i, j]))
        taken_b.add(j)
    pairs = []
    for i, sa in enumerate(a):
        if i not in partner:
            pairs.append(DiffPair("dropped", sa, None, None))
            continue
        j, sim = partner[i]
        status = "kept" if _same_wording(sa.text, b[j].text, settings.kept_min) else "reworded"
        pairs.append(DiffPair(status, sa, b[j], sim))
    pairs += [DiffPair("new", None, sb, None) for j, sb in enumerate(b) if j not in taken_b]
    return pairs


# --- The whole ---------------------------------------------------------------------------

def diff(index: Retriever, subject: str, window_a: WindowSpec | None = None,
         window_b: WindowSpec | None = None, *, settings: DiffSettings | None = None,
         mode: str | None = None, category: str | None = None) -> Diff:
    """What changed on a subject between two date windows (or two releases).

    Args:
        index: the loaded index.
        subject: what to compare ("NATO battle groups"); without windows, a question
            that names them ("How did the description of X change between 2022 and
            2023?", read by ``rag.query.diff_question.read_diff_question``).
        window_a, window_b: each a ``DateWindow``, a ``(since, until)`` pair (dates or
            YYYY-MM-DD strings, None for open), a date expression ("2022", "March
            2022", "2022-03-01..2022-06-30"), or the id of a release in the index.
            Both or neither.
        settings: how many sentences and releases, and the alignment thresholds.
        mode: retrieval mode (``hybrid`` by default); category: only releases of it.

    Returns:
        A :class:`Diff`.

    Raises:
        QuestionError: no subject, one window without the other, a window that cannot
            be read or that ends before it starts, no windows in the question, or a bad
            mode or category.
    """
    settings = settings or DiffSettings()
    if not isinstance(subject, str) or not subject.strip():
        raise QuestionError("no subject to compare: say what, e.g. rag diff "
                            "\"NATO battle groups\" --a 2022 --b 2023")
    subject = check_question(subject)
    if (window_a is None) != (window_b is None):
        raise QuestionError(f"window {'B' if window_b is None else 'A'} is missing: give "
                            "both windows, or neither and name them in the question")
    if window_a is None:
        asked = read_diff_question(subject, index.newest)
        subject, window_a, window_b = asked.subject, asked.window_a, asked.window_b
    target_a = _window(index, window_a, "A")
    target_b = _window(index, window_b, "B")
    side_a, sentences_a = _side(index, subject, target_a, "A", settings, mode, category)
    side_b, sentences_b = _side(index, subject, target_b, "B", settings, mode, category)
    pairs = align(index, sentences_a, sentences_b, settings)
    return Diff(subject, side_a, side_b, pairs, _notes(side_a, settings) + _notes(side_b, settings))


def _notes(side: DiffSide, settings: DiffSettings) -> tuple[str, ...]:
    """What the side shows of what was found, when it is not all of it."""
    if not side.sentences_found:
        where = side.describe() if side.release_id else f"dated {side.describe()}"
        return (f"{side.label}: no sentence on the subject in the releases {where}.",)
    capped = side.sentences_shown < side.sentences_found
    fewer = side.release_id is None and side.releases_found > len(side.releases_used)
    if not capped and not fewer:
        return ()
    n = side.sentences_shown
    shown = (f"the {n} sentence{'s' if n != 1 else ''} most on the subject of "
             f"{side.sentences_found} found" if capped
             else f"all {side.sentences_found} sentences on the subject")
    if fewer:
        shown += (f", from the {len(side.releases_used)} best of {side.releases_found} "
                  "releases retrieved")
    return (f"{side.label}: {shown}.",)
