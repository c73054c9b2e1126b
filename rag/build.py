"""Build or update an index from a seeds folder, embedding only what changed."""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import __version__, store
from .chunking import Passage, chunk_release, context_header, embedding_text
from .config import Config
from .embedding import Embedder
from .lexical import LexicalIndex
from .errors import IndexNotFoundError, RagError
from .text import passage_sentences
from .releases import (LoadResult, Release, Skipped, file_stamp, find_release_files,
                       load_releases)

log = logging.getLogger(__name__)

EMBED_BATCH = 256  # texts per progress step; the model batches further inside


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
        if not self.wrote:
            lines.append("index is up to date; nothing written")
        if self.skipped:
            lines.append(f"skipped {len(self.skipped)} file(s):")
            lines.extend(f"  {s.path}: {s.reason}" for s in self.skipped)
        return "\n".join(lines)


def index_settings(config: Config, embedder: Embedder) -> dict[str, Any]:
    """The settings that shape an index; a difference means a full rebuild."""
    return {
        "format_version": store.FORMAT_VERSION,
        "model": {"name": config.model.name, "id": embedder.model_id, "dim": embedder.dim,
                  "precision": embedder.precision,
                  # how that precision is computed (the int8 export recipe, say)
                  "variant": getattr(embedder, "variant", "")},
        "chunking": {"max_tokens": config.chunking.max_tokens,
                     "overlap_sentences": config.chunking.overlap_sentences,
                     "header": config.chunking.header,
                     "header_tokens": config.chunking.header_tokens},
    }


def settings_mismatch(manifest: dict[str, Any], expected: dict[str, Any]) -> str:
    """Say how a manifest's settings differ from the expected ones ('' if they agree)."""
    if manifest.get("format_version") != expected["format_version"]:
        return (f"index format {manifest.get('format_version')} is not the supported "
                f"{expected['format_version']}")
    for section in ("model", "chunking"):
        have, want = manifest.get(section, {}), expected[section]
        for key, value in want.items():
            if key == "name":
                continue  # the same model may be named by a path or by id
            if have.get(key) != value:
                return f"{section}.{key} is {have.get(key)!r} in the index, {value!r} in the config"
    return ""


def _embed(embedder: Embedder, texts: list[str], spans: list[list[tuple[int, int]]],
           progress: bool) -> tuple[np.ndarray, list[np.ndarray]]:
    """Embed texts, longest first (so a batch is little padding), and pool a vector
    for each span of each text; results come back in the order of ``texts``."""
    vectors = np.zeros((len(texts), embedder.dim), dtype=np.float32)
    pooled: list[np.ndarray] = [np.zeros((0, embedder.dim), np.int8)] * len(texts)
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    bar = None
    if progress and texts:
        from tqdm import tqdm

        bar = tqdm(total=len(texts), unit="passage", desc="embedding", leave=False)
    for i in range(0, len(order), EMBED_BATCH):
        rows = order[i:i + EMBED_BATCH]
        batch_vectors, batch_pooled = embedder.encode([texts[r] for r in rows],
                                                      [spans[r] for r in rows])
        vectors[rows] = batch_vectors
        for r, p in zip(rows, batch_pooled):
            pooled[r] = store.quantize_unit(p)
        if bar:
            bar.update(len(rows))
    if bar:
        bar.close()
    return vectors, pooled


def _text_spans(text: str, passage: Passage) -> list[tuple[int, int]]:
    """The passage's sentence spans, as offsets into its embedding text."""
    offset = len(text) - len(passage.text)
    return [(offset + s, offset + e) for s, e in passage_sentences(passage.text)]


def faiss_settings(config: Config) -> dict[str, Any]:
    """The dense index's settings, as recorded in the manifest."""
    r = config.retrieval
    settings: dict[str, Any] = {"type": r.faiss, "metric": "inner_product"}
    if r.faiss == "hnsw":
        settings["m"] = r.hnsw_m
    else:
        settings["storage"] = "float16"  # scanned, then re-ranked exactly in float32
    return settings


