"""Follow-up questions rewritten from the previous one (rag/query/followup.py)."""

import datetime
import json
import re

import pytest

from conftest import REPO
from rag.eval.questions import load_questions
from rag.query.dates import find_date_window
from rag.query.followup import Rewrite, rewrite

BATTLE = "Which countries received new battle groups?"
PLEDGE = "What did the United States pledge to Ukraine?"
PLEDGE_MARCH = "What did the United States pledge to Ukraine in March 2022?"
SANCTIONS = "What sanctions were announced on Russian banks in late February 2022?"
OIL = "What did Biden say about oil?"
SPR = "What did President Biden announce about the Strategic Petroleum Reserve?"
G7 = "What did the G7 say about Ukraine?"
TODAY = datetime.date(2022, 3, 31)

# (question, previous, the standalone question)
FOLLOW_UPS = [
    # dates: added, or replacing the previous question's
    ("And in 2024?", BATTLE, "Which countries received new battle groups in 2024?"),
    ("And in March 2022?", BATTLE, "Which countries received new battle groups in March 2022?"),
    ("and in march 2022", BATTLE, "Which countries received new battle groups in march 2022?"),
    ("How about last year?", SANCTIONS,
     "What sanctions were announced on Russian banks last year?"),
    ("Same for March 2022", SANCTIONS,
     "What sanctions were announced on Russian banks in March 2022?"),
    ("What about February 24?", BATTLE,
     "Which countries received new battle groups on February 24?"),
    ("What about since March 10, 2022?", PLEDGE_MARCH,
     "What did the United States pledge to Ukraine since March 10, 2022?"),
    ("And in early March?", SANCTIONS,
     "What sanctions were announced on Russian banks in early March?"),
    ("In 2021?", PLEDGE, "What did the United States pledge to Ukraine in 2021?"),
    ("March 2022", BATTLE, "Which countries received new battle groups in March 2022?"),
    ("And between March 1 and March 15, 2022?", BATTLE,
     "Which countries received new battle groups between March 1 and March 15, 2022?"),
    ("What about the past two weeks?", PLEDGE_MARCH,
     "What did the United States pledge to Ukraine in the past two weeks?"),
    ("And the last month?", BATTLE,
     "Which countries received new battle groups in the last month?"),
    ("And last month?", BATTLE, "Which countries received new battle groups last month?"),
    # entities: a proper noun replaces the last proper-noun phrase, a common noun the
    # last noun phrase
    ("What about Germany?", PLEDGE, "What did the United States pledge to Germany?"),
    ("and the EU?", PLEDGE, "What did the United States pledge to the EU?"),
    ("Germany?", PLEDGE, "What did the United States pledge to Germany?"),
    ("What of Poland?", PLEDGE_MARCH, "What did the United States pledge to Poland in March 2022?"),
    ("How about Harris?", OIL, "What did Harris say about oil?"),
    ("What about gas?", OIL, "What did Biden say about gas?"),
    ("And natural gas, then?", OIL, "What did Biden say about natural gas?"),
    ("What about Poland too?", PLEDGE, "What did the United States pledge to Poland?"),
    ("What about the European Union instead?", PLEDGE,
     "What did the United States pledge to the European Union?"),
    ("What about Germany?", BATTLE,
     "Which countries received new battle groups, regarding Germany?"),
    ("What about air defense systems?", BATTLE, "Which countries received air defense systems?"),
    # both
    ("What about Germany in 2023?", PLEDGE_MARCH,
     "What did the United States pledge to Germany in 2023?"),
    ("And for Poland in February 2022?", PLEDGE,
     "What did the United States pledge to Poland in February 2022?"),
    # pronouns: personal ones take the first proper-noun phrase, others the longest
    ("When did he sign it?", SPR,
     "When did President Biden sign the Strategic Petroleum Reserve?"),
    ("How much did they pledge?", G7, "How much did the G7 pledge?"),
    ("Who announced them?", BATTLE, "Who announced new battle groups?"),
    ("Who announced it?", BATTLE, "Who announced new battle groups?"),
    ("What did she say?", "Did Vice President Harris visit Poland?",
     "What did Vice President Harris say?"),
    ("What was his message?", OIL, "What was Biden's message?"),
    ("What did their leaders say?", G7, "What did the G7's leaders say?"),
    ("What was her message?", "Did Vice President Harris visit Poland?",
     "What was Vice President Harris' message?"),
    ("Who did she meet in Warsaw?", "Did Vice President Harris visit Poland?",
     "Who did Vice President Harris meet in Warsaw?"),
    ("Why did that happen?", BATTLE, "Why did new battle groups happen?"),
    ("When was this signed?", "What did the executive order say about crypto?",
     "When was the executive order signed?"),
    ("Who paid for those?", BATTLE, "Who paid for new battle groups?"),
    ("And who signed it?", "What did the President announce about the oil release?",
     "Who signed the oil release?"),
    ("They did what in March 2022?", G7, "The G7 did what in March 2022?"),
]

