"""Fusing rankings: weighted reciprocal rank fusion (``rag.index.fusion``, shared by the
vector-store back-ends), and per-release merging of passages."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..index.fusion import reciprocal_rank_fusion

__all__ = ["Span", "merge_spans", "reciprocal_rank_fusion"]


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
