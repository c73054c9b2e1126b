"""Build or update an index from a seeds folder, embedding only what changed.

The stages, each a function with typed inputs and outputs:

- ``plan_build``: which releases are new, changed, unchanged or removed, and the order
  of the new index's parts (runs of unchanged releases carried over, fresh releases
  chunked);
- ``embed_passages``: vectors for every fresh passage text not known already (an edit
  keeps the vectors of the passages it left alone; boilerplate is embedded once);
- ``assemble``: the new arrays, from row ranges of the last generation and the fresh
  vectors;
- ``write``: the manifest, FAISS and BM25, written as a new generation and swapped in.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..config import ChunkConfig, Config
from ..errors import IndexMismatchError, IndexNotFoundError, RagError
from ..ingest.chunking import (Passage, TokenCounter, chunk_release, context_header,
                               embedding_spans,
                               embedding_text)
from ..ingest.releases import READER_VERSION, LoadResult, Release, Skipped, file_stamp
from ..ingest.sentences import passage_sentences
from ..model.embedder import Embedder
from ..vectors import quantize_unit
from ..version import __version__
from . import staged, store
from .dense import make_faiss_index
from .embed_cache import EmbedCache
from .embed_status import clear_status, start_status
from .engine import Engine, LocalEngine
from .lexical import LexicalIndex, NewTexts, OldRows
from .manifest import (HYBRID, LEXICAL, Counts, FaissSettings, IndexSettings, Manifest, ReleaseEntry,
                       SkippedEntry, Stamp)
from .serving import backend
from .vectorstore import Backend

log = logging.getLogger(__name__)


@dataclass
class BuildReport:
    """What a build did."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    passages: int = 0
    passages_embedded: int = 0
    passages_reused: int = 0
    tokens_embedded: int = 0
    full: bool = False
    reason: str = ""
    seconds: float = 0.0
    index_path: Path | None = None
    published: str = ""  # what the vector store did to serve it (rag.index.serving)
    passages_cached: int = 0  # vectors an interrupted build had kept (rag.index.staged)
    lexical_path: Path | None = None  # the lexical generation published first, if one was
    lexical_seconds: float = 0.0  # when it was
    stages: dict[str, float] = field(default_factory=dict)  # seconds per stage, in order

    @property
    def wrote(self) -> bool:
        return self.index_path is not None

    def summary(self) -> str:
        mode = "full rebuild" + (f" ({self.reason})" if self.reason else "") if self.full \
            else "incremental"
        lines = [f"{mode}: {len(self.added)} added, {len(self.changed)} changed, "
                 f"{len(self.removed)} removed, {self.unchanged} unchanged; "
                 f"{self.passages_embedded} passages embedded ({self.tokens_embedded} tokens), "
                 + (f"{self.passages_reused} reused, "
                    if self.passages_reused else "") +
                 f"{self.passages} in the index; {self.seconds:.1f} s"]
        if self.lexical_path is not None:
            lines.append(f"lexical generation published after {self.lexical_seconds:.1f} s "
                         "(BM25 only), then the hybrid one")
        if self.passages_cached:
            lines.append(f"{self.passages_cached} passage vectors were kept from an "
                         "interrupted embedding")
        if not self.wrote:
            lines.append("index is up to date; nothing written")
        if self.published:
            lines.append(self.published)
        if self.skipped:
            lines.append(f"skipped {len(self.skipped)} file(s):")
            lines.extend(f"  {s.path}: {s.reason}" for s in self.skipped)
        return "\n".join(lines)


# --- the last generation ---------------------------------------------------------------

