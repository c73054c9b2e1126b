"""Quotes completed by the sentence naming their answer in full (rag.query.completion)."""

from rag.ingest.sentences import passage_sentences
from rag.query.completion import introducing_sentence, naming_sentence

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
