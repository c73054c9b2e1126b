"""rag.generate end to end against a scripted chat-completions server on 127.0.0.1."""

from __future__ import annotations

import json
import socket
from dataclasses import replace

import pytest

from generate_helpers import QUOTES, ScriptedServer, bag_of_words, scripted_server
from rag.errors import ConfigError
from rag.generate import (NO_ANSWER_REPLY, Generated, LLMSettings, generate_answer,
                          read_api_key, stream_answer)
from rag.generate.client import endpoint

QUESTION = "How much money will go to replacing lead pipes?"
FAITHFUL = ("The Department of Energy will provide $3 billion to 12 states to replace lead "
            "pipes [Q1]. The funding is expected to create 40,000 jobs over five years [Q2].")


@pytest.fixture
def llm():
    with scripted_server() as script:
        yield script


def settings_for(script: ScriptedServer, **changes) -> LLMSettings:
    return replace(LLMSettings(base_url=script.url, model="test-model", timeout=5.0,
                               max_tokens=200), **changes)


def ask(script: ScriptedServer, **kwargs) -> Generated:
    settings = kwargs.pop("settings", None) or settings_for(script)
    return generate_answer(QUESTION, QUOTES, settings, bag_of_words, **kwargs)


def test_faithful_reply_is_shown_whole(llm):
    llm.reply(FAITHFUL)
    result = ask(llm)
    assert result.generated
    assert result.shown_text == FAITHFUL
    assert [s.quotes for s in result.sentences] == [[1], [2]]
    assert all(s.supported for s in result.sentences)
    assert result.sentences[0].why.startswith("supported by Q1 (")
    assert result.note == "2 generated sentences, each checked against the quotes it cites"


def test_invented_figure_is_dropped(llm):
    llm.reply("The Department of Energy will provide $3 billion to 12 states to replace lead "
              "pipes [Q1]. The funding is expected to create 50,000 jobs over five years [Q2].")
    result = ask(llm)
    assert result.generated
    assert [s.supported for s in result.sentences] == [True, False]
    assert result.sentences[1].why == "number 50,000 is not in Q2"
    assert "50,000" not in result.shown_text and "$3 billion" in result.shown_text
    assert result.note == ("1 of 2 generated sentences was dropped: not supported by their "
                           "quotes")


def test_invented_name_and_date_are_dropped(llm):
    llm.reply("Secretary Pete Buttigieg announced that the Department of Energy will provide "
              "$3 billion [Q1]. The Department of Energy will provide $3 billion to 12 states "
              "on May 5, 2022 [Q1].")
    result = ask(llm)
    assert [s.why for s in result.sentences] == ["name Pete Buttigieg is not in Q1",
                                                 "date May 5 is not in Q1"]
    assert not result.generated and result.shown_text == ""
    assert result.note == ("all 2 generated sentences were dropped as not supported by their "
                           "quotes; showing the extracted answer")


def test_citation_to_a_missing_quote_is_dropped(llm):
    llm.reply("The funding is expected to create 40,000 jobs over five years [Q2][Q7]. "
              "The Department of Energy will provide $3 billion [Q1].")
    result = ask(llm)
    assert result.sentences[0].why == "cites Q7, which does not exist"
    assert result.shown_text == "The Department of Energy will provide $3 billion [Q1]."


def test_sentence_without_citation_is_dropped(llm):
    llm.reply("Lead pipes are being replaced. The funding is expected to create 40,000 jobs "
              "over five years [Q2].")
    result = ask(llm)
    assert result.sentences[0].why == "no citation" and not result.sentences[0].supported
    assert result.shown_text == "The funding is expected to create 40,000 jobs over five years [Q2]."


def test_sentence_far_from_its_quote_is_dropped(llm):
    llm.reply("Officials praised the weather in the capital [Q2]. "
              "The funding is expected to create 40,000 jobs over five years [Q2].")
    result = ask(llm)
    why = result.sentences[0].why
    assert why.startswith("too far from Q2 (") and why.endswith(" < 0.45)")


