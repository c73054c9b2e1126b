"""The real embedder: a sentence-transformers model folder run on the CPU.

Tokenising and pooling are ours whatever the backend, so a passage pass also yields
the mean of each sentence's token vectors. Backends, by ``model.precision``:

- ``int8``: the encoder exported to ONNX and quantized to int8 (``rag.model.int8``),
  run by ONNX Runtime (VNNI kernels on this kind of CPU); one single-threaded session
  per core, one text per call, so no batch padding and no batch-dependent results.
  If the export fails, a plainer int8 export is tried, then bfloat16 torch, each with
  a warning; ``info.variant`` records what was used.
- ``bfloat16`` and ``float32``: the encoder in torch.
"""

from __future__ import annotations

import logging
import os
from typing import Sequence

import numpy as np

from ..config import ModelConfig
from ..vectors import normalise
from .embedder import Embedder, ModelInfo, Spans
from .folder import ModelFolder, model_folder, model_tokenizer
from .onnx import OnnxEncoder, onnx_model_file
from .torch_encoder import TorchEncoder

log = logging.getLogger(__name__)


class TokenCounter:
    """Word pieces per text as the model's tokenizer cuts them, without special tokens
    and without truncating (what passages are sized by). Only the tokenizer is loaded,
    so a cluster worker that chunks releases need not load the model."""

    def __init__(self, folder: ModelFolder):
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(folder.path / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()
        self._word_counts: WordCounts | None = WordCounts(self._tokenizer) \
            if splits_at_spaces(self._tokenizer) else None

    def __call__(self, texts: Sequence[str]) -> list[int]:
        if self._word_counts is not None:
            return self._word_counts(texts)
        counts: list[int] = []
        for i in range(0, len(texts), 4096):
            encoded = self._tokenizer.encode_batch_fast(list(texts[i:i + 4096]),
                                                        add_special_tokens=False)
            counts.extend(len(e.ids) for e in encoded)
        return counts


class TransformerEmbedder:
    """A sentence-transformers model folder run on the CPU (see the module docstring).

    Args:
        config: model name (``bundled`` for the packaged all-MiniLM-L6-v2), precision
            (int8, bfloat16 or float32), batch size (torch only) and threads.

    Raises:
        ConfigError: the model cannot be found or loaded (the message names it).
    """

    def __init__(self, config: ModelConfig):
        folder = model_folder(config.name)
        self._cls = folder.pooling == "cls"
        self._counter = TokenCounter(folder)
        # The model reads at most max_tokens pieces, special tokens included, as
        # sentence-transformers truncates; counting sees the whole text.
        self._truncating = model_tokenizer(folder)
        self._onnx: OnnxEncoder | None = None
        self._torch: TorchEncoder | None = None
        precision, variant = config.precision, "torch"
        if precision == "int8":
            try:
                model_file, variant = onnx_model_file(folder, config.cache_dir)
                self._onnx = OnnxEncoder(model_file, config.threads or os.cpu_count() or 1)
            except Exception as exc:  # export or runtime failures of many kinds
                log.warning("model.name = %r cannot be run in int8 (%s); running it in "
                            "bfloat16 torch instead", config.name, _first_line(exc))
                precision, variant = "bfloat16", "torch"
        if self._onnx is None:
            self._torch = _torch_encoder(folder, precision, config)
        self.info = ModelInfo(folder.model_id, folder.dim, folder.max_tokens, precision, variant)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self._counter(texts)

    def _pool(self, hidden: np.ndarray, encoding, spans: Spans) -> tuple[np.ndarray, np.ndarray]:
        vector = hidden[0] if self._cls else hidden.mean(axis=0)
        pooled = np.zeros((len(spans), self.info.dim), dtype=np.float32)
        if len(spans):
            offsets = np.asarray(encoding.offsets)
            real = np.asarray(encoding.special_tokens_mask) == 0
            for k, (s, e) in enumerate(spans):
                inside = real & (offsets[:, 0] >= s) & (offsets[:, 1] <= e)
                if inside.any():
                    pooled[k] = hidden[inside].mean(axis=0)
        return vector, pooled

    def encode(self, texts: Sequence[str], spans: Sequence[Spans] | None = None
               ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Passage vectors, and for each text a vector per character span of it.

        A span is pooled from the token vectors of the text's own pass, so it carries
        the passage's context. A span with no tokens (cut off by truncation) gets a
        zero vector.
        """
        spans = spans if spans is not None else [()] * len(texts)
        if len(spans) != len(texts):
            raise ValueError(f"{len(spans)} span lists for {len(texts)} texts")
        if not texts:
            return np.zeros((0, self.info.dim), dtype=np.float32), []
        encodings = self._truncating.encode_batch(list(texts))
        if self._onnx is not None:
            onnx = self._onnx

            def one(k: int):
                ids = np.asarray(encodings[k].ids, dtype=np.int64)
                return self._pool(onnx.hidden(ids), encodings[k], spans[k])

            results = list(onnx.map(one, list(range(len(texts)))))
        else:
            hidden = self._torch.hidden_many([np.asarray(e.ids, dtype=np.int64)
                                              for e in encodings])
            results = [self._pool(h, e, s) for h, e, s in zip(hidden, encodings, spans)]
        vectors = normalise(np.stack([v for v, _ in results]))
        return vectors, [normalise(p) if len(p) else p for _, p in results]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode(texts)[0]


def _torch_encoder(folder: ModelFolder, precision: str, config: ModelConfig) -> TorchEncoder:
    if config.threads:
        import torch

        torch.set_num_threads(config.threads)
    return TorchEncoder(folder, precision, config.batch_size)


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


# Normalizers and pre-tokenizers under which no token reaches across whitespace, so a
# text's tokens are the same alone or beside others (BERT's WordPiece tokenizers).
_LOCAL_NORMALIZERS = {"BertNormalizer", "Lowercase", "NFD", "NFC", "NFKD", "NFKC", "StripAccents"}
_SPACE_PRE_TOKENIZERS = {"BertPreTokenizer", "Whitespace", "WhitespaceSplit"}


def splits_at_spaces(tokenizer) -> bool:
    """Whether ``tokenizer`` cuts text at whitespace before its WordPiece model runs, so
    that a text's word pieces are those of its words (``WordCounts``). Byte-level
    BPE or SentencePiece tokenizers mark the space before a word inside its token; they
    are counted text by text."""
    import json

    spec = json.loads(tokenizer.to_str())

    def types(part) -> set[str]:
        if not part:
            return set()
        if part.get("type") == "Sequence":
            inner = part.get("normalizers") or part.get("pretokenizers") or []
            return set().union(*(types(p) for p in inner)) if inner else {"Sequence"}
        return {part.get("type")}

    return (spec.get("model", {}).get("type") == "WordPiece"
            and types(spec.get("normalizer")) <= _LOCAL_NORMALIZERS
            and bool(types(spec.get("pre_tokenizer")))
            and types(spec.get("pre_tokenizer")) <= _SPACE_PRE_TOKENIZERS)


class WordCounts:
    """Word pieces per text, summed over its space-separated words, each word's count
    tokenized once and kept: a corpus says the same words again and again, so after the
    first few hundred releases nearly every count is a dictionary look-up (about 40x less
    work than tokenizing every sentence; benchmarks/RESULTS.md). Exact for tokenizers
    that never join text across a space (``splits_at_spaces``): a text's pieces are then
    the pieces of its words, each tokenized alone."""

    MAX_WORDS = 2_000_000  # forget everything past this (a pathological corpus)

    def __init__(self, tokenizer):
        self._tokenizer = tokenizer
        self._counts: dict[str, int] = {"": 0}

    def __call__(self, texts: Sequence[str]) -> list[int]:
        split = [t.split(" ") for t in texts]
        try:  # nearly always: every word seen before
            get = self._counts.__getitem__
            return [sum(map(get, words)) for words in split]
        except KeyError:
            pass
        counts = self._counts
        unseen = list({w for words in split for w in words if w not in counts})
        if len(counts) + len(unseen) > self.MAX_WORDS:
            # A new table: a caller in another thread keeps summing over the old one.
            counts = self._counts = {"": 0}
            unseen = list({w for words in split for w in words if w})
        for i in range(0, len(unseen), 4096):
            batch = unseen[i:i + 4096]
            encoded = self._tokenizer.encode_batch_fast(batch, add_special_tokens=False)
            counts.update(zip(batch, (len(e.ids) for e in encoded)))
        get = counts.__getitem__
        return [sum(map(get, words)) for words in split]


def load_embedder(config: ModelConfig) -> Embedder:
    """The embedder the config names."""
    return TransformerEmbedder(config)


def load_token_counter(config: ModelConfig) -> TokenCounter:
    """The token counter of the embedder the config names, without its model."""
    return TokenCounter(model_folder(config.name))
