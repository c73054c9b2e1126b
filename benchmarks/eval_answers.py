"""Retrieval and answer figures per question type, for the tune and the test part.

    python benchmarks/eval_answers.py --index index eval/dev_questions.yaml
    python benchmarks/eval_answers.py --index /work/bench/idx-full/current \\
        /work/shared/eval/tune.yaml --dump details.jsonl

A typed question set (tune.yaml format) or the development set (eval/dev_questions.yaml
format, told apart by its questions having no `type`) is split into tune and test parts
by ``rag.eval.sets.split_questions``; each question is searched (top 5) and answered with
the default settings (``rag.load_config()``, or ``--config``). Prints a table per split.
``--dump FILE`` writes one JSON line per question; ``--only tune`` keeps the test part's
details out of it (its aggregate figures are still printed), so that the test figures
stay honest while failures are studied.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import rag
from rag.eval.sets import aggregate, format_report
from rag.eval.typed import evaluate_typed, load_any


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("questions", type=Path, help="question file (tune.yaml or dev format)")
    parser.add_argument("--index", type=Path, required=True, help="index folder")
    parser.add_argument("--config", type=Path, default=None, help="rag.yaml (default: defaults)")
    parser.add_argument("--no-date-check", action="store_true",
                        help="match gold slugs without checking their dates")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--dump", type=Path, default=None, help="write per-question JSON lines")
    parser.add_argument("--only", choices=("tune", "test", "all"), default="all",
                        help="which split's details --dump writes (default all)")
    args = parser.parse_args(argv)
    try:
        questions = load_any(args.questions)
        config = rag.load_config(args.config) if args.config else rag.load_config()
        index = rag.load_index(args.index, config)
    except rag.RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    collect = [q for q in questions if q.type == "collect"]
    started = time.perf_counter()
    scores, details, missing = evaluate_typed(index, questions, check_dates=not args.no_date_check)
    details = [d for d in details if args.only in ("all", d["split"])]
    questions = [q for q in questions if q.type != "collect"]
    seconds = time.perf_counter() - started
    report = aggregate(scores)
    if args.dump:
        args.dump.write_text("".join(json.dumps(d) + "\n" for d in details), encoding="utf-8")
    if args.json:
        print(json.dumps({"questions": len(questions), "collect_skipped": len(collect),
                          "gold_not_in_index": missing, "seconds": round(seconds, 1),
                          "report": {s: {t: f.to_dict() for t, f in rows.items()}
                                     for s, rows in report.items()}}))
    else:
        print(f"{args.questions}: {len(questions)} questions scored, {len(collect)} collect "
              f"questions skipped; index {args.index} ({index.release_count} releases); "
              f"{seconds:.1f} s")
        if missing:
            print(f"gold release not in the index: {len(missing)} question(s): "
                  f"{', '.join(missing)}")
        print(format_report(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
