"""Weighted reciprocal rank fusion of rankings of passage rows.

It lives beside the indexes because every vector-store back-end (``rag.index.vectorstore``)
fuses its dense and BM25 rankings with it, so that they agree on the order exactly.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def reciprocal_rank_fusion(rankings: Sequence[tuple[np.ndarray, float]],
                           rrf_k: int) -> tuple[np.ndarray, np.ndarray]:
    """Fuse rankings: each row scores ``weight / (rrf_k + rank)`` per ranking it is in.

    Args:
        rankings: (rows best first, weight) per ranking.
        rrf_k: the RRF constant; larger flattens the advantage of the top ranks.

    Returns:
        Rows and fused scores, best first (ties broken by row).
    """
    fused: dict[int, float] = {}
    for rows, weight in rankings:
        for rank, row in enumerate(rows.tolist(), 1):
            fused[row] = fused.get(row, 0.0) + weight / (rrf_k + rank)
    if not fused:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    rows = np.fromiter(fused.keys(), dtype=np.int64, count=len(fused))
    scores = np.fromiter(fused.values(), dtype=np.float64, count=len(fused))
    order = np.lexsort((rows, -scores))
    return rows[order], scores[order]
