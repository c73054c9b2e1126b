from urllib.parse import unquote

from rag.query.links import text_fragment_link

URL = "https://www.whitehouse.gov/briefing-room/statements-releases/2022/03/24/x/"


def test_short_sentence_is_encoded_whole():
    link = text_fragment_link(URL, "Prices rose 7.9% - a 40-year high, & more.")
    assert link == URL + "#:~:text=Prices%20rose%207.9%25%20%2D%20a%2040%2Dyear%20high%2C%20%26%20more."


def test_long_sentence_uses_start_and_end():
    sentence = ("Today’s establishment of four new battle groups in Slovakia, Romania, Bulgaria, "
                "and Hungary is a strong signal that we will collectively defend and protect "
                "every inch of NATO territory.")
    link = text_fragment_link(URL, sentence)
    directive = link.split("#:~:text=", 1)[1]
    start, end = directive.split(",")
    assert unquote(start) == "Today’s establishment of four new"
    assert unquote(end) == "every inch of NATO territory."
    assert "-" not in directive and "&" not in directive


def test_existing_fragment_is_replaced_and_no_url_gives_no_link():
    assert text_fragment_link(URL + "#top", "A b c d.") == URL + "#:~:text=A%20b%20c%20d."
    assert text_fragment_link("", "A b c d.") == ""
