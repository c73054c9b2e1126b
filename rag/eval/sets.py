"""Question sets with typed questions (the tune.yaml format), a fixed tune/test split, and
per-question scores of retrieval and answers.

    questions = load_tune_set("/work/shared/eval/tune.yaml")
    golds = map_gold(questions, [r.id for r in index.releases])
    splits = split_questions(questions)
    score = score_question(question, splits[question.id], golds[question.id], hit_ids,
                           hit_texts, answer_text, abstained, confidence)
    print(format_report(aggregate(scores)))

The split depends only on question ids and types, never on results, so the test part
can be kept unseen while the tune part is studied. Scoring takes plain data (ids,
texts, flags), so it is checked on hand-made examples; running an index is the caller's
job (``benchmarks/eval_answers.py``). Imports only the standard library, yaml, numpy
and ``rag.errors``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from ..errors import ConfigError
from .questions import question_entries, read_question_list

TYPES = ("factoid", "numeric", "date", "list", "multi", "unanswerable", "collect")
# The development set has no types: its questions are answerable or not.
DEV_TYPES = ("answerable", "unanswerable")
TUNE_KEYS = ("id", "corpus", "type", "question", "gold", "gold_dates", "answer_all", "items",
             "note")
DEV_KEYS = ("id", "question", "gold", "answer_contains", "unanswerable", "dates")
SPLITS = ("tune", "test")
TOP_K = 5
_DATED_NAME = re.compile(r"^(\d{4}-\d{2}-\d{2})-(.+)$")


@dataclass(frozen=True)
class TypedQuestion:
    """One question of a typed set.

    ``gold`` are release slugs (file names without the date prefix and ``.md``);
    ``gold_dates`` their dates, in the same order. ``answer_all`` are strings a correct
    answer contains; ``items`` the items of a complete answer (collect questions only).
    """

    id: str
    type: str
    question: str
    gold: tuple[str, ...] = ()
    gold_dates: tuple[dt.date, ...] = ()
    answer_all: tuple[str, ...] = ()
    items: tuple[str, ...] = ()
    note: str = ""

    @property
    def answerable(self) -> bool:
        return self.type != "unanswerable"


# --- loading ---------------------------------------------------------------------------

def _strings(value: Any, where: str, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(
            isinstance(v, (str, int, float)) and not isinstance(v, bool) and str(v).strip()
            for v in value):
        raise ConfigError(f"{where}: {key} must be a list of non-empty strings, got {value!r}")
    return tuple(str(v).strip() for v in value)


def _dates(value: Any, where: str) -> tuple[dt.date, ...]:
    out = []
    for v in value or []:
        if isinstance(v, dt.date):
            out.append(v)
            continue
        try:
            out.append(dt.date.fromisoformat(str(v).strip()))
        except ValueError:
            raise ConfigError(f"{where}: gold_dates value {v!r} is not a YYYY-MM-DD date") \
                from None
    return tuple(out)


def load_tune_set(path: str | Path) -> list[TypedQuestion]:
    """Read a typed question set (the format documented in the header of tune.yaml).

    Raises:
        ConfigError: unreadable file, not YAML, not a list, or a question that breaks a
            rule (no id, duplicate id, unknown key, missing text, unknown type, gold and
            gold_dates of different lengths, a bad date, an answerable question without
            gold or answer_all, an unanswerable one with them, a collect question without
            items); the message names the file, the question and the rule.
    """
    path = Path(path)
    questions = []
    for qid, where, entry in question_entries(path, read_question_list(path), TUNE_KEYS):
        kind = entry.get("type")
        if kind not in TYPES:
            raise ConfigError(f"{where}: type {kind!r} is not one of {', '.join(TYPES)}")
        gold = _strings(entry.get("gold"), where, "gold")
        dates = _dates(entry.get("gold_dates"), where)
        if len(dates) != len(gold):
            raise ConfigError(f"{where}: {len(gold)} gold release(s) but {len(dates)} "
                              f"gold_dates; give one date per gold release, in order")
        answer_all = _strings(entry.get("answer_all"), where, "answer_all")
        items = _strings(entry.get("items"), where, "items")
        if kind == "unanswerable" and (gold or answer_all):
            raise ConfigError(f"{where}: unanswerable but has gold or answer_all; "
                              f"remove them or change the type")
        if kind != "unanswerable" and not gold:
            raise ConfigError(f"{where}: type {kind} needs gold releases")
        if kind not in ("unanswerable", "collect") and not answer_all:
            raise ConfigError(f"{where}: type {kind} needs answer_all (strings a correct "
                              f"answer contains)")
        if kind == "collect" and not items:
            raise ConfigError(f"{where}: type collect needs items")
        questions.append(TypedQuestion(qid, kind, " ".join(entry["question"].split()), gold,
                                       dates, answer_all, items, str(entry.get("note") or "")))
    return questions


def load_dev_set(path: str | Path) -> list[TypedQuestion]:
    """Read the development set format (id, question, gold release ids, answer_contains,
    unanswerable, dates) as typed questions: ``answerable`` or ``unanswerable``, gold
    turned into slugs and dates from the release ids.

    Raises:
        ConfigError: as :func:`load_tune_set`, and a gold id whose file name does not
            start with a YYYY-MM-DD date.
    """
    path = Path(path)
    questions = []
    for qid, where, entry in question_entries(path, read_question_list(path), DEV_KEYS):
        unanswerable = entry.get("unanswerable", False)
        if not isinstance(unanswerable, bool):
            raise ConfigError(f"{where}: unanswerable = {unanswerable!r} must be true or false")
        gold_ids = _strings(entry.get("gold"), where, "gold")
        contains = _strings(entry.get("answer_contains"), where, "answer_contains")
        if unanswerable and (gold_ids or contains):
            raise ConfigError(f"{where}: unanswerable but has gold or answer_contains; "
                              f"remove them or drop `unanswerable: true`")
        if not unanswerable and not gold_ids:
            raise ConfigError(f"{where}: answerable but has no gold releases")
        slugs, dates = [], []
        for gid in gold_ids:
            parsed = slug_of(gid)
            if parsed[1] is None:
                raise ConfigError(f"{where}: gold {gid!r} has no YYYY-MM-DD- date prefix in "
                                  f"its file name")
            slugs.append(parsed[0])
            dates.append(parsed[1])
        questions.append(TypedQuestion(qid, "unanswerable" if unanswerable else "answerable",
                                       " ".join(entry["question"].split()), tuple(slugs),
                                       tuple(dates), contains))
    return questions


# --- gold releases -----------------------------------------------------------------------

def slug_of(release_id: str) -> tuple[str, dt.date | None]:
    """The slug of a release id (its file name without date prefix and ``.md``) and the
    date of that prefix (None when the name has none or an impossible one)."""
    name = release_id.replace("\\", "/").rsplit("/", 1)[-1]
    if name.endswith(".md"):
        name = name[:-3]
    match = _DATED_NAME.match(name)
    if not match:
        return name, None
    try:
        return match.group(2), dt.date.fromisoformat(match.group(1))
    except ValueError:
        return match.group(2), None


def map_gold(questions: Sequence[TypedQuestion], release_ids: Iterable[str],
             check_dates: bool = True) -> dict[str, tuple[str, ...]]:
    """Each question's gold release ids in an index.

    Args:
        questions: the question set.
        release_ids: every release id of the index.
        check_dates: also require the release's date prefix to be the gold date given
            with that slug (many slugs, e.g. a press secretary's statement, recur).

    Returns:
        question id -> matching release ids, sorted (empty when none is in the index).
    """
    by_slug: dict[str, list[tuple[str, dt.date | None]]] = {}
    for rid in release_ids:
        slug, day = slug_of(rid)
        by_slug.setdefault(slug, []).append((rid, day))
    out = {}
    for q in questions:
        found = set()
        for i, slug in enumerate(q.gold):
            for rid, day in by_slug.get(slug, ()):
                # A file name without a date prefix cannot disagree with the gold date.
                if not check_dates or day is None or (i < len(q.gold_dates)
                                                      and day == q.gold_dates[i]):
                    found.add(rid)
        out[q.id] = tuple(sorted(found))
    return out


# --- the split -----------------------------------------------------------------------------

def _hash(qid: str) -> str:
    return hashlib.sha256(qid.encode("utf-8")).hexdigest()


def split_questions(questions: Sequence[TypedQuestion], test_share: float = 0.5
                    ) -> dict[str, str]:
    """Assign each question to ``tune`` or ``test``, stratified by type.

    Within each type, questions are ordered by the SHA-256 of their id and the first
    ``round(n * test_share)`` go to test. The split depends on ids and types only, never
    on the order of the file or on results; adding one question moves at most one other
    question of its type across the boundary.

    Raises:
        ConfigError: test_share outside [0, 1].
    """
    if not 0.0 <= test_share <= 1.0:
        raise ConfigError(f"test_share = {test_share} must be between 0 and 1")
    by_type: dict[str, list[str]] = {}
    for q in questions:
        by_type.setdefault(q.type, []).append(q.id)
    out = {}
    for ids in by_type.values():
        ordered = sorted(ids, key=lambda i: (_hash(i), i))
        n_test = math.floor(len(ordered) * test_share + 0.5)
        for position, qid in enumerate(ordered):
            out[qid] = "test" if position < n_test else "tune"
    return out


# --- scoring -------------------------------------------------------------------------------

def squash(text: str) -> str:
    """Text compared case-insensitively with runs of whitespace collapsed."""
    return " ".join(text.split()).casefold()


def contains_all(text: str, expected: Sequence[str]) -> bool:
    """Whether the text contains every expected string (case and whitespace ignored)."""
    squashed = squash(text)
    return all(squash(e) in squashed for e in expected)


@dataclass(frozen=True)
class QuestionScore:
    """How retrieval and the answer did on one question.

    ``gold_rank`` is the 1-based position of the first hit from a gold release (None:
    not retrieved). ``facts_in_top`` says every answer string occurs in the top
    passages' texts together; ``correct`` that the answer, not abstained, contains them.
    ``unanswerable_answered`` is true for an unanswerable question answered anyway.
    """

    id: str
    type: str
    split: str
    gold_ids: tuple[str, ...]
    gold_rank: int | None
    facts_in_top: bool
    correct: bool
    abstained: bool
    unanswerable_answered: bool
    confidence: float

    @property
    def answerable(self) -> bool:
        return self.type != "unanswerable"

    @property
    def top1(self) -> bool:
        return self.gold_rank == 1

    @property
    def top5(self) -> bool:
        return self.gold_rank is not None and self.gold_rank <= TOP_K


def gold_rank(hit_ids: Sequence[str], gold_ids: Iterable[str]) -> int | None:
    """1-based position of the first hit whose release is a gold one."""
    gold = set(gold_ids)
    for position, rid in enumerate(hit_ids, 1):
        if rid in gold:
            return position
    return None


def score_question(question: TypedQuestion, split: str, gold_ids: Sequence[str],
                   hit_ids: Sequence[str], hit_texts: Sequence[str], answer_text: str,
                   abstained: bool, confidence: float = 0.0) -> QuestionScore:
    """Score one question from plain data.

    Args:
        question: the question.
        split: ``tune`` or ``test``.
        gold_ids: its gold release ids in the index (see :func:`map_gold`).
        hit_ids, hit_texts: release id and text of the retrieved passages, best first;
            the first ``TOP_K`` count for ``facts_in_top``.
        answer_text: the answer's text (its quoted sentences).
        abstained: whether the answer abstained.
        confidence: the answer's best sentence score.

    Raises:
        ConfigError: a collect question (scored elsewhere) or an unknown split.
    """
    if question.type == "collect":
        raise ConfigError(f"question {question.id}: collect questions are not scored here")
    if split not in SPLITS:
        raise ConfigError(f"question {question.id}: split {split!r} is not one of "
                          f"{', '.join(SPLITS)}")
    answerable = question.answerable
    facts = answerable and contains_all(" \n".join(hit_texts[:TOP_K]), question.answer_all)
    correct = answerable and not abstained and contains_all(answer_text, question.answer_all)
    return QuestionScore(question.id, question.type, split, tuple(gold_ids),
                         gold_rank(hit_ids, gold_ids) if answerable else None, facts, correct,
                         abstained, not answerable and not abstained, float(confidence))


# --- aggregates ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Figures:
    """Aggregate figures of a group of questions (shares over its answerable ones)."""

    n: int
    answerable: int
    top1: float | None
    top5: float | None
    facts_in_top: float | None
    correct: float | None
    abstained_answerable: int
    unanswerable: int
    unanswerable_answered: int
    mean_confidence: float | None

    def to_dict(self) -> dict[str, Any]:
        return {k: (round(v, 3) if isinstance(v, float) else v)
                for k, v in self.__dict__.items()}


def _share(flags: Sequence[bool]) -> float | None:
    return float(np.mean(flags)) if flags else None


def figures(scores: Sequence[QuestionScore]) -> Figures:
    """Aggregate figures of a group of scored questions."""
    ans = [s for s in scores if s.answerable]
    una = [s for s in scores if not s.answerable]
    return Figures(
        n=len(scores), answerable=len(ans),
        top1=_share([s.top1 for s in ans]), top5=_share([s.top5 for s in ans]),
        facts_in_top=_share([s.facts_in_top for s in ans]),
        correct=_share([s.correct for s in ans]),
        abstained_answerable=sum(s.abstained for s in ans), unanswerable=len(una),
        unanswerable_answered=sum(s.unanswerable_answered for s in una),
        mean_confidence=float(np.mean([s.confidence for s in scores])) if scores else None)


def aggregate(scores: Sequence[QuestionScore]) -> dict[str, dict[str, Figures]]:
    """split -> type -> figures, each split with an ``all`` row (and an ``all`` split)."""
    out: dict[str, dict[str, Figures]] = {}
    for split in (*SPLITS, "all"):
        part = [s for s in scores if split == "all" or s.split == split]
        if not part:
            continue
        types = [t for t in (*TYPES, *DEV_TYPES) if any(s.type == t for s in part)]
        rows = {t: figures([s for s in part if s.type == t]) for t in types}
        rows["all"] = figures(part)
        out[split] = rows
    return out


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def format_report(report: Mapping[str, Mapping[str, Figures]]) -> str:
    """Plain-text tables, one per split: a row per type."""
    lines = []
    for split, rows in report.items():
        lines.append(f"[{split}]")
        lines.append(f"{'type':<13}{'n':>4}{'top1':>7}{'top5':>7}{'facts5':>8}{'correct':>9}"
                     f"{'abst':>6}{'unans':>7}")
        for kind, f in rows.items():
            unans = f"{f.unanswerable_answered}/{f.unanswerable}" if f.unanswerable else "-"
            abst = f"{f.abstained_answerable}" if f.answerable else "-"
            lines.append(f"{kind:<13}{f.n:>4}{_cell(f.top1):>7}{_cell(f.top5):>7}"
                         f"{_cell(f.facts_in_top):>8}{_cell(f.correct):>9}{abst:>6}{unans:>7}")
        lines.append("")
    lines.append("top1/top5: gold release first / in the top 5 hits; facts5: every answer string "
                 "in the top-5 passages; correct: in the answer; abst: answerable questions "
                 "abstained on; unans: unanswerable questions answered")
    return "\n".join(lines)
