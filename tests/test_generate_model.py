"""rag.generate end to end through a real small language model, offline.

SmolLM2-135M-Instruct answers from a GGUF file (``make smollm2`` puts it in .cache/) via
the local chat-completions server of tests/local_llm.py; the real bundled embedding
model is the similarity. This checks the path and the guarantee (no shown sentence holds
a number or name its quotes lack), not the quality of a 135M model's answers. Skipped
when the GGUF file or transformers' GGUF reader (gguf, accelerate) is missing.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from generate_helpers import QUOTES
from local_llm import GGUF, MODEL_NAME
from rag.generate import Generated, LLMSettings, generate_answer, stream_answer
from rag.generate.check import plain
from rag.generate.prompt import long_date

pytestmark = [pytest.mark.model, pytest.mark.slow,
              pytest.mark.skipif(not GGUF.exists(), reason=f"no {GGUF} (run `make smollm2`)")]

QUESTION = "How much money will the Department of Energy provide to replace lead pipes?"


@pytest.fixture(scope="module")
def local_llm():
    pytest.importorskip("gguf")
    pytest.importorskip("accelerate")
    from local_llm import LocalChatModel, serve

    server = serve(LocalChatModel(GGUF))
    # The machine is small and shared: a short reply, and a generous bound on its time.
    yield LLMSettings(base_url=f"http://127.0.0.1:{server.server_address[1]}/v1",
                      model=MODEL_NAME, timeout=600, max_tokens=48)
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def similarity(real_model):
    def cosine(a: list[str], b: list[str]) -> np.ndarray:
        return real_model.embed(a) @ real_model.embed(b).T
    return cosine


def _holds_only_quoted_facts(result: Generated) -> None:
    """A brute-force reference for the guarantee, independent of rag.generate.facts:
    every figure and every capitalised word after the first of a shown sentence occurs
    in the quotes it cites (with their titles and dates)."""
    by_number = {q.number: q for q in QUOTES}
    for sentence in (s for s in result.sentences if s.supported):
        cited = " ".join(f"{by_number[n].text} {by_number[n].title} {long_date(by_number[n].date)}"
                         for n in sentence.quotes)
        haystack = cited.lower().replace(",", "").replace(".", "")
        text = plain(sentence.text)
        for figure in re.findall(r"\d[\d,]*(?:\.\d+)?", text):
            assert figure.replace(",", "").replace(".", "") in haystack, (figure, sentence)
        for word in re.findall(r"[A-Za-z][\w.'’-]*", text)[1:]:
            if word[0].isupper():
                bare = re.sub(r"['’]s$", "", word.rstrip(".")).lower().replace(".", "")
                assert bare in haystack, (word, sentence)


def test_small_model_answers_through_the_checker(local_llm, similarity):
    result = generate_answer(QUESTION, QUOTES, local_llm, similarity)
    assert isinstance(result, Generated) and result.note
    assert result.generated == any(s.supported for s in result.sentences)
    _holds_only_quoted_facts(result)


def test_small_model_streams_through_the_checker(local_llm, similarity):
    events = list(stream_answer(QUESTION, QUOTES, local_llm, similarity))
    result = events[-1]
    assert isinstance(result, Generated) and all(isinstance(e, str) for e in events[:-1])
    assert len(events) > 2  # the local server streams token by token
    _holds_only_quoted_facts(result)
