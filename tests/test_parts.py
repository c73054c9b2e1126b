"""Two-part questions split into their parts (rag.query.parts)."""

import pytest

from rag.query.parts import question_parts


@pytest.mark.parametrize("question, parts", [
    ("How much LIHEAP funding has been delivered, and how much of it came from the "
     "American Rescue Plan?", ["How much LIHEAP funding has been delivered?",
                               "how much of it came from the American Rescue Plan?"]),
    ("Who leads the delegation? When does it leave?",
     ["Who leads the delegation?", "When does it leave?"]),
    ("How long do agencies have to report back, and in which phase does the plan start?",
     ["How long do agencies have to report back?", "in which phase does the plan start?"]),
    ("Which countries received battle groups and which ones asked for them?",
     ["Which countries received battle groups?", "which ones asked for them?"]),
    # a clause between "and" and the question word goes with the second part
    ("How long did agencies have to report, and, once he had their review, which phase "
     "did he press for?", ["How long did agencies have to report?",
                           "once he had their review, which phase did he press for?"]),
    ("What average triggers the limits, and after the amendment, for how many days must "
     "it stay low?", ["What average triggers the limits?",
                      "after the amendment, for how many days must it stay low?"]),
])
def test_joined_questions_are_split(question, parts):
    assert question_parts(question) == parts


@pytest.mark.parametrize("question", [
    "Which countries received new battle groups?",
    "What did Biden and Harris discuss?",  # "and" inside one question
    "Who signed it and when?",             # a part of fewer than three words
    "Where and when will the summit be held?",
    "What did Biden say about Ukraine, Russia, and Poland, which he visited?",  # a list
    "Which countries, and which of their leaders, did he call?",
])
def test_one_question_stays_whole(question):
    assert question_parts(question) == [question]
