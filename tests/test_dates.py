"""Dates in questions -> date windows (rag/query/dates.py)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rag.query.dates import DateWindow, find_date_window, strip_date_expression
from rag.errors import QuestionError, RagError

TODAY = date(2022, 3, 31)  # a Thursday: the newest release in these tests


def window(question: str, today: date = TODAY) -> tuple[date | None, date | None, str] | None:
    found = find_date_window(question, today)
    return None if found is None else (found.since, found.until, found.text)


# (question, since, until, the words it was read from)
CASES = [
    # A day
    ("What did the President announce on February 24, 2022?",
     date(2022, 2, 24), date(2022, 2, 24), "on February 24, 2022"),
    ("Statement of February 24th, 2022 on Ukraine",
     date(2022, 2, 24), date(2022, 2, 24), "of February 24th, 2022"),
    ("What was said 24 February 2022?", date(2022, 2, 24), date(2022, 2, 24), "24 February 2022"),
    ("Releases dated 2022-02-24", date(2022, 2, 24), date(2022, 2, 24), "2022-02-24"),
    ("What happened on 2/24/2022?", date(2022, 2, 24), date(2022, 2, 24), "on 2/24/2022"),
    ("What did he say Feb. 24, 2022 about sanctions?",
     date(2022, 2, 24), date(2022, 2, 24), "Feb. 24, 2022"),
    ("Did the President speak on the 24th of February, 2022?",
     date(2022, 2, 24), date(2022, 2, 24), "on the 24th of February, 2022"),
    ("february 24 2022 remarks", date(2022, 2, 24), date(2022, 2, 24), "february 24 2022"),
    ("What was announced on March 1?", date(2022, 3, 1), date(2022, 3, 1), "on March 1"),
    # No year, and that day is still ahead this year: the year before.
    ("What was announced on April 5?", date(2021, 4, 5), date(2021, 4, 5), "on April 5"),
    ("Any remarks on February 29?", date(2020, 2, 29), date(2020, 2, 29), "on February 29"),
    # A month
    ("What did the President announce in March 2022?",
     date(2022, 3, 1), date(2022, 3, 31), "in March 2022"),
    ("Statements from March of 2022", date(2022, 3, 1), date(2022, 3, 31), "from March of 2022"),
    ("Sept 2021 executive orders", date(2021, 9, 1), date(2021, 9, 30), "Sept 2021"),
    ("Releases in Dec. 2021", date(2021, 12, 1), date(2021, 12, 31), "in Dec. 2021"),
    ("What happened IN MARCH 2022?", date(2022, 3, 1), date(2022, 3, 31), "IN MARCH 2022"),
    ("What was said in March?", date(2022, 3, 1), date(2022, 3, 31), "in March"),
    ("What was said in April?", date(2021, 4, 1), date(2021, 4, 30), "in April"),
    ("What was said in May?", date(2021, 5, 1), date(2021, 5, 31), "in May"),
    ("May 2022 releases", date(2022, 5, 1), date(2022, 5, 31), "May 2022"),
    # A year
    ("What was said about inflation in 2022?", date(2022, 1, 1), date(2022, 12, 31), "in 2022"),
    ("Vaccine news during 2021", date(2021, 1, 1), date(2021, 12, 31), "during 2021"),
    ("What happened in the year 2021?", date(2021, 1, 1), date(2021, 12, 31),
     "in the year 2021"),
    ("in 1990", date(1990, 1, 1), date(1990, 12, 31), "in 1990"),
    # Parts of a month or a year, quarters, halves, seasons
    ("in early March 2022", date(2022, 3, 1), date(2022, 3, 10), "in early March 2022"),
    ("mid-March 2022 remarks", date(2022, 3, 11), date(2022, 3, 20), "mid-March 2022"),
    ("late March 2022", date(2022, 3, 21), date(2022, 3, 31), "late March 2022"),
    ("late February 2022", date(2022, 2, 21), date(2022, 2, 28), "late February 2022"),
    ("late February 2024", date(2024, 2, 21), date(2024, 2, 29), "late February 2024"),
    ("in mid March", date(2022, 3, 11), date(2022, 3, 20), "in mid March"),
    ("early 2022", date(2022, 1, 1), date(2022, 4, 30), "early 2022"),
    ("mid-2021", date(2021, 5, 1), date(2021, 8, 31), "mid-2021"),
    ("late 2021", date(2021, 9, 1), date(2021, 12, 31), "late 2021"),
    ("in the first half of 2022", date(2022, 1, 1), date(2022, 6, 30),
     "in the first half of 2022"),
    ("second half of 2021", date(2021, 7, 1), date(2021, 12, 31), "second half of 2021"),
    ("H2 2021", date(2021, 7, 1), date(2021, 12, 31), "H2 2021"),
    ("Q1 2022 jobs numbers", date(2022, 1, 1), date(2022, 3, 31), "Q1 2022"),
    ("in the first quarter of 2022", date(2022, 1, 1), date(2022, 3, 31),
     "in the first quarter of 2022"),
    ("Q4 of 2021", date(2021, 10, 1), date(2021, 12, 31), "Q4 of 2021"),
    ("3rd quarter 2021", date(2021, 7, 1), date(2021, 9, 30), "3rd quarter 2021"),
    ("summer 2021", date(2021, 6, 1), date(2021, 8, 31), "summer 2021"),
    ("in the summer of 2021", date(2021, 6, 1), date(2021, 8, 31), "in the summer of 2021"),
    ("spring 2022", date(2022, 3, 1), date(2022, 5, 31), "spring 2022"),
    ("fall 2021", date(2021, 9, 1), date(2021, 11, 30), "fall 2021"),
    ("autumn 2021", date(2021, 9, 1), date(2021, 11, 30), "autumn 2021"),
    # Winter is the one that ends in the named year.
    ("winter 2022", date(2021, 12, 1), date(2022, 2, 28), "winter 2022"),
    ("during the winter", date(2021, 12, 1), date(2022, 2, 28), "during the winter"),
    ("in the spring", date(2022, 3, 1), date(2022, 5, 31), "in the spring"),
    ("in the summer", date(2021, 6, 1), date(2021, 8, 31), "in the summer"),
    # Ranges
    ("What happened between January and March 2023?",
     date(2023, 1, 1), date(2023, 3, 31), "between January and March 2023"),
    ("between February 1 and February 15, 2022",
     date(2022, 2, 1), date(2022, 2, 15), "between February 1 and February 15, 2022"),
    ("from March 2021 to June 2021", date(2021, 3, 1), date(2021, 6, 30),
     "from March 2021 to June 2021"),
    ("January–March 2022 releases", date(2022, 1, 1), date(2022, 3, 31), "January–March 2022"),
    ("January - March 2022", date(2022, 1, 1), date(2022, 3, 31), "January - March 2022"),
    ("January through March 2022", date(2022, 1, 1), date(2022, 3, 31),
     "January through March 2022"),
    ("releases from Jan 2021 through Mar 2021", date(2021, 1, 1), date(2021, 3, 31),
     "from Jan 2021 through Mar 2021"),
    ("March 1-15, 2022", date(2022, 3, 1), date(2022, 3, 15), "March 1-15, 2022"),
    ("between 2021 and 2022", date(2021, 1, 1), date(2022, 12, 31), "between 2021 and 2022"),
    ("in 2021–2022", date(2021, 1, 1), date(2022, 12, 31), "in 2021–2022"),
    ("in March and April 2022", date(2022, 3, 1), date(2022, 4, 30), "in March and April 2022"),
    # A side without a year borrows the other's, and the range always runs forward.
    ("between November and February", date(2021, 11, 1), date(2022, 2, 28),
     "between November and February"),
    ("from November 2021 to February", date(2021, 11, 1), date(2022, 2, 28),
     "from November 2021 to February"),
    ("from March 2021 through June", date(2021, 3, 1), date(2021, 6, 30),
     "from March 2021 through June"),
    # Open-ended
    ("since March 2022", date(2022, 3, 1), None, "since March 2022"),
    ("since 2021", date(2021, 1, 1), None, "since 2021"),
    ("after February 24, 2022", date(2022, 2, 25), None, "after February 24, 2022"),
    ("after March 2022", date(2022, 4, 1), None, "after March 2022"),
    ("before March 2022", None, date(2022, 2, 28), "before March 2022"),
    ("before 2022", None, date(2021, 12, 31), "before 2022"),
    ("until March 2022", None, date(2022, 3, 31), "until March 2022"),
    ("through March 2022", None, date(2022, 3, 31), "through March 2022"),
    ("from March 2022 onward", date(2022, 3, 1), None, "from March 2022 onward"),
    # Found by test_properties: "onward" after "after" used to drop the end it needs.
    ("after March 2022 onward", date(2022, 4, 1), None, "after March 2022 onward"),
    ("since last week", date(2022, 3, 21), None, "since last week"),
    # Relative to today (Thursday 2022-03-31)
    ("What happened last year?", date(2021, 1, 1), date(2021, 12, 31), "last year"),
    ("this year", date(2022, 1, 1), date(2022, 3, 31), "this year"),
    ("last month", date(2022, 2, 1), date(2022, 2, 28), "last month"),
    ("this month", date(2022, 3, 1), date(2022, 3, 31), "this month"),
    ("last week", date(2022, 3, 21), date(2022, 3, 27), "last week"),
    ("this week", date(2022, 3, 28), date(2022, 3, 31), "this week"),
    ("yesterday", date(2022, 3, 30), date(2022, 3, 30), "yesterday"),
    ("What did the President say today?", TODAY, TODAY, "today"),
    ("in the past 7 days", date(2022, 3, 25), date(2022, 3, 31), "in the past 7 days"),
    ("last 2 weeks", date(2022, 3, 18), date(2022, 3, 31), "last 2 weeks"),
    ("past three months", date(2022, 1, 1), date(2022, 3, 31), "past three months"),
    ("in the past year", date(2021, 4, 1), date(2022, 3, 31), "in the past year"),
    ("over the last month", date(2022, 3, 1), date(2022, 3, 31), "over the last month"),
    # "May" and "March" next to a real date
    ("The President may announce sanctions in May 2022",
     date(2022, 5, 1), date(2022, 5, 31), "in May 2022"),
    ("Will protesters march in 2022?", date(2022, 1, 1), date(2022, 12, 31), "in 2022"),
    ("Did they march on March 5, 2022?", date(2022, 3, 5), date(2022, 3, 5),
     "on March 5, 2022"),
    # Only the first date expression counts.
    ("in 2021 compared with March 2022", date(2021, 1, 1), date(2021, 12, 31), "in 2021"),
]


@pytest.mark.parametrize("question, since, until, text", CASES)
def test_find_date_window(question: str, since: date | None, until: date | None,
                          text: str) -> None:
    assert window(question) == (since, until, text)


@pytest.mark.parametrize("question, since, until, text", CASES)
def test_window_invariants(question: str, since: date | None, until: date | None,
                           text: str) -> None:
    found = find_date_window(question, TODAY)
    assert found is not None
    assert found.text in question                      # an exact slice of the question
    stripped = strip_date_expression(question, found)
    # The date words go, unless nothing else would be left to search with.
    assert text not in stripped if question != text else stripped == question
    if found.since:
        assert found.contains(found.since) and not found.contains(found.since - timedelta(1))
    if found.until:
        assert found.contains(found.until) and not found.contains(found.until + timedelta(1))


@pytest.mark.parametrize("question", [
    "What did the President say about climate change?",
    "",
    "The President may announce new sanctions",
    "May I ask what the President said about NATO?",
    "what did they say in may",                          # lowercase "may": the verb
    "Did veterans march on Washington?",
    "March on Washington anniversary",
    "What did Biden say about the March for Our Lives?",
    "Were 2022 people evacuated?",
    "How is $2022 million spent?",
    "Funding rose by 2022%",
    "What is in the 2022 budget?",
    "What was announced about the 2022 Winter Olympics?",
    "Before the 2020 election, what was promised?",
    "Over 2022 applications were approved",
    "2021-2022",                                         # no preposition: maybe a score
    "What was said about the January 6 attack?",
    "What did the President say about September 11?",
    "What did the President say recently?",
    "What happened after the fall of Kabul?",
    "Did unemployment fall?",
    "Spring into action on infrastructure",
    "What happened in the past?",
    "the last days of the session",
    "in the first half",
    "Q5 2022",
    "H3 2022",
    "third half of 2022",
    "in 1989",
    "in 2100",
    "mid March",
])
def test_no_date(question: str) -> None:
    assert find_date_window(question, TODAY) is None


@pytest.mark.parametrize("question", [
    "What happened on February 30, 2022?",
    "on 2/30/2022",
    "on 2022-13-01",
    "on 2022-02-30",
    "between February 1 and February 30, 2022",
    "from June 2021 to March 2021",                       # runs backwards
])
def test_invalid_dates_give_none(question: str) -> None:
    assert find_date_window(question, TODAY) is None


def test_invalid_date_does_not_hide_a_later_valid_one() -> None:
    assert window("on February 30, 2022, or rather in March 2022") == (
        date(2022, 3, 1), date(2022, 3, 31), "in March 2022")


def test_yearless_dates_follow_today() -> None:
    assert window("in March", today=date(2022, 2, 10)) == (
        date(2021, 3, 1), date(2021, 3, 31), "in March")
    assert window("on March 1", today=date(2022, 3, 1)) == (
        date(2022, 3, 1), date(2022, 3, 1), "on March 1")
    assert window("last month", today=date(2022, 1, 15)) == (
        date(2021, 12, 1), date(2021, 12, 31), "last month")
    assert window("last week", today=date(2022, 3, 28)) == (   # a Monday
        date(2022, 3, 21), date(2022, 3, 27), "last week")
    assert window("past 1 month", today=date(2022, 3, 31)) == (
        date(2022, 3, 1), date(2022, 3, 31), "past 1 month")


@given(st.dates(min_value=date(1990, 1, 1), max_value=date(2099, 12, 31)),
       st.sampled_from(["on {B} {d}, {y}", "{d} {B} {y}", "{y}-{m:02d}-{d:02d}",
                        "{m}/{d}/{y}", "on {b}. {d}, {y}", "{B} {d}th, {y}"]))
def test_every_written_day_reads_back(d: date, form: str) -> None:
    text = form.format(B=f"{d:%B}", b=f"{d:%b}", d=d.day, m=d.month, y=d.year)
    assert window(f"What was said {text}?") == (d, d, text)


@given(st.dates(min_value=date(1990, 1, 1), max_value=date(2099, 12, 31)))
def test_every_month_covers_exactly_its_days(d: date) -> None:
    found = find_date_window(f"in {d:%B} {d.year}", TODAY)
    assert found is not None and found.contains(d)
    assert found.since == d.replace(day=1)
    assert (found.until + timedelta(1)).day == 1 and found.until.month == d.month


def test_describe() -> None:
    assert DateWindow(date(2022, 3, 1), date(2022, 3, 31), "in March 2022").describe() == \
        "March 1, 2022 – March 31, 2022"
    assert DateWindow(date(2022, 2, 24), date(2022, 2, 24), "").describe() == \
        "February 24, 2022"
    assert DateWindow(date(2022, 2, 25), None, "").describe() == "since February 25, 2022"
    assert DateWindow(None, date(2022, 2, 28), "").describe() == "until February 28, 2022"
    assert DateWindow(None, None, "").describe() == "any date"


def test_contains() -> None:
    march = DateWindow(date(2022, 3, 1), date(2022, 3, 31), "in March 2022")
    assert [march.contains(d) for d in (date(2022, 2, 28), date(2022, 3, 1),
                                        date(2022, 3, 31), date(2022, 4, 1))] == \
        [False, True, True, False]
    assert DateWindow(date(2022, 3, 1), None, "").contains(date(2099, 1, 1))
    assert not DateWindow(date(2022, 3, 1), None, "").contains(date(2022, 2, 28))
    assert DateWindow(None, date(2022, 3, 1), "").contains(date(1990, 1, 1))


def test_backwards_window_is_refused() -> None:
    with pytest.raises(QuestionError, match=r"starts \(2022-04-01\) after it ends "
                                            r"\(2022-03-01\): swap"):
        DateWindow(date(2022, 4, 1), date(2022, 3, 1), "")
    assert issubclass(QuestionError, RagError)


def test_window_is_frozen() -> None:
    found = DateWindow(date(2022, 3, 1), date(2022, 3, 31), "in March 2022")
    with pytest.raises(AttributeError):
        found.since = date(2021, 1, 1)  # type: ignore[misc]


@pytest.mark.parametrize("question, stripped", [
    ("What did the President announce in March 2022?", "What did the President announce?"),
    ("In March 2022, what did the President say about Ukraine?",
     "What did the President say about Ukraine?"),
    ("What, in March 2022, did he do?", "What did he do?"),
    ("What happened in March 2022, and why?", "What happened, and why?"),
    ("What happened (in March 2022)?", "What happened?"),
    ("What was the summer 2021 agenda?", "What was the agenda?"),
    ("Which orders were signed between January and March 2023 on climate?",
     "Which orders were signed on climate?"),
    ("What did the President announce over the past week?", "What did the President announce?"),
    ("May 2022 releases on trade", "Releases on trade"),
    ("what was said last week about jobs", "what was said about jobs"),
])
def test_strip_date_expression(question: str, stripped: str) -> None:
    found = find_date_window(question, TODAY)
    assert found is not None
    assert strip_date_expression(question, found) == stripped


def test_strip_keeps_a_question_that_is_only_a_date() -> None:
    found = find_date_window("March 2022?", TODAY)
    assert found is not None and found.text == "March 2022"
    assert strip_date_expression("March 2022?", found) == "March 2022?"


def test_strip_with_words_not_in_the_question_changes_nothing() -> None:
    other = DateWindow(date(2022, 3, 1), date(2022, 3, 31), "in March 2022")
    assert strip_date_expression("What was said in 2021?", other) == "What was said in 2021?"
    assert strip_date_expression("What was said?", DateWindow(None, None, "")) == \
        "What was said?"


def test_a_date_of_what_a_release_covers_has_no_end_and_stays_in_the_question() -> None:
    window = find_date_window("How many records did the visitor logs covering the final "
                              "days of January 2021 hold?", date(2025, 1, 20))
    assert (window.since, window.until, window.content) == (date(2021, 1, 1), None, True)
    plain = find_date_window("What did the President announce in March 2022?",
                             date(2025, 1, 20))
    assert not plain.content and plain.until == date(2022, 3, 31)
