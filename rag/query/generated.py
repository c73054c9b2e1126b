"""Generated answers on top of extractive ones: the user's language model rewrites the
quoted sentences, and rag.generate keeps only the sentences those quotes support.

The quotes of an extractive answer, in order, are the model's Q1..Qn; the similarity
the checker needs is the cosine of the index's own embedder (unit vectors). Nothing
here reads settings or the environment: the ``llm`` settings and the API key come from
the config (``load_config`` read them once) through the index. This module knows an
answer only by its ``quotes``, ``sources`` and ``abstained`` (rag.query.answer imports
it, so it cannot import that module back).
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Iterator

import numpy as np

from ..errors import ConfigError
from ..generate import Generated, LLMSettings, QuoteInput, Similarity, read_api_key
from ..generate import generate_answer, stream_answer
from ..generate.types import CITATION_RE, cited_numbers, failed
from .retrieve import Retriever

ABSTAINED_NOTE = "the extracted answer found no release that answers, so no model was asked"
_REPEATED_MARKER_RE = re.compile(r"(\[\d+\])(?:\s*\1)+")
_QUOTE_NAME_RE = re.compile(r"\bQ(\d+)\b")


def ready_key(settings: LLMSettings, api_key: str | None) -> str | None:
    """The API key to send, once the settings allow generating at all.

    Args:
        settings: The ``llm`` settings.
        api_key: What the config found in the variable ``llm.api_key_env`` names.

    Returns:
        The key, or None when ``llm.api_key_env`` is empty (a local server).

    Raises:
        ConfigError: no model is configured, or the key's variable is not set.
    """
    settings.validate()
    if not settings.enabled:
        raise ConfigError("generating an answer needs a language model: set llm.base_url "
                          "(e.g. http://127.0.0.1:8080/v1) and llm.model in rag.yaml")
    environ = {settings.api_key_env: api_key or ""} if settings.api_key_env else {}
    return read_api_key(settings, environ)


def quote_inputs(index: Retriever, answer: Any) -> list[QuoteInput]:
    """The answer's quotes as the model's numbered quotes: Q1 is ``answer.quotes[0]``."""
    out = []
    for number, quote in enumerate(answer.quotes, 1):
        hit = answer.sources[quote.source - 1].hit
        out.append(QuoteInput(number, quote.text, quote.release_id, hit.title,
                              hit.date.isoformat()))
    return out


def similarity_of(index: Retriever) -> Similarity:
    """The cosine matrix of two lists of texts under the index's embedder."""
    def similarity(a: list[str], b: list[str]) -> np.ndarray:
        vectors = index.embed([*a, *b])  # one model call; rows are unit vectors
        return vectors[:len(a)] @ vectors[len(a):].T
    return similarity


def with_generated(index: Retriever, answer: Any, settings: LLMSettings,
                   api_key: str | None) -> Any:
    """The answer with ``generated`` set: the model's checked reply, or why there is none.

    An answer that abstained is returned without a model call.

    Raises:
        ConfigError: no model is configured, or its key is missing.
    """
    key = ready_key(settings, api_key)
    if answer.abstained:
        return dataclasses.replace(answer, generated=failed(ABSTAINED_NOTE))
    result = generate_answer(answer.question, quote_inputs(index, answer), settings,
                             similarity_of(index), api_key=key)
    return dataclasses.replace(answer, generated=result)


def stream_generated(index: Retriever, answer: Any, settings: LLMSettings,
                     api_key: str | None) -> Iterator[str | Any]:
    """:func:`with_generated` for a live display: the unchecked draft in pieces (``str``),
    then the answer with ``generated`` set, which replaces the draft.

    Raises:
        ConfigError: as :func:`with_generated`, before anything is yielded.
    """
    key = ready_key(settings, api_key)
    if answer.abstained:
        yield dataclasses.replace(answer, generated=failed(ABSTAINED_NOTE))
        return
    for item in stream_answer(answer.question, quote_inputs(index, answer), settings,
                              similarity_of(index), api_key=key):
        if isinstance(item, Generated):
            yield dataclasses.replace(answer, generated=item)
        else:
            yield item


def source_of(answer: Any, number: int) -> int:
    """The source number ([n] in the answer) of quote Q<number>."""
    return answer.quotes[number - 1].source


def cite_sources(answer: Any, text: str) -> str:
    """A sentence or reason with each existing quote Q<k> named by its source's [n];
    a quote that does not exist keeps its Q<k>."""
    def marker(match: re.Match[str]) -> str:
        numbers = cited_numbers(match.group(0))
        if not all(1 <= n <= len(answer.quotes) for n in numbers):
            return match.group(0)
        return "".join(dict.fromkeys(f"[{source_of(answer, n)}]" for n in numbers))
    text = CITATION_RE.sub(marker, text)
    return _QUOTE_NAME_RE.sub(lambda m: f"[{source_of(answer, int(m.group(1)))}]"
                              if 1 <= int(m.group(1)) <= len(answer.quotes) else m.group(0),
                              text)


def shown_text(answer: Any, generated: Generated) -> str:
    """The checked generated text with each [Qk] cited as its source's [n]."""
    text = generated.render(lambda n: f"[{source_of(answer, n)}]")
    return _REPEATED_MARKER_RE.sub(r"\1", text)  # [Q1][Q2] of one source: [1] once


def generated_json(answer: Any, generated: Generated) -> dict[str, Any]:
    """The keys a generated answer adds to (or changes in) ``Answer.to_dict()``."""
    sentences = []
    for sentence in generated.sentences:
        sources = sorted({source_of(answer, n) for n in sentence.quotes
                          if 1 <= n <= len(answer.quotes)})
        sentences.append({**sentence.to_dict(), "sources": sources})
    data: dict[str, Any] = {"generated": generated.generated, "generated_sentences": sentences,
                            "note": generated.note}
    if generated.generated:
        data["answer"] = shown_text(answer, generated)
    return data
