"""The subject and the two windows of a "what changed" question; one --a/--b window."""

import datetime as dt

import pytest

from rag.errors import QuestionError
from rag.query.diff_question import read_diff_question, read_window

TODAY = dt.date(2025, 1, 19)
Y2022 = (dt.date(2022, 1, 1), dt.date(2022, 12, 31))
Y2023 = (dt.date(2023, 1, 1), dt.date(2023, 12, 31))


def _span(window):
    return window.since, window.until


@pytest.mark.parametrize("question, subject, a, b", [
    ("How did the White House's description of NATO battle groups change between 2022 "
     "and 2023?", "NATO battle groups", Y2022, Y2023),
    ("How did sanctions on Russia change from 2022 to 2023?", "sanctions on Russia",
     Y2022, Y2023),
    ("What changed about student debt relief in 2022 versus 2023?", "student debt relief",
     Y2022, Y2023),
    ("NATO battle groups: 2022 vs. 2023", "NATO battle groups", Y2022, Y2023),
    ("How did the President describe the economy in 2022 compared to 2023?", "the economy",
     Y2022, Y2023),
    ("How has the administration's language on climate change evolved between March and "
     "June 2022?", "climate change", (dt.date(2022, 3, 1), dt.date(2022, 3, 31)),
     (dt.date(2022, 6, 1), dt.date(2022, 6, 30))),
    ("How did the framing of inflation change between the first half of 2022 and early "
     "2023?", "inflation", (dt.date(2022, 1, 1), dt.date(2022, 6, 30)),
     (dt.date(2023, 1, 1), dt.date(2023, 4, 30))),
    ("How did talk about Ukraine change between 2023 and 2022?", "Ukraine", Y2023, Y2022),
])
def test_question_gives_subject_and_windows(question, subject, a, b):
    asked = read_diff_question(question, TODAY)
    assert (asked.subject, _span(asked.window_a), _span(asked.window_b)) == (subject, a, b)


@pytest.mark.parametrize("question, message", [
    ("What did NATO say about battle groups in 2022?", r"no two date windows to compare in"),
    ("How did it change?", r"no two date windows to compare in"),
    ("Between 2022 and 2023?", r"no subject in 'Between 2022 and 2023\?'"),
])
def test_question_without_windows_or_subject_is_refused(question, message):
    with pytest.raises(QuestionError, match=message):
        read_diff_question(question, TODAY)


@pytest.mark.parametrize("text, since, until", [
    ("2022", dt.date(2022, 1, 1), dt.date(2022, 12, 31)),
    ("March 2022", dt.date(2022, 3, 1), dt.date(2022, 3, 31)),
    ("early 2023", dt.date(2023, 1, 1), dt.date(2023, 4, 30)),
    ("2022-03-24", dt.date(2022, 3, 24), dt.date(2022, 3, 24)),
    ("since June 2023", dt.date(2023, 6, 1), None),
    ("2022-03-01..2022-06-30", dt.date(2022, 3, 1), dt.date(2022, 6, 30)),
    ("..2022-06-30", None, dt.date(2022, 6, 30)),
    ("2023-01-01..", dt.date(2023, 1, 1), None),
])
def test_read_window(text, since, until):
    window = read_window(text, TODAY, "A")
    assert (window.since, window.until, window.text) == (since, until, text)


@pytest.mark.parametrize("text, message", [
    ("", r"window B is empty"),
    ("20222", r"window B \('20222'\) is not a date or a period; write e.g. 2022"),
    ("next summit", r"window B \('next summit'\) is not a date or a period"),
    ("..", r"window B \('\.\.'\) has no dates"),
    ("2022-02-30..", r"window B start = '2022-02-30' must be a date written YYYY-MM-DD"),
    ("2022-06-30..2022-03-01", r"window B \('2022-06-30\.\.2022-03-01'\): date window starts "
                               r"\(2022-06-30\) after it ends \(2022-03-01\)"),
])
def test_unreadable_window_names_the_side_and_the_value(text, message):
    with pytest.raises(QuestionError, match=message):
        read_window(text, TODAY, "B")


def test_a_question_asks_what_changed_by_its_change_word():
    from rag.query.diff_question import asks_what_changed

    for question in ("How did the description of X change between 2022 and 2023?",
                     "What changed in the talk about tariffs?",
                     "How has the framing of inflation evolved?",
                     "NATO in 2022 compared to 2023"):
        assert asks_what_changed(question), question
    for question in ("Which countries received new battle groups?",
                     "Who was nominated to the Federal Reserve Board in 2022?"):
        assert not asks_what_changed(question), question
