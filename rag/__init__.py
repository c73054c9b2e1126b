"""Offline question answering over White House briefing-room releases.

    import rag
    hits = rag.retrieve("Which countries received new battle groups?", top_k=5)
    answer = rag.answer("Which countries received new battle groups?")
    index = rag.load_index("index")          # any other index folder

This module is the public API and one of the edges where settings are read and the
model is made; everything below it receives both as arguments. The layout follows the
data: ``ingest`` (file -> Release -> Passage), ``model`` (the Embedder), ``index``
(vectors -> the index on disk), ``query`` (question -> Hit -> Answer), ``eval``,
``web`` and ``cli``.
"""

from __future__ import annotations

import threading
from pathlib import Path

from .config import Config, ModelConfig, load_config
from .errors import (ConfigError, IndexCorruptError, IndexLockedError, IndexMismatchError,
                     IndexNotFoundError, QuestionError, RagError, ReleaseError)
from .generate import Generated, GeneratedSentence
from .index import store
from .index.build import BuildReport, build_index
from .ingest.chunking import Passage, chunk_release
from .ingest.releases import Release, load_releases
from .model.embedder import Embedder
from .model.transformer import load_embedder
from .query.answer import Answer
from .query.followup import Rewrite, rewrite
from .query.index import Index
from .query.retrieve import Hit
from .version import __version__

__all__ = [
    "Answer", "BuildReport", "Config", "ConfigError", "Embedder", "Generated",
    "GeneratedSentence", "Hit", "Index",
    "IndexCorruptError", "IndexLockedError", "IndexMismatchError", "IndexNotFoundError",
    "Passage", "QuestionError", "RagError", "Release", "ReleaseError", "Rewrite",
    "__version__", "answer", "build_index", "chunk_release", "default_index", "load_config", "load_embedder",
    "load_index", "load_releases", "retrieve", "rewrite",
]

_default: dict[Config, Index] = {}
_config_cache: dict[tuple[Path, int, int] | None, Config] = {}
_default_lock = threading.Lock()


def load_index(path: str | Path, config: Config | None = None,
               embedder: Embedder | None = None) -> Index:
    """Load a built index.

    Args:
        path: the index folder (or one of its generation folders).
        config: settings to check the index against; None takes the index's own.
        embedder: the query model; None loads the one the index was built with (or
            the one ``config`` names).

    Raises:
        IndexNotFoundError: nothing built at ``path``.
        IndexMismatchError: built with another model, dimension, chunking or format.
        IndexCorruptError: a file is damaged or the files disagree.
    """
    if embedder is None:
        if config is not None:
            model = config.model
        else:
            built = store.read_manifest(store.resolve(Path(path))).model
            model = ModelConfig(name=built.name or "bundled", precision=built.precision
                                or "float32")
        embedder = load_embedder(model)
    return Index.load(path, embedder, config)


def _current_config() -> Config:
    """``rag.yaml`` of the current folder (or the defaults), read again only when the
    file changes."""
    path = Path.cwd() / "rag.yaml"
    try:
        st = path.stat()
        key: tuple[Path, int, int] | None = (path, st.st_mtime_ns, st.st_size)
    except OSError:
        key = None
    config = _config_cache.get(key)
    if config is None:
        config = load_config()
        _config_cache.clear()
        _config_cache[key] = config
    return config


def default_index(config: Config | None = None) -> Index:
    """The index named by the config (``rag.yaml`` in the current folder, or the
    defaults), loaded once per process for each distinct config."""
    config = config or _current_config()
    with _default_lock:
        if config not in _default:
            _default[config] = load_index(config.index, config)
        return _default[config]


def retrieve(question: str, top_k: int | None = None) -> list[Hit]:
    """Passages of the default index that best match the question, best first.

    Raises:
        RagError: no index built, settings mismatch, or an unusable question.
    """
    index = default_index()
    return index.retrieve(question, top_k or index.config.top_k)


def answer(question: str, top_k: int | None = None, *, generate: bool = False,
           collect: bool | None = None, **filters) -> Answer:
    """An extractive, cited answer from the default index (see Index.answer); with
    ``generate``, also the configured language model's checked answer
    (``Answer.generated``; the ``llm`` section of rag.yaml); ``collect`` forces the
    collect mode on or off (None: chosen for set and history questions).

    Raises:
        RagError: no index built, settings mismatch, or an unusable question.
        ConfigError: ``generate`` without llm.base_url and llm.model in rag.yaml.
    """
    return default_index().answer(question, top_k, generate=generate, collect=collect,
                                  **filters)
