"""Typed question sets: loading rules, gold slugs, the tune/test split, scores, aggregates."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import pytest

from rag.errors import ConfigError
from rag.eval.sets import (TypedQuestion, aggregate, contains_all, format_report, load_dev_set,
                           load_tune_set, map_gold, score_question, slug_of, split_questions)

GOOD = """\
- id: A-1
  corpus: full
  type: factoid
  question: Which   senator did he phone?
  gold: [statement-on-the-call, press-briefing-march-2]
  gold_dates: ['2022-03-01', '2022-03-02']
  answer_all: [Collins]
  note: second paragraph
- id: A-2
  type: unanswerable
  question: What did he say about the Mars colony?
  gold: []
  gold_dates: []
  answer_all: []
- id: A-3
  type: collect
  question: Which countries got battle groups?
  gold: [statement-on-the-summit]
  gold_dates: ['2022-03-24']
  items: [Slovakia, Romania]
"""


def _write(tmp_path: Path, text: str, name: str = "qs.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_load_tune_set_reads_every_field(tmp_path):
    qs = load_tune_set(_write(tmp_path, GOOD))
    assert [q.id for q in qs] == ["A-1", "A-2", "A-3"]
    a = qs[0]
    assert a.type == "factoid" and a.question == "Which senator did he phone?"
    assert a.gold == ("statement-on-the-call", "press-briefing-march-2")
    assert a.gold_dates == (dt.date(2022, 3, 1), dt.date(2022, 3, 2))
    assert a.answer_all == ("Collins",) and a.note == "second paragraph"
    assert not qs[1].answerable and qs[1].gold == ()
    assert qs[2].items == ("Slovakia", "Romania")


def _one(body: str) -> str:
    return "- id: X-1\n" + body


@pytest.mark.parametrize("text, match", [
    ("a: [1\n", r"qs\.yaml is not valid YAML"),
    ("{x: 1}\n", r"qs\.yaml: expected a list of questions"),
    ("- 3\n", r"question #1 must be a mapping"),
    ("- question: Why?\n  type: factoid\n", r"question #1 has no id"),
    (GOOD + "- id: A-1\n  type: unanswerable\n  question: Again?\n", r"question A-1: duplicate id"),
    (_one("  type: factoid\n  question: Q?\n  colour: red\n"),
     r"question X-1: unknown key\(s\) colour"),
    (_one("  type: factoid\n  gold: [a]\n  gold_dates: ['2022-01-01']\n  answer_all: [x]\n"),
     r"question X-1: missing question text"),
    (_one("  type: opinion\n  question: Q?\n"), r"question X-1: type 'opinion' is not one of"),
    (_one("  type: factoid\n  question: Q?\n  gold: [a, b]\n  gold_dates: ['2022-01-01']\n"
          "  answer_all: [x]\n"), r"question X-1: 2 gold release\(s\) but 1 gold_dates"),
    (_one("  type: factoid\n  question: Q?\n  gold: [a]\n  gold_dates: ['2022-02-30']\n"
          "  answer_all: [x]\n"), r"question X-1: gold_dates value '2022-02-30' is not"),
    (_one("  type: factoid\n  question: Q?\n  gold: a\n  gold_dates: ['2022-01-01']\n"
          "  answer_all: [x]\n"), r"question X-1: gold must be a list of non-empty strings"),
    (_one("  type: unanswerable\n  question: Q?\n  answer_all: [x]\n"),
     r"question X-1: unanswerable but has gold or answer_all"),
    (_one("  type: numeric\n  question: Q?\n  answer_all: [x]\n"),
     r"question X-1: type numeric needs gold releases"),
    (_one("  type: date\n  question: Q?\n  gold: [a]\n  gold_dates: ['2022-01-01']\n"),
     r"question X-1: type date needs answer_all"),
    (_one("  type: collect\n  question: Q?\n  gold: [a]\n  gold_dates: ['2022-01-01']\n"),
     r"question X-1: type collect needs items"),
])
def test_load_tune_set_rules(tmp_path, text, match):
    with pytest.raises(ConfigError, match=match):
        load_tune_set(_write(tmp_path, text))


def test_load_tune_set_names_a_missing_file(tmp_path):
    with pytest.raises(ConfigError, match=r"cannot read question file .*nope\.yaml"):
        load_tune_set(tmp_path / "nope.yaml")


DEV = """\
questions:
  - id: q1
    question: Which countries received new battle groups?
    gold: [statements-releases/2022-03/2022-03-24-statement-on-the-summit.md]
    answer_contains: [Slovakia]
    dates: true
  - id: q2
    question: Mars?
    unanswerable: true
