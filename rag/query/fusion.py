"""Fusing rankings: weighted reciprocal rank fusion, and per-release merging of passages."""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass
class Span:
    """A stretch of one release's body picked for the results."""

    release: int
    start: int
    end: int
    score: float


def merge_spans(rows: np.ndarray, scores: np.ndarray, passages: np.ndarray, top_k: int,
                max_per_release: int) -> list[Span]:
    """Walk a ranking and keep up to top_k spans.

    A passage that overlaps or touches a kept span of the same release is merged into
    it (the span keeps its better score and place); a release already holding
    ``max_per_release`` spans is skipped, so one long release cannot crowd out others.
    """
    kept: list[Span] = []
    per_release: dict[int, list[Span]] = {}
    for row, score in zip(rows.tolist(), scores.tolist()):
        p = passages[row]
        release, start, end = int(p["release"]), int(p["start"]), int(p["end"])
        spans = per_release.setdefault(release, [])
        merged = False
        for span in spans:
            if start <= span.end + 2 and end >= span.start - 2:
                span.start, span.end = min(span.start, start), max(span.end, end)
                merged = True
                break
        if merged or len(spans) >= max_per_release:
            continue
        span = Span(release, start, end, float(score))
        spans.append(span)
        kept.append(span)
        if len(kept) >= top_k:
            break
    return kept
