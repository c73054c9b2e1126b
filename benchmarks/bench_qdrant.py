"""Benchmark the Qdrant back-end (``store.backend: qdrant``) against FAISS + BM25.

For each index named, the same generation is searched by both back-ends: FAISS in this
process, and Qdrant in qdrant-client's local mode (a folder) or on a server
(``--qdrant-url``). Prints, per index:

- the publish time (upload of every passage: dense vector, BM25 weights, payload);
- ``retrieve()`` latency p50/p95 in ms over the questions of ``--questions`` (hybrid,
  top 10; the two back-ends take turns question by question, and every query is
  embedded once before timing, the same vector for both);
- mean top-10 overlap (shared passages / 10, over the questions either back-end found
  passages for) and the share of identical top-10 lists.

``--releases N`` searches a sample of N releases of the index instead of all of it
(every k-th release, so every month and category keeps its share): a generation of that
sample is assembled from the index's own rows, nothing re-embedded, in a folder beside
the Qdrant storage. Local mode scores sparse vectors in Python, point by point, and
commits each uploaded point to SQLite, so the whole 196k-passage corpus is out of its
reach (see benchmarks/RESULTS.md); a server is not limited so.

Commands (from the repository root)::

    .venv/bin/python benchmarks/bench_qdrant.py --index /work/main/index --name seeds
    .venv/bin/python benchmarks/bench_qdrant.py --index /work/bench/idx-full --releases 1000 \\
        --name full-1000
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag import load_index  # noqa: E402
from rag.config import ModelConfig, config_from_dict  # noqa: E402
from rag.index import store  # noqa: E402
from rag.index.build import build_index  # noqa: E402
from rag.index.qdrant import connect  # noqa: E402
from rag.index.serving import publish  # noqa: E402
from rag.query import retrieve as retrieve_module  # noqa: E402
from rag.model.transformer import load_embedder  # noqa: E402

from bench_common import positive, print_figures  # noqa: E402


def questions(path: Path, limit: int | None) -> list[str]:
    """The question texts of a question set (nothing else of it is read)."""
    items = yaml.safe_load(path.read_text(encoding="utf-8"))
    texts = [str(item["question"]) for item in items if item.get("question")]
    return texts[:limit] if limit else texts


def sample_index(index: Path, releases: int, work: Path, embedder) -> Path:
    """An index folder holding every k-th release of ``index``'s current generation,
    assembled by an incremental build from it (nothing embedded; ``index`` untouched:
    the build reads it through links)."""
    gen = store.resolve(index)
    if releases >= store.read_manifest(gen).counts.releases:
        return index  # the sample is the whole index
    folder = work / f"index-{gen.name}-{releases}"
    if (folder / store.CURRENT).exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    linked = folder / gen.name
    linked.mkdir(parents=True)
    for part in gen.iterdir():
        (linked / part.name).symlink_to(part)
    (folder / store.CURRENT).symlink_to(gen.name)
    full = store.read_generation(gen)
    step = max(1, len(full.releases) // releases)
    keep = full.releases[::step][:releases]
    config = config_from_dict({"seeds": str(full.manifest.seeds), "index": str(folder)},
                              folder)
    report = build_index(config, embedder, releases=keep, progress=False)
    print(f"sample: {report.summary()}", file=sys.stderr)
    shutil.rmtree(linked)  # links only; the index it points into is not touched
    return folder


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def run(index: Path, name: str, qdrant: dict, texts: list[str], embedder,
        fresh: bool = False) -> dict:
    faiss_config = config_from_dict({"index": str(index)}, index)
    qdrant_config = config_from_dict({"index": str(index), "store": {
        **qdrant, "collection_prefix": name}}, index)
    if fresh:  # drop what an earlier run published, so that the upload is timed
        client = connect(qdrant_config.store)
        for collection in client.get_collections().collections:
            if collection.name.startswith(f"{name}-"):
                client.delete_collection(collection.name)
    started = time.perf_counter()
    published = publish(qdrant_config)
    publish_s = time.perf_counter() - started
    by_faiss = load_index(index, faiss_config, embedder)
    by_qdrant = load_index(index, qdrant_config, embedder)
    for text in texts:  # embed every query once, outside the timings (same vectors)
        query = by_faiss._plan(text, None, None, None, None, True)[0]
        by_qdrant._query_vectors[query] = by_faiss.query_vector(query)
    times: dict[str, list[float]] = {"faiss": [], "qdrant": []}
    overlap, identical = [], 0
    for n, text in enumerate(texts):
        hits = {}
        order = [("faiss", by_faiss), ("qdrant", by_qdrant)]
        for kind, loaded in order if n % 2 == 0 else order[::-1]:
            start = time.perf_counter()
            found = loaded.retrieve(text, 10)
            times[kind].append((time.perf_counter() - start) * 1000)
            hits[kind] = [(h.release_id, h.start, h.end) for h in found]
        identical += hits["faiss"] == hits["qdrant"]
        if hits["faiss"] or hits["qdrant"]:  # a date window outside the index finds none
            shared = len(set(hits["faiss"]) & set(hits["qdrant"]))
            overlap.append(shared / max(len(hits["faiss"]), len(hits["qdrant"])))
    figures = {
        "index": name, "passages": len(by_faiss), "releases": by_faiss.release_count,
        "questions": len(texts), "qdrant": qdrant.get("qdrant_url") or "local mode",
        "publish_s": round(publish_s, 1) if published else "already published",
        "faiss_p50_ms": round(statistics.median(times["faiss"]), 2),
        "faiss_p95_ms": round(percentile(times["faiss"], 0.95), 2),
        "qdrant_p50_ms": round(statistics.median(times["qdrant"]), 2),
        "qdrant_p95_ms": round(percentile(times["qdrant"], 0.95), 2),
        "mean_top10_overlap": round(statistics.mean(overlap), 4),
        "questions_with_hits": len(overlap),
        "identical_top10": f"{identical}/{len(texts)}",
    }
    figures["p50_ratio_qdrant_to_faiss"] = round(figures["qdrant_p50_ms"]
                                                 / figures["faiss_p50_ms"], 1)
    return figures


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--index", type=Path, action="append", required=True,
                   help="an index folder (repeat for several); read, never written")
    p.add_argument("--name", action="append", help="a name per --index (its collection "
                                                   "prefix too)")
    p.add_argument("--releases", type=positive, help="search a sample of N releases")
    p.add_argument("--questions", type=Path, default=Path("/work/shared/eval/tune.yaml"))
    p.add_argument("--limit", type=positive, help="only the first N questions")
    p.add_argument("--qdrant-path", type=Path, default=Path("/work/bench/qdrant-full"),
                   help="local-mode storage (and the sample's index folder)")
    p.add_argument("--qdrant-url", help="a Qdrant server instead of local mode")
    p.add_argument("--fresh", action="store_true",
                   help="publish again even if an earlier run did (times the upload)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    names = args.name or [f.name for f in args.index]
    embedder = load_embedder(ModelConfig())
    retrieve_module.QUERY_VECTORS_KEPT = 100_000  # keep every question's vector
    texts = questions(args.questions, args.limit)
    work = args.qdrant_path.resolve()
    work.mkdir(parents=True, exist_ok=True)
    qdrant = {"backend": "qdrant", **({"qdrant_url": args.qdrant_url} if args.qdrant_url
                                      else {"qdrant_path": str(work / "storage")})}
    for index, name in zip(args.index, names):
        folder = sample_index(index, args.releases, work, embedder) if args.releases else index
        figures = run(folder, name, qdrant, texts, embedder, args.fresh)
        print_figures(figures, args.json)
        if not args.json:
            print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
