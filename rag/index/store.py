"""The index folder on disk: generations swapped in atomically, a manifest, a lock.

Layout of an index folder::

    index/
      current -> gen-20260101T120000-1234   (symlink, replaced atomically)
      gen-.../manifest.json  releases.jsonl  passages.npy  vectors.npy  index.faiss  bm25/
               sentences.npy  sentence_vectors.npy
      .lock                                 (held by a build)
      embed-cache/  embed-status.json       (while a lexical generation is embedded,
                                             rag.index.staged)

A ``lexical`` generation (``manifest.kind``) has no vectors.npy, sentence_vectors.npy or
index.faiss: it is searched with BM25 alone until its hybrid successor is swapped in.

A build writes a new generation in a ``.tmp-*`` folder beside the others, renames it,
then points ``current`` at it with one ``os.replace``. Readers resolve ``current``
once, so a crash at any moment leaves a complete index behind.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from ..errors import IndexCorruptError, IndexLockedError, IndexNotFoundError
from ..ingest.releases import Release
from .files import FIX, fsync_dir, read_array, write_file, write_json
from .manifest import FORMAT_VERSION, MANIFEST, Manifest, read_manifest

# Re-exported: the store is where callers look for an index's files and their names.
__all__ = ["FORMAT_VERSION", "MANIFEST", "FIX", "Generation", "read_manifest", "resolve",
           "read_generation", "write_generation", "prune", "previous", "switch", "build_lock",
           "group_starts"]

CURRENT = "current"
RELEASES = "releases.jsonl"
PASSAGES = "passages.npy"
VECTORS = "vectors.npy"
FAISS = "index.faiss"
BM25 = "bm25"
SENTENCES = "sentences.npy"
SENTENCE_VECTORS = "sentence_vectors.npy"
LOCK = ".lock"

# One row per passage: which release (row in releases.jsonl), its ordinal, and the
# character span of its text in that release's body, plus its word-piece count.
PASSAGE_DTYPE = np.dtype([("release", "<i4"), ("ordinal", "<i4"), ("start", "<i4"),
                          ("end", "<i4"), ("tokens", "<i4")])
# One row per sentence of each passage, in passage order: the passage row and the
# sentence's character span in the release body. Its vector is pooled from the
# passage's own model pass, for scoring answers without the model, and stored in int8
# (``rag.vectors.quantize_unit``): a quarter of float32's bytes, which an incremental build rewrites.
SENTENCE_DTYPE = np.dtype([("passage", "<i4"), ("start", "<i4"), ("end", "<i4")])


def group_starts(owners: np.ndarray, groups: int) -> np.ndarray:
    """Where each group's rows begin in a table sorted by owner (a passage's release
    row, a sentence's passage row): rows of group g are ``starts[g]:starts[g + 1]``."""
    return np.searchsorted(np.asarray(owners), np.arange(groups + 1))


@dataclass(frozen=True)
class Generation:
    """The arrays and records of one built index, as read from or written to disk."""

    manifest: Manifest
    releases: list[Release]
    passages: np.ndarray  # PASSAGE_DTYPE
    vectors: np.ndarray  # float32 (n, dim), L2-normalised
    sentences: np.ndarray  # SENTENCE_DTYPE
    sentence_vectors: np.ndarray  # int8 (len(sentences), dim), see quantize_unit


def resolve(index_dir: Path) -> Path:
    """The folder holding the current generation's files.

    ``index_dir`` may be an index folder (with ``current``) or a generation folder.

    Raises:
        IndexNotFoundError: neither is there.
    """
    index_dir = Path(index_dir)
    if (index_dir / MANIFEST).is_file():
        return index_dir
    current = index_dir / CURRENT
    if current.is_symlink() or current.exists():
        target = current.resolve()
        if (target / MANIFEST).is_file():
            return target
        raise IndexCorruptError(f"{current} points to {target}, which holds no {MANIFEST}; {FIX}")
    raise IndexNotFoundError(f"no index in {index_dir}; build one with `rag index`")


def _release_to_json(release: Release) -> str:
    # A release read from an index keeps the line it came from (it is immutable), so
    # an incremental build re-encodes only new and changed releases.
    line = release.__dict__.get(_STORED_LINE)
    if line is not None:
        return line
    return json.dumps({
        "id": release.id, "title": release.title, "date": release.date.isoformat(),
        "category": release.category, "url": release.url, "published": release.published,
        "modified": release.modified, "body": release.body,
    }, ensure_ascii=False)


_STORED_LINE = "_stored_json_line"
_RELEASE_TEXT = ("id", "title", "category", "url", "published", "modified", "body")