@dataclass
class Previous:
    """The current generation, read for reuse by the next one."""

    gen: store.Generation
    lexical: LexicalIndex
    path: Path | None = None  # its folder
    by_id: dict[str, Release] = field(init=False)
    rows: dict[str, tuple[int, int]] = field(init=False)  # release id -> its passage rows
    sentence_starts: np.ndarray = field(init=False)  # passage row -> its first sentence row

    def __post_init__(self) -> None:
        self.by_id = {r.id: r for r in self.gen.releases}
        starts = store.group_starts(self.gen.passages["release"], len(self.gen.releases))
        self.rows = {r.id: (int(starts[i]), int(starts[i + 1]))
                     for i, r in enumerate(self.gen.releases)}
        self.sentence_starts = store.group_starts(self.gen.sentences["passage"],
                                                  len(self.gen.passages))

    def reuse(self, release_id: str, stamp: Stamp) -> Release | None:
        """The stored release of a file whose stamp is the one recorded when it was read
        (by a reader of this version: another one may read the same bytes otherwise)."""
        entry = self.gen.manifest.releases.get(release_id)
        if entry is None or entry.stamp != stamp or self.gen.manifest.reader != READER_VERSION:
            return None
        return self.by_id.get(release_id)


def read_previous(index_dir: Path, expected: IndexSettings,
                  full: bool) -> tuple[Previous | None, str]:
    """The current generation to reuse, or None and why a full build is needed."""
    if full:
        return None, "--full"
    try:
        gen_dir = store.resolve(index_dir)
    except IndexNotFoundError:
        return None, "no index yet"
    except RagError as exc:
        return None, f"previous index unusable: {exc}"
    try:
        # Settings first: an index of another format need not have this format's files.
        store.read_manifest(gen_dir).check(expected)
        gen = store.read_generation(gen_dir)
        lexical = LexicalIndex.load(gen_dir / store.BM25)
    except IndexMismatchError as exc:
        return None, exc.reason
    except RagError as exc:
        return None, f"previous index unusable: {exc}"
    if lexical.size != len(gen.passages):
        return None, (f"previous index unusable: {gen_dir / store.BM25} covers {lexical.size} "
                      f"passages, the index has {len(gen.passages)}")
    return Previous(gen, lexical, gen_dir), ""


# --- plan ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Kept:
    """A run of unchanged releases whose passages are rows ``start:end`` of the last
    generation; they become release rows ``first``, ``first + 1``, ... of the new one."""

    first: int
    counts: tuple[int, ...]  # passages per release
    start: int
    end: int


@dataclass(frozen=True)
class Fresh:
    """A new or changed release (release row ``row``): its passages and the texts the
    model embeds for them (header + passage)."""

    row: int
    passages: tuple[Passage, ...]
    texts: tuple[str, ...]


@dataclass
class Plan:
    """What the next generation is made of, in release order."""

    releases: list[Release]
    parts: list[Kept | Fresh]
    entries: dict[str, ReleaseEntry]
    skipped: dict[str, SkippedEntry]
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0

    @property
    def fresh(self) -> list[Fresh]:
        return [p for p in self.parts if isinstance(p, Fresh)]

    @property
    def passage_count(self) -> int:
        """Passages of the index this plan builds, kept and new."""
        return sum(p.end - p.start if isinstance(p, Kept) else len(p.passages)
                   for p in self.parts)

    @property
    def changes(self) -> bool:
        return bool(self.added or self.changed or self.removed)


# A release -> its context header and passages (``chunk_here``, or an engine's ``chunk``
# that returns the same, e.g. cut on a cluster while the release was read).
Chunker = Callable[[Release, ChunkConfig, TokenCounter], tuple[str, list[Passage]]]


def chunk_here(release: Release, chunking: ChunkConfig,
               count: TokenCounter) -> tuple[str, list[Passage]]:
    """A release's context header and passages, cut in this process."""
    return context_header(release, chunking, count), chunk_release(release, chunking, count)


