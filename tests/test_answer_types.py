import pytest

from rag.query.answer_types import answer_spans, counted_terms, expected_type, holds_answer


@pytest.mark.parametrize("question, kind", [
    ("How much money did the company agree to pay the families?", "money"),
    ("What is the total dollar size of the budget request?", "money"),
    ("How much prize money came with the award?", "money"),
    ("What was the projected construction cost of the bridge?", "money"),
    ("How much did the state dinner cost taxpayers?", "money"),
    ("What share of HBCUs received bomb threats?", "percent"),
    ("What unemployment rate did the report show?", "percent"),
    ("How many Stinger systems are in the package?", "number"),
    ("What was the final Senate vote count?", "tally"),
    ("By what margin did the House pass the bill?", "tally"),
    ("When do public tours of the White House restart?", "date"),
    ("On what date will the summit take place?", "date"),
    ("On which two days did Biden order the agencies closed?", "date"),
    ("Who headed the U.S. delegation to the inauguration?", "person"),
    ("Which former senator joined the White House team?", "person"),
    ("Which two wrongfully detained Americans were brought home?", "person"),
    ("Which Korean War veteran received the Medal of Honor?", "person"),
    ("Which foreign head of state attended the ceremony?", "person"),  # not "state"
    ("Which of the honorees were recognized posthumously?", "person"),
    ("What state did the President visit?", "place"),
    ("What is the name of the initiative on ventilation?", "name"),
    ("Which countries received new battle groups?", "place"),
    ("Which agency will run the new program?", "organization"),
    ("Which law did the President sign on Friday?", "law"),
    ("What German honor did President Steinmeier confer on Biden?", "law"),  # a named thing
    ("Which medal did the First Lady receive?", "law"),
    ("What is the initiative called?", "name"),
    ("Where will the summit be held?", "place"),
    ("When he signed the Act, what term did Biden use for the incidents?", None),
    ("When Biden raised the refugee ceiling, how many refugees did the new cap allow?",
     "number"),
    ("In his tribute to Henry Aaron, what career home run total did Biden cite?", "number"),
    ("What was the new refugee admissions cap?", "number"),
    ("When did the President sign the Act?", "date"),
    ("What did the President say about the Mars colony budget?", None),
    ("What year-over-year inflation rate did the index show?", "percent"),
])
def test_expected_type(question, kind):
    assert expected_type(question) == kind


@pytest.mark.parametrize("sentence, kind, question, holds", [
    ("The package includes $800 million in aid.", "money", "How much aid?", True),
    ("Women are paid 83 cents for every dollar.", "money", "How much are women paid?", True),
    ("The settlement was praised by the President.", "money", "How much money?", False),
    ("The unemployment rate ticked down to 3.8 percent.", "percent", "What rate?", True),
    ("More than one-third of HBCUs received threats.", "percent", "What share?", True),
    ("Unemployment fell sharply.", "percent", "What rate?", False),
    ("It was confirmed three times.", "number", "How many times?", True),
    ("The Senate confirmed her by a vote of 53-47.", "tally", "What was the vote count?", True),
    ("The bill passed 220 to 207.", "tally", "What was the final vote?", True),
    ("She was confirmed three times.", "tally", "What was the vote count?", False),
    ("It lasts six months.", "number", "How long is the six months release?", False),
    ("Tours restart on April 5.", "date", "When do tours restart?", True),
    ("Tours restart soon.", "date", "When do tours restart?", False),
    ("Administrator Isabella Casillas Guzman will lead the delegation.", "person",
     "Who headed the delegation?", True),
    ("Jeff Zients led the response.", "person", "Who replaced Jeff Zients?", False),
    ("President Biden announced it.", "person", "Who announced it?", False),
    # "How many X": a figure must count X, not something else.
    ("It will give peace of mind to millions of couples.", "number",
     "How many members of the House voted for the Act?", False),
    ("The Act passed with 258 members voting for it.", "number",
     "How many members of the House voted for the Act?", True),
    ("Marines collected 22 million new toys last year.", "number",
     "When he sorted donations, how many toys did he say the program had gathered?", True),
    ("In 2022 the program grew.", "number", "How many toys did it gather?", False),
    ("Of these, 200 million will be delivered this year.", "number",
     "Of the doses, how many were slated for delivery?", True),
    ("Anything at all.", None, "Which countries?", True),
    # A transcript's speaker label names no one and gives nothing.
    ("SENIOR ADMINISTRATION OFFICIAL: Thanks for that.", "person",
     "Which Chinese official led the talks?", False),
    ("MS. PSAKI: Senator Susan Collins called today.", "person", "Which senator called?",
     True),
    ("MR. KIRBY: Thanks, everybody.", "person", "Which official spoke?", False),
    ("July 22nd was even hotter.", "date", "Which date was the warmest day?", True),
])
def test_holds_answer(sentence, kind, question, holds):
    assert holds_answer(sentence, kind, question) is holds


@pytest.mark.parametrize("sentence, question, spans", [
    ("Today’s establishment of four new battle groups in Slovakia, Romania, Bulgaria, and "
     "Hungary strengthens NATO.", "Which countries received new battle groups?",
     ["Slovakia", "Romania", "Bulgaria", "Hungary", "NATO"]),
    ("The Biden administration has delivered $8 billion, including $4.5 billion from the "
     "American Rescue Plan.", "How much funding has the administration delivered?",
     ["$8 billion", "$4.5 billion"]),
    ("The Department of Energy (DOE) will run it with FEMA.", "Which agency will run it?",
     ["The Department of Energy", "DOE", "FEMA"]),
    ("Administrator Isabella Casillas Guzman will lead the delegation with Collins.",
     "Who headed the delegation?", ["Administrator Isabella Casillas Guzman", "Collins"]),
    # Only the figure that counts what is asked for.
    ("The package includes 800 Stinger systems and 2,000 Javelins.",
     "How many Stinger systems are in the package?", ["800"]),
    ("In 2022, 258 House members voted for it.", "How many members of the House voted?",
     ["258"]),
    ("Jeff Zients led the response.", "Who replaced Jeff Zients?", []),
    ("Leaders meet again at the summit in June, on a Monday.",
     "Which countries received new battle groups?", []),
    ("Anything at all.", "What did the President say?", []),
])
def test_answer_spans_mark_the_things_asked_for(sentence, question, spans):
    kind = expected_type(question)
    assert [sentence[s:e] for s, e in answer_spans(sentence, kind, question)] == spans
    assert holds_answer(sentence, kind, question) is (bool(spans) or kind is None)


@pytest.mark.parametrize("question, terms", [
    ("How many members of the House voted for the Act?", {"member"}),
    ("How many toys did he say the program had gathered?", {"toy"}),
    ("How many Christmas trees decorated the executive mansion during the first holiday "
     "season?", {"christma", "tree"}),
    ("How many nursing home residents and staff had died?", {"nurs", "home", "resid", "staff"}),
    ("How many in the December 2023 release?", set()),
    ("Of the doses, how many were slated for delivery?", set()),
    ("How much did it cost?", set()),
])
def test_counted_terms_are_what_a_how_many_question_counts(question, terms):
    assert counted_terms(question) == terms
