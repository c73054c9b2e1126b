"""An index measured on a typed question set (``rag.eval.sets``): each question searched
and answered, and scored for its split and type."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import yaml

from ..query.collect import collect
from .collected import CollectScore, score_collection
from .sets import (TOP_K, QuestionScore, TypedQuestion, load_dev_set, load_tune_set, map_gold,
                   score_question, split_questions)


def is_typed(path: Path) -> bool:
    """Whether a question file is in the typed (tune.yaml) format: its questions have a
    ``type``; the development set's do not."""
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if isinstance(raw, dict):
        raw = raw.get("questions")
    return isinstance(raw, list) and any(isinstance(e, dict) and "type" in e for e in raw)


def load_any(path: Path) -> list[TypedQuestion]:
    """A question file of either format, as typed questions."""
    return (load_tune_set if is_typed(path) else load_dev_set)(path)


def evaluate_typed(index: Any, questions: Sequence[TypedQuestion], mode: str | None = None,
                   check_dates: bool = True
                   ) -> tuple[list[QuestionScore], list[dict[str, Any]], list[str]]:
    """Search (top 5) and answer every question but the collect ones (scored by
    :func:`evaluate_collect`).

    Returns:
        The scores, one detail record per question (question, split, hits, quotes ...),
        and the ids of answerable questions whose gold release is not in the index.
    """
    questions = [q for q in questions if q.type != "collect"]
    splits = split_questions(questions)
    golds = map_gold(questions, [r.id for r in index.releases], check_dates)
    missing = [q.id for q in questions if q.answerable and not golds[q.id]]
    filters = {"mode": mode} if mode else {}
    scores, details = [], []
    for q in questions:
        hits = index.search(q.question, TOP_K, **filters).hits
        answer = index.answer(q.question, collect=False, **filters)
        quotes = "\n".join(quote.text for quote in answer.quotes)
        score = score_question(q, splits[q.id], golds[q.id], [h.release_id for h in hits],
                               [h.text for h in hits], quotes, answer.abstained,
                               answer.confidence)
        scores.append(score)
        details.append({
            "id": q.id, "question": q.question, "type": q.type, "split": score.split,
            "gold_ids": list(score.gold_ids), "answer_all": list(q.answer_all),
            "hits": [h.release_id for h in hits], "gold_rank": score.gold_rank,
            "facts_in_top5": score.facts_in_top,
            "quotes": [{"text": x.text, "release_id": x.release_id, "score": x.score}
                       for x in answer.quotes],
            "abstained": answer.abstained, "confidence": round(answer.confidence, 4),
            "correct": score.correct})
    return scores, details, missing


def evaluate_collect(index: Any, questions: Sequence[TypedQuestion], mode: str | None = None,
                     check_dates: bool = True, only_split: str | None = None,
                     **collect_args: Any
                     ) -> tuple[list[CollectScore], list[dict[str, Any]]]:
    """Collect (``index.collect``) every collect question of the set and score it.

    The split is the set's own (``split_questions`` over all its questions, stratified
    by type), so a collect question is in the same part whatever else is scored.

    Args:
        index: the loaded index.
        questions: the whole typed set (only its collect questions are run).
        mode: retrieval mode (default from config).
        check_dates: gold releases must have the gold date too (``map_gold``).
        only_split: run only the questions of this split (``tune`` when fitting).
        **collect_args: passed on to ``rag.query.collect.collect`` (e.g. ``config``).

    Returns:
        The scores and one detail record per question (rows, items, figures).
    """
    splits = split_questions(questions)
    chosen = [q for q in questions if q.type == "collect"
              and (only_split is None or splits[q.id] == only_split)]
    golds = map_gold(chosen, [r.id for r in index.releases], check_dates)
    filters = {"mode": mode} if mode else {}
    if collect_args:
        run = lambda question: collect(index, question, **collect_args, **filters)  # noqa: E731
    else:
        run = lambda question: index.collect(question, **filters)  # noqa: E731
    scores, details = [], []
    for q in chosen:
        collection = run(q.question)
        score = score_collection(q, splits[q.id], golds[q.id],
                                 [r.release_id for r in collection.rows],
                                 [r.text for r in collection.rows],
                                 [i.text for i in collection.items])
        scores.append(score)
        details.append({"id": q.id, "question": q.question, "split": score.split,
                        "count_line": collection.count_line,
                        "items": [i.text for i in collection.items],
                        "rows": [r.release_id for r in collection.rows],
                        "item_recall": score.item_recall,
                        "item_precision": score.item_precision,
                        "release_recall": score.release_recall})
    return scores, details