def plan_build(loaded: LoadResult, previous: Previous | None, config: Config,
               embedder: Embedder, chunk: Chunker = chunk_here) -> Plan:
    """Compare the releases read with the last generation and chunk what is new."""
    old = previous.gen if previous is not None else None
    old_hashes = {rid: e.hash for rid, e in old.manifest.releases.items()} if old else {}
    releases = sorted(loaded.releases, key=lambda r: r.id)
    root = Path(config.seeds)
    plan = Plan(releases, [], _release_entries(releases, root, loaded.stamps),
                {s.path: SkippedEntry(s.reason, loaded.stamps.get(s.path)
                                      or _stamp_or_none(root, s.path))
                 for s in loaded.skipped},
                removed=sorted(set(old_hashes) - {r.id for r in releases}))
    count = embedder.count_tokens
    for row, release in enumerate(releases):
        if previous is not None and old_hashes.get(release.id) == release.content_hash:
            plan.unchanged += 1
            a, b = previous.rows[release.id]
            last = plan.parts[-1] if plan.parts else None
            if isinstance(last, Kept) and last.end == a:
                # A run of unchanged releases is one contiguous block of the old arrays.
                plan.parts[-1] = Kept(last.first, last.counts + (b - a,), last.start, b)
            else:
                plan.parts.append(Kept(row, (b - a,), a, b))
            continue
        (plan.changed if release.id in old_hashes else plan.added).append(release.id)
        header, chunks = chunk(release, config.chunking, count)
        plan.parts.append(Fresh(row, tuple(chunks),
                                tuple(embedding_text(header, p) for p in chunks)))
    return plan


def _release_entries(releases: list[Release], root: Path,
                     stamps: dict[str, Stamp]) -> dict[str, ReleaseEntry]:
    """Per release: content hash and file stamp (size, mtime, as taken before the file
    was read); passage counts come later."""
    return {r.id: ReleaseEntry(r.content_hash, stamps[r.id] if r.id in stamps
                               else _stamp_or_none(root, r.id))
            for r in releases}


def _stamp_or_none(root: Path, rel: str) -> Stamp | None:
    try:
        return file_stamp(Path(root) / rel)
    except OSError:
        return None


# --- embed -----------------------------------------------------------------------------

# Embedding text -> (passage vector, int8 sentence vectors).
Known = dict[str, tuple[np.ndarray, np.ndarray]]


@dataclass
class Embedded:
    """Vectors for every fresh text, and what it took."""

    known: Known
    embedded: int
    reused: int
    tokens: int


def embed_passages(plan: Plan, previous: Previous | None, config: Config, embedder: Embedder,
                   progress: bool = False,
                   on_embed: Callable[[list[str]], None] | None = None,
                   engine: Engine | None = None) -> Embedded:
    """Vectors for the fresh passages: reused where the last generation has the same
    text (a changed release's untouched passages), embedded once per distinct text."""
    known = _old_vectors_of_changed(previous, plan.changed, config, embedder)
    texts = [t for part in plan.fresh for t in part.texts]
    passage_of = {t: p for part in plan.fresh for p, t in zip(part.passages, part.texts)}
    unique = list(dict.fromkeys(t for t in texts if t not in known))
    if on_embed is not None:
        on_embed(unique)
    vectors, pooled = _embed(engine or LocalEngine(), embedder, unique,
                             [embedding_spans(t, passage_of[t]) for t in unique], progress)
    known.update(zip(unique, zip(vectors, pooled)))
    return Embedded(known, len(unique), len(texts) - len(unique),
                    sum(passage_of[t].tokens for t in unique))


def _old_vectors_of_changed(previous: Previous | None, changed: list[str], config: Config,
                            embedder: Embedder) -> Known:
    """Embedding text -> stored vectors, for the old passages of changed releases."""
    if previous is None or not changed:
        return {}
    old = previous.gen
    known = {}
    for rid in changed:
        release = previous.by_id[rid]
        header = context_header(release, config.chunking, embedder.count_tokens)
        a, b = previous.rows[rid]
        for row in range(a, b):
            p = old.passages[row]
            start, end = int(p["start"]), int(p["end"])
            passage = Passage(rid, int(p["ordinal"]), start, end, release.body[start:end], 0)
            sa, sb = int(previous.sentence_starts[row]), int(previous.sentence_starts[row + 1])
            known[embedding_text(header, passage)] = (np.asarray(old.vectors[row]),
                                                      np.asarray(old.sentence_vectors[sa:sb]))
    return known