def read_releases(gen_dir: Path) -> list[Release]:
    path = gen_dir / RELEASES
    releases = []
    try:
        with path.open(encoding="utf-8") as f:
            for line_no, line in enumerate(f, 1):
                raw = json.loads(line)
                raw["date"] = dt.date.fromisoformat(raw["date"])
                release = Release(**raw)
                if not all(isinstance(getattr(release, k), str) for k in _RELEASE_TEXT):
                    raise ValueError(f"line {line_no} has a field that is not text")
                release.__dict__[_STORED_LINE] = line.rstrip("\n")
                releases.append(release)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexCorruptError(f"{path} cannot be read ({exc}); {FIX}") from None
    return releases


def read_generation(gen_dir: Path) -> Generation:
    """Read one generation and check its parts agree with each other.

    Raises:
        IndexCorruptError: a file is missing, damaged, or disagrees with the manifest.
    """
    manifest = read_manifest(gen_dir)
    releases = read_releases(gen_dir)
    passages = read_array(gen_dir / PASSAGES)
    sentences = read_array(gen_dir / SENTENCES)
    if manifest.lexical_only:
        # No vectors yet: empty tables of the right shape, so nothing reads a stale file.
        vectors = np.zeros((len(passages), 0), np.float32)
        sentence_vectors = np.zeros((len(sentences), 0), np.int8)
    else:
        vectors = read_array(gen_dir / VECTORS)
        sentence_vectors = read_array(gen_dir / SENTENCE_VECTORS)
    counts = manifest.counts
    problems = []
    if passages.dtype != PASSAGE_DTYPE:
        problems.append(f"{PASSAGES} has the wrong layout")
    if vectors.ndim != 2 or vectors.shape[0] != len(passages):
        problems.append(f"{VECTORS} holds {vectors.shape[0] if vectors.ndim else 0} vectors "
                        f"for {len(passages)} passages")
    elif vectors.shape[1] != manifest.model.dim and not manifest.lexical_only:
        problems.append(f"{VECTORS} has dimension {vectors.shape[1]}, the manifest says "
                        f"{manifest.model.dim}")
    if counts.passages != len(passages) or counts.releases != len(releases):
        problems.append(f"{MANIFEST} counts {counts.releases} releases and "
                        f"{counts.passages} passages, the files hold {len(releases)} "
                        f"and {len(passages)}")
    elif set(manifest.releases) != {r.id for r in releases}:
        problems.append(f"{MANIFEST} and {RELEASES} list different releases")
    elif passages.dtype == PASSAGE_DTYPE and len(passages):
        # Rows must point into releases.jsonl, in order, at spans inside the body:
        # otherwise a search fails with an IndexError or cites an empty passage.
        rows = np.asarray(passages["release"])
        lengths = np.array([len(r.body) for r in releases])
        start, end = np.asarray(passages["start"]), np.asarray(passages["end"])
        if rows.min() < 0 or rows.max() >= len(releases) or np.any(np.diff(rows) < 0) \
                or np.any(start < 0) or np.any(end <= start) or np.any(end > lengths[rows]):
            problems.append(f"{PASSAGES} points outside the releases in {RELEASES}")
    if sentences.dtype != SENTENCE_DTYPE:
        problems.append(f"{SENTENCES} has the wrong layout")
    elif sentence_vectors.dtype != np.int8:
        problems.append(f"{SENTENCE_VECTORS} holds {sentence_vectors.dtype}, not int8")
    elif sentence_vectors.ndim != 2 or len(sentence_vectors) != len(sentences) \
            or (vectors.ndim == 2 and sentence_vectors.shape[1] != vectors.shape[1]
                and not manifest.lexical_only):
        problems.append(f"{SENTENCE_VECTORS} has shape {sentence_vectors.shape}, expected "
                        f"{len(sentences)} vectors like those in {VECTORS}")
    elif len(sentences):
        rows = np.asarray(sentences["passage"])
        if rows.min() < 0 or rows.max() >= len(passages) or np.any(np.diff(rows) < 0) \
                or np.any(np.asarray(sentences["end"]) <= np.asarray(sentences["start"])):
            problems.append(f"{SENTENCES} points outside the passages in {PASSAGES}")
    missing = [name for name in ((BM25,) if manifest.lexical_only else (FAISS, BM25))
               if not (gen_dir / name).exists()]
    if missing:
        problems.append(f"{' and '.join(missing)} missing")
    if problems:
        raise IndexCorruptError(f"index {gen_dir} is inconsistent: {'; '.join(problems)}; {FIX}")
    return Generation(manifest, releases, passages, vectors, sentences, sentence_vectors)


