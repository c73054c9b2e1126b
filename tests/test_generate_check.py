"""rag.generate's sentence checker: splitting, facts in normal form, and the verdicts."""

from __future__ import annotations

import pytest

from generate_helpers import QUOTES, bag_of_words
from rag.generate import QuoteInput, check_reply
from rag.generate.check import check_sentences, plain, split_sentences
from rag.generate.facts import evidence_of, facts_of
from rag.generate.prompt import build_messages, is_decline, long_date
from rag.generate.types import cited_numbers


def test_split_keeps_citations_with_their_sentence():
    reply = ("Answer: **The U.S. plan** costs $5 million. [Q1] It starts in March [Q2]. "
             "Mr. Smith said so [Q1][Q3].\n- A list item [Q1]\n\n1. Another one [Q2]")
    assert split_sentences(reply) == [
        "The U.S. plan costs $5 million. [Q1]", "It starts in March [Q2].",
        "Mr. Smith said so [Q1][Q3].", "A list item [Q1]", "Another one [Q2]"]


def test_a_citation_without_a_full_stop_ends_its_sentence():
    """A headline or list item copied and cited runs into the next sentence otherwise,
    and the two claims would be checked against both quotes together."""
    reply = ("Alabama: Over $334 million for 13 HBCUs [Q1] Alabama A&M University: "
             "$60,120,210 [Q2]")
    assert split_sentences(reply) == ["Alabama: Over $334 million for 13 HBCUs [Q1]",
                                      "Alabama A&M University: $60,120,210 [Q2]"]
    # Not before a word that goes on the sentence, nor after an abbreviation.
    assert split_sentences("Funding [Q1] rose, as the U.S. [Q2] said.") == [
        "Funding [Q1] rose, as the U.S. [Q2] said."]


def test_split_drops_bare_citations_and_blank_lines():
    assert split_sentences("[Q1]\n\n   \nText here [Q1].") == ["Text here [Q1]."]


@pytest.mark.parametrize("text, numbers", [
    ("a [Q2] b [q1][Q3]", [2, 1, 3]),
    ("a [Q1, Q3] and [Q1; 4]", [1, 3, 4]),
    ("a [1] (Q2) Q3", []),
])
def test_cited_numbers(text, numbers):
    assert cited_numbers(text) == numbers


def test_plain_removes_markers():
    assert plain("It costs $5 [Q1] . More [Q2][Q3]") == "It costs $5. More"


def _holds(sentence: str, quote: str) -> list[str]:
    """The facts of the sentence that the quote does not hold."""
    evidence = evidence_of(quote)
    return [f.text for f in facts_of(sentence) if not evidence.holds(f)]


@pytest.mark.parametrize("sentence, quote", [
    ("It gives $1.2 billion.", "The fund is $1,200 million."),
    ("It gives $1,000,000.", "The fund is $1 million."),
    ("About 30% of them.", "Nearly 30 percent of the pipes."),
    ("It creates 40000 jobs.", "It creates 40,000 jobs."),
    ("It reached 12 states.", "It reached twelve states."),
    ("It reached twenty-five states.", "It reached 25 states."),
    ("It was signed on 24 March 2022.", "Signed March 24, 2022."),
    ("It was signed on Sept. 30.", "Signed September 30th."),
    ("It opens in March.", "Doors open March 3."),
    ("He met NATO allies in the U.S. capital.", "NATO allies met in the US capital."),
    ("It was President Biden's plan.", "President Biden announced the plan."),
    ("It helps American workers.", "It helps Americans."),
    ("The White House said it may help.", "The white  house said so."),
    ("Then Secretary Granholm spoke.", "Secretary Jennifer Granholm spoke."),
    ("One of the states joined.", "A state joined."),  # "one of" is no figure
])
def test_facts_match_in_normal_form(sentence, quote):
    assert _holds(sentence, quote) == []


