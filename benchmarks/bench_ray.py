"""The Ray engine against the local one, and a measured model of a Ray build at scale.

In one run, on one folder of releases (seeds/ by default), with the real model:

1. a full build with the local engine, then a full build with the Ray engine on a Ray
   instance started here (``ray.init`` timed apart): build seconds of each, the overhead
   ratio ray / local, and the lowest cosine between the two indexes' vectors;
2. per-stage costs, each measured on its own here:
   - ``stat``: per release file, the driver's serial pass (stat, reuse, duplicate urls),
     from ``load_releases`` with every release reused;
   - ``read``: per release, reading and parsing (``load_releases``, one process);
   - ``chunk``: per passage, cutting releases into passages (one process);
   - ``embed``: per passage and worker, a one-thread embedder (``model.threads: 1``, as
     each Ray actor runs) over a sample of the build's texts;
   - ``driver``: per passage, what ``build_index`` does besides reading and embedding
     (plan, assemble, BM25, FAISS, write), from a build whose engine replays the
     releases, passages and (dummy) vectors at no cost;
   - ``ray transfer``: per passage, the Ray engine's embedding stage with an embedder
     that does nothing (scheduling, moving texts out and vectors back), after its actor
     pool is up: this process's CPU time is the driver's share, the rest of the stage's
     worker-seconds the workers';
   - ``ray start``: the actor pool's start (the no-op stage's first batch) and the read
     stage's start (its seconds beyond reading and chunking spread over the workers);
     ``ray.init`` is reported apart (a cluster is started once, not per build);
3. the model: T(N) = ray start + serial + parallel / (N x workers per node), with
   serial = files x stat + passages x (driver + ray transfer, driver) on the driver, and
   parallel = releases x read + passages x (chunk + embed + ray transfer, workers) on the
   workers; checked against the measured Ray build (N = 1, not fitted to it), then
   evaluated at 100x the corpus (1.2 M releases,
   20 M passages) for N = 1, 4, 16, 64 nodes of this machine's size, beside the local
   engine's 100x time from the same stage costs (no Ray terms) and the Amdahl ceiling
   ((serial + parallel) / serial).

Command (from the repository root)::

    .venv/bin/python benchmarks/bench_ray.py                      # seeds/, 350 releases
    .venv/bin/python benchmarks/bench_ray.py --seeds ../shared/corpus/whitehouse/biden-era --limit 1000

Needs ``pip install .[ray]``. Indexes go to temporary folders, removed afterwards.
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_common import positive, print_figures  # noqa: E402

import ray  # noqa: E402

from rag.config import ModelConfig, config_from_dict  # noqa: E402
from rag.index import store  # noqa: E402
from rag.index.build import build_index, chunk_here  # noqa: E402
from rag.index.engine import EmbeddedBatch  # noqa: E402
from rag.index.ray_engine import RayEngine  # noqa: E402
from rag.ingest.chunking import embedding_text  # noqa: E402
from rag.ingest.releases import LoadResult, find_release_files, load_releases  # noqa: E402
from rag.ingest.sentences import passage_sentences  # noqa: E402
from rag.model.embedder import ModelInfo  # noqa: E402
from rag.model.transformer import load_embedder  # noqa: E402

SCALE_RELEASES = 1_200_000
SCALE_PASSAGES = 20_000_000
NODES = (1, 4, 16, 64)
EMBED_SAMPLE = 256


class NoopEmbedder:
    """Unit vectors without a model: what the Ray stage costs with nothing to compute."""

    def __init__(self, info: ModelInfo):
        self.info = info

    def encode(self, texts, spans):
        vectors = np.zeros((len(texts), self.info.dim), np.float32)
        vectors[:, 0] = 1
        return vectors, [np.tile(vectors[:1], (len(s), 1)) for s in spans]


class ReplayEngine:
    """Releases, passages and vectors handed over at no cost: a build with it times the
    driver's own work."""

    name = "replay"

    def __init__(self, loaded: LoadResult, cut: dict, dim: int):
        self._loaded, self._cut, self._dim = loaded, cut, dim

    def load(self, seeds, reuse=None):
        return self._loaded

    def chunk(self, release, chunking, count):
        return self._cut[release.id]

    def embed(self, embedder, texts, spans):
        for i in range(0, len(texts), 256):
            rows = list(range(i, min(i + 256, len(texts))))
            vectors = np.zeros((len(rows), self._dim), np.float32)
            vectors[:, 0] = 1
            yield EmbeddedBatch(rows, vectors, [np.tile(vectors[:1], (len(spans[r]), 1))
                                                for r in rows])


