"""Dense search: the FAISS index over passage vectors, and exact top-k over its rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import IndexCorruptError
from .files import FIX
from .manifest import FaissSettings
from .topk import top_rows


def make_faiss_index(vectors: np.ndarray, settings: FaissSettings | None = None):
    """An inner-product FAISS index over L2-normalised vectors (cosine similarity):
    exact (``flat``) by default, or an HNSW graph (``hnsw``).

    ``flat`` with ``storage: float16`` is a full scan of float16 copies of the vectors
    (half the memory traffic of float32); the search re-ranks its candidates with the
    float32 vectors, so the scores and order it returns are exact.
    """
    import faiss

    settings = settings or FaissSettings()
    if settings.type == "hnsw":
        index = faiss.IndexHNSWFlat(vectors.shape[1], settings.m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
    elif settings.storage == "float16":
        index = faiss.IndexScalarQuantizer(vectors.shape[1], faiss.ScalarQuantizer.QT_fp16,
                                           faiss.METRIC_INNER_PRODUCT)
    else:
        index = faiss.IndexFlatIP(vectors.shape[1])
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def read_faiss(path: Path, passages: int, dim: int, ef_search: int | None = None):
    """Read a FAISS file and check it holds ``passages`` vectors of ``dim``.

    Raises:
        IndexCorruptError: unreadable, or of another size (naming the file and the fix).
    """
    import faiss

    try:
        index = faiss.read_index(str(path))
    except RuntimeError as exc:
        raise IndexCorruptError(f"{path} cannot be read "
                                f"({str(exc).splitlines()[0][:200]}); {FIX}") from None
    if hasattr(index, "hnsw") and ef_search is not None:
        index.hnsw.efSearch = ef_search
    if index.ntotal != passages or index.d != dim:
        raise IndexCorruptError(f"{path} holds {index.ntotal} vectors of dimension {index.d}, "
                                f"expected {passages} of {dim}; {FIX}")
    return index


def _flat_vectors(faiss_index: Any) -> np.ndarray | None:
    """The (n, d) float32 vectors a flat FAISS index holds, as a view, or None for
    other index types."""
    import faiss

    if not isinstance(faiss_index, faiss.IndexFlat) or faiss_index.ntotal == 0:
        return None
    size = faiss_index.ntotal * faiss_index.d
    return faiss.rev_swig_ptr(faiss_index.get_xb(), size).reshape(faiss_index.ntotal,
                                                                  faiss_index.d)


class DenseSearch:
    """Top-k passages for a query vector: FAISS over all rows, or an exact scan of the
    rows a filter allows.

    Args:
        faiss_index: the index over ``vectors``' rows.
        vectors: the float32 passage vectors (memory-mapped), for exact re-scoring.
    """

    def __init__(self, faiss_index: Any, vectors: np.ndarray):
        self._faiss = faiss_index
        self._vectors = vectors
        self._flat = _flat_vectors(faiss_index)
        self._approximate = hasattr(faiss_index, "hnsw")

    def search(self, query: np.ndarray, k: int, mask: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k rows and inner-product scores for one normalised query vector; with a
        mask, only its true rows, scored exactly (so a narrow filter still gives k)."""
        query = np.asarray(query, dtype=np.float32)
        if mask is not None:
            rows = np.flatnonzero(mask)
            return top_rows(np.asarray(self._vectors[rows]) @ query, k, rows)
        k = min(k, len(self._vectors))
        if k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        if self._flat is not None:
            # Exact search over the flat index's own vectors as one BLAS product, which
            # uses every core; FAISS scans a lone query on one (2x slower at 196k rows).
            return top_rows(self._flat @ query, k)
        # float16 scan: fetch more than k, then rescore those exactly in float32. A row
        # the scan ranks below them would need a float16 rounding error (about 1e-4
        # here) larger than the score gap to the k-th of a much deeper list.
        depth = min(len(self._vectors), k if self._approximate else max(2 * k, k + 50))
        scores, rows = _one_thread_search(self._faiss, query, depth)
        rows = rows[0][rows[0] >= 0].astype(np.int64)
        if self._approximate:
            return rows, scores[0][:len(rows)]
        rows.sort()  # ascending rows read the memory-mapped vectors in order
        return top_rows(np.asarray(self._vectors[rows]) @ query, k, rows)


def _one_thread_search(faiss_index: Any, query: np.ndarray, depth: int
                       ) -> tuple[np.ndarray, np.ndarray]:
    """FAISS search for one query on the calling thread only. Its OpenMP threads cost a
    lone query more than they save: on 2 cores, 6.3 ms of CPU per float16 scan of 3,106
    rows against 0.6 ms on one thread, and 38 against 24 ms at 195,933 rows; a server
    answers several questions at once anyway. The thread's setting is restored after,
    so a build in the same thread keeps every core."""
    import faiss

    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        return faiss_index.search(np.ascontiguousarray(query.reshape(1, -1)), depth)
    finally:
        faiss.omp_set_num_threads(threads)
