"""Generated answers wired to extractive ones (rag.query.generated), end to end: a real
index over the fake embedder, the scripted chat-completions server on 127.0.0.1."""

from __future__ import annotations

import json

import pytest

from generate_helpers import ScriptedServer, scripted_server
from rag import load_index
from rag.config import AnswerConfig, LLMSettings
from rag.errors import ConfigError
from rag.index.build import build_index
from rag.query.generated import ABSTAINED_NOTE

QUESTION = "Which countries received new battle groups?"


@pytest.fixture
def llm():
    with scripted_server() as script:
        yield script


@pytest.fixture
def built(config, embedder):
    build_index(config, embedder, progress=False)
    return config


def _index(config, embedder, llm: ScriptedServer | None, **llm_changes):
    settings = LLMSettings(base_url=llm.url, model="test-model", timeout=5.0,
                           **llm_changes) if llm else LLMSettings()
    # Lenient: the fake embedder's similarities are low (as tests/test_answer.py).
    lenient = config.replace(answer=AnswerConfig(min_score=0.2), llm=settings)
    return load_index(config.index, lenient, embedder)


def test_faithful_reply_is_shown_with_source_markers(built, embedder, llm):
    index = _index(built, embedder, llm)
    extracted = index.answer(QUESTION)
    quote = extracted.quotes[0]
    llm.reply(f"{quote.text} [Q1]")
    answer = index.answer(QUESTION, generate=True)
    assert answer.text == extracted.text  # the extracted answer is kept as it was
    generated = answer.generated
    assert generated.generated and [s.supported for s in generated.sentences] == [True]
    data = answer.to_dict()
    assert data["generated"] is True and data["answer"] == f"{quote.text} [{quote.source}]"
    assert data["generated_sentences"] == [{
        "text": f"{quote.text} [Q1]", "quotes": [1], "supported": True,
        "why": generated.sentences[0].why, "sources": [quote.source]}]
    assert data["note"] == "1 generated sentence, each checked against the quotes it cites"
    # The model saw the quote verbatim, numbered, with its release's title and date.
    prompt = llm.received[0].body["messages"][1]["content"]
    assert f'Q1 (from "NATO summit statement", Thursday, March 24, 2022):\n"{quote.text}"' \
        in prompt
    json.dumps(data)


def test_an_invented_figure_is_dropped_and_never_shown(built, embedder, llm):
    index = _index(built, embedder, llm)
    quote = index.answer(QUESTION).quotes[0]
    assert "four new battle groups" in quote.text
    invented = quote.text.replace("four new battle groups", "five new battle groups")
    llm.reply(f"{quote.text} [Q1] {invented} [Q1]")
    data = index.answer(QUESTION, generate=True).to_dict()
    assert [s["supported"] for s in data["generated_sentences"]] == [True, False]
    assert data["generated_sentences"][1]["why"] == "number five is not in Q1"
    assert "five" not in data["answer"] and data["generated"] is True
    # Only invented sentences: nothing generated is shown, the extracted answer is.
    llm.reply(f"{invented} [Q1]")
    data = index.answer(QUESTION, generate=True).to_dict()
    assert data["generated"] is False and data["answer"].startswith(quote.text)
    assert data["note"].endswith("showing the extracted answer")


def test_abstained_answer_asks_no_model(built, embedder, llm):
    index = _index(built, embedder, llm)
    answer = index.answer("What happened with battle groups in 2019?", generate=True)
    assert answer.abstained and llm.received == []
    assert answer.to_dict()["generated"] is False
    assert answer.generated.note == ABSTAINED_NOTE


def test_no_generated_keys_unless_asked(built, embedder, llm):
    data = _index(built, embedder, llm).answer(QUESTION, collect=False).to_dict()
    assert set(data) == {"answer", "abstained", "date_window", "sentences", "sources"}
    assert llm.received == []


def test_generate_without_a_model_names_the_settings(built, embedder):
    index = _index(built, embedder, None)
    with pytest.raises(ConfigError, match=r"set llm.base_url .* and llm.model in rag.yaml"):
        index.answer(QUESTION, generate=True)
    with pytest.raises(ConfigError, match="llm.base_url"):
        next(index.stream_answer(QUESTION))


def test_a_missing_key_is_named_and_nothing_is_sent(built, embedder, llm):
    index = _index(built, embedder, llm, api_key_env="RAG_TEST_LLM_KEY")
    with pytest.raises(ConfigError, match="llm.api_key_env = 'RAG_TEST_LLM_KEY' names an "
                                          "environment variable that is not set"):
        index.answer(QUESTION, generate=True)
    assert llm.received == []
    index.llm_api_key = "sk-test"  # what load_config reads from the variable
    llm.reply("Nothing to see [Q1].")
    index.answer(QUESTION, generate=True)
    assert llm.received[0].headers["Authorization"] == "Bearer sk-test"


def test_stream_gives_the_extracted_answer_the_draft_then_the_checked_one(built, embedder,
                                                                          llm):
    index = _index(built, embedder, llm)
    quote = index.answer(QUESTION).quotes[0]
    llm.stream([quote.text[:20], quote.text[20:], " [Q1]"])
    items = list(index.stream_answer(QUESTION))
    first, *pieces, last = items
    assert first.generated is None and first.quotes == last.quotes
    assert "".join(pieces) == f"{quote.text} [Q1]"
    assert last.generated.generated and last.generated.sentences[0].supported


def test_rag_answer_takes_generate(built, embedder, llm, monkeypatch):
    import rag

    index = _index(built, embedder, llm)
    monkeypatch.setattr(rag, "default_index", lambda config=None: index)
    quote = index.answer(QUESTION).quotes[0]
    llm.reply(f"{quote.text} [Q1]")
    assert rag.answer(QUESTION, generate=True).generated.generated
