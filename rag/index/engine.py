"""Where a build's heavy stages run: reading releases and embedding passage texts.

``build_index`` plans, assembles and writes on its own; it hands the two stages whose
cost grows with the corpus to an engine. The local engine runs them in this process.
Another engine (a cluster) must produce the same releases and the same vectors, batch
by batch, so that everything after it is shared.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Protocol, Sequence

import numpy as np

from ..ingest.releases import LoadResult, Reuse, load_releases
from ..model.embedder import Embedder

EMBED_BATCH = 256  # texts per progress step; the model batches further inside

Spans = list[tuple[int, int]]


@dataclass(frozen=True)
class EmbeddedBatch:
    """Vectors for some of the texts an engine was given.

    ``rows`` index into those texts; ``vectors`` holds one unit float32 vector per row,
    ``pooled`` one float32 array (spans x dim) per row, pooled over that text's spans.
    """

    rows: list[int]
    vectors: np.ndarray
    pooled: list[np.ndarray]


class Engine(Protocol):
    name: str

    def load(self, seeds: str | Path, reuse: Reuse | None = None) -> LoadResult: ...

    def embed(self, embedder: Embedder, texts: Sequence[str],
              spans: Sequence[Spans]) -> Iterator[EmbeddedBatch]: ...


class LocalEngine:
    """Both stages in this process, with the embedder the build was given."""

    name = "local"

    def load(self, seeds: str | Path, reuse: Reuse | None = None) -> LoadResult:
        return load_releases(seeds, reuse=reuse)

    def embed(self, embedder: Embedder, texts: Sequence[str],
              spans: Sequence[Spans]) -> Iterator[EmbeddedBatch]:
        # Longest first, so a batch carries little padding.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        for i in range(0, len(order), EMBED_BATCH):
            rows = order[i:i + EMBED_BATCH]
            vectors, pooled = embedder.encode([texts[r] for r in rows], [spans[r] for r in rows])
            yield EmbeddedBatch(rows, np.asarray(vectors, dtype=np.float32), list(pooled))
