"""Benchmark the BM25 index (``rag.lexical``) against bm25s, and release loading.

Over the passages of a seeds folder (chunked as ``rag index`` does, header + passage),
prints one ``name: value`` per line (or one JSON object with ``--json``):

- release loading: ``load_releases`` parsing every file, and with the ``reuse`` hook of
  an incremental build when 1 file changed (every other release comes from the last
  index); reading the last index's ``releases.jsonl``, which a build does either way;
- the context headers of every release (what each build computed before, with the
  model's tokenizer, to re-index BM25 from scratch);
- a full lexical build (analysis included) with ``rag.lexical`` and with bm25s;
- ``LexicalIndex.assemble`` from the saved (memory-mapped) index after 1, 10 and 100
  changed releases, and a check that it scores as a fresh build of the same texts;
- save and load times (load memory-maps; bm25s with ``mmap=True``);
- query scoring p50/p95 in ms over ``--queries`` release titles, both implementations,
  and how many top-10 rankings agree;
- with ``--build``: whole ``rag.build_index`` runs on a copy of the seeds folder with a
  stand-in embedder (a hash of each text as its vector, so embedding costs nothing and
  the rest of the build shows): the full build, then incremental builds after 1 and 100
  releases were edited (``BuildReport.seconds``).

Commands (from the repository root)::

    .venv/bin/python benchmarks/bench_lexical.py                     # biden-era, ~10 min
    .venv/bin/python benchmarks/bench_lexical.py --seeds seeds --json
    .venv/bin/python benchmarks/bench_lexical.py --build            # + whole builds, ~5 min more

Chunking needs the model's tokenizer and takes minutes for the whole corpus, so the
passage texts are cached in ``--cache`` (default: a file in the temporary folder, named
after the seeds folder and chunk settings) and reused by later runs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from rag.index import store
from rag.ingest.chunking import chunk_release, context_header, embedding_text
from rag.config import load_config
from rag.index.lexical import LexicalIndex, analyse
from rag.ingest.releases import Release, load_releases

CHANGES = (1, 10, 100)


def _seconds(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def _passage_texts(releases: list[Release], cache: Path, config) -> tuple[list[list[str]], float]:
    """Per release, its passages' header + passage texts (cached); and the seconds the
    headers alone take with the tokenizer (measured when chunking, else from the cache)."""
    if cache.is_file():
        data = json.loads(cache.read_text(encoding="utf-8"))
        if data["ids"] == [r.id for r in releases]:
            return data["texts"], data["header_seconds"]
    from rag.model.transformer import load_embedder

    count = load_embedder(config.model).count_tokens
    _, header_seconds = _seconds(lambda: [context_header(r, config.chunking, count)
                                          for r in releases])
    texts = []
    for r in releases:
        header = context_header(r, config.chunking, count)
        texts.append([embedding_text(header, p) for p in chunk_release(r, config.chunking, count)])
    cache.write_text(json.dumps({"ids": [r.id for r in releases], "texts": texts,
                                 "header_seconds": header_seconds}), encoding="utf-8")
    return texts, header_seconds


def _bm25s_build(texts: list[str]):
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)
    bm25 = bm25s.BM25(k1=1.2, b=0.75)
    bm25.index([analyse(t) or ["\u2205"] for t in texts], show_progress=False)
    return bm25


def _percentiles(times: list[float]) -> tuple[float, float]:
    ms = np.array(times) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 95))


def run(seeds: Path, cache: Path | None, n_queries: int) -> dict[str, object]:
    figures: dict[str, object] = {"seeds": str(seeds), "load average before": os.getloadavg()[0]}
    config = load_config(None)

    # Release loading: everything parsed, then an incremental build's load (1 changed).
    loaded, figures["load_releases all parsed s"] = _seconds(lambda: load_releases(seeds))
    releases = sorted(loaded.releases, key=lambda r: r.id)
    by_id = {r.id: r for r in releases}
    changed_id = releases[len(releases) // 2].id
    parsed = []

    def reuse(rid: str, stamp: list[int]) -> Release | None:
        if rid == changed_id:
            parsed.append(rid)
            return None
        return by_id.get(rid)
    _, figures["load_releases 1 changed s"] = _seconds(lambda: load_releases(seeds, reuse=reuse))
    figures["releases"], figures["files parsed when 1 changed"] = len(releases), len(parsed)
    with tempfile.TemporaryDirectory() as tmp:
        jsonl = Path(tmp) / store.RELEASES
        jsonl.write_text("".join(store._release_to_json(r) + "\n" for r in releases),
                         encoding="utf-8")
        _, figures["read releases.jsonl s"] = _seconds(lambda: store.read_releases(Path(tmp)))

    key = hashlib.sha256(f"{seeds.resolve()}|{config.chunking}".encode()).hexdigest()[:12]
    cache = cache or Path(tempfile.gettempdir()) / f"rag-bench-lexical-{key}.json"
    per_release, figures["headers of all releases s (old build)"] = _passage_texts(
        releases, cache, config)
    texts = [t for ts in per_release for t in ts]
    starts = np.cumsum([0] + [len(ts) for ts in per_release])
    figures["passages"] = len(texts)

    ours, figures["full build s"] = _seconds(lambda: LexicalIndex.build(texts))
    bm25, figures["bm25s full build s"] = _seconds(lambda: _bm25s_build(texts))
    figures["terms"], figures["postings"] = len(ours.vocab), len(ours.rows)

    work = Path(tempfile.mkdtemp(prefix="rag-bench-lexical-"))
    try:
        (work / "ours").mkdir()
        _, figures["save s"] = _seconds(lambda: ours.save(work / "ours"))
        old, figures["load s"] = _seconds(lambda: LexicalIndex.load(work / "ours"))
        _, figures["bm25s save s"] = _seconds(
            lambda: bm25.save(str(work / "bm25s"), show_progress=False))
        import bm25s

        _, figures["bm25s load s"] = _seconds(
            lambda: bm25s.BM25.load(str(work / "bm25s"), mmap=True, show_progress=False))
        figures["bm25 folder MB"] = round(sum(
            p.stat().st_size for p in (work / "ours").iterdir()) / 2**20, 1)
        figures["bm25s folder MB"] = round(sum(
            p.stat().st_size for p in (work / "bm25s").iterdir()) / 2**20, 1)

        # Incremental assembly: k releases changed (texts edited), parts as build_index makes.
        queries = [releases[i].title for i in np.linspace(0, len(releases) - 1, n_queries,
                                                          dtype=int)]
        for k in CHANGES:
            changed = set(np.linspace(0, len(releases) - 1, k, dtype=int).tolist())
            parts, expected = [], []
            for i, ts in enumerate(per_release):
                if i in changed:
                    ts = [t + " amended zyzzyva" for t in ts]
                    parts.append(("new", ts))
                else:
                    parts.append(("old", (int(starts[i]), int(starts[i + 1]))))
                expected.extend(ts)
            merged, figures[f"assemble {k} changed s"] = _seconds(
                lambda: LexicalIndex.assemble(parts, old))
            if k == CHANGES[-1]:
                fresh = LexicalIndex.build(expected)
                same = all(np.allclose(merged.scores(analyse(q)), fresh.scores(analyse(q)),
                                       rtol=1e-6) for q in queries[:20] + ["amended zyzzyva"])
                figures["assembled equals fresh build"] = "yes" if same else "NO"
                shutil.rmtree(work / "ours")
                (work / "ours").mkdir()
                _, figures[f"save after {k} changed s"] = _seconds(
                    lambda: merged.save(work / "ours"))
            del merged

        # Query scoring, warm.
        for name, score in (("", lambda terms: old.scores(terms)),
                            ("bm25s ", lambda terms: _bm25s_scores(bm25, terms))):
            times = []
            for q in queries[:3] + queries:
                terms = analyse(q)
                start = time.perf_counter()
                score(terms)
                times.append(time.perf_counter() - start)
            p50, p95 = _percentiles(times[3:])
            figures[f"{name}query p50 ms"], figures[f"{name}query p95 ms"] = p50, p95
        agree = sum(list(np.argsort(-old.scores(analyse(q)), kind="stable")[:10])
                    == list(np.argsort(-_bm25s_scores(bm25, analyse(q)), kind="stable")[:10])
                    for q in queries)
        figures["top-10 rankings equal to bm25s"] = f"{agree}/{len(queries)}"
    finally:
        shutil.rmtree(work, ignore_errors=True)
    figures["peak memory MB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    figures["load average after"] = os.getloadavg()[0]
    return figures


class HashEmbedder:
    """The model's tokenizer (so passages are chunked as by ``rag index``), with a hash of
    each text as its vector: a build that costs no embedding time."""

    def __init__(self, config, dim: int = 384):
        from rag.model.embedder import ModelInfo
        from rag.model.transformer import load_embedder

        real = load_embedder(config.model)
        self.count_tokens, self.dim = real.count_tokens, dim
        self.info = ModelInfo("bench/hash", dim, real.info.max_tokens, "float32", "")
        self.embedded = 0

    def embed(self, texts) -> np.ndarray:
        self.embedded += len(texts)
        seeds = [int.from_bytes(hashlib.blake2b(t.encode()).digest()[:8], "little") for t in texts]
        out = np.stack([np.random.default_rng(s).standard_normal(self.dim, dtype=np.float32)
                        for s in seeds]) if texts else np.zeros((0, self.dim), np.float32)
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def run_builds(seeds: Path) -> dict[str, object]:
    """Full, then incremental builds (1 and 100 files edited) of a copy of ``seeds``."""
    from rag.index.build import build_index

    figures: dict[str, object] = {"build load average before": os.getloadavg()[0]}
    work = Path(tempfile.mkdtemp(prefix="rag-bench-build-"))
    try:
        shutil.copytree(seeds, work / "seeds", symlinks=False)
        config = load_config(None).replace(seeds=work / "seeds", index=work / "index")
        embedder = HashEmbedder(config)
        report = build_index(config, embedder, progress=False)
        figures["whole full build s"], figures["whole full build passages"] = (
            report.seconds, report.passages)
        files = sorted((work / "seeds").rglob("*.md"))
        for k in (0, 1, 100):
            for path in [files[i] for i in np.linspace(0, len(files) - 1, k, dtype=int)]:
                with path.open("a", encoding="utf-8") as f:
                    f.write(f"\n\nAn added closing paragraph, edit {k}.\n")
            report = build_index(config, embedder, progress=False)
            figures[f"incremental build, {k} edited, s"] = report.seconds
            figures[f"incremental build, {k} edited, passages embedded"] = \
                report.passages_embedded
    finally:
        shutil.rmtree(work, ignore_errors=True)
    figures["build load average after"] = os.getloadavg()[0]
    return figures


def _bm25s_scores(bm25, terms: list[str]) -> np.ndarray:
    known = [t for t in terms if t in bm25.vocab_dict]
    if not known:
        return np.zeros(bm25.scores["num_docs"], dtype=np.float32)
    return np.asarray(bm25.get_scores(known), dtype=np.float32)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=Path,
                        default=Path("../shared/corpus/whitehouse/biden-era"))
    parser.add_argument("--cache", type=Path, default=None,
                        help="file caching the chunked passage texts")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--build", action="store_true",
                        help="also time whole builds (full, then 1 and 100 files edited)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    figures = run(args.seeds, args.cache, args.queries)
    if args.build:
        figures.update(run_builds(args.seeds))
    if args.json:
        print(json.dumps(figures))
    else:
        for name, value in figures.items():
            print(f"{name}: {value:.3f}" if isinstance(value, float) else f"{name}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
