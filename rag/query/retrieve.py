"""A loaded index and retrieval: question -> ranked ``Hit`` passages.

``Retriever`` holds an index's tables, its vector store (``rag.index.vectorstore``: FAISS
and BM25 in this process, or Qdrant) and the query model, and ranks passages: dense,
BM25, or both fused, under date and category filters applied inside the search. It
knows nothing of answers; ``rag.query.answer`` builds on it.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..config import Config, RetrievalConfig, mode_problem, parse_day, top_k_problem
from ..errors import ConfigError, IndexCorruptError, IndexMismatchError, QuestionError
from ..index import store
from ..index.embed_status import generation_note
from ..index.lexical import LexicalIndex, analyse
from ..index.manifest import FaissSettings, IndexSettings
from ..index.serving import backend
from ..index.staleness import Staleness, check_staleness
from ..index.vectorstore import Fusion, VectorStore, Where
from ..ingest.releases import Release
from ..model.embedder import Embedder
from ..vectors import dequantize_unit
from .dates import DateWindow, find_date_window, strip_date_expression
from .fusion import merge_spans
from .links import release_json

MAX_QUESTION_CHARS = 2000
QUERY_VECTORS_KEPT = 64  # query vectors an Index keeps (one per recent question)
PROPER_SAMPLE = 24  # passages read to tell whether a word is a name (Retriever.is_proper)
PROPER_LOWERCASE = 0.1  # ... it is not when this share of its uses there are lowercase
_SENTENCE_START_RE = re.compile(r"(?:[.!?:]\s|\n)[\"“‘'(]?\s*$")  # what ends before one


@dataclass(frozen=True)
class Hit:
    """One retrieved passage with the release it comes from."""

    rank: int
    score: float
    text: str
    start: int
    end: int
    release_id: str
    title: str
    date: dt.date
    category: str
    url: str

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``rag search --json``."""
        return {
            "rank": self.rank, "score": round(float(self.score), 6), "text": self.text,
            "start": self.start, "end": self.end,
            "release": release_json(self.release_id, self.title, self.date, self.category,
                                    self.url),
        }


def check_question(question: str) -> str:
    """The question with surrounding space trimmed.

    Raises:
        QuestionError: empty, longer than MAX_QUESTION_CHARS, or not valid Unicode.
    """
    if not isinstance(question, str):
        raise QuestionError(f"the question must be text, not {type(question).__name__}")
    try:
        # A lone surrogate (`rag ask $'\xff'` decodes to one) would crash the tokenizer.
        question.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise QuestionError(f"the question is not valid text (character {exc.start + 1} is an "
                            "unpaired surrogate, e.g. from bytes that are not UTF-8); "
                            "retype it") from None
    question = question.strip()
    if not question:
        raise QuestionError("the question is empty; type a question about the releases")
    if len(question) > MAX_QUESTION_CHARS:
        raise QuestionError(f"the question is {len(question)} characters long; "
                            f"the limit is {MAX_QUESTION_CHARS}")
    return question


@dataclass(frozen=True)
class SearchResult:
    """Hits, and the filters actually applied (including a date window read from the question)."""

    hits: list[Hit]
    window: DateWindow | None
    query: str
    mode: str  # the mode that ran: "bm25" on a lexical generation, whatever was asked


