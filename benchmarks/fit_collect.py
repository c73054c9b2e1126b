"""Fit the collect mode's thresholds on the TUNE part of the collect questions.

    .venv/bin/python benchmarks/fit_collect.py ../shared/eval/tune.yaml \\
        --index /work/bench/idx-full --min-score 0.35 0.4 0.45 0.5 --depth 200 300

Only the tune part of the set's collect questions (``rag.eval.sets.split_questions``,
stratified by type) is run; the test part is never read here. For each combination of
the given settings it prints item recall, item precision and release recall
(definitions in rag/eval/collected.py) and the mean rows per answer.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import time

import rag
from rag.eval.collected import collect_figures
from rag.eval.sets import split_questions
from rag.eval.typed import evaluate_collect, load_any
from rag.config import CollectConfig


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("questions")
    p.add_argument("--index", required=True)
    p.add_argument("--min-score", type=float, nargs="+", default=[CollectConfig.min_score])
    p.add_argument("--grow-score", type=float, nargs="+", default=[CollectConfig.grow_score])
    p.add_argument("--depth", type=int, nargs="+", default=[CollectConfig.depth])
    p.add_argument("--duplicate", type=float, nargs="+", default=[CollectConfig.duplicate])
    args = p.parse_args()
    index = rag.load_index(args.index)
    questions = load_any(args.questions)
    split = split_questions(questions)
    tune = [q for q in questions if q.type == "collect" and split[q.id] == "tune"]
    print(f"{len(tune)} tune collect questions")
    print(f"{'min_score':>9} {'grow':>5} {'depth':>5} {'dup':>5} {'item_rec':>8} "
          f"{'item_prec':>9} {'rel_rec':>7} {'rows':>6} {'s/q':>5}")
    for min_score, grow, depth, dup in itertools.product(args.min_score, args.grow_score,
                                                         args.depth, args.duplicate):
        config = dataclasses.replace(CollectConfig(), min_score=min_score, grow_score=grow,
                                     depth=depth, duplicate=dup)
        start = time.perf_counter()
        # The whole set goes in so the split is the set's own; only tune ones are run.
        scores, _ = evaluate_collect(index, questions, only_split="tune", config=config)
        seconds = (time.perf_counter() - start) / max(1, len(tune))
        f = collect_figures(scores)["all"]
        print(f"{min_score:>9.3f} {grow:>5.2f} {depth:>5} {dup:>5.2f} {f['item_recall']:>8.3f} "
              f"{f['item_precision']:>9.3f} {f['release_recall']:>7.3f} {f['mean_rows']:>6.1f} "
              f"{seconds:>5.2f}", flush=True)


if __name__ == "__main__":
    main()