def make_faiss_index(vectors: np.ndarray, settings: dict[str, Any] | None = None):
    """An inner-product FAISS index over L2-normalised vectors (cosine similarity):
    exact (``flat``) by default, or an HNSW graph (``hnsw``).

    ``flat`` with ``storage: float16`` is a full scan of float16 copies of the vectors
    (half the memory traffic of float32); the search re-ranks its candidates with the
    float32 vectors, so the scores and order it returns are exact.
    """
    import faiss

    settings = settings or {"type": "flat"}
    if settings["type"] == "hnsw":
        index = faiss.IndexHNSWFlat(vectors.shape[1], settings["m"], faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
    elif settings.get("storage") == "float16":
        index = faiss.IndexScalarQuantizer(vectors.shape[1], faiss.ScalarQuantizer.QT_fp16,
                                           faiss.METRIC_INNER_PRODUCT)
    else:
        index = faiss.IndexFlatIP(vectors.shape[1])
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


@dataclass
class _Previous:
    """The current generation, read for reuse by the next one."""

    gen: store.Generation
    lexical: LexicalIndex
    by_id: dict[str, Release] = field(init=False)

    def __post_init__(self) -> None:
        self.by_id = {r.id: r for r in self.gen.releases}

    def reuse(self, release_id: str, stamp: list[int]) -> Release | None:
        """The stored release of a file whose stamp is the one recorded when it was read."""
        entry = self.gen.manifest["releases"].get(release_id)
        if entry is None or entry.get("stamp") != stamp:
            return None
        return self.by_id.get(release_id)


def _previous(index_dir: Path, expected: dict[str, Any],
              full: bool) -> tuple[_Previous | None, str]:
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
        mismatch = settings_mismatch(store.read_manifest(gen_dir), expected)
        if mismatch:
            return None, mismatch
        gen = store.read_generation(gen_dir)
        lexical = LexicalIndex.load(gen_dir / store.BM25)
    except RagError as exc:
        return None, f"previous index unusable: {exc}"
    if lexical.size != len(gen.passages):
        return None, (f"previous index unusable: {gen_dir / store.BM25} covers {lexical.size} "
                      f"passages, the index has {len(gen.passages)}")
    return _Previous(gen, lexical), ""


def build_index(config: Config, embedder: Embedder, *, full: bool = False,
                progress: bool = True, lock_wait: float = 0.0,
                on_embed: Callable[[list[str]], None] | None = None,
                releases: list[Release] | None = None) -> BuildReport:
    """Bring the index in ``config.index`` up to date with ``config.seeds``.

    New and changed releases are chunked and embedded; unchanged ones keep their
    stored passages and vectors; removed ones are dropped. An index built with other
    settings (model, dimension, chunking, format) is rebuilt in full.

    Args:
        config: seeds folder, index folder, model and chunking settings.
        embedder: the model that embeds passages.
        full: rebuild everything even if nothing changed.
        progress: show a progress bar while embedding.
        lock_wait: seconds to wait for another build's lock.
        on_embed: called with each list of texts before it is embedded (for tests
            and benchmarks that count the work).
        releases: index these instead of reading ``config.seeds`` (e.g. a BEIR corpus).

    Returns:
        What was done. Nothing is written when nothing changed.

    Raises:
        ReleaseError: the seeds folder does not exist.
        IndexLockedError: another build holds the index.
    """
    started = time.perf_counter()
    config.chunking.fits(embedder.max_tokens)
    expected = index_settings(config, embedder)
    index_dir = Path(config.index)
    with store.build_lock(index_dir, wait=lock_wait):
        store.prune(index_dir)
        previous, reason = _previous(index_dir, expected, full)
        old = previous.gen if previous is not None else None
        # Files whose stamp is unchanged since the last build are not parsed again.
        loaded = LoadResult(releases, []) if releases is not None else load_releases(
            config.seeds, reuse=previous.reuse if previous is not None else None)
        report = BuildReport(skipped=loaded.skipped)
        report.full, report.reason = old is None, reason
        old_by_id = {}
        old_hashes: dict[str, str] = {}
        if old is not None:
            old_hashes = {rid: info["hash"] for rid, info in old.manifest["releases"].items()}
            starts = store.group_starts(old.passages["release"], len(old.releases))
            old_by_id = {r.id: (int(starts[i]), int(starts[i + 1]))
                         for i, r in enumerate(old.releases)}

        releases = sorted(loaded.releases, key=lambda r: r.id)
        new_ids = {r.id for r in releases}
        report.removed = sorted(set(old_hashes) - new_ids)

        to_embed: list[tuple[int, Passage, str]] = []  # (release row, passage, text)
        parts: list[tuple[str, Any]] = []  # ("old", (a, b)) or ("new", [passages])
        # The same rows for BM25, with the texts of new passages: header + passage, the
        # text the model embeds, so titles and dates count as lexical evidence too.
        lexical_parts: list[tuple[str, Any]] = []
        for row, release in enumerate(releases):
            h = release.content_hash
            if old_hashes.get(release.id) == h:
                report.unchanged += 1
                parts.append(("old", old_by_id[release.id]))
                lexical_parts.append(parts[-1])
                continue
            (report.changed if release.id in old_hashes else report.added).append(release.id)
            count = embedder.count_tokens
            header = context_header(release, config.chunking, count)
            chunks = chunk_release(release, config.chunking, count)
            texts = [embedding_text(header, p) for p in chunks]
            parts.append(("new", chunks))
            lexical_parts.append(("new", texts))
            to_embed.extend((row, p, t) for p, t in zip(chunks, texts))

        entries = _release_entries(releases, config.seeds, loaded.stamps)
        skipped = {s.path: {"reason": s.reason, "stamp": loaded.stamps.get(s.path)
                            or _stamp_or_none(config.seeds, s.path)}
                   for s in report.skipped}
        if old is not None and not (report.added or report.changed or report.removed) \
                and _stamps(old.manifest["releases"]) == entries \
                and old.manifest.get("faiss") == faiss_settings(config) \
                and old.manifest.get("skipped") == skipped:
            # Nothing changed, not even a file time: the stale check stays cheap.
            report.passages = len(old.passages)
            report.seconds = time.perf_counter() - started
            return report

        all_texts = [t for _, _, t in to_embed]
        # Row ranges of each old passage's sentences, for everything reused below.
        old_sentence_starts = None if old is None else store.group_starts(
            old.sentences["passage"], len(old.passages))
        known = _old_vectors_of_changed(old, old_sentence_starts, report.changed, old_by_id,
                                        config, embedder)
        # No text is embedded twice: passages an edit left alone keep their vectors, and
        # passages repeated across releases (boilerplate) are embedded once.
        unique = list(dict.fromkeys(t for t in all_texts if t not in known))
        if on_embed is not None:
            on_embed(unique)
        passage_of = {t: p for _, p, t in to_embed}
        vectors_, pooled_ = _embed(embedder, unique, [_text_spans(t, passage_of[t]) for t in unique],
                                   progress)
        known.update(zip(unique, zip(vectors_, pooled_)))
        del vectors_, pooled_
        new_vectors = np.array([known[t][0] for t in all_texts],
                               dtype=np.float32).reshape(len(all_texts), embedder.dim)
        report.passages_embedded = len(unique)
        report.passages_reused = len(all_texts) - len(unique)
        tokens = {t: p.tokens for _, p, t in to_embed}
        report.tokens_embedded = sum(tokens[t] for t in unique)

        rows, vecs, new_pos, base = [], [], 0, 0
        sentence_rows, sentence_vecs = [], []
        for first, counts, (kind, part) in _coalesced(parts):
            if kind == "old":
                # A run of unchanged releases is one contiguous block of the old arrays.
                a, b = part
                chunk = np.array(old.passages[a:b])
                chunk["release"] = np.repeat(np.arange(first, first + len(counts)), counts)
                rows.append(chunk)
                vecs.append(np.asarray(old.vectors[a:b]))
                sa, sb = int(old_sentence_starts[a]), int(old_sentence_starts[b])
                sentences = np.array(old.sentences[sa:sb])
                sentences["passage"] += base - a
                sentence_rows.append(sentences)
                sentence_vecs.append(np.asarray(old.sentence_vectors[sa:sb]))
            else:
                row = first
                chunk = np.zeros(len(part), dtype=store.PASSAGE_DTYPE)
                for k, p in enumerate(part):
                    chunk[k] = (row, p.ordinal, p.start, p.end, p.tokens)
                    text = all_texts[new_pos + k]
                    spans = passage_sentences(p.text)
                    sentences = np.zeros(len(spans), dtype=store.SENTENCE_DTYPE)
                    for j, (s, e) in enumerate(spans):
                        sentences[j] = (base + k, p.start + s, p.start + e)
                    sentence_rows.append(sentences)
                    sentence_vecs.append(known[text][1])
                rows.append(chunk)
                vecs.append(new_vectors[new_pos:new_pos + len(part)])
                new_pos += len(part)
            base += len(rows[-1])
        passages = np.concatenate(rows) if rows else np.zeros(0, dtype=store.PASSAGE_DTYPE)
        vectors = (np.concatenate(vecs) if vecs else np.zeros((0, embedder.dim))).astype(
            np.float32, copy=False)
        sentences = np.concatenate(sentence_rows) if sentence_rows \
            else np.zeros(0, dtype=store.SENTENCE_DTYPE)
        sentence_vectors = (np.concatenate(sentence_vecs) if sentence_vecs
                            else np.zeros((0, embedder.dim))).astype(np.int8, copy=False)
        del known, sentence_vecs

        # Unchanged releases' postings are carried over; only new passages are analysed.
        lexical = LexicalIndex.assemble(lexical_parts,
                                        previous.lexical if previous is not None else None)

        counts = np.bincount(passages["release"], minlength=len(releases))
        for row, release in enumerate(releases):
            entries[release.id]["passages"] = int(counts[row])
        manifest = dict(expected)
        manifest.update({
            "package_version": __version__,
            "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "seeds": str(Path(config.seeds).resolve()),
            "faiss": faiss_settings(config),
            "bm25": dict(lexical.settings, text="header + passage",
                         files="params.json vocab.json indptr.npy rows.npy tf.npy lengths.npy"),
            "counts": {"releases": len(releases), "passages": len(passages),
                       "skipped": len(report.skipped)},
            "releases": entries,
            "skipped": skipped,
        })
        gen = store.Generation(manifest, releases, passages, vectors, sentences,
                               sentence_vectors)
        report.index_path = store.write_generation(index_dir, gen,
                                                   make_faiss_index(vectors, manifest["faiss"]),
                                                   lexical)
        store.prune(index_dir)
        report.passages = len(passages)
        report.seconds = time.perf_counter() - started
        return report


def _coalesced(parts: list[tuple[str, Any]]):
    """Parts with each run of "old" parts whose passage ranges follow on one another
    merged into one range: (first release row, passages per release, part)."""
    out: list[tuple[int, list[int], tuple[str, Any]]] = []
    for row, (kind, part) in enumerate(parts):
        if kind == "old" and out and out[-1][2][0] == "old" and out[-1][2][1][1] == part[0]:
            first, counts, (_, (a, _)) = out[-1]
            out[-1] = (first, counts + [part[1] - part[0]], ("old", (a, part[1])))
        elif kind == "old":
            out.append((row, [part[1] - part[0]], (kind, part)))
        else:
            out.append((row, [], (kind, part)))
    return out


def _stamp_or_none(root: Path, rel: str) -> list[int] | None:
    try:
        return file_stamp(Path(root) / rel)
    except OSError:
        return None


def _old_vectors_of_changed(old: store.Generation | None,
                            sentence_starts: np.ndarray | None, changed: list[str],
                            old_by_id: dict[str, tuple[int, int]], config: Config,
                            embedder: Embedder) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Embedding text -> stored passage vector and sentence vectors, for the old
    passages of changed releases."""
    if old is None or not changed:
        return {}
    releases = {r.id: r for r in old.releases}
    known = {}
    for rid in changed:
        release = releases[rid]
        header = context_header(release, config.chunking, embedder.count_tokens)
        a, b = old_by_id[rid]
        for row in range(a, b):
            p = old.passages[row]
            start, end = int(p["start"]), int(p["end"])
            passage = Passage(rid, int(p["ordinal"]), start, end, release.body[start:end], 0)
            sa, sb = int(sentence_starts[row]), int(sentence_starts[row + 1])
            known[embedding_text(header, passage)] = (np.asarray(old.vectors[row]),
                                                      np.asarray(old.sentence_vectors[sa:sb]))
    return known


def _release_entries(releases: list[Release], root: Path,
                     stamps: dict[str, list[int]]) -> dict[str, Any]:
    """Per release: content hash and file stamp (size, mtime, as taken before the file
    was read); passage counts come later."""
    return {r.id: {"hash": r.content_hash,
                   "stamp": stamps[r.id] if r.id in stamps else _stamp_or_none(root, r.id)}
            for r in releases}


def _stamps(entries: dict[str, Any]) -> dict[str, Any]:
    return {rid: {"hash": e["hash"], "stamp": e.get("stamp")} for rid, e in entries.items()}


@dataclass(frozen=True)
class Staleness:
    """How a seeds folder differs from the index built from it."""

    added: list[str]
    changed: list[str]
    removed: list[str]

    @property
    def stale(self) -> bool:
        return bool(self.added or self.changed or self.removed)

    def describe(self) -> str:
        parts = [f"{len(v)} {k}" for k, v in (("new", self.added), ("changed", self.changed),
                                              ("removed", self.removed)) if v]
        return ", ".join(parts)


def check_staleness(manifest: dict[str, Any], seeds: Path) -> Staleness:
    """Compare the seeds folder with an index manifest.

    Files whose size and modification time match the manifest are taken as
    unchanged; the others are parsed and compared by content hash, so a `touch`
    alone does not make the index stale.
    """
    from .releases import read_release

    seeds = Path(seeds)
    indexed: dict[str, Any] = manifest.get("releases", {})
    skipped: dict[str, Any] = manifest.get("skipped", {})
    if not seeds.is_dir():
        return Staleness([], [], sorted(indexed))
    files, _ = find_release_files(seeds)
    added, changed, present = [], [], set()
    for path in files:
        rid = path.relative_to(seeds).as_posix()
        present.add(rid)
        try:
            stamp = file_stamp(path)
        except OSError:
            continue
        entry = indexed.get(rid) or skipped.get(rid)
        if entry is not None and entry.get("stamp") == stamp:
            continue
        try:
            release = read_release(path, seeds)
        except RagError:
            if rid in indexed:
                changed.append(rid)  # was good, now bad: the next build drops it
            elif rid not in skipped:
                added.append(rid)
            continue
        if rid not in indexed:
            added.append(rid)
        elif indexed[rid]["hash"] != release.content_hash:
            changed.append(rid)
    removed = sorted(set(indexed) - present)
    return Staleness(sorted(added), sorted(changed), removed)