def test_caller_sets_the_similarity_threshold(llm):
    llm.reply("The funding will create 40,000 jobs [Q2].")
    assert ask(llm).generated
    strict = ask(llm, min_similarity=0.99)
    assert not strict.generated and "< 0.99)" in strict.sentences[0].why


def test_citations_can_be_mapped_to_the_callers_markers(llm):
    llm.reply("The funding is expected to create 40,000 jobs over five years [Q2, Q1].")
    result = ask(llm)
    assert result.sentences[0].quotes == [2, 1]
    assert result.render(lambda n: f"[{n + 10}]") == (
        "The funding is expected to create 40,000 jobs over five years [12][11].")


def test_request_carries_model_quotes_and_limits(llm):
    llm.reply(FAITHFUL)
    ask(llm)
    (request,) = llm.received
    assert request.path == "/v1/chat/completions"
    assert request.body["model"] == "test-model" and request.body["max_tokens"] == 200
    assert request.body["stream"] is False
    prompt = "\n".join(m["content"] for m in request.body["messages"])
    for quote in QUOTES:
        assert f"Q{quote.number} (from \"{quote.title}\"" in prompt and quote.text in prompt
    assert "Thursday, March 24, 2022" in prompt and NO_ANSWER_REPLY in prompt
    assert "authorization" not in {k.lower() for k in request.headers}


def test_api_key_is_sent_only_when_given(llm):
    llm.reply(FAITHFUL)
    ask(llm, api_key="sk-test")
    headers = {k.lower(): v for k, v in llm.received[0].headers.items()}
    assert headers["authorization"] == "Bearer sk-test"


def test_off_by_default_makes_no_call():
    def never(a, b):
        raise AssertionError("similarity should not be needed")
    result = generate_answer(QUESTION, QUOTES, LLMSettings(), never)
    assert not result.generated
    assert result.note.startswith("no language model is configured")


@pytest.mark.parametrize("body, note", [
    ("this is not json{", "the language model server sent a reply that is not valid JSON"),
    (json.dumps({"choices": []}), "the language model reply has no choices"),
    (json.dumps({"object": "error"}), "the language model reply has no choices"),
    (json.dumps({"choices": [{"message": {"role": "assistant", "content": "  "}}]}),
     "the language model returned an empty answer"),
    (json.dumps({"choices": [{"message": {"role": "assistant", "content": None}}]}),
     "the language model returned an empty answer"),
    (json.dumps(["a", "list"]), "the language model server sent JSON that is not a reply"),
])
def test_malformed_replies_give_a_note(llm, body, note):
    llm.raw(body)
    result = ask(llm)
    assert not result.generated and result.shown_text == "" and result.sentences == []
    assert result.note == f"{note}; showing the extracted answer"


def test_reply_that_the_quotes_do_not_answer(llm):
    llm.reply(NO_ANSWER_REPLY)
    result = ask(llm)
    assert not result.generated and result.sentences == []
    assert result.note == ("the language model says the quotes do not answer the question; "
                           "showing the extracted answer")


def test_timeout_gives_a_note(llm):
    llm.raw(json.dumps({"choices": []}), sleep=0.6)
    result = ask(llm, settings=settings_for(llm, timeout=0.2))
    assert not result.generated
    assert result.note == "the language model timed out after 0.2 s; showing the extracted answer"


def test_http_500_gives_a_note(llm):
    llm.raw(json.dumps({"error": {"message": "model crashed"}}), status=500)
    result = ask(llm)
    assert not result.generated
    assert result.note == ("the language model server answered HTTP 500: model crashed; "
                           "showing the extracted answer")


def test_connection_refused_gives_a_note():
    with socket.socket() as probe:  # a port with nothing listening on it
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = LLMSettings(base_url=f"http://127.0.0.1:{port}/v1", model="m", timeout=2)
    result = generate_answer(QUESTION, QUOTES, settings, bag_of_words)
    assert not result.generated
    assert result.note == (f"cannot reach the language model at http://127.0.0.1:{port}/v1 "
                           "(connection refused); showing the extracted answer")


