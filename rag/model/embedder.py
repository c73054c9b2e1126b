"""The model seam: what the index needs from a model, and nothing more.

An embedder has ``info`` (what the manifest records: model id, dimension, window,
precision and how it is computed), ``embed(texts)`` (float32 (n, dim), L2-normalised),
``encode(texts, spans)`` (the same, plus one vector per character span of each text,
pooled from the same pass: sentence vectors at no extra model cost) and
``count_tokens(texts)`` (word pieces, for sizing passages). Tests plug in a small
deterministic one; ``rag.model.transformer`` is the real one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np

Spans = Sequence[tuple[int, int]]


@dataclass(frozen=True)
class ModelInfo:
    """What identifies an embedder's vectors.

    Attributes:
        id: the model's name (e.g. ``sentence-transformers/all-MiniLM-L6-v2``).
        dim: vector dimension.
        max_tokens: the longest input, special tokens included, read without truncating.
        precision: ``int8``, ``bfloat16`` or ``float32``.
        variant: how that precision is computed (``onnx-r4``: the int8 export recipe 4;
            ``torch``); vectors of different variants are never mixed in one index.
    """

    id: str
    dim: int
    max_tokens: int
    precision: str
    variant: str = ""


class Embedder(Protocol):
    """Anything that embeds texts for the index (see the module docstring)."""

    info: ModelInfo

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...

    def encode(self, texts: Sequence[str], spans: Sequence[Spans]
               ) -> tuple[np.ndarray, list[np.ndarray]]: ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]: ...
