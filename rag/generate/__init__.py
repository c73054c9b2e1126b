"""Optional generated answers: the user's own language model answers from the quotes,
and every sentence of its reply is checked against the quotes it cites before it is shown.

This sub-package needs only :mod:`rag.errors` and plain data. The caller gives it the
numbered quotes of its extracted answer, the ``llm`` settings, the API key (read at the
edge) and a similarity function (the embedding model's cosine matrix)::

    result = generate_answer(question, quotes, settings, similarity, api_key=key)
    if result.generated:
        show(result.shown_text)      # or result.render(lambda n: f"[{source_of[n]}]")
    show_note(result.note)

A model that fails, times out or declines gives ``generated=False`` and a note, never
an exception; only bad settings raise (ConfigError).
"""

from __future__ import annotations

from typing import Iterator, Sequence

from .check import DEFAULT_MIN_SIMILARITY, Similarity, check_sentences, split_sentences
from .client import ModelCallError, chat_completion, stream_chat_completion
from .prompt import NO_ANSWER_REPLY, build_messages, is_decline
from .settings import LLMSettings, read_api_key
from .types import Generated, GeneratedSentence, QuoteInput, failed, render_sentences

__all__ = [
    "DEFAULT_MIN_SIMILARITY", "Generated", "GeneratedSentence", "LLMSettings", "NO_ANSWER_REPLY",
    "QuoteInput", "Similarity", "check_reply", "generate_answer", "read_api_key",
    "stream_answer",
]

FALLBACK = "showing the extracted answer"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def check_reply(reply: str, quotes: Sequence[QuoteInput], similarity: Similarity,
                min_similarity: float = DEFAULT_MIN_SIMILARITY) -> Generated:
    """A model's reply, checked sentence by sentence against ``quotes``.

    Args:
        reply: The model's whole reply.
        quotes: The numbered quotes it was given.
        similarity: ``similarity(a, b)`` is the cosine matrix (len(a), len(b)).
        min_similarity: The least similarity of a sentence to the closest cited quote.

    Returns:
        The Generated answer: the supported sentences, or generated=False with a note.
    """
    if is_decline(reply):
        return failed(f"the language model says the quotes do not answer the question; "
                      f"{FALLBACK}")
    sentences = split_sentences(reply)
    if not sentences:
        return failed(f"the language model returned an empty answer; {FALLBACK}")
    checked = check_sentences(sentences, quotes, similarity, min_similarity)
    kept = [s for s in checked if s.supported]
    dropped = len(checked) - len(kept)
    if not kept:
        return failed(f"all {_plural(len(checked), 'generated sentence')} "
                      f"{'was' if len(checked) == 1 else 'were'} dropped as not supported "
                      f"by their quotes; {FALLBACK}", checked)
    if dropped:
        note = (f"{dropped} of {_plural(len(checked), 'generated sentence')} "
                f"{'was' if dropped == 1 else 'were'} dropped: not supported by their quotes")
    else:
        note = (f"{_plural(len(checked), 'generated sentence')}, each checked against the "
                "quotes it cites")
    return Generated(shown_text=render_sentences(checked), sentences=checked, generated=True,
                     note=note)


def _unusable(question: str, quotes: Sequence[QuoteInput], settings: LLMSettings,
              min_similarity: float) -> Generated | None:
    """Validate the inputs; a result without a call when there is nothing to ask."""
    settings.validate()
    if not 0.0 <= min_similarity <= 1.0:
        raise ValueError(f"min_similarity = {min_similarity!r} must be between 0 and 1")
    numbers = [q.number for q in quotes]
    if len(set(numbers)) != len(numbers) or any(n < 1 for n in numbers):
        raise ValueError(f"quote numbers {numbers} must be distinct and from 1 up")
    if not settings.enabled:
        return failed(f"no language model is configured (llm.base_url and llm.model); {FALLBACK}")
    if not quotes:
        return failed(f"there are no quotes to answer from; {FALLBACK}")
    if not question.strip():
        return failed(f"the question is empty; {FALLBACK}")
    return None


def generate_answer(question: str, quotes: Sequence[QuoteInput], settings: LLMSettings,
                    similarity: Similarity, *, api_key: str | None = None,
                    min_similarity: float = DEFAULT_MIN_SIMILARITY) -> Generated:
    """Ask the model to answer from the quotes, and keep only the sentences they support.

    Args:
        question: The user's question.
        quotes: The numbered quotes to answer from (the extracted answer's evidence).
        settings: The ``llm`` settings; nothing is called unless they are enabled.
        similarity: ``similarity(a, b)`` is the cosine matrix (len(a), len(b)).
        api_key: Sent as a Bearer token when given (see :func:`read_api_key`).
        min_similarity: The least similarity of a sentence to the closest cited quote.

    Returns:
        The checked answer; generated=False with a note when the model fails,
        declines, is not configured, or no sentence survives.

    Raises:
        ConfigError: The settings break a rule.
        ValueError: min_similarity is outside 0..1, or quote numbers repeat.
    """
    unusable = _unusable(question, quotes, settings, min_similarity)
    if unusable is not None:
        return unusable
    try:
        reply = chat_completion(settings, build_messages(question, quotes), api_key)
    except ModelCallError as error:
        return failed(f"{error}; {FALLBACK}")
    return check_reply(reply, quotes, similarity, min_similarity)


def stream_answer(question: str, quotes: Sequence[QuoteInput], settings: LLMSettings,
                  similarity: Similarity, *, api_key: str | None = None,
                  min_similarity: float = DEFAULT_MIN_SIMILARITY) -> Iterator[str | Generated]:
    """:func:`generate_answer` for a live display: the draft as it is written, then the verdict.

    Yields:
        ``str`` pieces of the unchecked draft reply (show them as a draft, if at all),
        then exactly one ``Generated``: the checked answer, which replaces the draft.
        A server that does not stream gives the whole draft as one piece.

    Raises:
        ConfigError: The settings break a rule (before anything is yielded).
        ValueError: As for :func:`generate_answer`.
    """
    unusable = _unusable(question, quotes, settings, min_similarity)
    if unusable is not None:
        yield unusable
        return
    pieces: list[str] = []
    try:
        for piece in stream_chat_completion(settings, build_messages(question, quotes), api_key):
            pieces.append(piece)
            yield piece
    except ModelCallError as error:
        yield failed(f"{error}; {FALLBACK}")
        return
    yield check_reply("".join(pieces), quotes, similarity, min_similarity)
