"""The vector-store seam: where a loaded index's searches run, and how a build makes a
generation the one served.

Retrieval (``rag.query.retrieve``) asks a ``VectorStore`` for three rankings of passage
rows, each under the same filters: dense (cosine), lexical (our BM25) and the two fused
by weighted reciprocal rank fusion. Two back-ends answer them, chosen by
``store.backend`` in the config:

- ``faiss`` (the default): the FAISS and BM25 files of the generation folder, in this
  process (``FaissStore``);
- ``qdrant``: one Qdrant collection per generation, served through an alias
  (``rag.index.qdrant``).

Either way the generation folder on disk stays the record of an index: releases,
passages, sentences and their vectors, which answers are composed from, and the BM25
vocabulary and idf that a query is weighted with. A ``Backend`` adds the build-time
side: ``publish`` makes the current generation the served one (a no-op for FAISS, whose
``current`` link the build already switched), ``rollback`` serves the previous one
again, and ``serving`` says which generation folder a reader opens.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from ..config import RetrievalConfig
from . import store
from .dense import DenseSearch, read_faiss
from .fusion import reciprocal_rank_fusion
from .lexical import LexicalIndex

Ranking = tuple[np.ndarray, np.ndarray]  # passage rows and scores, best first


@dataclass(frozen=True)
class Where:
    """The filters a search applies inside itself: release dates (inclusive) and a
    category (lower-cased)."""

    since: dt.date | None = None
    until: dt.date | None = None
    category: str | None = None

    def allows(self, days: np.ndarray, categories: np.ndarray) -> np.ndarray:
        """Which releases pass, given each one's date ordinal and lower-cased category."""
        allowed = np.ones(len(days), dtype=bool)
        if self.since:
            allowed &= days >= self.since.toordinal()
        if self.until:
            allowed &= days <= self.until.toordinal()
        if self.category:
            allowed &= categories == self.category
        return allowed


@dataclass(frozen=True)
class Fusion:
    """Weighted reciprocal rank fusion: a row scores ``weight / (rrf_k + rank)`` in each
    ranking it is in."""

    dense_weight: float = 1.0
    bm25_weight: float = 1.0
    rrf_k: int = 60

    @classmethod
    def of(cls, retrieval: RetrievalConfig) -> Fusion:
        return cls(retrieval.dense_weight, retrieval.bm25_weight, retrieval.rrf_k)

    def fuse(self, dense_rows: np.ndarray, bm25_rows: np.ndarray) -> Ranking:
        return reciprocal_rank_fusion([(dense_rows, self.dense_weight),
                                       (bm25_rows, self.bm25_weight)], self.rrf_k)


class VectorStore(Protocol):
    """The searches of one loaded generation. Each returns at most ``k`` rows with
    their scores, best first, ties broken by row, only rows ``where`` allows."""

    name: str

    def dense(self, vector: np.ndarray, k: int, where: Where | None) -> Ranking: ...

    def lexical(self, terms: Sequence[str], k: int, where: Where | None) -> Ranking: ...

    def fused(self, vector: np.ndarray, terms: Sequence[str], k: int, where: Where | None,
              fusion: Fusion) -> Ranking:
        """Both rankings read ``k`` deep and fused (up to ``2 k`` rows)."""
        ...


class Backend(Protocol):
    """A kind of vector store: opening a generation's store, and the build-time side."""

    name: str

    def serving(self, path: Path) -> Path:
        """The generation folder a reader of ``path`` (an index folder, or one of its
        generation folders) opens."""
        ...

    def open(self, gen_dir: Path, generation: store.Generation, lexical: LexicalIndex,
             ef_search: int | None = None) -> VectorStore: ...

    def publish(self, index_dir: Path) -> str:
        """Serve the index folder's current generation; what was done, or "" if it was
        served already."""
        ...

    def rollback(self, index_dir: Path) -> Path:
        """Serve the generation before the served one again; returns its folder."""
        ...


class FaissStore:
    """Searches over the generation folder's FAISS and BM25 indexes, in this process.

    A filter becomes a mask over passages: the dense search then scores exactly the rows
    it allows, so a narrow filter still gives k.
    """

    name = "faiss"

    def __init__(self, dense: DenseSearch | None, lexical: LexicalIndex,
                 generation: store.Generation):
        self.dense_search = dense
        self._lexical = lexical
        self._release_of = np.asarray(generation.passages["release"])
        self._days = np.array([r.date.toordinal() for r in generation.releases],
                              dtype=np.int64)
        self._categories = np.array([r.category.lower() for r in generation.releases])

    def _mask(self, where: Where | None) -> np.ndarray | None:
        if where is None:
            return None
        return where.allows(self._days, self._categories)[self._release_of]

    def dense(self, vector: np.ndarray, k: int, where: Where | None) -> Ranking:
        return self.dense_search.search(vector, k, self._mask(where))

    def lexical(self, terms: Sequence[str], k: int, where: Where | None) -> Ranking:
        return self._lexical.top(terms, k, self._mask(where))

    def fused(self, vector: np.ndarray, terms: Sequence[str], k: int, where: Where | None,
              fusion: Fusion) -> Ranking:
        mask = self._mask(where)
        return fusion.fuse(self.dense_search.search(vector, k, mask)[0],
                           self._lexical.top(terms, k, mask)[0])


class FaissBackend:
    """The default: the generation folder is both the record and the served index."""

    name = "faiss"

    def serving(self, path: Path) -> Path:
        return store.resolve(path)

    def open(self, gen_dir: Path, generation: store.Generation, lexical: LexicalIndex,
             ef_search: int | None = None) -> FaissStore:
        if generation.manifest.lexical_only:  # no vectors yet: BM25 only (rag.index.staged)
            return FaissStore(None, lexical, generation)
        faiss_index = read_faiss(gen_dir / store.FAISS, len(generation.passages),
                                 generation.manifest.model.dim, ef_search)
        return FaissStore(DenseSearch(faiss_index, generation.vectors), lexical, generation)

    def publish(self, index_dir: Path) -> str:
        return ""  # store.write_generation switched ``current`` already

    def rollback(self, index_dir: Path) -> Path:
        previous = store.previous(index_dir)
        store.switch(index_dir, previous)
        return previous

