"""Scores of collect answers (``index.collect``) on the ``collect`` questions of a typed
set, per split.

Definitions (texts compared case-insensitively with whitespace collapsed, ``squash``):

- **item recall**: share of the question's gold ``items`` found in the answer; a gold
  item is found when it occurs in the text of one of the rows (what the reader sees,
  verbatim). ``item_recall_listed`` is the stricter variant: found among the listed
  distinct items (one contains the other).
- **item precision**: share of the answer's distinct items that match a gold item (one
  contains the other: "Republic of Korea" matches "Korea"). An answer listing nothing
  scores 0.
- **release recall**: share of the question's gold releases (in the index) that are
  rows of the answer.

Each figure is the mean over questions (macro average). Scoring takes plain data, so
it is checked on hand-made examples.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ..errors import ConfigError
from .sets import SPLITS, TypedQuestion, squash


@dataclass(frozen=True)
class CollectScore:
    """How one collect answer did (counts; the shares are properties)."""

    id: str
    split: str
    gold_items: int
    found_in_rows: int
    found_listed: int
    listed: int
    listed_correct: int
    gold_releases: int
    releases_found: int
    rows: int

    @property
    def item_recall(self) -> float:
        return self.found_in_rows / self.gold_items if self.gold_items else 1.0

    @property
    def item_recall_listed(self) -> float:
        return self.found_listed / self.gold_items if self.gold_items else 1.0

    @property
    def item_precision(self) -> float:
        return self.listed_correct / self.listed if self.listed else 0.0

    @property
    def release_recall(self) -> float | None:
        return self.releases_found / self.gold_releases if self.gold_releases else None


def _matches(a: str, b: str) -> bool:
    a, b = squash(a), squash(b)
    return bool(a) and bool(b) and (a in b or b in a)


def score_collection(question: TypedQuestion, split: str, gold_ids: Sequence[str],
                     row_releases: Sequence[str], row_texts: Sequence[str],
                     items: Sequence[str]) -> CollectScore:
    """Score one collect answer from plain data.

    Args:
        question: a question of type ``collect`` (its ``items`` are the gold items).
        split: ``tune`` or ``test``.
        gold_ids: its gold release ids in the index (``sets.map_gold``).
        row_releases, row_texts: release id and text of each row of the answer.
        items: the answer's distinct items.

    Raises:
        ConfigError: not a collect question, or an unknown split.
    """
    if question.type != "collect":
        raise ConfigError(f"question {question.id}: type {question.type} is not collect; "
                          f"score it with sets.score_question")
    if split not in SPLITS:
        raise ConfigError(f"question {question.id}: split {split!r} is not one of "
                          f"{', '.join(SPLITS)}")
    text = squash(" \n".join(row_texts))
    found_rows = sum(squash(g) in text for g in question.items)
    found_listed = sum(any(_matches(g, i) for i in items) for g in question.items)
    correct = sum(any(_matches(g, i) for g in question.items) for i in items)
    gold = set(gold_ids)
    return CollectScore(question.id, split, len(question.items), found_rows, found_listed,
                        len(items), correct, len(gold), len(gold & set(row_releases)),
                        len(row_texts))


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return float(np.mean(present)) if present else None


def collect_figures(scores: Sequence[CollectScore]) -> dict[str, dict[str, Any]]:
    """split (tune, test, all) -> n and the mean item recall, item precision, release
    recall of its questions."""
    out = {}
    for split in (*SPLITS, "all"):
        part = [s for s in scores if split == "all" or s.split == split]
        if not part:
            continue
        out[split] = {
            "n": len(part),
            "item_recall": _mean([s.item_recall for s in part]),
            "item_recall_listed": _mean([s.item_recall_listed for s in part]),
            "item_precision": _mean([s.item_precision for s in part]),
            "release_recall": _mean([s.release_recall for s in part]),
            "mean_rows": _mean([float(s.rows) for s in part])}
    return out


def format_collect_report(figures: dict[str, dict[str, Any]]) -> str:
    """A plain-text table: a row per split."""
    def cell(v: float | None) -> str:
        return "-" if v is None else f"{v:.3f}"

    lines = [f"{'collect':<8}{'n':>4}{'item_rec':>10}{'listed':>8}{'item_prec':>11}"
             f"{'rel_rec':>9}{'rows':>7}"]
    for split, f in figures.items():
        lines.append(f"{split:<8}{f['n']:>4}{cell(f['item_recall']):>10}"
                     f"{cell(f['item_recall_listed']):>8}{cell(f['item_precision']):>11}"
                     f"{cell(f['release_recall']):>9}{f['mean_rows']:>7.1f}")
    lines.append("item_rec: gold items in the rows' text; listed: among the listed items; "
                 "item_prec: listed items matching a gold item; rel_rec: gold releases "
                 "among the rows (means over questions; rag/eval/collected.py)")
    return "\n".join(lines)
