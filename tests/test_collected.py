"""Scores of collect answers (rag/eval/collected.py), on hand-made answers."""

import pytest

from rag.errors import ConfigError
from rag.eval.collected import collect_figures, score_collection
from rag.eval.sets import TypedQuestion

Q = TypedQuestion("C-1", "collect", "Which countries got battle groups?",
                  gold=("a", "b"), items=("Slovakia", "Republic of Korea", "New  York"))


def test_item_recall_precision_and_release_recall():
    score = score_collection(Q, "test", ["r1", "r2"], ["r1", "r3"],
                             ["Battle groups in SLOVAKIA.", "Talks in new york."],
                             ["Slovakia", "Korea", "NATO", "New York"])
    assert score.item_recall == pytest.approx(2 / 3)         # Korea is not in a row's text
    assert score.item_recall_listed == pytest.approx(1.0)    # "Korea" inside the gold name
    assert score.item_precision == pytest.approx(3 / 4)      # NATO matches no gold item
    assert score.release_recall == pytest.approx(1 / 2)


def test_an_empty_answer_scores_zero():
    score = score_collection(Q, "tune", ["r1"], [], [], [])
    assert (score.item_recall, score.item_precision, score.release_recall) == (0, 0, 0)


def test_figures_are_means_per_split():
    good = score_collection(Q, "test", ["r1"], ["r1"], ["Slovakia, Republic of Korea, New York"],
                            ["Slovakia"])
    bad = score_collection(Q, "tune", ["r1"], [], [], [])
    figures = collect_figures([good, bad])
    assert figures["test"]["item_recall"] == 1.0 and figures["tune"]["item_recall"] == 0.0
    assert figures["all"]["n"] == 2 and figures["all"]["release_recall"] == 0.5


def test_only_collect_questions_and_known_splits():
    other = TypedQuestion("F-1", "factoid", "Who?", gold=("a",), answer_all=("x",))
    with pytest.raises(ConfigError, match="type factoid is not collect"):
        score_collection(other, "test", [], [], [], [])
    with pytest.raises(ConfigError, match="split 'dev' is not one of tune, test"):
        score_collection(Q, "dev", [], [], [], [])
