"""``Index``: a loaded index that retrieves and answers, behind one object.

Answers depend on retrieval, never the reverse: ``Retriever`` (rag.query.retrieve)
knows nothing of them, and this subclass binds ``rag.query.answer.answer`` as a method,
so ``index.answer(...)`` reads as the README shows it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Iterator

from ..config import AnswerConfig, CollectConfig, Config
from ..errors import QuestionError
from ..generate import LLMSettings
from ..index import store
from ..index.lexical import LexicalIndex
from ..index.vectorstore import VectorStore
from ..model.embedder import Embedder
from .answer import Answer, answer
from .diff import Diff, DiffSettings, WindowSpec, diff
from .collect import collect, wants_collection
from .collection import Collection
from .generated import ready_key, stream_generated
from .retrieve import Retriever


class Index(Retriever):
    """A loaded index: :meth:`retrieve`/:meth:`search` passages, :meth:`answer`
    questions. Create with :func:`rag.load_index`.

    ``llm`` and ``llm_api_key`` come from the config it was loaded with (``llm`` off
    without one); they are what ``answer(..., generate=True)`` calls.
    """

    def __init__(self, *args: Any, answer_config: AnswerConfig | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.answer_config = answer_config or AnswerConfig()
        self.collect_config = CollectConfig()
        self.llm = LLMSettings()
        self.llm_api_key: str | None = None

    @classmethod
    def _loaded(cls, gen_dir: Path, generation: store.Generation, vector_store: VectorStore,
                lexical: LexicalIndex, embedder: Embedder, config: Config | None) -> Index:
        index = super()._loaded(gen_dir, generation, vector_store, lexical, embedder, config)
        if config is not None:
            index.answer_config = config.answer
            index.collect_config = config.collect
            index.llm, index.llm_api_key = config.llm, config.llm_api_key
        return index

    def answer(self, question: str, top_k: int | None = None, *, generate: bool = False,
               collect: bool | None = None, **filters: Any) -> Answer:
        """An extractive answer: 1-3 sentences quoted verbatim from the best passages,
        each followed by its source's [n] marker; abstains when the evidence is weak.

        Takes the same arguments as :meth:`search`, and ``generate``: also have the
        configured language model answer from the quotes, each sentence of its reply
        checked against them (``Answer.generated``); ``collect``: also gather every
        release that answers (``Answer.collection``, see :meth:`collect`): True or
        False forces it on or off, None chooses it for questions that ask for a set or
        a history ("which countries ...", "list", "every", "how often").
        Returns a :class:`Answer`.

        Raises:
            ConfigError: ``generate`` without llm.base_url and llm.model in the config.
            QuestionError: ``collect`` is not True, False or None.
        """
        if collect is not None and not isinstance(collect, bool):
            raise QuestionError(f"collect = {collect!r} must be True, False or None (choose "
                                f"for the question)")
        result = answer(self, question, top_k, self.answer_config, generate=generate,
                        llm=self.llm, api_key=self.llm_api_key, **filters)
        if collect or (collect is None and wants_collection(result.question)):
            result = dataclasses.replace(result, collection=self.collect(question, **filters))
        return result

    def collect(self, question: str, since: Any = None, until: Any = None,
                **filters: Any) -> Collection:
        """Every release that answers a set or history question ("Which countries ...?",
        "In which months ...?"), as a counted timeline: one verbatim row per release, by
        date, and the distinct items they name (see :mod:`rag.query.collect`).

        Takes since/until (dates or YYYY-MM-DD) and the other filters of :meth:`search`.

        Raises:
            QuestionError: an unusable question or filter (e.g. since after until).
        """
        return collect(self, question, since, until, self.collect_config, self.answer_config,
                       **filters)

    def diff(self, subject: str, window_a: WindowSpec | None = None,
             window_b: WindowSpec | None = None, *, settings: DiffSettings | None = None,
             **filters: Any) -> Diff:
        """What changed on ``subject`` between two date windows or two releases (or
        between the two windows a question names); see :func:`rag.query.diff.diff`.
        ``filters``: ``mode`` and ``category``. Returns a :class:`Diff`."""
        return diff(self, subject, window_a, window_b, settings=settings, **filters)

    def stream_answer(self, question: str, top_k: int | None = None,
                      **filters: Any) -> Iterator[Answer | str]:
        """A generated answer for a live display: yields the extracted :class:`Answer`
        first, then the model's unchecked draft in ``str`` pieces, then the Answer with
        ``generated`` set (which replaces the draft).

        Raises:
            ConfigError: no language model is configured (before anything is yielded).
        """
        ready_key(self.llm, self.llm_api_key)
        extracted = answer(self, question, top_k, self.answer_config, **filters)
        yield extracted
        yield from stream_generated(self, extracted, self.llm, self.llm_api_key)
