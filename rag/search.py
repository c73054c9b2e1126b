"""A loaded index and retrieval: question -> ranked ``Hit`` passages."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import store
from .build import Staleness, check_staleness, index_settings, settings_mismatch
from .config import Config, ModelConfig
from .embedding import Embedder, load_embedder
from .errors import IndexCorruptError, IndexMismatchError, QuestionError
from .releases import Release

MAX_QUESTION_CHARS = 2000


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
            "release": {"id": self.release_id, "title": self.title,
                        "date": self.date.isoformat(), "category": self.category,
                        "url": self.url},
        }


def check_question(question: str) -> str:
    """The question with surrounding space trimmed.

    Raises:
        QuestionError: empty, or longer than MAX_QUESTION_CHARS.
    """
    if not isinstance(question, str):
        raise QuestionError(f"the question must be text, not {type(question).__name__}")
    question = question.strip()
    if not question:
        raise QuestionError("the question is empty; type a question about the releases")
    if len(question) > MAX_QUESTION_CHARS:
        raise QuestionError(f"the question is {len(question)} characters long; "
                            f"the limit is {MAX_QUESTION_CHARS}")
    return question


class Index:
    """A built index, loaded: releases, passages, vectors and the FAISS index.

    Create with :func:`load_index`. Vectors are memory-mapped, not read whole.
    """

    def __init__(self, path: Path, generation: store.Generation, faiss_index: Any,
                 embedder: Embedder):
        self.path = path
        self.manifest = generation.manifest
        self.releases: list[Release] = generation.releases
        self.passages = generation.passages
        self.vectors = generation.vectors
        self.embedder = embedder
        self._faiss = faiss_index
        self._release_rows = {r.id: i for i, r in enumerate(self.releases)}

    def __len__(self) -> int:
        return len(self.passages)

    @property
    def release_count(self) -> int:
        return len(self.releases)

    def passage_text(self, row: int) -> str:
        p = self.passages[row]
        return self.releases[int(p["release"])].body[int(p["start"]):int(p["end"])]

    def hit(self, row: int, rank: int, score: float) -> Hit:
        p = self.passages[row]
        release = self.releases[int(p["release"])]
        start, end = int(p["start"]), int(p["end"])
        return Hit(rank=rank, score=float(score), text=release.body[start:end], start=start,
                   end=end, release_id=release.id, title=release.title, date=release.date,
                   category=release.category, url=release.url)

    def search_vectors(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k rows and inner-product scores for one normalised query vector."""
        k = min(k, len(self.passages))
        if k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        scores, rows = self._faiss.search(np.ascontiguousarray(query.reshape(1, -1),
                                                               dtype=np.float32), k)
        keep = rows[0] >= 0
        return rows[0][keep], scores[0][keep]

    def retrieve(self, question: str, top_k: int = 5) -> list[Hit]:
        """The passages most similar to the question, best first.

        Args:
            question: a question in plain words.
            top_k: how many passages to return (1 to 100).

        Raises:
            QuestionError: the question is empty or too long, or top_k out of range.
        """
        question = check_question(question)
        if not 1 <= top_k <= 100:
            raise QuestionError(f"top_k = {top_k} must be between 1 and 100")
        query = self.embedder.embed([question])[0]
        rows, scores = self.search_vectors(query, top_k)
        return [self.hit(int(r), rank, s) for rank, (r, s) in enumerate(zip(rows, scores), 1)]

    def staleness(self, seeds: Path | None = None) -> Staleness:
        """How the seeds folder (by default the one the index was built from) differs."""
        return check_staleness(self.manifest, Path(seeds or self.manifest.get("seeds", "")))


def load_index(path: str | Path, config: Config | None = None,
               embedder: Embedder | None = None) -> Index:
    """Load a built index.

    Args:
        path: the index folder (or one of its generation folders).
        config: settings to check the index against; None takes the index's own.
        embedder: the query model; None loads the one the index was built with.

    Returns:
        The loaded index, ready for ``retrieve``.

    Raises:
        IndexNotFoundError: nothing built at ``path``.
        IndexMismatchError: built with another model, dimension, chunking or format.
        IndexCorruptError: a file is damaged or the files disagree.
    """
    import faiss

    gen_dir = store.resolve(Path(path))
    manifest = store.read_manifest(gen_dir)
    if manifest.get("format_version") != store.FORMAT_VERSION:
        raise IndexMismatchError(
            f"{gen_dir} has index format {manifest.get('format_version')}, this version reads "
            f"{store.FORMAT_VERSION}; {store.FIX}")
    if embedder is None:
        model = manifest.get("model", {})
        model_config = config.model if config is not None else ModelConfig(
            name=model.get("name", "bundled"), precision=model.get("precision", "float32"))
        embedder = load_embedder(model_config)
    if config is not None:
        mismatch = settings_mismatch(manifest, index_settings(config, embedder))
        if mismatch:
            raise IndexMismatchError(f"{gen_dir} was built with other settings: {mismatch}; "
                                     f"{store.FIX}")
    elif manifest["model"].get("dim") != embedder.dim:
        raise IndexMismatchError(f"{gen_dir} has dimension {manifest['model'].get('dim')}, "
                                 f"the model gives {embedder.dim}; {store.FIX}")
    generation = store.read_generation(gen_dir)
    try:
        faiss_index = faiss.read_index(str(gen_dir / store.FAISS))
    except RuntimeError as exc:
        raise IndexCorruptError(f"{gen_dir / store.FAISS} cannot be read "
                                f"({str(exc).splitlines()[0][:200]}); {store.FIX}") from None
    if faiss_index.ntotal != len(generation.passages) or faiss_index.d != embedder.dim:
        raise IndexCorruptError(f"{gen_dir / store.FAISS} holds {faiss_index.ntotal} vectors of "
                                f"dimension {faiss_index.d}, expected {len(generation.passages)} "
                                f"of {embedder.dim}; {store.FIX}")
    return Index(gen_dir, generation, faiss_index, embedder)