def _seeds(args, tmp: Path) -> Path:
    root = Path(args.seeds).resolve()
    if not args.limit:
        return root
    files, _ = find_release_files(root)
    linked = tmp / "seeds"
    for path in files[:args.limit]:
        link = linked / path.relative_to(root)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(path)
    return linked


def _timed(fn):
    started = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - started


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", default="seeds", help="folder of releases (default: seeds/)")
    p.add_argument("--limit", type=positive, help="only the first N release files")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args()
    logging.basicConfig(level=logging.ERROR)
    cpus = os.cpu_count() or 1
    figures: dict[str, object] = {"cpus": cpus, "load_before": round(os.getloadavg()[0], 2)}
    with tempfile.TemporaryDirectory(prefix="bench-ray-") as tmp_name:
        tmp = Path(tmp_name)
        seeds = _seeds(args, tmp)

        def config(name: str):
            return config_from_dict({"seeds": str(seeds), "index": str(tmp / name)}, tmp)

        embedder = load_embedder(ModelConfig())

        # 1. local against Ray, same run, same folder.
        local = build_index(config("local"), embedder, full=True, progress=False)
        path = os.pathsep.join(x for x in (str(HERE), os.environ.get("PYTHONPATH")) if x)
        _, ray_init = _timed(lambda: ray.init(
            num_cpus=cpus, include_dashboard=False, log_to_driver=False,
            logging_level=logging.ERROR, runtime_env={"env_vars": {"PYTHONPATH": path}}))
        cfg = config("ray")
        engine = RayEngine(cfg.model, cfg.chunking)
        remote = build_index(cfg, embedder, full=True, progress=False, engine=engine)
        ray_stats = dict(engine.stats)
        ga = store.read_generation(store.resolve(tmp / "local"))
        gb = store.read_generation(store.resolve(tmp / "ray"))
        same = bool(np.array_equal(ga.passages, gb.passages) and ga.releases == gb.releases)
        cosine = float(np.sum(np.asarray(ga.vectors) * np.asarray(gb.vectors), axis=1).min())
        releases, passages = len(ga.releases), local.passages
        figures.update({
            "releases": releases, "passages": passages,
            "local build s": round(local.seconds, 1),
            "ray init s": round(ray_init, 1),
            "ray build s": round(remote.seconds, 1),
            "ray read+chunk stage s": round(ray_stats.get("read_s", 0), 1),
            "ray embed stage s": round(ray_stats.get("embed_s", 0), 1),
            "ray embed first batch s": round(ray_stats.get("embed_first_s", 0), 1),
            "overhead ratio ray/local (session up)": round(remote.seconds / local.seconds, 2),
            "overhead ratio ray/local (with ray.init)":
                round((remote.seconds + ray_init) / local.seconds, 2),
            "same passages and releases": same,
            "min cosine ray vs local": round(cosine, 6),
        })
        if not args.json:  # the comparison first, in case a later stage fails
            print_figures(figures, False)
            print(flush=True)

        # 2. per-stage costs.
        every = {r.id: r for r in ga.releases}
        loaded, t_read = _timed(lambda: load_releases(seeds))
        _, t_stat = _timed(lambda: load_releases(seeds, reuse=lambda rid, st: every.get(rid)))
        files = len(loaded.releases) + len(loaded.skipped)
        count = embedder.count_tokens
        cut, t_chunk = _timed(lambda: {r.id: chunk_here(r, cfg.chunking, count)
                                       for r in loaded.releases})
        texts, spans = [], []
        for header, cut_passages in cut.values():
            for passage in cut_passages:
                texts.append(embedding_text(header, passage))
                offset = len(texts[-1]) - len(passage.text)
                spans.append([(offset + a, offset + b)
                              for a, b in passage_sentences(passage.text)])
        step = max(1, len(texts) // EMBED_SAMPLE)
        sample, sample_spans = texts[::step][:EMBED_SAMPLE], spans[::step][:EMBED_SAMPLE]
        one = load_embedder(ModelConfig(threads=1))
        one.encode(sample[:8], sample_spans[:8])  # warm-up
        _, t_embed = _timed(lambda: one.encode(sample, sample_spans))
        replay = ReplayEngine(loaded, cut, embedder.info.dim)
        report = build_index(config("replay"), embedder, full=True, progress=False,
                             engine=replay)
        t_driver = report.seconds
        noop = RayEngine(cfg.model, None,
                         make_embedder=functools.partial(NoopEmbedder, embedder.info))
        started, cpu = time.perf_counter(), time.process_time()
        got = sum(len(b.rows) for b in noop.embed(embedder, texts, spans))
        t_noop, cpu_noop = time.perf_counter() - started, time.process_time() - cpu
        noop_first = noop.stats.get("embed_first_s", 0.0)
        ray.shutdown()

    per = {
        "stat per file ms": 1e3 * t_stat / files,
        "read per release ms": 1e3 * t_read / files,
        "chunk per passage ms": 1e3 * t_chunk / passages,
        "embed per passage per worker ms": 1e3 * t_embed / len(sample),
        "driver per passage ms": 1e3 * t_driver / passages,
        # The no-op stage's CPU time in this process is the driver's (serial) share; the
        # rest of its worker-seconds, the workers' share.
        "ray transfer, driver, per passage ms": 1e3 * cpu_noop / got,
        "ray transfer, workers, per passage per worker ms":
            1e3 * max(0.0, (t_noop - noop_first) * cpus - cpu_noop) / got,
        "ray pool start s": noop_first,
    }
    per["ray read stage start s"] = max(0.0, ray_stats.get("read_s", 0) - (
        files * per["read per release ms"] + passages * per["chunk per passage ms"]) / 1e3 / cpus)
    figures.update({k: round(v, 3) for k, v in per.items()})

    def serial(r: float, n: float) -> float:
        return (r * per["stat per file ms"]
                + n * (per["driver per passage ms"] + per["ray transfer, driver, per passage ms"])
                ) / 1e3

    def parallel(r: float, n: float) -> float:
        return (r * per["read per release ms"]
                + n * (per["chunk per passage ms"] + per["embed per passage per worker ms"]
                       + per["ray transfer, workers, per passage per worker ms"])) / 1e3

    start = per["ray read stage start s"] + per["ray pool start s"]  # per build, fixed
    figures["model at 1x, N=1 s (against the measured ray build s)"] = round(
        start + serial(releases, passages) + parallel(releases, passages) / cpus, 1)
    def local_model(r: float, n: float) -> float:
        """The local engine from the same stage costs: no Ray terms, one machine."""
        return (r * (per["stat per file ms"] + per["read per release ms"] / cpus)
                + n * (per["driver per passage ms"]
                       + (per["chunk per passage ms"] + per["embed per passage per worker ms"])
                       / cpus)) / 1e3

    figures["model of the local build at 1x s (against the measured local build s)"] = round(
        local_model(releases, passages), 1)
    s100, p100 = serial(SCALE_RELEASES, SCALE_PASSAGES), parallel(SCALE_RELEASES, SCALE_PASSAGES)
    local100 = local_model(SCALE_RELEASES, SCALE_PASSAGES)
    figures["100x: local engine, one machine (model) h"] = round(local100 / 3600, 1)
    figures["100x: serial driver part h"] = round(s100 / 3600, 2)
    figures["100x: parallel work, worker-hours"] = round(p100 / 3600, 1)
    for n in NODES:
        total = start + s100 + p100 / (n * cpus)
        figures[f"100x: ray N={n} h"] = round(total / 3600, 2)
        figures[f"100x: ray N={n} speed-up over local"] = round(local100 / total, 1)
    figures["100x: Amdahl ceiling (serial + parallel) / serial"] = round((s100 + p100) / s100, 1)
    figures["load_after"] = round(os.getloadavg()[0], 2)
    print_figures(figures, args.json)


if __name__ == "__main__":
    main()
