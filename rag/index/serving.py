"""Which back-end serves an index (``store.backend``), and the build-time steps every
back-end has: publish the current generation, roll back to the previous one."""

from __future__ import annotations

from pathlib import Path

from ..config import Config, StoreConfig
from . import store
from .vectorstore import Backend, FaissBackend


def backend(config: StoreConfig | None) -> Backend:
    """The back-end ``store.backend`` names (FAISS without a config).

    Raises:
        ConfigError: qdrant, without qdrant-client installed.
    """
    if config is None or config.backend == "faiss":
        return FaissBackend()
    from .qdrant import QdrantBackend  # qdrant-client is optional: imported only here

    return QdrantBackend(config)


def publish(config: Config, index_dir: Path | None = None) -> str:
    """Serve the current generation of the configured index from its back-end (called
    by the build after a generation is written, and when it finds nothing to write, so
    that a build interrupted before publishing is published by the next).

    Returns:
        What was done ("" if it was served already).
    """
    return backend(config.store).publish(Path(index_dir or config.index))


def rollback(config: Config) -> Path:
    """Serve the generation before the served one again, under the build lock.

    Returns:
        The generation folder now served.

    Raises:
        IndexNotFoundError: no older generation is kept.
        IndexLockedError: a build is running.
    """
    index_dir = Path(config.index)
    with store.build_lock(index_dir):
        return backend(config.store).rollback(index_dir)
