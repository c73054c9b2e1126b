"""Measure retrieval and answers on a question set with gold releases.

    questions = load_questions("eval/dev_questions.yaml")
    report = evaluate(rag.load_index("index"), questions, mode="hybrid")
    print(report.format())
    calibrate(report.results)      # choose answer.min_score

:func:`evaluate` only collects per-question data; the metrics are in ``metrics``.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from ..errors import ConfigError
from .metrics import (MRR_K, RECALL_KS, _mean, abstention_precision_recall, answer_correct,
                      gold_rank, mrr_at_k, percentiles_ms, recall_at_k)
from .questions import EvalQuestion


@dataclass(frozen=True)
class QuestionResult:
    """What happened to one question.

    ``gold_rank`` is the 1-based position of the first gold hit among the retrieved ones
    (None if absent, or for unanswerable questions); ``correct`` is whether the answer
    quoted every ``answer_contains`` string (None when there is nothing to check: an
    unanswerable question, or one without answer_contains).
    """

    id: str
    unanswerable: bool
    dates: bool
    gold_rank: int | None
    correct: bool | None
    abstained: bool
    confidence: float
    retrieval_ms: float
    answer_ms: float

    def to_dict(self) -> dict[str, Any]:
        row = dataclasses.asdict(self)
        for key in ("confidence", "retrieval_ms", "answer_ms"):
            row[key] = round(row[key], 4)
        return row


@dataclass(frozen=True)
class EvalReport:
    """Per-question results of one retrieval mode, and the metrics they give."""

    mode: str
    results: tuple[QuestionResult, ...]

    @property
    def answerable(self) -> list[QuestionResult]:
        return [r for r in self.results if not r.unanswerable]

    def recall(self, k: int) -> float | None:
        return recall_at_k([r.gold_rank for r in self.answerable], k)

    @property
    def mrr(self) -> float | None:
        return mrr_at_k([r.gold_rank for r in self.answerable], MRR_K)

    @property
    def answer_accuracy(self) -> float | None:
        return _mean([1.0 if r.correct else 0.0 for r in self.answerable
                      if r.correct is not None])

    @property
    def abstention(self) -> tuple[float | None, float | None]:
        return abstention_precision_recall([r.abstained for r in self.results],
                                           [r.unanswerable for r in self.results])

    def metrics(self) -> dict[str, Any]:
        """The figures, in the order ``format`` prints them."""
        precision, recall = self.abstention
        retrieval, answer = (percentiles_ms([getattr(r, key) for r in self.results])
                             for key in ("retrieval_ms", "answer_ms"))
        return {
            "questions": len(self.results), "answerable": len(self.answerable),
            **{f"recall@{k}": self.recall(k) for k in RECALL_KS},
            f"mrr@{MRR_K}": self.mrr, "answer_accuracy": self.answer_accuracy,
            "abstention_precision": precision, "abstention_recall": recall,
            "answerable_abstained": sum(r.abstained for r in self.answerable),
            "unanswerable_answered": sum(r.unanswerable and not r.abstained
                                         for r in self.results),
            "retrieval_p50_ms": retrieval[0], "retrieval_p95_ms": retrieval[1],
            "answer_p50_ms": answer[0], "answer_p95_ms": answer[1],
        }

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``rag eval --json`` for one mode."""
        metrics = {k: round(v, 4) if isinstance(v, float) else v
                   for k, v in self.metrics().items()}
        return {"mode": self.mode, "metrics": metrics,
                "questions": [r.to_dict() for r in self.results]}

    def format(self) -> str:
        """A table of the figures, then the questions that missed."""
        lines = [format_table({self.mode: self.metrics()})]
        missed = [r.id for r in self.answerable if r.gold_rank is None]
        wrong = [r.id for r in self.answerable if r.correct is False]
        answered = [r.id for r in self.results if r.unanswerable and not r.abstained]
        for label, ids in (("gold not retrieved", missed), ("answer wrong", wrong),
                           ("unanswerable answered", answered)):
            if ids:
                lines.append(f"{label}: {', '.join(ids)}")
        return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}" if value <= 1.0 else f"{value:.1f}"
    return str(value)


def format_table(columns: Mapping[str, Mapping[str, Any]]) -> str:
    """Metric names down the side, one column per mode (or dataset)."""
    names = list(dict.fromkeys(k for metrics in columns.values() for k in metrics))
    width = max(len(n) for n in names) + 2
    heads = list(columns)
    col = max(8, *(len(h) + 2 for h in heads))
    lines = ["".ljust(width) + "".join(h.rjust(col) for h in heads)]
    for name in names:
        lines.append(name.ljust(width) + "".join(_cell(columns[h].get(name)).rjust(col)
                                                 for h in heads))
    return "\n".join(lines)


def evaluate(index: Any, questions: Sequence[EvalQuestion], mode: str | None = None,
             top_k: int = 10) -> EvalReport:
    """Ask every question: ``index.search`` for recall/MRR, ``index.answer`` for answers.

    Both calls are timed separately (the answer's time includes its own retrieval).
    One untimed search and answer go first so model warm-up is not counted.

    Args:
        index: a loaded :class:`rag.Index`.
        questions: from :func:`load_questions`.
        mode: ``dense``, ``bm25`` or ``hybrid``; None takes the index's configured mode.
        top_k: hits retrieved for the retrieval metrics (at least 10 for MRR@10).

    Raises:
        ConfigError: no questions, or top_k outside 10-100.
        RagError: from the index (bad mode, unusable question).
    """
    if not questions:
        raise ConfigError("no questions to evaluate; the question file is empty")
    if not MRR_K <= top_k <= 100:
        raise ConfigError(f"top_k = {top_k} must be between {MRR_K} and 100 "
                          f"(recall@10 and MRR@10 need 10 hits)")
    index.search(questions[0].question, top_k=top_k, mode=mode)
    index.answer(questions[0].question, mode=mode)
    results, used_mode = [], mode
    for q in questions:
        started = time.perf_counter()
        result = index.search(q.question, top_k=top_k, mode=mode)
        retrieval_ms = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        answer = index.answer(q.question, mode=mode)
        answer_ms = (time.perf_counter() - started) * 1000
        used_mode = used_mode or result.mode
        correct = (None if q.unanswerable or not q.answer_contains
                   else answer_correct(answer.text, q.answer_contains, answer.abstained))
        results.append(QuestionResult(
            id=q.id, unanswerable=q.unanswerable, dates=q.dates,
            gold_rank=None if q.unanswerable else gold_rank(result.hits, q.gold),
            correct=correct, abstained=bool(answer.abstained),
            confidence=float(answer.confidence), retrieval_ms=retrieval_ms, answer_ms=answer_ms))
    return EvalReport(used_mode or "default", tuple(results))


def calibrate(rows: Sequence[QuestionResult]) -> list[tuple[float, int, int]]:
    """Sweep the abstention threshold over the observed confidences.

    An answer abstains when its confidence is below the threshold (as ``answer.min_score``).

    Returns:
        (threshold, answerable questions that would abstain, unanswerable questions that
        would be answered) for each distinct confidence, lowest threshold first.
    """
    out = []
    for threshold in sorted({r.confidence for r in rows}):
        out.append((threshold,
                    sum(not r.unanswerable and r.confidence < threshold for r in rows),
                    sum(r.unanswerable and r.confidence >= threshold for r in rows)))
    return out
