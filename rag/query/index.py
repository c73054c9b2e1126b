"""``Index``: a loaded index that retrieves and answers, behind one object.

Answers depend on retrieval, never the reverse: ``Retriever`` (rag.query.retrieve)
knows nothing of them, and this subclass binds ``rag.query.answer.answer`` as a method,
so ``index.answer(...)`` reads as the README shows it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..config import AnswerConfig, Config
from ..index import store
from ..index.lexical import LexicalIndex
from ..model.embedder import Embedder
from .answer import Answer, answer
from .retrieve import Retriever


class Index(Retriever):
    """A loaded index: :meth:`retrieve`/:meth:`search` passages, :meth:`answer`
    questions. Create with :func:`rag.load_index`."""

    def __init__(self, *args: Any, answer_config: AnswerConfig | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.answer_config = answer_config or AnswerConfig()

    @classmethod
    def _loaded(cls, gen_dir: Path, generation: store.Generation, faiss_index: Any,
                lexical: LexicalIndex, embedder: Embedder, config: Config | None) -> Index:
        index = super()._loaded(gen_dir, generation, faiss_index, lexical, embedder, config)
        if config is not None:
            index.answer_config = config.answer
        return index

    def answer(self, question: str, top_k: int | None = None, **filters: Any) -> Answer:
        """An extractive answer: 1-3 sentences quoted verbatim from the best passages,
        each followed by its source's [n] marker; abstains when the evidence is weak.

        Takes the same arguments as :meth:`search`. Returns a :class:`Answer`.
        """
        return answer(self, question, top_k, self.answer_config, **filters)