STANDALONE = [
    "Who is the Secretary of State?",
    "Which countries received new battle groups?",
    "Which countries received new battle groups in 2024?",
    "What did the President say about the Mars colony budget?",
    "How many barrels of oil per day will be released from the Strategic Petroleum Reserve?",
    "What sanctions were announced on Russian banks in late February 2022?",
    "Who was nominated to the Federal Reserve Board?",
    "Which countries said they would send troops?",
    "Did the President say he would veto the bill?",
    "What did the President say about it?",
    "What did this bill do?",
    "Did the White House say that Russia invaded Ukraine?",
    "free COVID tests",
    "sanctions on Russian banks",
    "What is the Strategic Petroleum Reserve?",
    "Is the NATO summit in Brussels?",
    "When did the European Union announce its sanctions?",
    "How did the United States respond to the invasion?",
    "Tell me about the American Rescue Plan.",
    "Andorra?  Is it in NATO",
    # A pronoun that may refer to a noun of the question is taken to.
    "How many troops did they send?",
    "How many countries said they would send troops?",
    "On average, how much are women who work full time paid compared to their colleagues?",
    "In his March 2022 statement on prices, what did the President say about the deficit?",
    "What did their leaders say about Ukraine?",
    "Anderson Cooper interview",
]


@pytest.mark.parametrize("question, previous, expected", FOLLOW_UPS)
def test_follow_ups_are_rewritten_from_the_previous_question(question, previous, expected):
    result = rewrite(question, previous)
    assert result == Rewrite(expected, True, result.reason)
    assert result.reason and result.reason != "standalone"


@pytest.mark.parametrize("question", STANDALONE)
@pytest.mark.parametrize("previous", [BATTLE, PLEDGE_MARCH, None])
def test_standalone_questions_are_unchanged(question, previous):
    result = rewrite(question, previous)
    assert (result.text, result.rewritten) == (question, False)


def test_the_reason_names_what_changed():
    assert rewrite("And in 2024?", PLEDGE_MARCH).reason == \
        "date: “in 2024” replaces “in March 2022”"
    assert rewrite("What about Germany?", PLEDGE).reason == \
        "entity: “Germany” replaces “Ukraine”"
    assert rewrite("How much did they pledge?", G7).reason == "pronoun: “they” -> “the G7”"
    assert rewrite("Who is the Secretary of State?", BATTLE).reason == "standalone"
    assert rewrite("And in 2024?", None).reason == "no previous question"


@pytest.mark.parametrize("question", ["And?", "What about it?", "and then?", "So?"])
def test_a_follow_up_with_nothing_to_carry_is_left_as_asked(question):
    assert rewrite(question, BATTLE) == Rewrite(question, False,
                                                "follow-up with nothing to carry over")


@pytest.mark.parametrize("previous", ["", "   ", None])
def test_without_a_previous_question_nothing_is_rewritten(previous):
    assert rewrite("And in 2024?", previous) == Rewrite("And in 2024?", False,
                                                        "no previous question")


def test_a_chain_of_follow_ups_keeps_the_subject():
    first = rewrite("And in March 2022?", BATTLE)
    second = rewrite("What about February 2022?", first.text)
    assert second.text == "Which countries received new battle groups in February 2022?"
    third = rewrite("Who announced them?", second.text)
    assert third.text == "Who announced new battle groups?"


def test_spacing_in_the_previous_question_is_normalised():
    assert rewrite("And in 2024?", "  Which countries\nreceived   new battle groups? ").text \
        == "Which countries received new battle groups in 2024?"


# --- Properties, over every pair of the tables -------------------------------------

QUESTIONS = sorted({q for q, _, _ in FOLLOW_UPS} | set(STANDALONE))
PREVIOUS = sorted({p for _, p, _ in FOLLOW_UPS} | {BATTLE})


@pytest.mark.parametrize("previous", PREVIOUS)
def test_properties_over_all_pairs(previous):
    for question in QUESTIONS:
        result = rewrite(question, previous)
        assert result.text.strip(), (question, previous)
        if not result.rewritten:
            assert result.text == question
            continue
        # A rewrite is itself standalone: asking it again changes nothing.
        again = rewrite(result.text, previous)
        assert (again.text, again.rewritten) == (result.text, False), (question, previous)
        # It mentions the new date, with the dates module reading the same window.
        asked = find_date_window(question, TODAY) or find_date_window("in " + question, TODAY)
        if asked is not None and ("date" in result.reason):
            window = find_date_window(result.text, TODAY)
            assert window is not None and (window.since, window.until) == (
                asked.since, asked.until), (question, previous, result.text)
        # It mentions the new entity.
        if "entity" in result.reason:
            entity = re.search(r"entity: “([^”]+)”", result.reason).group(1)
            assert entity in result.text and entity.lower() in question.lower()
        # The previous question's words are kept, apart from the ones replaced.
        if "pronoun" not in result.reason:
            assert len(result.text) > len(question) or len(result.text) > len(previous) / 2


def test_every_question_of_the_question_sets_is_standalone():
    """The 82 questions of eval/dev_questions.yaml and the 34 BEIR queries were written
    as users ask them, each on its own: none may be taken for a follow-up."""
    questions = [q.question for q in load_questions(REPO / "eval" / "dev_questions.yaml")]
    beir = REPO / "tests" / "data" / "beir_small" / "queries.jsonl"
    questions += [json.loads(line)["text"] for line in beir.read_text().splitlines() if line]
    assert len(questions) > 110
    for question in questions:
        for previous in (BATTLE, PLEDGE_MARCH):
            result = rewrite(question, previous)
            assert (result.text, result.rewritten) == (question, False), result


def test_the_public_api_exposes_rewrite():
    import rag

    assert rag.rewrite is rewrite and rag.Rewrite is Rewrite