def _embed(engine: Engine, embedder: Embedder, texts: list[str],
           spans: list[list[tuple[int, int]]],
           progress: bool) -> tuple[np.ndarray, list[np.ndarray]]:
    """Embed texts on the engine and pool a vector for each span of each text; results
    come back in the order of ``texts``."""
    dim = embedder.info.dim
    vectors = np.zeros((len(texts), dim), dtype=np.float32)
    pooled: list[np.ndarray] = [np.zeros((0, dim), np.int8)] * len(texts)
    bar = None
    if progress and texts:
        from tqdm import tqdm

        bar = tqdm(total=len(texts), unit="passage", desc="embedding", leave=False)
    for batch in engine.embed(embedder, texts, spans) if texts else ():
        vectors[batch.rows] = batch.vectors
        for r, p in zip(batch.rows, batch.pooled):
            pooled[r] = quantize_unit(p)
        if bar:
            bar.update(len(batch.rows))
    if bar:
        bar.close()
    return vectors, pooled


# --- assemble --------------------------------------------------------------------------

@dataclass(frozen=True)
class Tables:
    """The new generation's passage and sentence tables (see ``rag.index.store``)."""

    passages: np.ndarray
    sentences: np.ndarray


@dataclass(frozen=True)
class Arrays:
    """The new generation's tables (see ``rag.index.store``)."""

    passages: np.ndarray
    vectors: np.ndarray
    sentences: np.ndarray
    sentence_vectors: np.ndarray


def _joined(parts: list[np.ndarray], empty: np.ndarray) -> np.ndarray:
    return np.concatenate(parts) if parts else empty


def assemble_tables(plan: Plan, previous: Previous | None) -> Tables:
    """The new passage and sentence tables, in release order: carried-over blocks and
    fresh rows."""
    passage_rows, sentence_rows = [], []
    base = 0  # passage row of the part being added
    for part in plan.parts:
        if isinstance(part, Kept):
            old = previous.gen
            a, b = part.start, part.end
            chunk = np.array(old.passages[a:b])
            chunk["release"] = np.repeat(np.arange(part.first, part.first + len(part.counts)),
                                         part.counts)
            passage_rows.append(chunk)
            sa, sb = int(previous.sentence_starts[a]), int(previous.sentence_starts[b])
            sentences = np.array(old.sentences[sa:sb])
            sentences["passage"] += base - a
            sentence_rows.append(sentences)
        else:
            # Rows as tuples, made into one array per release: assigning them one by one
            # took seconds per hundred thousand sentences.
            chunk = np.array([(part.row, p.ordinal, p.start, p.end, p.tokens)
                              for p in part.passages], dtype=store.PASSAGE_DTYPE)
            sentence_rows.append(np.array(
                [(base + k, p.start + s, p.start + e) for k, p in enumerate(part.passages)
                 for s, e in passage_sentences(p.text)], dtype=store.SENTENCE_DTYPE))
            passage_rows.append(chunk.reshape(len(part.passages)))
        base += len(passage_rows[-1])
    return Tables(_joined(passage_rows, np.zeros(0, dtype=store.PASSAGE_DTYPE)),
                  _joined(sentence_rows, np.zeros(0, dtype=store.SENTENCE_DTYPE)))