"""


def test_load_dev_set_turns_gold_ids_into_slugs_and_dates(tmp_path):
    q1, q2 = load_dev_set(_write(tmp_path, DEV))
    assert q1.type == "answerable" and q1.gold == ("statement-on-the-summit",)
    assert q1.gold_dates == (dt.date(2022, 3, 24),) and q1.answer_all == ("Slovakia",)
    assert q2.type == "unanswerable" and not q2.answerable


@pytest.mark.parametrize("text, match", [
    ("- id: d1\n  question: Q?\n  type: factoid\n", r"question d1: unknown key\(s\) type"),
    ("- id: d1\n  question: Q?\n  unanswerable: yes please\n",
     r"question d1: unanswerable = 'yes please' must be true or false"),
    ("- id: d1\n  question: Q?\n  unanswerable: true\n  gold: [a/2022-01-01-x.md]\n",
     r"question d1: unanswerable but has gold"),
    ("- id: d1\n  question: Q?\n", r"question d1: answerable but has no gold"),
    ("- id: d1\n  question: Q?\n  gold: [a/undated.md]\n",
     r"question d1: gold 'a/undated.md' has no YYYY-MM-DD- date prefix"),
])
def test_load_dev_set_rules(tmp_path, text, match):
    with pytest.raises(ConfigError, match=match):
        load_dev_set(_write(tmp_path, text))


def test_slug_of():
    assert slug_of("statements-releases/2022-03/2022-03-24-statement-x.md") == (
        "statement-x", dt.date(2022, 3, 24))
    assert slug_of("a/undated-name.md") == ("undated-name", None)
    assert slug_of("2022-02-30-bad-date.md") == ("bad-date", None)


def test_map_gold_matches_slugs_and_checks_dates():
    q = TypedQuestion("A-1", "factoid", "Q?", ("statement-from-the-press-secretary",),
                      (dt.date(2021, 1, 31),), ("x",))
    ids = ["s/2021-01/2021-01-31-statement-from-the-press-secretary.md",
           "s/2021-02/2021-02-03-statement-from-the-press-secretary.md",
           "s/2021-01/2021-01-31-statement-from-the-press-secretary-2.md"]
    assert map_gold([q], ids) == {"A-1": (ids[0],)}
    assert map_gold([q], ids, check_dates=False) == {"A-1": tuple(sorted(ids[:2]))}
    assert map_gold([q], ids[1:]) == {"A-1": ()}


def _typed(n_per_type: dict[str, int]) -> list[TypedQuestion]:
    return [TypedQuestion(f"{kind}-{i}", kind, "Q?") for kind, n in n_per_type.items()
            for i in range(n)]


def test_split_is_stratified_by_type():
    counts = {"factoid": 45, "numeric": 33, "date": 16, "unanswerable": 7}
    questions = _typed(counts)
    split = split_questions(questions)
    for kind, n in counts.items():
        test = sum(split[q.id] == "test" for q in questions if q.type == kind)
        assert test == int(n * 0.5 + 0.5)


def test_split_is_stable_and_ignores_file_order():
    questions = _typed({"factoid": 20, "list": 9})
    first = split_questions(questions)
    shuffled = list(questions)
    random.Random(7).shuffle(shuffled)
    assert split_questions(shuffled) == first == split_questions(questions)
    # Adding a question moves at most one other of its type across the boundary.
    grown = split_questions(questions + [TypedQuestion("factoid-new", "factoid", "Q?")])
    assert sum(grown[k] != v for k, v in first.items()) <= 1


def test_split_rejects_a_bad_share():
    with pytest.raises(ConfigError, match=r"test_share = 1.5 must be between 0 and 1"):
        split_questions([], 1.5)


def test_contains_all_ignores_case_and_whitespace():
    assert contains_all("Senator  SUSAN\nCollins said", ["susan collins"])
    assert not contains_all("Senator Collins", ["Collins", "Romney"])


FACTOID = TypedQuestion("A-1", "factoid", "Who?", ("s",), (dt.date(2022, 1, 1),),
                        ("Susan Collins", "ten"))
UNANSWERABLE = TypedQuestion("U-1", "unanswerable", "Mars?")


def test_score_question_answerable():
    s = score_question(FACTOID, "tune", ["g"], ["x", "g", "y"],
                       ["the ten senators", "Senator Susan\nCollins"], "Susan Collins", False, 0.7)
    assert s.gold_rank == 2 and not s.top1 and s.top5
    assert s.facts_in_top and not s.correct and not s.unanswerable_answered
    s = score_question(FACTOID, "test", ["g"], ["g"], ["ten; Susan Collins"],
                       "ten Susan Collins", True, 0.4)
    assert s.top1 and s.facts_in_top and not s.correct and s.abstained
    s = score_question(FACTOID, "tune", ["g"], ["x"] * 6, ["x"] * 5 + ["ten Susan Collins"],
                       "Ten, Susan Collins", False)
    assert s.gold_rank is None and not s.facts_in_top and s.correct


def test_score_question_unanswerable_and_rules():
    s = score_question(UNANSWERABLE, "tune", [], ["x"], ["x"], "An answer.", False, 0.6)
    assert s.unanswerable_answered and not s.correct and s.gold_rank is None
    assert not score_question(UNANSWERABLE, "tune", [], [], [], "", True).unanswerable_answered
    collect = TypedQuestion("C-1", "collect", "All?", ("s",), (dt.date(2022, 1, 1),),
                            items=("a",))
    with pytest.raises(ConfigError, match=r"question C-1: collect questions are not scored"):
        score_question(collect, "tune", [], [], [], "", True)
    with pytest.raises(ConfigError, match=r"question A-1: split 'dev' is not one of"):
        score_question(FACTOID, "dev", [], [], [], "", True)


def test_aggregate_per_split_and_type():
    scores = [score_question(FACTOID, "tune", ["g"], ["g"], ["ten Susan Collins"],
                             "ten Susan Collins", False, 0.8),
              score_question(FACTOID, "tune", ["g"], ["x"], ["x"], "", True, 0.3),
              score_question(UNANSWERABLE, "test", [], ["x"], ["x"], "Yes.", False, 0.6)]
    report = aggregate(scores)
    assert list(report) == ["tune", "test", "all"]
    tune = report["tune"]["factoid"]
    assert (tune.n, tune.top1, tune.facts_in_top, tune.correct) == (2, 0.5, 0.5, 0.5)
    assert tune.abstained_answerable == 1
    test = report["test"]["all"]
    assert test.correct is None and (test.unanswerable, test.unanswerable_answered) == (1, 1)
    assert "unanswerable" not in report["tune"]
    table = format_report(report)
    assert "[tune]" in table and "1/1" in table