def test_streaming_yields_the_draft_then_the_checked_answer(llm):
    pieces = ["The funding is expected", " to create 40,000 jobs", " over five years [Q2]. ",
              "It will create 90,000 more [Q2]."]
    llm.stream(pieces)
    events = list(stream_answer(QUESTION, QUOTES, settings_for(llm), bag_of_words))
    assert events[:-1] == pieces
    result = events[-1]
    assert isinstance(result, Generated) and result.generated
    assert result.shown_text == "The funding is expected to create 40,000 jobs over five years [Q2]."
    assert result.sentences[1].why == "number 90,000 is not in Q2"
    assert llm.received[0].body["stream"] is True


def test_streaming_falls_back_when_the_server_sends_one_body(llm):
    llm.reply(FAITHFUL)  # a plain JSON reply to a streaming request
    events = list(stream_answer(QUESTION, QUOTES, settings_for(llm), bag_of_words))
    assert events[0] == FAITHFUL and events[-1].shown_text == FAITHFUL


def test_streaming_retries_without_stream_when_refused(llm):
    llm.raw(json.dumps({"error": {"message": "stream not supported"}}), status=400)
    llm.reply(FAITHFUL)
    events = list(stream_answer(QUESTION, QUOTES, settings_for(llm), bag_of_words))
    assert events[-1].generated and events[-1].shown_text == FAITHFUL
    assert [r.body["stream"] for r in llm.received] == [True, False]


def test_streaming_failure_mid_way_gives_a_note(llm):
    llm.stream(["The funding"], extra=["{not json"])
    events = list(stream_answer(QUESTION, QUOTES, settings_for(llm), bag_of_words))
    assert events[0] == "The funding"
    assert not events[-1].generated
    assert events[-1].note == ("the language model server sent a stream event that is not "
                               "valid JSON; showing the extracted answer")


def test_streaming_timeout_and_500_give_notes(llm):
    llm.raw("{}", status=500)
    (result,) = stream_answer(QUESTION, QUOTES, settings_for(llm), bag_of_words)
    assert result.note == "the language model server answered HTTP 500; showing the extracted answer"
    llm.steps[:] = []
    llm.raw("{}", sleep=0.6)
    (result,) = stream_answer(QUESTION, QUOTES, settings_for(llm, timeout=0.2), bag_of_words)
    assert result.note == "the language model timed out after 0.2 s; showing the extracted answer"


def test_streaming_empty_stream(llm):
    llm.stream([])
    (result,) = stream_answer(QUESTION, QUOTES, settings_for(llm), bag_of_words)
    assert result.note == "the language model returned an empty answer; showing the extracted answer"


def test_to_dict_shape(llm):
    llm.reply("The funding is expected to create 40,000 jobs over five years [Q2]. No cite.")
    data = ask(llm).to_dict()
    assert set(data) == {"generated", "generated_sentences", "note"}
    assert data["generated"] is True
    assert data["generated_sentences"] == [
        {"text": "The funding is expected to create 40,000 jobs over five years [Q2].",
         "quotes": [2], "supported": True, "why": data["generated_sentences"][0]["why"]},
        {"text": "No cite.", "quotes": [], "supported": False, "why": "no citation"}]
    json.dumps(data)


@pytest.mark.parametrize("changes, message", [
    ({"base_url": "ftp://host/v1"}, r"llm.base_url = 'ftp://host/v1' must start with http:// "
                                    r"or https://"),
    ({"base_url": "http://"}, r"llm.base_url = 'http://' must start with http:// or https:// "
                              r"and name a host"),
    ({"model": ""}, r"llm.model = '' must be set when llm.base_url is"),
    ({"base_url": ""}, r"llm.base_url = '' must be set when llm.model is"),
    ({"api_key_env": "sk-abc123"}, r"llm.api_key_env = 'sk-abc123' must be the name of an "
                                   r"environment variable"),
    ({"timeout": 0.05}, r"llm.timeout = 0.05 must be a number of seconds between 0.1 and 600"),
    ({"timeout": 601}, r"llm.timeout = 601 must be a number of seconds between 0.1 and 600"),
    ({"timeout": "10"}, r"llm.timeout = '10' must be a number of seconds"),
    ({"max_tokens": 15}, r"llm.max_tokens = 15 must be a whole number between 16 and 8192"),
    ({"max_tokens": 8193}, r"llm.max_tokens = 8193 must be a whole number between 16 and 8192"),
    ({"max_tokens": 100.5}, r"llm.max_tokens = 100.5 must be a whole number"),
    ({"model": 3}, r"llm.model = 3 must be text"),
])
def test_bad_settings_are_refused(changes, message):
    settings = replace(LLMSettings(base_url="http://127.0.0.1:1/v1", model="m"), **changes)
    with pytest.raises(ConfigError, match=message):
        settings.validate()
    with pytest.raises(ConfigError, match=message):
        generate_answer(QUESTION, QUOTES, settings, bag_of_words)


