"""Lexical first: a large build is searchable in minutes, and hybrid when its embedding ends.

Embedding is 94% of a full build (benchmarks/RESULTS.md). A build with no usable index
to update and more than a few passages to embed, or with many passages to embed on top
of a built index (``build.lexical_first_new`` and ``lexical_first_update``), first
publishes a *lexical* generation (releases, passages, sentences and BM25; no vectors),
which ``rag search``, ``rag ask`` and the app serve with BM25 alone. It then embeds
every passage the lexical generation lacks a vector for and publishes the *hybrid*
generation: the same tables with vectors and FAISS, as a one-step build would have
written them. Both swaps are the store's atomic ones, so ``current`` always names a
complete generation of one kind or the other.

The vectors computed so far are kept in ``rag.index.embed_cache`` as they are made, and
progress in ``rag.index.embed_status``: a build that is interrupted and run again
embeds only what is not in the cache.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..config import BuildConfig, Config
from ..ingest.chunking import Passage, context_header, embedding_spans, embedding_text
from ..model.embedder import Embedder
from ..vectors import quantize_unit
from .embed_cache import EmbedCache, text_key
from .embed_status import advance, start_status
from .engine import Engine
from .lexical import OldRows  # rows start:end of the last generation, as BM25 takes them
from .manifest import ModelSettings
from .store import Generation

# An unfinished embedding loses at most this much work when killed.
FLUSH_TEXTS = 1024  # vectors per cache shard
FLUSH_SECONDS = 20.0  # or this long since the last shard, whichever comes first


def wants_lexical_first(settings: BuildConfig, previous: Generation | None,
                        fresh_passages: int, override: bool | None = None) -> bool:
    """Whether a build publishes a lexical generation before embedding.

    Args:
        settings: the ``build`` section of the config.
        previous: the generation the build updates (None: none usable).
        fresh_passages: passages of new and changed releases.
        override: ``rag index --lexical-first / --no-lexical-first`` (None: config).
    """
    enabled = settings.lexical_first if override is None else override
    if not enabled:
        return False
    if previous is None or previous.manifest.lexical_only:
        return fresh_passages >= settings.lexical_first_new
    return fresh_passages >= settings.lexical_first_update


@dataclass
class StagedVectors:
    """Vectors for every passage row of the tables, and where they came from."""

    vectors: np.ndarray  # float32 (passages, dim)
    sentence_vectors: np.ndarray  # int8 (sentences, dim)
    embedded: int  # distinct texts embedded by this build
    cached: int  # distinct texts whose vectors were in the cache
    reused: int  # passage rows whose vectors came from the last (hybrid) generation
    tokens: int  # body tokens embedded


@dataclass(frozen=True)
class NewRows:
    """Fresh passages and the texts the model embeds for them."""

    passages: Sequence[Passage]
    texts: Sequence[str]


@dataclass(frozen=True)
class _Need:
    """A passage row with no stored vector: the text the model embeds for it."""

    row: int
    text: str
    passage: Passage


def vectors_for(parts: Sequence[OldRows | NewRows], old: Generation | None,
                old_sentence_starts: np.ndarray | None, config: Config, embedder: Embedder,
                engine: Engine, generation: str, model: ModelSettings,
                known: dict[str, tuple[np.ndarray, np.ndarray]], progress: bool = False,
                on_embed: Callable[[list[str]], None] | None = None) -> StagedVectors:
    """Vectors for every passage row of the next generation, made of ``parts`` in row
    order: copied from a hybrid ``old`` generation for the rows it carries over, taken
    from ``known`` (texts of a hybrid generation) or the embedding cache, and embedded
    for the rest, each batch kept in the cache as it completes.

    Args:
        old: the last generation (hybrid or lexical), which OldRows refer to, and
            ``old_sentence_starts`` where each of its passages' sentences begin.
        generation: the lexical generation being embedded (its folder name), for the
            status file.
        model: the model as the manifest records it (the cache's identity).
        known: embedding text -> stored vectors, from a hybrid generation.
    """
    index_dir = Path(config.index)
    dim = embedder.info.dim
    n = sum(p.end - p.start if isinstance(p, OldRows) else len(p.passages) for p in parts)
    vectors = np.zeros((n, dim), dtype=np.float32)
    blocks: list[np.ndarray | None] = []  # sentence vectors, per part or per needed row
    needs: list[_Need] = []
    slots: list[int] = []  # for each need, its index in blocks
    reused = 0
    base = 0
    hybrid = old is not None and not old.manifest.lexical_only
    for part in parts:
        if isinstance(part, OldRows):
            a, b = part.start, part.end
            if hybrid:
                vectors[base:base + b - a] = old.vectors[a:b]
                sa, sb = int(old_sentence_starts[a]), int(old_sentence_starts[b])
                blocks.append(np.asarray(old.sentence_vectors[sa:sb]))
                reused += b - a
            else:
                for k, (text, passage) in enumerate(_old_texts(old, a, b, config, embedder)):
                    needs.append(_Need(base + k, text, passage))
                    slots.append(len(blocks))
                    blocks.append(None)
            base += b - a
        else:
            for k, (text, passage) in enumerate(zip(part.texts, part.passages)):
                needs.append(_Need(base + k, text, passage))
                slots.append(len(blocks))
                blocks.append(None)
            base += len(part.passages)

    cache = EmbedCache(index_dir, model, dim)
    stored = cache.load()
    found: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    todo: dict[str, Passage] = {}
    keys: dict[str, bytes] = {}
    for need in needs:
        if need.text in known or need.text in found or need.text in todo:
            continue
        key = text_key(need.text, embedding_spans(need.text, need.passage))
        if key in stored:
            found[need.text] = stored[key]
        else:
            todo[need.text] = need.passage
            keys[need.text] = key
    del stored
    texts = list(todo)
    if on_embed is not None:
        on_embed(texts)
    status = start_status(index_dir, generation, len(found), len(found) + len(texts))
    fresh = _embed_into_cache(engine, embedder, texts,
                              [embedding_spans(t, todo[t]) for t in texts],
                              [keys[t] for t in texts], cache, index_dir, status, progress)
    found.update(fresh)
    for need, slot in zip(needs, slots):
        stored = known.get(need.text)
        reused += stored is not None
        vector, pooled = stored or found[need.text]
        vectors[need.row] = vector
        blocks[slot] = pooled
    sentence_vectors = (np.concatenate(blocks) if blocks
                        else np.zeros((0, dim))).astype(np.int8, copy=False)
    return StagedVectors(vectors, sentence_vectors.reshape(-1, dim), len(texts),
                         len(found) - len(texts), reused,
                         sum(todo[t].tokens for t in texts))


def _old_texts(old: Generation, a: int, b: int, config: Config,
               embedder: Embedder) -> list[tuple[str, Passage]]:
    """The embedding texts of rows ``a:b`` of the last generation (a lexical one keeps
    no vectors for them)."""
    out = []
    headers: dict[int, str] = {}
    for row in range(a, b):
        p = old.passages[row]
        release_row = int(p["release"])
        release = old.releases[release_row]
        if release_row not in headers:
            headers[release_row] = context_header(release, config.chunking,
                                                  embedder.count_tokens)
        start, end = int(p["start"]), int(p["end"])
        passage = Passage(release.id, int(p["ordinal"]), start, end, release.body[start:end],
                          int(p["tokens"]))
        out.append((embedding_text(headers[release_row], passage), passage))
    return out


def _embed_into_cache(engine: Engine, embedder: Embedder, texts: list[str],
                      spans: list[list[tuple[int, int]]], keys: list[bytes], cache: EmbedCache,
                      index_dir: Path, status, progress: bool
                      ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Embed ``texts`` on the engine, writing a cache shard every FLUSH_TEXTS vectors or
    FLUSH_SECONDS (and whatever is left when interrupted), and the status with it."""
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    bar = None
    if progress and texts:
        from tqdm import tqdm

        bar = tqdm(total=status.total, initial=status.done, unit="passage", desc="embedding",
                   leave=False)
    flushed = time.monotonic()

    def flush(stopped: bool = False) -> None:
        nonlocal status, flushed
        cache.flush()
        status = advance(index_dir, status, status.total - len(texts) + len(out), stopped)
        flushed = time.monotonic()

    finished = False
    try:
        for batch in engine.embed(embedder, texts, spans) if texts else ():
            pooled = [quantize_unit(p) for p in batch.pooled]
            for r, v, q in zip(batch.rows, batch.vectors, pooled):
                out[texts[r]] = (np.asarray(v, np.float32), q)
            cache.add([keys[r] for r in batch.rows], batch.vectors, pooled)
            if bar:
                bar.update(len(batch.rows))
            if cache.pending >= FLUSH_TEXTS or time.monotonic() - flushed >= FLUSH_SECONDS:
                flush()
        finished = True
    finally:
        # Interrupted (Ctrl-C, an engine error) or done: keep what was computed.
        flush(stopped=not finished)
        if bar:
            bar.close()
    return out
