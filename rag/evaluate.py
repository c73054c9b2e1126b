"""Measure retrieval and answers: a question set with gold releases, or a BEIR folder.

    questions = load_questions("eval/dev_questions.yaml")
    report = evaluate(rag.load_index("index"), questions, mode="hybrid")
    print(report.format())
    calibrate(report.results)      # choose answer.min_score
    rag.beir.evaluate_beir("tests/data/beir_small", config, embedder)

Metric functions take plain data (ranks, flags, hit lists), so they are checked on
hand-made examples; :func:`evaluate` and :func:`evaluate_beir` only collect that data.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Protocol, Sequence

import numpy as np
import yaml

from .config import MODES
from .errors import ConfigError
from .search import load_index

QUESTION_KEYS = ("id", "question", "gold", "answer_contains", "unanswerable", "dates")
RECALL_KS = (1, 5, 10)
MRR_K = 10


# --- question sets -------------------------------------------------------------------

@dataclass(frozen=True)
class EvalQuestion:
    """One question of a development set.

    ``gold`` holds release ids (paths relative to the seeds folder) or release urls;
    a hit from any of them counts. ``answer_contains`` are strings a correct answer
    quotes. ``dates`` marks questions whose wording names a date window.
    """

    id: str
    question: str
    gold: tuple[str, ...] = ()
    answer_contains: tuple[str, ...] = ()
    unanswerable: bool = False
    dates: bool = False


def _strings(value: Any, where: str, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list) or not all(
            isinstance(v, (str, int, float)) and not isinstance(v, bool) and str(v).strip()
            for v in value):
        raise ConfigError(f"{where}: {key} must be a list of non-empty strings, got {value!r}")
    return tuple(str(v).strip() for v in value)


def _flag(value: Any, where: str, key: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: {key} = {value!r} must be true or false")
    return value


def load_questions(path: str | Path) -> list[EvalQuestion]:
    """Read a question set: a YAML list of questions, or a mapping ``questions: [...]``.

    Raises:
        ConfigError: unreadable file, not YAML, no list of questions, or a question that
            breaks a rule (missing text, duplicate id, unknown key, answerable without
            gold, unanswerable with gold or answer_contains); the message names the file
            and the question.
    """
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read question file {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0]
        raise ConfigError(f"question file {path} is not valid YAML: {first}") from None
    if isinstance(raw, dict) and "questions" in raw:
        extra = sorted(map(str, set(raw) - {"questions"}))
        if extra:
            raise ConfigError(f"{path}: unknown top-level key(s) {', '.join(extra)} "
                              f"(only `questions` is read)")
        raw = raw["questions"]
    if not isinstance(raw, list):
        raise ConfigError(f"{path}: expected a list of questions (or `questions:` holding one), "
                          f"got {type(raw).__name__}")
    questions: list[EvalQuestion] = []
    seen: set[str] = set()
    for n, entry in enumerate(raw, 1):
        where = f"{path}: question #{n}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where} must be a mapping with id and question, "
                              f"got {type(entry).__name__}")
        qid = entry.get("id")
        if qid is None or not str(qid).strip():
            raise ConfigError(f"{where} has no id; give every question a unique id")
        qid = str(qid).strip()
        where = f"{path}: question {qid}"
        if qid in seen:
            raise ConfigError(f"{where}: duplicate id; ids must be unique")
        seen.add(qid)
        unknown = sorted(set(entry) - set(QUESTION_KEYS))
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {', '.join(map(str, unknown))} "
                              f"(known: {', '.join(QUESTION_KEYS)})")
        text = entry.get("question")
        if not isinstance(text, str) or not text.strip():
            raise ConfigError(f"{where}: missing question text (key `question`)")
        gold = _strings(entry.get("gold"), where, "gold")
        contains = _strings(entry.get("answer_contains"), where, "answer_contains")
        unanswerable = _flag(entry.get("unanswerable"), where, "unanswerable")
        if unanswerable and (gold or contains):
            raise ConfigError(f"{where}: unanswerable but has gold or answer_contains; "
                              f"remove them or drop `unanswerable: true`")
        if not unanswerable and not gold:
            raise ConfigError(f"{where}: answerable but has no gold releases; add `gold: "
                              f"[release id or url]` or mark it `unanswerable: true`")
        questions.append(EvalQuestion(qid, " ".join(text.split()), gold, contains,
                                      unanswerable, _flag(entry.get("dates"), where, "dates")))
    return questions


# --- metrics on plain data -------------------------------------------------------------

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


# --- evaluating an index on a question set ---------------------------------------------

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
        index: a loaded :class:`rag.search.Index`.
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


# --- the `rag eval` command --------------------------------------------------------------

def add_parser(subparsers: Any, common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add ``rag eval`` to the CLI's sub-parsers (``common`` provides --config)."""
    e = subparsers.add_parser(
        "eval", parents=[common],
        help="measure retrieval and answers on a question set, or on a BEIR folder")
    e.add_argument("questions", nargs="?", help="YAML question set (e.g. eval/dev_questions.yaml)")
    e.add_argument("--beir", metavar="DIR",
                   help="BEIR folder (corpus.jsonl, queries.jsonl, qrels/test.tsv) instead")
    e.add_argument("--index", help="index folder (default from config: index/)")
    e.add_argument("--mode", choices=[*MODES, "all"],
                   help="retrieval mode, or all three side by side (default from config)")
    e.add_argument("--calibrate", action="store_true",
                   help="also print the abstention threshold sweep (for answer.min_score)")
    e.add_argument("--json", action="store_true", help="print JSON")
    e.set_defaults(func=cmd_eval)
    return e


def cmd_eval(args: argparse.Namespace) -> int:
    """Run ``rag eval``; prints a table (or JSON) and returns the exit code."""
    from .cli import _config, _embedder  # here: the CLI imports this module

    if bool(args.questions) == bool(args.beir):
        raise ConfigError("give a question file or --beir DIR (one of them): "
                          "`rag eval eval/dev_questions.yaml` or `rag eval --beir DIR`")
    config = _config(args)
    mode = getattr(args, "mode", None)
    modes = list(MODES) if mode == "all" else [mode or config.retrieval.mode]
    if args.beir:
        from .beir import evaluate_beir

        results = evaluate_beir(args.beir, config, _embedder(config), modes)
        print(json.dumps(results, indent=2) if args.json else format_table(results))
        return 0
    questions = load_questions(args.questions)
    index = load_index(config.index, config)
    reports = [evaluate(index, questions, m) for m in modes]
    if args.json:
        out: dict[str, Any] = {r.mode: r.to_dict() for r in reports}
        if args.calibrate:
            out["calibration"] = {r.mode: calibrate(r.results) for r in reports}
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return 0
    if len(reports) == 1:
        print(reports[0].format())
    else:
        print(format_table({r.mode: r.metrics() for r in reports}))
    if args.calibrate:
        for r in reports:
            print(f"\nabstention threshold sweep ({r.mode}; current answer.min_score "
                  f"{config.answer.min_score:g}):\n"
                  f"{'threshold':>10} {'answerable abstained':>21} {'unanswerable answered':>22}")
            for threshold, abstained, answered in calibrate(r.results):
                print(f"{threshold:>10.4f} {abstained:>21} {answered:>22}")
    return 0