def test_default_settings_are_valid_and_off():
    LLMSettings().validate()
    assert not LLMSettings().enabled
    assert LLMSettings(base_url="https://api.example.com/v1", model="m").enabled


def test_api_key_is_read_from_the_named_variable():
    settings = LLMSettings(base_url="http://127.0.0.1:1/v1", model="m", api_key_env="MY_KEY")
    assert read_api_key(settings, {"MY_KEY": " sk-1 \n"}) == "sk-1"
    assert read_api_key(replace(settings, api_key_env=""), {}) is None
    with pytest.raises(ConfigError, match="llm.api_key_env = 'MY_KEY' names an environment "
                                          "variable that is not set"):
        read_api_key(settings, {})
    with pytest.raises(ConfigError, match="llm.api_key_env = 'MY_KEY' names a variable whose "
                                          "value holds spaces or control characters"):
        read_api_key(settings, {"MY_KEY": "sk-1 sk-2"})


def test_bad_caller_arguments_are_refused():
    settings = LLMSettings()
    with pytest.raises(ValueError, match=r"min_similarity = 1.5 must be between 0 and 1"):
        generate_answer(QUESTION, QUOTES, settings, bag_of_words, min_similarity=1.5)
    with pytest.raises(ValueError, match=r"quote numbers \[1, 1\] must be distinct"):
        generate_answer(QUESTION, [QUOTES[0], QUOTES[0]], settings, bag_of_words)


def test_api_key_never_shows_in_a_note(llm):
    llm.reply(FAITHFUL)
    result = ask(llm, api_key="sk-se cret\n")
    assert not result.generated and "se cret" not in result.note
    assert result.note == ("the API key holds spaces or control characters; "
                           "showing the extracted answer")
    assert llm.received == []


def test_streaming_error_event_gives_a_note(llm):
    llm.stream(["The funding"], extra=[json.dumps({"error": {"message": "out of memory"}})])
    events = list(stream_answer(QUESTION, QUOTES, settings_for(llm), bag_of_words))
    assert events[-1].note == ("the language model server reported an error: out of memory; "
                               "showing the extracted answer")


def test_loopback_server_is_reached_past_an_environment_proxy(llm, monkeypatch):
    # Nothing listens on port 9 of 127.0.0.2: a request sent to this proxy would fail.
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.2:9")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    llm.reply(FAITHFUL)
    assert ask(llm).generated


@pytest.mark.parametrize("base_url, url", [
    ("http://127.0.0.1:8080/v1", "http://127.0.0.1:8080/v1/chat/completions"),
    ("http://127.0.0.1:8080/v1/", "http://127.0.0.1:8080/v1/chat/completions"),
    ("https://host/v1/chat/completions", "https://host/v1/chat/completions"),
])
def test_endpoint(base_url, url):
    assert endpoint(LLMSettings(base_url=base_url, model="m")) == url


def test_a_stream_that_trickles_past_the_timeout_is_cut(llm):
    # Each piece comes well within the timeout; all of them together do not.
    llm.stream(["The", " funding", " is", " expected", " to", " create"], pause=0.08)
    events = list(stream_answer(QUESTION, QUOTES, settings_for(llm, timeout=0.2), bag_of_words))
    assert 1 <= len(events) - 1 < 6
    assert events[-1].note == "the language model timed out after 0.2 s; showing the extracted answer"