def write_generation(index_dir: Path, gen: Generation, faiss_index: Any, lexical: Any) -> Path:
    """Write a generation beside the current one and make it current, atomically.

    A lexical generation (``gen.manifest.kind``) is written without its vectors, sentence
    vectors and FAISS index (``faiss_index`` is then None).

    Returns:
        The new generation's folder.
    """
    import faiss

    index_dir.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S")
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=index_dir))
    try:
        write_file(tmp / RELEASES, lambda f: f.write(
            "".join(_release_to_json(r) + "\n" for r in gen.releases).encode("utf-8")))
        write_file(tmp / PASSAGES, lambda f: np.save(f, np.ascontiguousarray(gen.passages,
                                                                             PASSAGE_DTYPE)))
        write_file(tmp / SENTENCES, lambda f: np.save(f, np.ascontiguousarray(
            gen.sentences, SENTENCE_DTYPE)))
        if not gen.manifest.lexical_only:
            write_file(tmp / VECTORS, lambda f: np.save(f, np.ascontiguousarray(gen.vectors,
                                                                                np.float32)))
            write_file(tmp / SENTENCE_VECTORS, lambda f: np.save(f, np.ascontiguousarray(
                gen.sentence_vectors, np.int8)))
            faiss.write_index(faiss_index, str(tmp / FAISS))
        (tmp / BM25).mkdir()
        lexical.save(tmp / BM25)
        write_json(tmp / MANIFEST, gen.manifest.to_json(), indent=1)
        fsync_dir(tmp)
        final = index_dir / f"gen-{stamp}-{tmp.name[5:]}"
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    link = index_dir / f".{CURRENT}-{tmp.name[5:]}"
    os.symlink(final.name, link)
    os.replace(link, index_dir / CURRENT)
    fsync_dir(index_dir)
    return final


def prune(index_dir: Path, keep: int = 2) -> None:
    """Remove leftover temporary folders and all but the newest ``keep`` generations.

    The generation before the current one is kept so that a reader that resolved
    ``current`` just before a swap can still open its files.
    """
    current = (index_dir / CURRENT).resolve() if (index_dir / CURRENT).exists() else None
    for tmp in index_dir.glob(".tmp-*"):
        shutil.rmtree(tmp, ignore_errors=True)
    for link in index_dir.glob(f".{CURRENT}-*"):
        link.unlink(missing_ok=True)
    gens = sorted((p for p in index_dir.glob("gen-*") if p.is_dir()),
                  key=lambda p: p.stat().st_mtime_ns, reverse=True)
    # By name: ``current`` is resolved, and index_dir itself may be reached by a symlink.
    served = [g for g in gens if current is not None and g.name == current.name]
    newest_served = served[0].stat().st_mtime_ns if served else None
    kept = 0
    for gen in gens:
        if gen in served:
            kept += 1
            continue
        # Newer than current yet never made current: a build killed before its swap.
        # Dropping it keeps the generation readers actually had as the one kept.
        orphan = newest_served is not None and gen.stat().st_mtime_ns > newest_served
        if not orphan and kept < keep:
            kept += 1
            continue
        shutil.rmtree(gen, ignore_errors=True)


def switch(index_dir: Path, gen_dir: Path) -> None:
    """Point ``current`` at the generation folder ``gen_dir`` (of ``index_dir``), atomically."""
    link = index_dir / f".{CURRENT}-switch-{os.getpid()}"
    link.unlink(missing_ok=True)
    os.symlink(gen_dir.name, link)
    os.replace(link, index_dir / CURRENT)
    fsync_dir(index_dir)


def previous(index_dir: Path, served: Path | None = None) -> Path:
    """The newest generation older than ``served`` (by default the current one): what a
    rollback serves again.

    Raises:
        IndexNotFoundError: there is none (``prune`` keeps one besides the current).
    """
    served = served if served is not None else resolve(index_dir)
    served_time = served.stat().st_mtime_ns
    older = [g for g in index_dir.glob("gen-*") if g.is_dir() and g.name != served.name
             and (g / MANIFEST).is_file() and g.stat().st_mtime_ns < served_time]
    if not older:
        raise IndexNotFoundError(f"{index_dir} keeps no generation older than {served.name} "
                                 "to roll back to")
    return max(older, key=lambda g: g.stat().st_mtime_ns)


@contextlib.contextmanager
def build_lock(index_dir: Path, wait: float = 0.0) -> Iterator[None]:
    """Hold the index folder's build lock.

    Args:
        wait: seconds to wait for another build to finish before giving up.

    Raises:
        IndexLockedError: another build held the lock the whole time.
    """
    index_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(index_dir / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise IndexLockedError(
                        f"another `rag index` is building {index_dir} (lock {index_dir / LOCK}); "
                        "wait for it to finish, or pass --wait SECONDS") from None
                time.sleep(0.2)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)
