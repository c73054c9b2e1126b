"""Fit the fusion settings (``retrieval.bm25_weight``, ``rrf_k``) on the TUNE part.

    .venv/bin/python benchmarks/fit_retrieval.py ../shared/eval/tune.yaml --index /work/bench/idx-full

For each setting of a small grid it searches every answerable tune-part question (top 5,
dates read from the question as usual) and prints the share whose gold release is first
and in the top 5, and the mean reciprocal rank; the test part is never read. Dense weight
stays 1: only the ratio of the two weights matters to the order.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import sys
from pathlib import Path

import rag
from rag.eval.sets import gold_rank, map_gold, split_questions
from rag.eval.typed import load_any


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("questions", type=Path)
    p.add_argument("--index", type=Path, required=True)
    p.add_argument("--config", default=None)
    args = p.parse_args()
    config = rag.load_config(args.config)
    index = rag.load_index(args.index, config)
    questions = [q for q in load_any(args.questions) if q.answerable and q.type != "collect"]
    split = split_questions(questions)
    golds = map_gold(questions, [r.id for r in index.releases])
    tune = [q for q in questions if split[q.id] == "tune" and golds[q.id]]
    print(f"{len(tune)} answerable tune-part questions with gold in the index")
    print(f"{'bm25_weight':>11} {'rrf_k':>5} {'top1':>6} {'top5':>6} {'mrr':>6}")
    results = []
    for weight, rrf_k in itertools.product((0.5, 1.0, 1.5, 2.0, 3.0), (10, 30, 60)):
        index.config = dataclasses.replace(config.retrieval, bm25_weight=weight, rrf_k=rrf_k)
        ranks = [gold_rank([h.release_id for h in index.search(q.question, 10).hits],
                           golds[q.id]) for q in tune]
        top1 = sum(r == 1 for r in ranks) / len(ranks)
        top5 = sum(r is not None and r <= 5 for r in ranks) / len(ranks)
        mrr = sum(1 / r for r in ranks if r) / len(ranks)
        results.append((top5, mrr, weight, rrf_k))
        print(f"{weight:>11.1f} {rrf_k:>5} {top1:>6.3f} {top5:>6.3f} {mrr:>6.3f}")
    top5, mrr, weight, rrf_k = max(results)
    print(f"best on the tune part: bm25_weight {weight}, rrf_k {rrf_k} "
          f"(top5 {top5:.3f}, mrr {mrr:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