class Retriever:
    """A built index, loaded: releases, passages, vectors, and the vector store that
    searches them (``vector_store``); ``lexical`` is the generation's BM25 index, whose
    idf weighs query terms whatever the store.

    Create with :meth:`load`. Vectors are memory-mapped, not read whole. A lexical
    generation (``lexical_only``: published before its embedding is done, see
    ``rag.index.staged``) has no vectors: every search runs BM25, and answers embed
    their candidate sentences when asked.
    """

    def __init__(self, path: Path, generation: store.Generation, vector_store: VectorStore,
                 lexical: LexicalIndex, embedder: Embedder, config: RetrievalConfig):
        self.path = path
        self.manifest = generation.manifest
        self.releases: list[Release] = generation.releases
        self.passages = generation.passages
        self.vectors = generation.vectors
        self.sentences = generation.sentences
        self.sentence_vectors = generation.sentence_vectors
        self.embedder = embedder
        self.lexical = lexical
        self.config = config
        self.vector_store = vector_store
        self.lexical_only = generation.manifest.lexical_only
        # Row ranges: release -> its passages, passage -> its sentences.
        self._passage_starts = store.group_starts(self.passages["release"], len(self.releases))
        self._sentence_starts = store.group_starts(self.sentences["passage"], len(self.passages))
        self._release_rows = {r.id: i for i, r in enumerate(self.releases)}
        self._release_dates = np.array([r.date.toordinal() for r in self.releases], dtype=np.int64)
        self._release_categories = np.array([r.category.lower() for r in self.releases])
        self._category_set = set(self._release_categories.tolist())
        self.categories = sorted({r.category for r in self.releases if r.category})
        self.newest = max((r.date for r in self.releases), default=dt.date.today())
        self.oldest = min((r.date for r in self.releases), default=self.newest)
        # Answering embeds the query twice (search, then sentence scores): keep a few.
        self._query_vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._query_lock = threading.Lock()
        self._proper: dict[str, bool] = {}  # word -> is_proper, read as asked

    def __len__(self) -> int:
        return len(self.passages)

    @property
    def release_count(self) -> int:
        return len(self.releases)

    def release(self, release_id: str) -> Release:
        """The release with this id (KeyError if it is not in the index)."""
        return self.releases[self._release_rows[release_id]]

    def stored_sentence_vectors(self, release_id: str, spans: list[tuple[int, int]]
                                ) -> list[np.ndarray | None]:
        """The vectors pooled at build time for these sentence spans of a release
        (None for a span not stored as a sentence of one of its passages, and for every
        span of a lexical generation)."""
        if self.lexical_only:
            return [None] * len(spans)
        row = self._release_rows[release_id]
        sa = int(self._sentence_starts[self._passage_starts[row]])
        sb = int(self._sentence_starts[self._passage_starts[row + 1]])
        table = np.asarray(self.sentences[sa:sb])
        # A span as one integer, start then end; only the rows holding an asked span
        # are looked at (a long briefing has thousands of sentences).
        keys = (table["start"].astype(np.int64) << 32) | table["end"].astype(np.int64)
        asked = np.array([(s << 32) | e for s, e in spans], dtype=np.int64)
        where = {}
        for k in np.flatnonzero(np.isin(keys, asked)).tolist():
            where[int(keys[k])] = sa + k  # the last of equal spans, as before
        found = [where.get((s << 32) | e) for s, e in spans]
        rows = [k for k in found if k is not None]
        vectors = iter(dequantize_unit(self.sentence_vectors[rows]) if rows else [])
        return [None if k is None else next(vectors) for k in found]

    def hit(self, row: int, rank: int, score: float) -> Hit:
        p = self.passages[row]
        return self._hit(int(p["release"]), int(p["start"]), int(p["end"]), rank, score)

    def _hit(self, release_row: int, start: int, end: int, rank: int, score: float) -> Hit:
        release = self.releases[release_row]
        return Hit(rank=rank, score=float(score), text=release.body[start:end], start=start,
                   end=end, release_id=release.id, title=release.title, date=release.date,
                   category=release.category, url=release.url)

    def search_vectors(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k rows and inner-product scores for one normalised query vector.

        Raises:
            QuestionError: a lexical generation (no vectors yet).
        """
        self._require_vectors()
        return self.vector_store.dense(query, k, None)

    def generation_note(self) -> str:
        """Which generation answers: empty for a hybrid one, else "lexical only,
        embedding 41% (...)" or why it is not being embedded (``rag.index.embed_status``)."""
        return generation_note(self.path, self.lexical_only)

    def _require_vectors(self) -> None:
        if self.lexical_only:
            raise QuestionError(f"{self.path} is a lexical generation, searched with BM25 "
                                "only until its embedding is done (`rag index`)")

    def embed(self, texts: list[str]) -> np.ndarray:
        """The query model's vectors for texts (unit length)."""
        return self.embedder.embed(texts)

    def idf(self, term: str) -> float:
        """BM25 inverse document frequency of an analysed term."""
        return self.lexical.idf(term)

    def is_proper(self, word: str) -> bool:
        """Whether the corpus writes this word capitalised wherever it is not the first
        of a sentence: a name ("Stoltenberg", "Whitmer"), not a common word that titles
        and headings capitalise ("Development", "Energy", "Gentleman"). Read from up to
        PROPER_SAMPLE passages holding the word's term, spread over the index, and
        remembered. A word no passage holds counts as a name."""
        key = word.strip(".,’'")
        known = self._proper.get(key)
        if known is None:
            known = self._proper[key] = self._read_proper(key)
        return known

    def _read_proper(self, word: str) -> bool:
        terms = analyse(word)
        rows = self.lexical.postings(terms[0]) if len(terms) == 1 else None
        if rows is None or not len(rows):
            return True
        pattern = re.compile(rf"(?<![\w’'-]){re.escape(word)}(?![\w’'-])", re.IGNORECASE)
        lower = word.lower()
        lowercase = total = 0
        for row in rows[::max(1, len(rows) // PROPER_SAMPLE)][:PROPER_SAMPLE].tolist():
            p = self.passages[row]
            text = self.releases[int(p["release"])].body[int(p["start"]):int(p["end"])]
            for m in pattern.finditer(text):
                if _SENTENCE_START_RE.search(text, max(0, m.start() - 4), m.start()) \
                        or m.start() == 0:
                    continue  # capitalised as a sentence's first word: says nothing
                total += 1
                lowercase += m.group(0) == lower
        return total == 0 or lowercase / total < PROPER_LOWERCASE

    def _where(self, window: DateWindow | None, category: str | None) -> Where | None:
        """The filters a search applies, or None when nothing is filtered."""
        if window is None and not category:
            return None
        if category and category.lower() not in self._category_set:
            raise QuestionError(f"category {category!r} is not in the index "
                                f"(known: {', '.join(self.categories) or 'none'})")
        return Where(window.since if window else None, window.until if window else None,
                     category.lower() if category else None)

    def _allows_none(self, where: Where | None) -> bool:
        """No release passes the filters (so there is nothing to search)."""
        return where is not None and not where.allows(self._release_dates,
                                                      self._release_categories).any()

    def query_vector(self, query: str) -> np.ndarray:
        """The embedder's vector for ``query``; the last QUERY_VECTORS_KEPT are kept."""
        with self._query_lock:
            vector = self._query_vectors.get(query)
        if vector is None:
            vector = self.embedder.embed([query])[0]
            vector.setflags(write=False)  # shared by every caller asking the same
            with self._query_lock:
                self._query_vectors[query] = vector
                while len(self._query_vectors) > QUERY_VECTORS_KEPT:
                    self._query_vectors.popitem(last=False)
        return vector

    def _dense(self, query: str, k: int, where: Where | None):
        self._require_vectors()
        return self.vector_store.dense(self.query_vector(query), k, where)

    def _bm25(self, query: str, k: int, where: Where | None):
        return self.vector_store.lexical(analyse(query), k, where)

    def search(self, question: str, top_k: int | None = None, *, mode: str | None = None,
               since: dt.date | str | None = None, until: dt.date | str | None = None,
               category: str | None = None, question_dates: bool = True) -> SearchResult:
        """Rank passages for a question, with filters applied inside the search.

        Args:
            question: a question in plain words.
            top_k: how many results (1 to 100); default from config.
            mode: ``dense``, ``bm25`` or ``hybrid``; default from config.
            since, until: release date range, inclusive (date or YYYY-MM-DD).
            category: only releases of this category.
            question_dates: read a date window from the question ("in March 2022")
                when since/until are not given.

        Returns:
            The hits, the date window applied, the query text searched, the mode.

        Raises:
            QuestionError: empty or over-long question, bad top_k, mode, date or category.
        """
        cfg = self.config
        top_k = cfg.top_k if top_k is None else top_k
        if problem := top_k_problem(top_k):  # per-call arguments are part of the question
            raise QuestionError(f"top_k = {top_k!r} {problem}")
        query, window, where, mode = self._plan(question, mode, since, until, category,
                                                question_dates)
        if self._allows_none(where):
            return SearchResult([], window, query, mode)
        depth = max(cfg.candidates, top_k * cfg.max_per_release * 2)
        return SearchResult(self._ranked(query, mode, depth, where, top_k, cfg.max_per_release),
                            window, query, mode)

    def search_deep(self, question: str, depth: int, *, max_per_release: int = 3,
                    mode: str | None = None, since: dt.date | str | None = None,
                    until: dt.date | str | None = None, category: str | None = None,
                    question_dates: bool = True) -> SearchResult:
        """Like :meth:`search`, but far beyond the top 100: each ranking (dense, BM25)
        is read ``depth`` passages deep and up to ``depth`` merged spans are returned,
        at most ``max_per_release`` of each release. For answers gathered from many
        releases (``rag.query.collect``); filters are applied inside the search.

        Raises:
            QuestionError: as :meth:`search`, and depth outside 1-10000.
        """
        if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= 10000:
            raise QuestionError(f"depth = {depth!r} must be between 1 and 10000")
        query, window, where, mode = self._plan(question, mode, since, until, category,
                                                question_dates)
        if self._allows_none(where):
            return SearchResult([], window, query, mode)
        return SearchResult(self._ranked(query, mode, depth, where, depth, max_per_release,
                                         grow=False), window, query, mode)

    def _plan(self, question: str, mode: str | None, since: dt.date | str | None,
              until: dt.date | str | None, category: str | None, question_dates: bool
              ) -> tuple[str, DateWindow | None, Where | None, str]:
        """The query text, date window, filters and mode a search runs with."""
        question = check_question(question)
        cfg = self.config
        mode = mode or cfg.mode
        if problem := mode_problem(mode):
            raise QuestionError(f"mode = {mode!r} {problem}")
        if self.lexical_only:
            mode = "bm25"  # no vectors yet; generation_note() says so
        since = _day(since if since is not None else cfg.since, "since")
        until = _day(until if until is not None else cfg.until, "until")
        category = category if category is not None else cfg.category
        query, window = question, None
        if since or until:
            if since and until and since > until:
                raise QuestionError(f"since ({since}) is after until ({until})")
            window = DateWindow(since, until, "filter")
        elif question_dates:
            window = find_date_window(question, self.newest)
            if window is not None and (
                    (window.since and window.since > self.newest)
                    or (window.attributive and window.until and window.until < self.oldest)):
                # No release is dated after the newest one: a date past it names the
                # event asked about ("the summit the US hosts in 2023"), not when the
                # release came out, so it stays part of the question. So does a date
                # before the oldest one that dates a thing ("the FBI's April 2016
                # memo"); "in 2019" still asks for releases of 2019, and finds none.
                window = None
            if window is not None and not window.content:
                query = strip_date_expression(question, window) or question
        return query, window, self._where(window, category), mode

    def _ranked(self, query: str, mode: str, depth: int, where: Where | None,
                top_k: int, max_per_release: int, grow: bool = True) -> list[Hit]:
        """The first top_k spans of the mode's ranking, each ranking read depth deep
        (``grow``: as ``merge_spans`` takes it)."""
        if mode == "dense":
            rows, scores = self._dense(query, depth, where)
        elif mode == "bm25":
            rows, scores = self._bm25(query, depth, where)
        else:
            rows, scores = self.vector_store.fused(self.query_vector(query), analyse(query),
                                                   depth, where, Fusion.of(self.config))
        spans = merge_spans(rows, scores, self.passages, top_k, max_per_release, grow)
        return [self._hit(s.release, s.start, s.end, rank, s.score)
                for rank, s in enumerate(spans, 1)]

    def retrieve(self, question: str, top_k: int | None = None, **filters: Any) -> list[Hit]:
        """The passages that best match the question, best first.

        Takes the same arguments as :meth:`search` (mode, since, until, category,
        question_dates) and returns just the hits.
        """
        return self.search(question, top_k, **filters).hits

    def staleness(self, seeds: Path | None = None) -> Staleness:
        """How the seeds folder (by default the one the index was built from) differs."""
        return check_staleness(self.manifest, Path(seeds or self.manifest.seeds))

    @classmethod
    def load(cls, path: str | Path, embedder: Embedder, config: Config | None = None):
        """Load a built index.

        Args:
            path: the index folder (or one of its generation folders).
            embedder: the query model; it must be the one the index was built with.
            config: settings to check the index against, and the vector store to search
                with (``store``); None takes the index's own settings and FAISS.

        Returns:
            The loaded index, ready for ``retrieve``.

        Raises:
            IndexNotFoundError: nothing built at ``path``.
            IndexMismatchError: built with another model, dimension, chunking or format.
            IndexCorruptError: a file is damaged or the files disagree.
        """
        stores = backend(config.store if config is not None else None)
        gen_dir = stores.serving(Path(path))
        manifest = store.read_manifest(gen_dir)
        if config is not None:
            manifest.check(IndexSettings.of(config, embedder.info),
                           FaissSettings.of(config.retrieval, manifest.counts.passages), gen_dir)
        elif manifest.model.dim != embedder.info.dim:
            raise IndexMismatchError(f"{gen_dir} has dimension {manifest.model.dim}, the model "
                                     f"gives {embedder.info.dim}; {store.FIX}")
        generation = store.read_generation(gen_dir)
        retrieval = config.retrieval if config is not None else RetrievalConfig()
        lexical = LexicalIndex.load(gen_dir / store.BM25)
        if lexical.size != len(generation.passages) and len(generation.passages):
            raise IndexCorruptError(f"{gen_dir / store.BM25} covers {lexical.size} passages, "
                                    f"the index has {len(generation.passages)}; {store.FIX}")
        vector_store = stores.open(gen_dir, generation, lexical,
                                   retrieval.hnsw_ef_search if config is not None else None)
        return cls._loaded(gen_dir, generation, vector_store, lexical, embedder, config)

    @classmethod
    def _loaded(cls, gen_dir: Path, generation: store.Generation, vector_store: VectorStore,
                lexical: LexicalIndex, embedder: Embedder, config: Config | None):
        """The instance ``load`` returns (a subclass adds what it needs from config)."""
        return cls(gen_dir, generation, vector_store, lexical, embedder,
                   config.retrieval if config is not None else RetrievalConfig())


def _day(value: dt.date | str | None, name: str) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    try:
        return parse_day(value, name)
    except ConfigError as exc:  # a per-call filter is part of the question, not the config
        raise QuestionError(str(exc)) from None
