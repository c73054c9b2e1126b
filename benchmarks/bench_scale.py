"""Benchmark a large built index: start-up, query latency and incremental rebuilds.

Needs an index already built from ``--seeds`` (for the whole corpus, by
``rag index --seeds ../shared/corpus/whitehouse/biden-era --index DIR --full`` or by
``bench_build.py --index DIR``). Prints, one ``name: value`` per line (or one JSON
object with ``--json``):

- time to first answer: a fresh ``python`` process that imports ``rag``, loads the
  index and answers one question, timed from just before the process is started to
  its answer (median of ``--starts`` runs, default 3); the first figure also shows
  what the page cache holds, so the runs after the first are the warm case;
- ``Index.retrieve`` and ``Index.answer`` latency p50/p95/p99 in ms, in-process, over
  ``--queries`` questions (the development questions, then questions made from
  release titles), after 3 warm-up questions;
- incremental rebuilds: a copy of the index (hard links: no file of it is written in
  place) and a folder of symlinks to the seeds; then K files (1, 10, 100, different
  ones each time) are replaced by edited copies (a paragraph appended) and
  ``rag.build_index`` brings the copy up to date with the real model. Seconds,
  releases changed and passages embedded per step. The copies are removed at the end.

Commands (from the repository root)::

    .venv/bin/python benchmarks/bench_scale.py --seeds ../shared/corpus/whitehouse/biden-era --index /work/bench/idx-biden
    .venv/bin/python benchmarks/bench_scale.py --index index --seeds seeds --changes 1,10 --json
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence

import numpy as np

import rag
from bench_common import print_figures
from rag.eval.questions import load_questions
from rag.ingest.releases import find_release_files

DEV_QUESTIONS = Path(__file__).resolve().parent.parent / "eval" / "dev_questions.yaml"
WARMUP = 3
FIRST_ANSWER_SCRIPT = """
import sys, time
import rag
index = rag.load_index(sys.argv[1])
answer = index.answer("Which countries received new NATO battle groups?")
print(time.time(), len(answer.sources))
"""


def questions(index: rag.Index, count: int) -> list[str]:
    """The development questions, then 'What did ... announce about <title>?' ones."""
    out = [q.question for q in load_questions(DEV_QUESTIONS)]
    step = max(1, len(index.releases) // max(1, count))
    for release in index.releases[::step]:
        out.append(f"What does the release \u201c{release.title}\u201d say?")
    return out[:count]


def time_to_first_answer(index_dir: Path, starts: int) -> list[float]:
    """Seconds from starting a fresh interpreter to its first answer, per start."""
    seconds = []
    for _ in range(starts):
        started = time.time()
        done = subprocess.run([sys.executable, "-c", FIRST_ANSWER_SCRIPT, str(index_dir)],
                              check=True, capture_output=True, text=True)
        seconds.append(float(done.stdout.split()[0]) - started)
    return seconds


def latencies(index: rag.Index, asked: Sequence[str]) -> tuple[list[float], list[float]]:
    """Milliseconds per ``retrieve`` and per ``answer`` call."""
    for q in asked[:WARMUP]:
        index.answer(q)
    retrieve_ms, answer_ms = [], []
    for q in asked:
        started = time.perf_counter()
        index.retrieve(q)
        retrieve_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        index.answer(q)
        answer_ms.append((time.perf_counter() - started) * 1000)
    return retrieve_ms, answer_ms


def incremental(seeds: Path, index_dir: Path, changes: Sequence[int]) -> list[dict]:
    """Rebuild a hard-linked copy of the index after editing 1, 10, 100... files."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        farm, copy = Path(tmp) / "seeds", Path(tmp) / "index"
        files, _ = find_release_files(seeds)
        for path in files:
            link = farm / path.relative_to(seeds)
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(path.resolve())
        subprocess.run(["cp", "-al", str(index_dir), str(copy)], check=True)
        (copy / ".lock").unlink(missing_ok=True)  # a hard link would share the lock file
        config = rag.load_config(None).replace(seeds=farm, index=copy)
        embedder = rag.model.transformer.load_embedder(config.model)
        report = rag.build_index(config, embedder, progress=False)
        rows.append({"changed": 0, "seconds": report.seconds, "wrote": report.wrote,
                     "embedded": report.passages_embedded})
        order = np.random.default_rng(7).permutation(len(files))
        used = 0
        for k in changes:
            for i in order[used:used + k]:
                link = farm / files[i].relative_to(seeds)
                text = files[i].read_text(encoding="utf-8")
                link.unlink()
                link.write_text(text.rstrip("\n") + "\n\nThis paragraph was added by the "
                                "incremental rebuild benchmark.\n", encoding="utf-8")
            used += k
            report = rag.build_index(config, embedder, progress=False)
            rows.append({"changed": len(report.changed), "seconds": report.seconds,
                         "wrote": report.wrote, "embedded": report.passages_embedded})
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index", required=True, help="built index folder (not modified)")
    parser.add_argument("--seeds", required=True, help="the folder the index was built from")
    parser.add_argument("--queries", type=int, default=200, help="questions timed")
    parser.add_argument("--starts", type=int, default=3, help="fresh processes timed")
    parser.add_argument("--changes", default="1,10,100",
                        help="files edited per incremental step, comma-separated")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    changes = [int(c) for c in args.changes.split(",") if c]
    index_dir, seeds = Path(args.index), Path(args.seeds)

    figures: dict[str, object] = {"index": str(index_dir),
                                  "load_before": round(os.getloadavg()[0], 2)}
    first = time_to_first_answer(index_dir, args.starts)
    figures["first_answer_s"] = [round(s, 2) for s in first]
    figures["first_answer_median_s"] = round(float(np.median(first)), 2)

    started = time.perf_counter()
    index = rag.load_index(index_dir)
    figures["load_index_s"] = round(time.perf_counter() - started, 2)
    figures["releases"], figures["passages"] = index.release_count, len(index)
    figures["sentences"] = len(index.sentences)
    figures["model"] = f"{index.embedder.info.id} ({index.embedder.info.precision})"
    asked = questions(index, args.queries)
    retrieve_ms, answer_ms = latencies(index, asked)
    figures["queries"] = len(asked)
    for name, values in (("retrieve", retrieve_ms), ("answer", answer_ms)):
        for p in (50, 95, 99):
            figures[f"{name}_p{p}_ms"] = round(float(np.percentile(values, p)), 1)
    del index

    for row in incremental(seeds, index_dir, changes):
        figures[f"incremental_{row['changed']}_changed_s"] = round(row["seconds"], 1)
        figures[f"incremental_{row['changed']}_changed_embedded"] = row["embedded"]
    figures["load_after"] = round(os.getloadavg()[0], 2)

    print_figures(figures, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