def assemble(plan: Plan, previous: Previous | None, embedded: Embedded, dim: int) -> Arrays:
    """The new tables and their vectors, in release order: carried-over blocks and fresh
    rows."""
    tables = assemble_tables(plan, previous)
    vectors, sentence_vectors = [], []
    for part in plan.parts:
        if isinstance(part, Kept):
            old = previous.gen
            a, b = part.start, part.end
            vectors.append(np.asarray(old.vectors[a:b]))
            sa, sb = int(previous.sentence_starts[a]), int(previous.sentence_starts[b])
            sentence_vectors.append(np.asarray(old.sentence_vectors[sa:sb]))
        else:
            sentence_vectors.extend(embedded.known[text][1] for text in part.texts)
            vectors.append(np.array([embedded.known[t][0] for t in part.texts],
                                    dtype=np.float32).reshape(len(part.texts), dim))
    return Arrays(
        tables.passages,
        _joined(vectors, np.zeros((0, dim))).astype(np.float32, copy=False),
        tables.sentences,
        _joined(sentence_vectors, np.zeros((0, dim))).astype(np.int8, copy=False))


def assemble_lexical(plan: Plan, previous: Previous | None) -> LexicalIndex:
    """BM25 over header + passage (the text the model embeds, so titles and dates count
    as lexical evidence too): unchanged releases' postings are carried over; only the
    fresh passages are analysed."""
    parts = [OldRows(p.start, p.end) if isinstance(p, Kept) else NewTexts(list(p.texts))
             for p in plan.parts]
    return LexicalIndex.assemble(parts, previous.lexical if previous is not None else None)


# --- write -----------------------------------------------------------------------------

def make_manifest(plan: Plan, arrays: Arrays | Tables, lexical: LexicalIndex,
                  settings: IndexSettings, faiss: FaissSettings, seeds: Path,
                  kind: str = HYBRID) -> Manifest:
    counts = np.bincount(arrays.passages["release"], minlength=len(plan.releases))
    entries = {r.id: ReleaseEntry(plan.entries[r.id].hash, plan.entries[r.id].stamp,
                                  int(counts[row]))
               for row, r in enumerate(plan.releases)}
    return Manifest(
        settings=settings,
        counts=Counts(len(plan.releases), len(arrays.passages), len(plan.skipped)),
        releases=entries, skipped=plan.skipped, faiss=faiss,
        bm25=dict(lexical.settings, text="header + passage",
                  files="params.json vocab.json indptr.npy rows.npy tf.npy lengths.npy"),
        package_version=__version__,
        created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        seeds=str(Path(seeds).resolve()), reader=READER_VERSION, kind=kind)


def _up_to_date(plan: Plan, previous: Previous | None, faiss: FaissSettings) -> bool:
    """Nothing changed, not even a file time: the stale check stays cheap."""
    if previous is None or plan.changes:
        return False
    manifest = previous.gen.manifest
    return ({rid: (e.hash, e.stamp) for rid, e in manifest.releases.items()}
            == {rid: (e.hash, e.stamp) for rid, e in plan.entries.items()}
            and manifest.faiss == faiss and dict(manifest.skipped) == plan.skipped
            and manifest.reader == READER_VERSION)


