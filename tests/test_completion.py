"""Quotes completed by the sentence naming their answer in full (rag.query.completion)."""

from rag.ingest.sentences import passage_sentences
from rag.query.completion import introducing_sentence, naming_sentence, referred_sentences

BODY = ("The President spoke to Senator Susan Collins on Sunday. He thanked the group. "
        "Collins agreed to meet on Monday.\n\nThe Low Income Home Energy Assistance "
        "Program (LIHEAP) helps families. Today LIHEAP funds reached $8 billion.")


def _span(text: str) -> tuple[int, int]:
    start = BODY.index(text)
    return start, start + len(text)


def test_a_surname_is_completed_by_the_sentence_with_the_full_name():
    sentences = passage_sentences(BODY)
    quote = _span("Collins agreed to meet on Monday.")
    full = naming_sentence(BODY, quote[0], [_span("Collins agreed")[:1] + (quote[0] + 7,)],
                           sentences)
    assert BODY[full[0]:full[1]] == "The President spoke to Senator Susan Collins on Sunday."


def test_an_acronym_is_completed_by_its_expansion():
    sentences = passage_sentences(BODY)
    quote = _span("Today LIHEAP funds reached $8 billion.")
    acronym = _span("LIHEAP funds")
    full = naming_sentence(BODY, quote[0], [(acronym[0], acronym[0] + 6)], sentences)
    assert BODY[full[0]:full[1]].startswith("The Low Income Home Energy Assistance Program")


def test_nothing_earlier_names_it():
    sentences = passage_sentences(BODY)
    first = _span("The President spoke to Senator Susan Collins on Sunday.")
    assert naming_sentence(BODY, first[0], [_span("Susan Collins")], sentences) is None


def test_a_lone_capitalised_word_is_a_surname_only_when_a_person_is_asked_for():
    sentences = passage_sentences(BODY)
    quote = _span("Collins agreed to meet on Monday.")
    assert naming_sentence(BODY, quote[0], [(quote[0], quote[0] + 7)], sentences,
                           surnames=False) is None


LAW = ("On Tuesday, October 1, 2024, the President signed into law:\n\nH.R. 9106, the "
       "Enhanced Presidential Security Act of 2024. It applies at once.\n\nThe "
       "delegation: Secretary Jane Doe.")


def test_an_item_of_a_list_is_introduced_by_the_sentence_ending_in_a_colon():
    sentences = passage_sentences(LAW)
    item = LAW.index("H.R. 9106")
    intro = introducing_sentence(LAW, item, sentences)
    assert LAW[intro[0]:intro[1]] == "On Tuesday, October 1, 2024, the President signed into law:"


def test_only_the_sentence_right_before_introduces():
    sentences = passage_sentences(LAW)
    # "It applies at once." follows the item, not the colon sentence.
    assert introducing_sentence(LAW, LAW.index("It applies"), sentences) is None
    # A colon inside a sentence ("The delegation: Secretary Jane Doe.") introduces nothing
    # after it, and the first sentence has nothing before it.
    assert introducing_sentence(LAW, 0, sentences) is None


def test_a_surname_behind_a_title_is_completed_by_the_full_name():
    body = ("Senator Susan Collins signed the letter. The group asked for a meeting. "
            "The President phoned Senator Collins on Sunday.")
    sentences = passage_sentences(body)
    quote = body.index("The President phoned")
    short = body.index("Senator Collins on")
    full = naming_sentence(body, quote, [(short, short + len("Senator Collins"))], sentences)
    assert body[full[0]:full[1]] == "Senator Susan Collins signed the letter."


def test_the_same_title_and_surname_earlier_is_no_full_name():
    body = "We welcomed President Moon today. Later President Moon attended the ceremony."
    sentences = passage_sentences(body)
    quote = body.index("Later")
    short = body.index("President Moon attended")
    assert naming_sentence(body, quote, [(short, short + len("President Moon"))],
                           sentences) is None


STEPS = ("Our partnership has produced results. During my visit, we will open a Peace "
         "Corps office. We will sign a new lease for the Embassy. And we will launch a CDC "
         "office. All of these as symbols of our relationship.\n\nThese shipments will "
         "carry formula. These shipments will include 246 pallets. The flights land today.")


def _sentences_at(body: str, spans: list[tuple[int, int]]) -> list[str]:
    return [body[s:e] for s, e in spans]


def test_a_sentence_pointing_back_at_a_list_draws_on_the_three_before_it():
    found = referred_sentences(STEPS, STEPS.index("All of these"), passage_sentences(STEPS))
    assert _sentences_at(STEPS, found) == [
        "During my visit, we will open a Peace Corps office.",
        "We will sign a new lease for the Embassy.", "And we will launch a CDC office."]


def test_these_with_a_noun_points_back_at_one_sentence_of_its_own_paragraph():
    sentences = passage_sentences(STEPS)
    found = referred_sentences(STEPS, STEPS.index("These shipments will include"), sentences)
    assert _sentences_at(STEPS, found) == ["These shipments will carry formula."]
    # The first sentence of a paragraph draws on nothing across the blank line.
    assert referred_sentences(STEPS, STEPS.index("These shipments will carry"), sentences) == []
    assert referred_sentences(STEPS, STEPS.index("The flights"), sentences) == []
