"""Metrics on plain data (ranks, flags, hit lists), so each is checked on hand-made
examples: recall@k, MRR, answer correctness, abstention, nDCG."""

from __future__ import annotations

import math
import re
from typing import Mapping, Protocol, Sequence

import numpy as np

RECALL_KS = (1, 5, 10)
MRR_K = 10


class HitLike(Protocol):
    release_id: str
    url: str


def _norm_url(url: str) -> str:
    return url.strip().rstrip("/").lower()


def gold_rank(hits: Sequence[HitLike], gold: Sequence[str]) -> int | None:
    """1-based position of the first hit from a gold release (matched by id or url)."""
    ids = set(gold)
    urls = {_norm_url(g) for g in gold if re.match(r"https?://", g.strip(), re.IGNORECASE)}
    for position, hit in enumerate(hits, 1):
        if hit.release_id in ids or (hit.url and _norm_url(hit.url) in urls):
            return position
    return None


def _mean(values: Sequence[float]) -> float | None:
    return float(sum(values) / len(values)) if values else None


def recall_at_k(ranks: Sequence[int | None], k: int) -> float | None:
    """Share of questions whose first gold hit is within the first k (None: no questions)."""
    return _mean([1.0 if r is not None and r <= k else 0.0 for r in ranks])


def mrr_at_k(ranks: Sequence[int | None], k: int = MRR_K) -> float | None:
    """Mean of 1/rank of the first gold hit, 0 when it is not within the first k."""
    return _mean([1.0 / r if r is not None and r <= k else 0.0 for r in ranks])


def _squash(text: str) -> str:
    return " ".join(text.split()).casefold()


def answer_correct(text: str, expected: Sequence[str], abstained: bool) -> bool:
    """True when the answer was given and contains every expected string.

    Compared case-insensitively after collapsing runs of whitespace.
    """
    if abstained:
        return False
    squashed = _squash(text)
    return all(_squash(e) in squashed for e in expected)


def abstention_precision_recall(abstained: Sequence[bool], unanswerable: Sequence[bool]
                                ) -> tuple[float | None, float | None]:
    """Abstention as the positive class.

    Returns:
        (share of abstentions that were on unanswerable questions, share of unanswerable
        questions abstained on); None where there is nothing to divide by.
    """
    both = sum(a and u for a, u in zip(abstained, unanswerable))
    n_abstained, n_unanswerable = sum(abstained), sum(unanswerable)
    return (both / n_abstained if n_abstained else None,
            both / n_unanswerable if n_unanswerable else None)


def percentiles_ms(values_ms: Sequence[float]) -> tuple[float | None, float | None]:
    """(p50, p95) with linear interpolation; (None, None) for no values."""
    if not values_ms:
        return None, None
    p50, p95 = np.percentile(np.asarray(values_ms, dtype=np.float64), [50, 95])
    return float(p50), float(p95)


def ndcg_at_k(ranking: Sequence[str], relevance: Mapping[str, float], k: int = 10) -> float:
    """Normalised discounted cumulative gain, graded: gain = relevance, discount log2(i+1).

    Args:
        ranking: document ids, best first (distinct).
        relevance: judged documents and their grades; unjudged ones have gain 0.
        k: cut-off.

    Returns:
        DCG@k / ideal DCG@k, or 0.0 when no document is relevant.
    """
    dcg = sum(max(0.0, relevance.get(doc, 0.0)) / math.log2(i + 1)
              for i, doc in enumerate(ranking[:k], 1))
    ideal = sorted((g for g in relevance.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 1) for i, g in enumerate(ideal, 1))
    return dcg / idcg if idcg > 0 else 0.0


def doc_recall_at_k(ranking: Sequence[str], relevance: Mapping[str, float], k: int) -> float:
    """Share of the relevant documents (grade > 0) among the first k; 0.0 if none are."""
    relevant = {d for d, g in relevance.items() if g > 0}
    return len(relevant & set(ranking[:k])) / len(relevant) if relevant else 0.0