def build_index(config: Config, embedder: Embedder, *, full: bool = False,
                progress: bool = True, lock_wait: float = 0.0,
                on_embed: Callable[[list[str]], None] | None = None,
                releases: list[Release] | None = None,
                engine: Engine | None = None, lexical_first: bool | None = None,
                on_lexical: Callable[[BuildReport], None] | None = None) -> BuildReport:
    """Bring the index in ``config.index`` up to date with ``config.seeds``.

    New and changed releases are chunked and embedded; unchanged ones keep their
    stored passages and vectors; removed ones are dropped. An index built with other
    settings (model, dimension, chunking, format) is rebuilt in full.

    A large build (see ``build.lexical_first_new`` and ``lexical_first_update``) first
    publishes a lexical generation, searchable with BM25, then embeds and publishes the
    hybrid one (``rag.index.staged``); a current lexical generation is embedded and
    finished the same way, reusing the vectors an interrupted build kept.

    Args:
        config: seeds folder, index folder, model and chunking settings.
        embedder: the model that embeds passages.
        full: rebuild everything even if nothing changed.
        progress: show a progress bar while embedding.
        lock_wait: seconds to wait for another build's lock.
        on_embed: called with each list of texts before it is embedded (for tests
            and benchmarks that count the work).
        releases: index these instead of reading ``config.seeds`` (e.g. a BEIR corpus).
        engine: where releases are read and passages embedded (``rag.index.engine``);
            this process by default.
        lexical_first: publish a lexical generation first (True), never (False), or as
            ``config.build`` says (None).
        on_lexical: called once the lexical generation is current, with the report
            so far (``lexical_path`` is its folder; the app starts serving from it).

    Returns:
        What was done. Nothing is written when nothing changed.

    The generation written (or, when nothing changed, the current one) is then
    published to the vector store ``config.store`` names (``rag.index.serving``).

    Raises:
        ReleaseError: the seeds folder does not exist.
        IndexLockedError: another build holds the index.
        StoreError: the Qdrant server or folder cannot be used.
    """
    started = time.perf_counter()
    config.chunking.fits(embedder.info.max_tokens)
    settings = IndexSettings.of(config, embedder.info)
    index_dir = Path(config.index)
    stores = backend(config.store)  # now: a missing qdrant-client or a busy folder fails early
    with store.build_lock(index_dir, wait=lock_wait):
        store.prune(index_dir)
        previous, reason = read_previous(index_dir, settings, full)
        # Files whose stamp is unchanged since the last build are not parsed again.
        engine = engine or LocalEngine()
        loaded = LoadResult(releases, []) if releases is not None else engine.load(
            config.seeds, reuse=previous.reuse if previous is not None else None)
        read = time.perf_counter()
        # An engine may cut passages where it read the releases (``RayEngine.chunk``).
        plan = plan_build(loaded, previous, config, embedder,
                          getattr(engine, "chunk", None) or chunk_here)
        # ``faiss: auto`` picks the dense index by the size of the index built.
        faiss = FaissSettings.of(config.retrieval, plan.passage_count)
        report = BuildReport(added=plan.added, changed=plan.changed, removed=plan.removed,
                             unchanged=plan.unchanged, skipped=loaded.skipped,
                             full=previous is None, reason=reason,
                             stages={"read": read - started,
                                     "chunk": time.perf_counter() - read})
        pending = previous is not None and previous.gen.manifest.lexical_only
        up_to_date = _up_to_date(plan, previous, faiss)
        if up_to_date and not pending:
            report.published = stores.publish(index_dir)  # a build stopped before it
            report.passages = len(previous.gen.passages)
            report.seconds = time.perf_counter() - started
            return report
        fresh = sum(len(p.passages) for p in plan.fresh)
        # Qdrant serves hybrid collections only: a lexical generation is never published
        # there (but one left by a FAISS build is still finished here).
        if pending or (stores.name == "faiss" and staged.wants_lexical_first(
                config.build, previous.gen if previous is not None else None, fresh,
                lexical_first)):
            enabled = config.build.lexical_first if lexical_first is None else lexical_first
            # A current lexical generation with nothing changed is published already.
            _build_staged(config, embedder, engine, stores, plan, previous, settings, faiss,
                          report,
                          publish=enabled and not (pending and up_to_date),
                          progress=progress, on_embed=on_embed, on_lexical=on_lexical,
                          started=started)
            return report
        embedded = embed_passages(plan, previous, config, embedder, progress, on_embed,
                                  engine)
        report.passages_embedded, report.passages_reused = embedded.embedded, embedded.reused
        report.tokens_embedded = embedded.tokens
        arrays = assemble(plan, previous, embedded, embedder.info.dim)
        del embedded
        lexical = assemble_lexical(plan, previous)
        report.index_path = _write_hybrid(config, plan, arrays, lexical, settings, faiss,
                                          arrays.vectors, arrays.sentence_vectors)
        store.prune(index_dir)
        report.published = stores.publish(index_dir)
        report.passages = len(arrays.passages)
        report.seconds = time.perf_counter() - started
        return report


