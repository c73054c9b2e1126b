"""Vectors computed so far by an unfinished embedding, kept so a rerun embeds only the rest.

While a lexical generation is being embedded (``rag.index.staged``), every few batches
of vectors are written to a shard of ``index/embed-cache/<identity>/``: one ``.npz``
holding, per text, a key (a hash of the embedding text and its sentence spans), the
passage vector (float32) and its sentence vectors (int8, as the index stores them). A
shard is written under a temporary name and renamed, so a kill at any moment leaves
whole shards only. ``identity`` is a hash of the model and how vectors are stored: a
cache made by another model, precision or export is never read (it is removed).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

import numpy as np

from .files import fsync_dir, write_file
from .manifest import FORMAT_VERSION, ModelSettings

CACHE_DIR = "embed-cache"
CACHE_VERSION = 1  # bump when a shard's layout or what a key covers changes
KEY_BYTES = 16

Vectors = tuple[np.ndarray, np.ndarray]  # passage vector (dim,), sentence vectors (n, dim) int8


def cache_identity(model: ModelSettings) -> str:
    """What vectors in a cache depend on besides the text: the model as run (not the
    name it was configured by) and the stored layout."""
    record = {k: v for k, v in asdict(model).items() if k != "name"}
    record.update(format_version=FORMAT_VERSION, cache_version=CACHE_VERSION)
    text = json.dumps(record, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def text_key(text: str, spans: Sequence[tuple[int, int]]) -> bytes:
    """The cache key of an embedding text and the sentence spans pooled from it."""
    h = hashlib.blake2b(text.encode("utf-8"), digest_size=KEY_BYTES)
    h.update(b"\0" + ",".join(f"{s}:{e}" for s, e in spans).encode("ascii"))
    return h.digest()


class EmbedCache:
    """The shards of one index folder's unfinished embedding, for one model identity.

    Args:
        index_dir: the index folder (the cache is ``index_dir/embed-cache/``).
        model: the model the vectors come from; caches of other identities are removed.
        dim: vector dimension.
    """

    def __init__(self, index_dir: Path, model: ModelSettings, dim: int):
        self.root = Path(index_dir) / CACHE_DIR
        self.folder = self.root / cache_identity(model)
        self.dim = dim
        self._keys: list[bytes] = []
        self._vectors: list[np.ndarray] = []
        self._pooled: list[np.ndarray] = []

    def load(self) -> dict[bytes, Vectors]:
        """Every vector stored so far, by key. Removes caches of other identities and
        leftover temporary files; a damaged shard is dropped (its texts are embedded
        again)."""
        if self.root.is_dir():
            for other in self.root.iterdir():
                if other != self.folder:
                    _remove(other)
        found: dict[bytes, Vectors] = {}
        if not self.folder.is_dir():
            return found
        for path in sorted(self.folder.iterdir()):
            if path.suffix != ".npz":
                path.unlink(missing_ok=True)  # a shard being written when it was killed
                continue
            try:
                found.update(self._read(path))
            except (OSError, ValueError, KeyError):
                path.unlink(missing_ok=True)
        return found

    def _read(self, path: Path) -> dict[bytes, Vectors]:
        with np.load(path, allow_pickle=False) as shard:
            keys, vectors = shard["keys"], shard["vectors"]
            pooled, counts = shard["pooled"], shard["counts"]
        if vectors.shape[1:] != (self.dim,) or pooled.shape[1:] != (self.dim,) \
                or len(keys) != len(vectors) or len(counts) != len(keys) \
                or int(counts.sum()) != len(pooled):
            raise ValueError(f"{path} does not hold vectors of dimension {self.dim}")
        starts = np.concatenate([[0], np.cumsum(counts)])
        return {bytes(k): (vectors[i], pooled[starts[i]:starts[i + 1]])
                for i, k in enumerate(keys)}

    def add(self, keys: Sequence[bytes], vectors: np.ndarray,
            pooled: Sequence[np.ndarray]) -> None:
        """Keep vectors for the next :meth:`flush` (``pooled`` in int8)."""
        self._keys.extend(keys)
        self._vectors.append(np.asarray(vectors, np.float32).reshape(len(keys), self.dim))
        self._pooled.extend(pooled)

    @property
    def pending(self) -> int:
        """Vectors added since the last flush."""
        return len(self._keys)

    def flush(self) -> None:
        """Write the vectors added since the last flush as one shard, atomically."""
        if not self._keys:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        keys = np.frombuffer(b"".join(self._keys), dtype=np.uint8).reshape(-1, KEY_BYTES)
        counts = np.array([len(p) for p in self._pooled], dtype=np.int32)
        pooled = (np.concatenate(self._pooled) if self._pooled
                  else np.zeros((0, self.dim), np.int8)).astype(np.int8, copy=False)
        vectors = np.concatenate(self._vectors)
        fd, tmp = tempfile.mkstemp(prefix=".shard-", suffix=".part", dir=self.folder)
        os.close(fd)
        try:
            write_file(Path(tmp), lambda f: np.savez(f, keys=keys, vectors=vectors,
                                                     pooled=pooled.reshape(-1, self.dim),
                                                     counts=counts))
            os.replace(tmp, self.folder / f"shard-{Path(tmp).stem[7:]}.npz")
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        fsync_dir(self.folder)
        self._keys, self._vectors, self._pooled = [], [], []

    def clear(self) -> None:
        """Remove the whole cache (once the hybrid generation is published)."""
        self._keys, self._vectors, self._pooled = [], [], []
        _remove(self.root)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
