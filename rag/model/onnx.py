"""ONNX Runtime backend: the int8 export, made once per model and cached, and a pool of
single-threaded sessions that turn token ids into hidden states."""

from __future__ import annotations

import logging
import os
import queue
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

import numpy as np

from .folder import ModelFolder
from .int8 import RECIPE

log = logging.getLogger(__name__)


def _cached_export(target: Path, export, folder: ModelFolder) -> Path:
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        export(folder, Path(tmp))
        os.replace(Path(tmp) / "model-int8.onnx", target)  # atomic: racing exports agree
    return target


def onnx_model_file(folder: ModelFolder, cache_dir: Path) -> tuple[Path, str]:
    """The int8 ONNX export of ``folder``'s encoder, made and cached on first use, and
    the variant it is (``onnx-r4``: the export recipe; ``onnx-dynamic``: plain dynamic
    quantization, used when the recipe's export fails, with a warning).

    The cache key covers the weights file (size and time), the recipe and the ONNX
    Runtime version, so a changed model or runtime gets a fresh export.

    Raises:
        Exception: whatever made both exports fail (the caller reports it).
    """
    import onnxruntime

    def recipe():
        # torch and the ONNX tooling (16 s to import on a busy machine), only when an
        # export is made: a cached one is used without them.
        from .int8 import recipe

        return recipe

    st = folder.weights.stat()
    stamp = f"ort{onnxruntime.__version__}-{st.st_size}-{st.st_mtime_ns}"
    model_dir = Path(cache_dir) / "onnx" / folder.model_id.replace("/", "--")
    try:
        return _cached_export(model_dir / f"r{RECIPE}-{stamp}" / "model-int8.onnx",
                              lambda *a: recipe().export_int8(*a), folder), f"onnx-r{RECIPE}"
    except Exception as exc:  # the recipe rewrites the model's graph; any failure there
        log.warning("the int8 export recipe failed for %s (%s); using plain dynamic int8 "
                    "quantization instead", folder.model_id, _first_line(exc))
    return _cached_export(model_dir / f"dynamic-{stamp}" / "model-int8.onnx",
                          lambda *a: recipe().export_dynamic_int8(*a), folder), "onnx-dynamic"


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


class OnnxEncoder:
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
        # that take neither (rag/model/int8/recipe.py's SplitEncoder) are fed ids alone.
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
