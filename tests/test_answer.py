"""Extractive answers with citations (fake embedder)."""

import dataclasses
import json

import pytest

from rag.query.answer import NO_ANSWER
from rag.index.build import build_index
from rag.config import AnswerConfig
from rag import load_index



@pytest.fixture
def index(config, embedder):
    build_index(config, embedder, progress=False)
    # The fake embedder's similarities are low; the real threshold is calibrated
    # for the real model (see test_model.py).
    lenient = config.replace(answer=AnswerConfig(min_score=0.2))
    return load_index(config.index, lenient, embedder)


def test_answer_quotes_the_sentence_and_cites_it(index):
    answer = index.answer("Which countries received new battle groups?")
    assert not answer.abstained
    first = answer.quotes[0]
    assert "Slovakia, Romania, Bulgaria, and Hungary" in first.text
    assert first.release_id == "statements-releases/2022-03/nato.md"
    assert answer.text.startswith(first.text + f" [{first.source}]")
    source = answer.sources[first.source - 1]
    assert source.cited and source.hit.release_id == first.release_id
    assert source.link.startswith(source.hit.url + "#:~:text=Today%E2%80%99s%20establishment")
    for quote in answer.quotes:  # every quote is verbatim at its offsets
        assert index.release(quote.release_id).body[quote.start:quote.end] == quote.text
    assert 1 <= len(answer.quotes) <= index.answer_config.max_sentences


def test_answer_scores_sentences_with_stored_vectors(index, embedder):
    """Sentence vectors come from the index: without the second pass, answering embeds
    only the question; with it, only the ``rescore`` best sentences besides."""
    question = "Which countries received new battle groups?"
    index.answer_config = dataclasses.replace(index.answer_config, rescore=0)
    embedder.embedded.clear()
    assert not index.answer(question).abstained
    assert embedder.embedded and set(embedder.embedded) == {question}
    index.answer_config = dataclasses.replace(index.answer_config, rescore=2)
    embedder.embedded.clear()
    answer = index.answer(question)
    sentences = [t for t in embedder.embedded if t != question]
    assert len(sentences) == 2 and answer.quotes[0].text in sentences


def test_answer_embeds_the_question_once(index, embedder):
    # The search and the sentence scores share one query vector.
    question = "Which countries received new battle groups?"
    index.answer_config = dataclasses.replace(index.answer_config, rescore=0)
    embedder.embedded.clear()
    assert not index.answer(question).abstained
    assert embedder.embedded == [question]


def test_sentence_missing_from_the_index_is_embedded_at_query_time(index, embedder,
                                                                   monkeypatch):
    with_stored = index.answer("Which countries received new battle groups?")
    monkeypatch.setattr(type(index), "stored_sentence_vectors",
                        lambda self, rid, spans: [None] * len(spans))
    embedder.embedded.clear()
    fresh = index.answer("Which countries received new battle groups?")
    assert len(embedder.embedded) > 1  # the question and the candidate sentences
    assert fresh.quotes[0].text == with_stored.quotes[0].text


def test_weak_evidence_abstains_but_lists_nearest(config, embedder):
    build_index(config, embedder, progress=False)
    strict = config.replace(answer=AnswerConfig(min_score=0.99))
    index = load_index(config.index, strict, embedder)
    answer = index.answer("Which countries received new battle groups?")
    assert answer.abstained and answer.text == NO_ANSWER and answer.quotes == []
    assert answer.sources and not any(s.cited for s in answer.sources)
    assert answer.sources[0].link == answer.sources[0].hit.url


def test_abstention_names_the_date_window(index):
    answer = index.answer("What happened with battle groups in 2019?")
    assert answer.abstained and answer.sources == []
    assert answer.text == ("No release dated January 1, 2019 – December 31, 2019 "
                           "answers this question.")


def test_to_dict_shape(index):
    data = index.answer("How many barrels of oil per day in March 2022?").to_dict()
    assert set(data) == {"answer", "abstained", "date_window", "sentences", "sources"}
    assert data["date_window"] == {"since": "2022-03-01", "until": "2022-03-31",
                                   "text": "in March 2022",
                                   "description": "March 1, 2022 – March 31, 2022"}
    assert set(data["sentences"][0]) == {"text", "source", "release_id", "start", "end",
                                         "answer_spans", "completes"}
    assert set(data["sources"][0]) == {"rank", "score", "text", "start", "end", "release", "link"}
    json.dumps(data)


