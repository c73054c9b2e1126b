"""Fusing rankings: weighted reciprocal rank fusion (``rag.index.fusion``, shared by the
vector-store back-ends), and per-release merging of passages."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..index.fusion import reciprocal_rank_fusion

__all__ = ["Span", "merge_spans", "reciprocal_rank_fusion"]

# Passages a span grows to at most once top_k spans are found: a briefing whose every
# passage ranks stays a few passages long in the results, not the whole transcript.
MAX_SPAN_PASSAGES = 4
# ... from the passages among the ranking's first GROW_DEPTH: below them the two
# vector stores' rankings may part (ties at their depth), and the spans with them.
GROW_DEPTH = 50


@dataclass
class Span:
    """A stretch of one release's body picked for the results."""

    release: int
    start: int
    end: int
    score: float
    passages: int = 1  # passages merged into it


def merge_spans(rows: np.ndarray, scores: np.ndarray, passages: np.ndarray, top_k: int,
                max_per_release: int, grow: bool = True) -> list[Span]:
    """Walk a ranking and keep up to top_k spans.

    A passage that overlaps or touches a kept span of the same release is merged into
    it (the span keeps its better score and place), also after the top_k spans are
    found: a passage the ranking holds further down still joins the span it continues
    (an answer often sits in the passage after the one that names its subject), then up
    to MAX_SPAN_PASSAGES passages a span, from the ranking's first GROW_DEPTH rows. A release already holding ``max_per_release``
    spans is skipped, so one long release cannot crowd out others. ``grow=False``
    stops at the top_k-th span instead (a deep search, whose spans are many already).
    """
    kept: list[Span] = []
    per_release: dict[int, list[Span]] = {}
    for position, (row, score) in enumerate(zip(rows.tolist(), scores.tolist())):
        full = len(kept) >= top_k
        if full and (not grow or position >= GROW_DEPTH):
            break
        p = passages[row]
        release, start, end = int(p["release"]), int(p["start"]), int(p["end"])
        spans = per_release.get(release) if full else per_release.setdefault(release, [])
        if not spans and full:
            continue
        merged = False
        for span in spans:
            if start <= span.end + 2 and end >= span.start - 2:
                if not full or span.passages < MAX_SPAN_PASSAGES:
                    span.start, span.end = min(span.start, start), max(span.end, end)
                    span.passages += 1
                merged = True
                break
        if merged or full or len(spans) >= max_per_release:
            continue
        span = Span(release, start, end, float(score))
        spans.append(span)
        kept.append(span)
    return kept
