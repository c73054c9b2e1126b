"""Two-part questions split into their parts (rag.query.parts)."""

import pytest

from rag.query.parts import question_parts


@pytest.mark.parametrize("question, parts", [
    ("How much LIHEAP funding has been delivered, and how much of it came from the "
     "American Rescue Plan?", ["How much LIHEAP funding has been delivered?",
                               "how much of it came from the American Rescue Plan?"]),
    ("Who leads the delegation? When does it leave?",
     ["Who leads the delegation?", "When does it leave?"]),
    ("Which countries received battle groups and which ones asked for them?",
     ["Which countries received battle groups?", "which ones asked for them?"]),
])
def test_joined_questions_are_split(question, parts):
    assert question_parts(question) == parts


@pytest.mark.parametrize("question", [
    "Which countries received new battle groups?",
    "What did Biden and Harris discuss?",  # "and" inside one question
    "Who signed it and when?",             # a part of fewer than three words
    "Where and when will the summit be held?",
])
def test_one_question_stays_whole(question):
    assert question_parts(question) == [question]
