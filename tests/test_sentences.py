from rag.ingest.sentences import paragraph_spans, sentence_spans


def sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text)]


def test_sentences_split_at_terminal_punctuation():
    assert sentences("One. Two! Three? “Four.” Five") == ["One.", "Two!", "Three?", "“Four.”", "Five"]


def test_abbreviations_and_initials_do_not_end_sentences():
    text = ("Mr. Smith met Dr. Jones in Washington, D.C. on Feb. 3. The U.S. and John F. "
            "Kennedy Jr. agreed at 10 a.m. Monday. Next.")
    assert sentences(text) == [
        "Mr. Smith met Dr. Jones in Washington, D.C. on Feb. 3.",
        "The U.S. and John F. Kennedy Jr. agreed at 10 a.m. Monday.",
        "Next.",
    ]


def test_initialisms_of_several_letters_do_not_end_sentences():
    assert sentences("The President signed H.R. 9106, the Act. S.J. 38 failed. Done.") == [
        "The President signed H.R. 9106, the Act.", "S.J. 38 failed.", "Done."]


def test_lowercase_after_period_is_not_a_boundary():
    assert sentences("It costs approx. five dollars. Done.") == [
        "It costs approx. five dollars.", "Done."]


def test_spans_are_offsets_into_the_text():
    text = "Intro.\n\nFirst here.  Second here.\n\nLast"
    paras = paragraph_spans(text)
    assert [text[s:e] for s, e in paras] == ["Intro.", "First here.  Second here.", "Last"]
    s, e = paras[1]
    assert [text[a:b] for a, b in sentence_spans(text, s, e)] == ["First here.", "Second here."]
