"""Collect mode at full scale: latency, and the figures on a typed set's collect questions.

    .venv/bin/python benchmarks/bench_collect.py ../shared/eval/tune.yaml \\
        --index /work/bench/idx-full --split test

Loads the index once, collects every collect question of the set (the question texts are
read from the set file at run time) once to warm up, then ``--repeat`` more times, and
prints the p50 and p90 seconds of ``index.collect`` and the item recall, item precision
and release recall of the chosen split (definitions in rag/eval/collected.py).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import rag
from bench_common import positive, print_figures
from rag.eval.collected import collect_figures
from rag.eval.sets import split_questions
from rag.eval.typed import evaluate_collect, load_any


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("questions")
    p.add_argument("--index", required=True)
    p.add_argument("--split", choices=["tune", "test", "all"], default="test")
    p.add_argument("--repeat", type=positive, default=2)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    index = rag.load_index(args.index)
    questions = load_any(args.questions)
    split = split_questions(questions)
    chosen = [q for q in questions if q.type == "collect"
              and (args.split == "all" or split[q.id] == args.split)]
    for q in chosen:  # warm up: page in the vectors and postings these questions touch
        index.collect(q.question)
    seconds = []
    for _ in range(args.repeat):
        for q in chosen:
            start = time.perf_counter()
            index.collect(q.question)
            seconds.append(time.perf_counter() - start)
    scores, _ = evaluate_collect(index, questions,
                                 only_split=None if args.split == "all" else args.split)
    f = collect_figures(scores)["all"]
    print_figures({"index": args.index, "releases": index.release_count,
                   "passages": len(index), "split": args.split, "questions": len(chosen),
                   "p50_s": round(float(np.percentile(seconds, 50)), 3),
                   "p90_s": round(float(np.percentile(seconds, 90)), 3),
                   **{k: (round(v, 3) if isinstance(v, float) else v) for k, v in f.items()}},
                  args.json)


if __name__ == "__main__":
    main()