@pytest.mark.parametrize("sentence, quote, missing", [
    ("It gives $1.3 billion.", "The fund is $1,200 million.", ["$1.3 billion"]),
    ("About 30% of them.", "It reached 30 states.", ["30%"]),
    ("It reached 13 states.", "It reached twelve states.", ["13"]),
    ("It was signed on March 25.", "Signed March 24, 2022.", ["March 25"]),
    ("It was signed in 2021.", "Signed March 24, 2022.", ["2021"]),
    ("It opens in April.", "Doors open March 3.", ["April"]),
    ("He met EU allies.", "NATO allies met.", ["EU"]),
    ("Then Secretary Pete Buttigieg spoke.", "Secretary Jennifer Granholm spoke.",
     ["Secretary Pete Buttigieg"]),
    # The opening capital is not checked ("The", "Jane"): the rest of the name is.
    ("Jane Doe of the Department of Labor spoke.", "The Department of Energy spoke.",
     ["Doe", "Department of Labor"]),
])
def test_facts_absent_from_the_quote_are_found(sentence, quote, missing):
    assert _holds(sentence, quote) == missing


def test_sentence_initial_capital_is_not_a_name_but_an_acronym_is():
    assert [f.text for f in facts_of("Officials met.") if f.kind == "name"] == []
    assert [f.text for f in facts_of("FEMA met.") if f.kind == "name"] == ["FEMA"]


def test_title_and_date_of_the_quote_count_as_its_content():
    quote = QuoteInput(1, "The plan replaces lead pipes.", "r", "Biden-Harris Plan", "2022-03-24")
    checked = check_sentences(["On March 24, 2022, the Biden-Harris plan replaces lead pipes [Q1]."],
                              [quote], bag_of_words)
    assert checked[0].supported, checked[0].why


def test_a_fact_may_come_from_any_cited_quote():
    checked = check_sentences(
        ["The $3 billion is expected to create 40,000 jobs over five years [Q1][Q2]."],
        QUOTES, bag_of_words)
    assert checked[0].supported, checked[0].why
    checked = check_sentences(["The $3 billion will create 40,000 jobs [Q1][Q3]."],
                              QUOTES, bag_of_words)
    assert checked[0].why == "number 40,000 is not in Q1 or Q3"


def test_several_missing_citations_are_named():
    checked = check_sentences(["It costs $3 billion [Q1][Q7][Q9]."], QUOTES, bag_of_words)
    assert checked[0].why == "cites Q7 and Q9, which do not exist"


def test_similarity_must_return_one_row_per_sentence():
    with pytest.raises(ValueError, match=r"similarity returned a \(1, 1\) matrix for 1 "
                                         r"sentences and 3 quotes"):
        check_sentences(["It costs $3 billion [Q1]."], QUOTES, lambda a, b: [[1.0]])


@pytest.mark.parametrize("reply", [
    "The quotes do not answer the question.",
    "I'm sorry, but the provided quotes don't say how much money was given.",
    "There is not enough information to answer.",
])
def test_declines_are_recognised(reply):
    assert is_decline(reply)
    assert check_reply(reply, QUOTES, bag_of_words).note.startswith(
        "the language model says the quotes do not answer")


def test_a_cited_answer_is_not_a_decline():
    assert not is_decline("The quotes do not say when, but it costs $3 billion [Q1].")


def test_prompt_lists_quotes_verbatim_first():
    system, user = build_messages("  How much?  ", QUOTES)
    assert system["role"] == "system" and user["role"] == "user"
    assert user["content"].startswith("Quotes:\n\nQ1 (from \"FACT SHEET:")
    assert user["content"].index(QUOTES[2].text) < user["content"].index("Question: How much?")
    assert "[Q1][Q3]" in system["content"]


@pytest.mark.parametrize("date, shown", [
    ("2022-03-24", "Thursday, March 24, 2022"), (" spring 2022 ", "spring 2022")])
def test_long_date(date, shown):
    assert long_date(date) == shown
