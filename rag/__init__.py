"""Offline question answering over White House briefing-room releases.

    import rag
    hits = rag.retrieve("Which countries received new battle groups?", top_k=5)
    index = rag.load_index("index")          # any other index folder
"""

from __future__ import annotations

import os
import threading

# Everything works offline: the bundled model is loaded from disk, so never let a
# library reach for a model hub, and the web app sends no usage telemetry.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

__version__ = "0.1.0"

from .build import BuildReport, build_index  # noqa: E402
from .chunking import Passage, chunk_release  # noqa: E402
from .config import Config, load_config  # noqa: E402
from .errors import (ConfigError, IndexCorruptError, IndexLockedError,  # noqa: E402
                     IndexMismatchError, IndexNotFoundError, QuestionError, RagError,
                     ReleaseError)
from .releases import Release, load_releases  # noqa: E402
from .search import Hit, Index, load_index  # noqa: E402

__all__ = [
    "BuildReport", "Config", "ConfigError", "Hit", "Index", "IndexCorruptError",
    "IndexLockedError", "IndexMismatchError", "IndexNotFoundError", "Passage",
    "QuestionError", "RagError", "Release", "ReleaseError", "build_index", "chunk_release",
    "answer", "default_index", "load_config", "load_index", "load_releases", "retrieve",
]

_default: dict[str, Index] = {}
_default_lock = threading.Lock()


def default_index(config: Config | None = None) -> Index:
    """The index named by the config (``rag.yaml`` in the current folder, or the
    defaults), loaded once per process and checked against that config."""
    config = config or load_config()
    key = str(config.index)
    with _default_lock:
        if key not in _default:
            _default[key] = load_index(config.index, config)
        return _default[key]


def retrieve(question: str, top_k: int | None = None) -> list[Hit]:
    """Passages of the default index that best match the question, best first.

    Raises:
        RagError: no index built, settings mismatch, or an unusable question.
    """
    config = load_config()
    return default_index(config).retrieve(question, top_k or config.retrieval.top_k)


def answer(question: str, top_k: int | None = None, **filters):
    """An extractive, cited answer from the default index (see Index.answer).

    Raises:
        RagError: no index built, settings mismatch, or an unusable question.
    """
    config = load_config()
    return default_index(config).answer(question, top_k, **filters)
