"""The web page's HTML and Markdown (fake embedder): quotes and markers, highlighted
sources, the status line, everything from a release escaped."""

import dataclasses

import pytest

from rag import load_index
from rag.config import AnswerConfig
from rag.index.build import build_index
from rag.query.followup import Rewrite
from rag.web.render import (answer_markdown, answering_markdown, escape_markdown, sources_html,
                             status_markdown)


@pytest.fixture
def index(config, embedder):
    build_index(config, embedder, progress=False)
    return load_index(config.index, config.replace(answer=AnswerConfig(min_score=0.2)), embedder)


def test_escape_markdown_shows_text_literally():
    assert escape_markdown("<b>*x*</b> [y](z)") == r"&lt;b&gt;\*x\*&lt;/b&gt; \[y\]\(z\)"


def test_reply_quotes_each_sentence_with_its_marker(index):
    answer = index.answer("Which countries received new battle groups?")
    reply = answer_markdown(answer)
    first = answer.quotes[0]
    plain = reply.split("” \\[")[0].lstrip("“").replace("**", "")
    assert plain == escape_markdown(first.text)
    assert reply.startswith("“") and f"” \\[{first.source}\\]" in reply


def test_reply_names_the_date_window_it_used(index):
    answer = index.answer("Which countries received new battle groups in March 2022?")
    assert "*Dates: March 1, 2022 – March 31, 2022 (read from “in March 2022”)*" \
        in answer_markdown(answer)
    assert "Dates:" not in answer_markdown(answer, show_window=False)


def test_sources_panel_marks_the_quoted_sentence_and_dates_the_release(index):
    answer = index.answer("Which countries received new battle groups?")
    panel = sources_html(answer)
    assert answer.quotes[0].release_id == "statements-releases/2022-03/nato.md"
    assert "<mark>Today’s establishment of four new battle groups in <strong>Slovakia</strong>, " \
           "<strong>Romania</strong>" in panel
    assert "March 24, 2022 · statements-releases" in panel
    assert panel.count('class="source"') == len(answer.sources)


def test_an_abstention_opens_the_nearest_passages(index):
    answer = dataclasses.replace(index.answer("Which countries received new battle groups?"),
                                 abstained=True, quotes=[], text="No release answers.")
    assert '<details class="uncited" open>' in sources_html(answer)
    assert "nearest passages are listed under Sources" in answer_markdown(answer)


def test_status_line_names_the_index(index):
    line = status_markdown(index, "seeds changed")
    assert line.startswith("**Index:** 3 releases") and "fake/bag\\-of\\-words" in line
    assert line.endswith("⚠️ seeds changed")


def test_a_rewritten_follow_up_is_named_above_the_reply():
    turn = Rewrite("Which countries received new battle groups in 2024?", True, "date")
    assert answering_markdown(turn) == \
        "*Answering: Which countries received new battle groups in 2024?*\n\n"
    assert answering_markdown(Rewrite("What is <b>*this*</b>?", True, "x")) == \
        "*Answering: What is &lt;b&gt;\\*this\\*&lt;/b&gt;?*\n\n"
    assert answering_markdown(Rewrite("Who is the Secretary of State?", False, "standalone")) == ""


def test_the_things_asked_for_are_bold_in_the_reply(index):
    answer = index.answer("Which countries received new battle groups?")
    reply = answer_markdown(answer)
    assert "**Slovakia**, **Romania**, **Bulgaria**, and **Hungary**" in reply


def _generated(answer, *sentences):
    from rag.generate.types import Generated, GeneratedSentence, render_sentences

    checked = [GeneratedSentence(text, quotes, ok, why) for text, quotes, ok, why in sentences]
    kept = any(s.supported for s in checked)
    return dataclasses.replace(answer, generated=Generated(
        render_sentences(checked) if kept else "", checked, kept, "the note"))


def test_generated_reply_marks_each_sentence(index):
    from rag.web.render import generated_markdown

    answer = index.answer("Which countries received new battle groups?")
    source = answer.quotes[0].source
    reply = generated_markdown(_generated(
        answer, ("Four battle groups went east [Q1].", [1], True, "supported by Q1 (0.90)"),
        ("They cost <b>$9 billion</b> [Q1].", [1], False, "number $9 billion is not in Q1")))
    assert reply.startswith(f"✓ Four battle groups went east \\[{source}\\]\\.")
    assert (f"✗ ~~They cost &lt;b&gt;\\$9 billion&lt;/b&gt; \\[{source}\\]\\.~~ "
            f"*dropped: number \\$9 billion is not in \\[{source}\\]*") in reply
    assert reply.endswith("*Generated and checked: the note*")


def test_nothing_generated_shows_the_extracted_answer(index):
    from rag.web.render import draft_markdown, generated_markdown

    answer = index.answer("Which countries received new battle groups?")
    reply = generated_markdown(_generated(
        answer, ("Five battle groups [Q7].", [7], False, "cites Q7, which does not exist")))
    assert reply.startswith(answer_markdown(answer, show_window=False))
    assert "✗ ~~Five battle groups \\[Q7\\]\\.~~ *dropped: cites Q7, which does not exist*" \
        in reply and reply.endswith("*Not generated: the note*")
    assert draft_markdown("A <i>draft</i>") == (
        "*Draft from your language model — not checked yet:*\n\nA &lt;i&gt;draft&lt;/i&gt;")
