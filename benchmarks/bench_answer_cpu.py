"""CPU per answer, in-process: the settings in force against a baseline, in one run.

On two cores the many-users figures of ``bench_serve.py`` are set by the CPU one answer
costs (16 users wait for about 16 x CPU / 2 cores). This measures that cost directly,
with ``time.process_time`` (every thread of the process, the model's included), over
the same 20 questions ``bench_serve.py`` asks, in rounds that alternate the two sides
(order swapped every round), so machine load hits both alike.

The baseline is the same code with the two serving settings changed in #15 put back:
``answer.rescore`` 8 (sentences embedded on their own per question part) and FAISS
scanning a lone query on all of OpenMP's threads. Code changes that have no switch
(e.g. how collect folds duplicates) show only across commits: run this at both.

Commands (from the repository root)::

    .venv/bin/python benchmarks/bench_answer_cpu.py --index index
    .venv/bin/python benchmarks/bench_answer_cpu.py --index /work/bench/idx-full --rounds 6

Prints per round the CPU ms per answer of each side, their medians and the ratio.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

import rag  # noqa: E402
import rag.index.dense as dense  # noqa: E402
from bench_common import positive  # noqa: E402
from bench_serve import QUESTIONS  # noqa: E402

ONE_THREAD = dense._one_thread_search


def _all_threads(faiss_index, query: np.ndarray, depth: int):
    return faiss_index.search(np.ascontiguousarray(query.reshape(1, -1)), depth)


def _cpu_ms_per_answer(index, questions: tuple[str, ...]) -> float:
    start = time.process_time()
    for question in questions:
        index.answer(question)
    return 1000 * (time.process_time() - start) / len(questions)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", default="index", help="index folder (default: index)")
    parser.add_argument("--rounds", type=positive, default=4, help="rounds per side")
    parser.add_argument("--baseline-rescore", type=int, default=8)
    args = parser.parse_args(argv)

    index = rag.load_index(args.index)
    now = index.answer_config
    sides = {
        "now": (dataclasses.replace(now), ONE_THREAD),
        "baseline": (dataclasses.replace(now, rescore=args.baseline_rescore), _all_threads),
    }
    for question in QUESTIONS[:4]:  # warm caches, the model's sessions, page cache
        index.answer(question)
    print(f"index {args.index}: {len(index)} passages; {len(QUESTIONS)} questions per "
          f"round; now: rescore {now.rescore}, FAISS one thread per query; baseline: "
          f"rescore {args.baseline_rescore}, FAISS on all threads; "
          f"load {os.getloadavg()[0]:.2f}")
    figures: dict[str, list[float]] = {name: [] for name in sides}
    for r in range(args.rounds):
        order = list(sides) if r % 2 == 0 else list(reversed(sides))
        for name in order:
            index.answer_config, dense._one_thread_search = sides[name]
            figures[name].append(_cpu_ms_per_answer(index, QUESTIONS))
        print(f"round {r + 1}: " + ", ".join(f"{n} {figures[n][-1]:.1f} ms" for n in sides))
    dense._one_thread_search = ONE_THREAD
    median = {n: float(np.median(v)) for n, v in figures.items()}
    print(f"CPU per answer, median: now {median['now']:.1f} ms, baseline "
          f"{median['baseline']:.1f} ms, now/baseline {median['now'] / median['baseline']:.2f}; "
          f"load {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
