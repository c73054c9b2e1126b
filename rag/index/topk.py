"""The best k of a column of scores, as both rankings (dense and BM25) need it."""

from __future__ import annotations

import numpy as np


def top_rows(scores: np.ndarray, k: int, rows: np.ndarray | None = None,
             positive_only: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The k best-scoring candidates, best first; ties broken by row.

    Args:
        scores: the score of each candidate.
        k: how many to keep.
        rows: the row number of each candidate (default: its position).
        positive_only: drop candidates scoring 0 or less (BM25 with no term match).
    """
    rows = np.arange(len(scores)) if rows is None else rows
    if positive_only:
        keep = scores > 0
        scores, rows = scores[keep], rows[keep]
    if len(scores) > k:
        part = np.argpartition(-scores, k - 1)[:k]
        scores, rows = scores[part], rows[part]
    order = np.lexsort((rows, -scores))
    return rows[order], scores[order]