def test_cli_ask_json(fake_model, config, capsys, tmp_path):
    from rag import cli

    conf = tmp_path / "rag.yaml"
    conf.write_text(f"seeds: {config.seeds}\nindex: {config.index}\n"
                    "chunking:\n  max_tokens: 40\n  header_tokens: 16\n"
                    "answer:\n  min_score: 0.2\n")
    assert cli.main(["--config", str(conf), "index", "--quiet"]) == 0
    capsys.readouterr()
    assert cli.main(["--config", str(conf), "ask", "battle groups in Hungary", "--json",
                     "--mode", "bm25"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["abstained"] is False
    assert data["sentences"][0]["release_id"] == "statements-releases/2022-03/nato.md"
    assert cli.main(["--config", str(conf), "ask", "battle groups", "--since", "2022-03-30"]) == 0
    out = capsys.readouterr().out
    assert "(dates: since March 30, 2022)" in out


def test_the_answer_span_is_marked_inside_its_quote(index):
    answer = index.answer("Which countries received new battle groups?")
    first = answer.quotes[0]
    marked = [first.text[s - first.start:e - first.start] for s, e in first.spans]
    assert {"Slovakia", "Romania", "Bulgaria", "Hungary"} <= set(marked)
    body = index.release(first.release_id).body
    data = first.to_dict()["answer_spans"]
    assert all(body[d["start"]:d["end"]] == d["text"] for d in data)  # body offsets
    assert first.marked(lambda t: f"**{t}**").count("**") == 2 * len(first.spans)


def test_an_abstention_says_why_and_names_the_closest(config, embedder):
    build_index(config, embedder, progress=False)
    strict = config.replace(answer=AnswerConfig(min_score=0.99))
    index = load_index(config.index, strict, embedder)
    data = index.answer("Which countries received new battle groups?").to_dict()
    assert data["abstention"]["reason"] == "the evidence is too weak"
    assert data["abstention"]["closest"][0]["id"] == data["sources"][0]["release"]["id"]


def test_releases_on_the_subject_without_the_thing_asked_for(index):
    # The releases found discuss free tests, but no sentence of them gives a share.
    answer = index.answer("What percentage of households ordered free COVID tests?")
    assert answer.abstained and answer.sources
    assert answer.reason == "no sentence gives the share or rate asked for"
    assert answer.text.startswith("The releases found discuss this, but none of their "
                                  "sentences gives the share or rate asked for")


def test_a_two_part_question_quotes_a_sentence_for_each_part(index):
    answer = index.answer("How many barrels of oil per day will be released, "
                          "and how many days do free COVID tests take to ship?")
    texts = " ".join(q.text for q in answer.quotes)
    assert "one million barrels" in texts and "seven to twelve days" in texts


def test_each_part_of_a_question_is_also_searched_on_its_own(index):
    """With one passage read, the whole question's best passage holds one part's answer
    only; each part's own best passages join the sources and are read too."""
    from rag.query.answer import compose

    question = ("How many barrels of oil per day will be released, "
                "and how many days do free COVID tests take to ship?")
    index.answer_config = dataclasses.replace(index.answer_config, passages=1)
    plain = index.search(question, 5)
    alone = compose(index, question, plain.query, plain.hits, plain.window, plain.mode,
                    index.answer_config)
    assert "one million barrels" not in " ".join(q.text for q in alone.quotes)
    answer = index.answer(question)
    texts = " ".join(q.text for q in answer.quotes)
    assert "one million barrels" in texts and "seven to twelve days" in texts
    assert [s.hit.rank for s in answer.sources] == list(range(1, len(answer.sources) + 1))
    spans = [(s.hit.release_id, s.hit.start) for s in answer.sources]
    assert len(spans) == len(set(spans))  # no passage twice


def test_the_parts_of_a_question_share_the_sentences_embedded_on_their_own(index, embedder):
    embedder.embedded.clear()
    index.answer("How many barrels of oil per day will be released, "
                 "and how many days do free COVID tests take to ship?")
    sentences = embedder.embedded[1:]  # after the question itself
    assert sentences and len(sentences) == len(set(sentences))


def test_an_item_of_a_list_is_quoted_with_the_sentence_introducing_it(config, seeds,
                                                                      embedder):
    from conftest import write_release

    write_release(seeds, "legislation/2024-10/bill.md", "Bill Signed, H.R. 9106",
                  "2024-10-01", "On Tuesday, October 1, 2024, the President signed into "
                  "law:\n\nH.R. 9106, the Enhanced Presidential Security Act of 2024, which "
                  "requires the Secret Service to apply the same staffing standards to "
                  "candidates.\n", category="legislation")
    build_index(config, embedder, progress=False)
    lenient = config.replace(answer=AnswerConfig(min_score=0.2, max_sentences=1))
    index = load_index(config.index, lenient, embedder)
    answer = index.answer("On what date was the Enhanced Presidential Security Act signed "
                          "into law?", category="legislation")
    intro, item = answer.quotes[:2]
    assert intro.text == "On Tuesday, October 1, 2024, the President signed into law:"
    assert intro.completes and not item.completes
    assert item.text.startswith("H.R. 9106, the Enhanced Presidential Security Act")
    assert (intro.release_id, intro.end) == (item.release_id, item.start - 2)
    assert "October 1" in [intro.text[s - intro.start:e - intro.start]
                           for s, e in intro.spans]


def test_a_sentence_is_scored_with_the_lead_of_its_paragraph(config, seeds, embedder):
    """"(Amount: up to $925 million)" says nothing of which hub: its paragraph's first
    sentence does, and the question's terms it covers count for the amount too."""
    from conftest import write_release

    write_release(seeds, "statements-releases/2023-10/hubs.md", "Regional Hubs Selected",
                  "2023-10-13", "California Hub (California) will run on solar power. The "
                  "hub expects thousands of permanent jobs. (Hub funding: up to $1.2 billion)\n\n"
                  "Appalachian Hub (Ohio, Pennsylvania, West Virginia) will store carbon in "
                  "wells. The hub expects thousands of construction jobs. (Amount: up to $925 "
                  "million)\n")
    # One passage holds both hubs, so only the paragraphs' leads tell the amounts apart.
    one_passage = config.replace(chunking=dataclasses.replace(config.chunking, max_tokens=160))
    build_index(one_passage, embedder, progress=False)
    lenient = one_passage.replace(answer=AnswerConfig(min_score=0.2, max_sentences=1,
                                                      rescore=0))
    index = load_index(config.index, lenient, embedder)
    answer = index.answer("Up to how much funding went to the hub of Ohio, Pennsylvania "
                          "and West Virginia?")
    assert [q.text for q in answer.quotes] == ["(Amount: up to $925 million)"]


def test_a_sentence_pointing_back_is_quoted_after_what_it_points_at(config, seeds, embedder):
    from conftest import write_release

    write_release(seeds, "speeches-remarks/2021-08/hanoi.md", "Remarks in Hanoi",
                  "2021-08-24", "Our partnership has produced results. During my visit, we "
                  "will open a Peace Corps office. We will sign a new lease for the Embassy. "
                  "And we will launch a regional CDC office. All of these stand as symbols "
                  "of our enduring partnership with Vietnam.\n",
                  category="speeches-remarks")
    build_index(config, embedder, progress=False)
    lenient = config.replace(answer=AnswerConfig(min_score=0.2, max_sentences=1))
    index = load_index(config.index, lenient, embedder)
    answer = index.answer("What did the Vice President say stands as symbols of the "
                          "enduring partnership with Vietnam?", category="speeches-remarks")
    texts = [q.text for q in answer.quotes]
    assert texts[-1].startswith("All of these stand as symbols")
    assert texts[:-1] == ["During my visit, we will open a Peace Corps office.",
                          "We will sign a new lease for the Embassy.",
                          "And we will launch a regional CDC office."]
    assert all(q.completes for q in answer.quotes[:-1]) and not answer.quotes[-1].completes


def test_a_paragraph_lead_is_its_heading_line_and_first_sentence():
    from rag.query.answer import _paragraph_leads

    body = ("Clarence B. Jones\n\nHe helped draft the speech.\n\nFrank R. Lautenberg "
            "(posthumous)\n\nSenator Lautenberg served five terms. He is remembered for "
            "his work.\n\nA long paragraph that heads nothing, since it runs on for more "
            "than twelve words in all.\n\nThe end came.")
    leads = {body[s:s + 12]: (heading, body[s:end]) for s, heading, end in
             _paragraph_leads(body, body.index("He helped"), len(body))}
    assert leads["Senator Laut"] == ("Frank R. Lautenberg (posthumous)",
                                     "Senator Lautenberg served five terms.")
    assert leads["He helped dr"] == ("Clarence B. Jones", "He helped draft the speech.")
    assert leads["The end came"][0] == ""


def test_sentences_giving_only_answers_already_given_are_passed_over():
    from rag.query.answer import _Candidate, _telling

    question = "On which two days were the agencies closed?"
    texts = ["The agencies shall be closed on December 24, 2024.",
             "Some offices may stay open on December 24, 2024.",
             "The agencies shall be closed on January 9, 2025, to mourn.",
             "The order takes effect at once, as the law allows."]
    scored = [(1.0 - i / 10, _Candidate(1, "r", i * 100, i * 100 + len(t), t))
              for i, t in enumerate(texts)]
    assert [c.text for c in _telling(scored, "date", question, 2)] == [texts[0], texts[2]]
    # A question that asks for no kind of thing keeps them all in order.
    assert [c.text for c in _telling(scored, None, question, 2)] == texts[:2]
