"""Compare the fast (default) index with a float32 index on the development questions.

Builds ``--seeds`` (default ``seeds/``) twice into temporary folders, once with
``model.precision: float32`` (plain torch, the reference) and once with the precision
under test (``--precision``, default the configured one, int8), unless ``--reference``
and ``--fast`` name indexes already built. Then, over ``eval/dev_questions.yaml``:

- recall@5, MRR@10, answer accuracy and abstention counts of each index (hybrid), from
  ``rag.evaluate.evaluate``; the recall@5 difference is the figure that must stay
  within 0.01;
- the mean overlap of the top-10 hits (same release and span) of the two indexes per
  question, for dense and for hybrid retrieval;
- the build time of each, for the record.

Commands (from the repository root)::

    .venv/bin/python benchmarks/bench_quality.py                       # ~5 min
    .venv/bin/python benchmarks/bench_quality.py --precision bfloat16 --json
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Sequence

import numpy as np

import rag
from bench_common import print_figures
from rag.eval.questions import load_questions
from rag.eval.run import evaluate

DEV_QUESTIONS = Path(__file__).resolve().parent.parent / "eval" / "dev_questions.yaml"


def build(seeds: Path, index_dir: Path, precision: str) -> tuple[rag.Index, float]:
    config = rag.load_config(None)
    config = config.replace(seeds=seeds, index=index_dir,
                            model=dataclasses.replace(config.model, precision=precision))
    embedder = rag.model.transformer.load_embedder(config.model)
    started = time.perf_counter()
    rag.build_index(config, embedder, full=True, progress=False)
    seconds = time.perf_counter() - started
    return rag.load_index(index_dir, config, embedder), seconds


def load(index_dir: Path) -> rag.Index:
    return rag.load_index(index_dir)


def overlap(a: rag.Index, b: rag.Index, questions: Sequence[str], mode: str) -> float:
    """Mean share of the top-10 hits the two indexes have in common.

    A question neither index finds anything for (its date filter matches no release)
    agrees fully; one that only one of them answers shares nothing.
    """
    shares = []
    for q in questions:
        hits_a = {(h.release_id, h.start, h.end) for h in a.retrieve(q, 10, mode=mode)}
        hits_b = {(h.release_id, h.start, h.end) for h in b.retrieve(q, 10, mode=mode)}
        if not hits_a and not hits_b:
            shares.append(1.0)
            continue
        shares.append(len(hits_a & hits_b) / max(len(hits_a), len(hits_b)))
    return float(np.mean(shares))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", default="seeds", help="release folder (seeds/)")
    parser.add_argument("--precision", default=None,
                        help="precision under test (default: the configured one)")
    parser.add_argument("--reference", help="a float32 index already built (skips a build)")
    parser.add_argument("--fast", help="the index under test, already built")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    precision = args.precision or rag.load_config(None).model.precision
    questions = load_questions(DEV_QUESTIONS)
    figures: dict[str, object] = {"seeds": args.seeds, "precision": precision}
    with ExitStack() as stack:
        indexes = {}
        for name, given, prec in (("float32", args.reference, "float32"),
                                  (precision, args.fast, precision)):
            if given:
                indexes[name] = load(Path(given))
                continue
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-q-")))
            indexes[name], seconds = build(Path(args.seeds), folder, prec)
            figures[f"{name}_build_s"] = round(seconds, 1)
        reference, fast = indexes["float32"], indexes[precision]
        for name, index in (("float32", reference), (precision, fast)):
            metrics = evaluate(index, questions, mode="hybrid").metrics()
            for key in ("recall@5", "mrr@10", "answer_accuracy", "answerable_abstained",
                        "unanswerable_answered"):
                figures[f"{name}_{key}"] = metrics[key]
        figures["recall@5_difference"] = round(
            figures[f"{precision}_recall@5"] - figures["float32_recall@5"], 4)
        asked = [q.question for q in questions]
        for mode in ("dense", "hybrid"):
            figures[f"top10_overlap_{mode}"] = round(overlap(reference, fast, asked, mode), 4)
    print_figures(figures, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