def _write_hybrid(config: Config, plan: Plan, tables: Arrays | Tables, lexical: LexicalIndex,
                  settings: IndexSettings, faiss: FaissSettings, vectors: np.ndarray,
                  sentence_vectors: np.ndarray) -> Path:
    """Write (not publish) the hybrid generation of a build, one step or staged: its
    manifest, tables, vectors, FAISS index and BM25; returns its folder."""
    manifest = make_manifest(plan, tables, lexical, settings, faiss, config.seeds)
    gen = store.Generation(manifest, plan.releases, tables.passages, vectors,
                           tables.sentences, sentence_vectors)
    return store.write_generation(Path(config.index), gen, make_faiss_index(vectors, faiss),
                                  lexical)


def _build_staged(config: Config, embedder: Embedder, engine: Engine, stores: Backend,
                  plan: Plan, previous: Previous | None, settings: IndexSettings,
                  faiss: FaissSettings,
                  report: BuildReport, *, publish: bool, progress: bool,
                  on_embed: Callable[[list[str]], None] | None,
                  on_lexical: Callable[[BuildReport], None] | None, started: float) -> None:
    """The lexical-first build (``rag.index.staged``): the lexical generation published
    (unless ``publish`` is false: the current one is it, or lexical-first is off), then
    the vectors, then the hybrid generation; fills ``report``."""
    index_dir = Path(config.index)
    mark = time.perf_counter()

    def stage(name: str) -> None:
        nonlocal mark
        report.stages[name] = time.perf_counter() - mark
        mark = time.perf_counter()

    tables = assemble_tables(plan, previous)
    stage("tables")
    lexical = assemble_lexical(plan, previous)
    stage("bm25")
    dim = embedder.info.dim
    report.passages = len(tables.passages)
    if publish:
        manifest = make_manifest(plan, tables, lexical, settings, faiss, config.seeds, LEXICAL)
        gen = store.Generation(manifest, plan.releases, tables.passages,
                               np.zeros((len(tables.passages), 0), np.float32),
                               tables.sentences, np.zeros((len(tables.sentences), 0), np.int8))
        report.lexical_path = store.write_generation(index_dir, gen, None, lexical)
        report.lexical_seconds = time.perf_counter() - started
        # Readers see "embedding 0%" from now on; the embedding refines done and total.
        start_status(index_dir, report.lexical_path.name, 0, len(tables.passages))
        stage("write lexical")
        if on_lexical is not None:
            on_lexical(report)
            mark = time.perf_counter()
    lexical_gen = report.lexical_path or (previous.path if previous is not None else None)
    hybrid = previous is not None and not previous.gen.manifest.lexical_only
    known = _old_vectors_of_changed(previous, plan.changed, config, embedder) if hybrid else {}
    parts = [OldRows(p.start, p.end) if isinstance(p, Kept)
             else staged.NewRows(p.passages, p.texts) for p in plan.parts]
    found = staged.vectors_for(parts, previous.gen if previous is not None else None,
                               previous.sentence_starts if previous is not None else None,
                               config, embedder, engine,
                               lexical_gen.name if lexical_gen else "", settings.model, known,
                               progress, on_embed)
    report.passages_embedded, report.passages_cached = found.embedded, found.cached
    report.passages_reused = found.reused
    report.tokens_embedded = found.tokens
    del known
    stage("embed")
    report.index_path = _write_hybrid(config, plan, tables, lexical, settings, faiss,
                                      found.vectors, found.sentence_vectors)
    EmbedCache(index_dir, settings.model, dim).clear()
    clear_status(index_dir)
    store.prune(index_dir)
    stage("write hybrid")
    report.published = stores.publish(index_dir)
    report.seconds = time.perf_counter() - started
