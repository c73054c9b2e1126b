"""Fit the abstention threshold (``answer.min_score``) on the TUNE part of question sets.

    .venv/bin/python benchmarks/fit_thresholds.py --set eval/dev_questions.yaml=index \\
        --set ../shared/eval/tune.yaml=/work/bench/idx-full

Every question of each set's tune part (``rag.eval.sets.split_questions``; the test part
is never read here) is answered once with ``min_score`` 0, so that its best score
(``Answer.confidence``) and whether its quotes hold the answer are known; a threshold t
then abstains exactly on the questions whose confidence is below t. For each candidate
threshold it prints, over all sets together: answer accuracy on answerable questions,
answerable questions abstained on, unanswerable ones answered; and it names the
threshold with the most correct answers among those that answer at most a quarter of the
unanswerable questions and abstain on at most 4% of the answerable ones (the issue's
bounds: 1 in 4, 1 in 25), the middle of the widest such run of thresholds. When none
meets both, it names the middle of the thresholds with the most correct answers less
unanswerable questions answered.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np

import rag
from rag.eval.sets import contains_all, map_gold, split_questions
from rag.eval.typed import load_any


def _rows(question_file: Path, index_dir: Path, config: rag.Config, cutoff: float):
    """(confidence, answerable, correct when answered) for the tune part."""
    lenient = config.replace(answer=dataclasses.replace(config.answer, min_score=0.0,
                                                        relative_cutoff=cutoff))
    index = rag.load_index(index_dir, lenient)
    questions = [q for q in load_any(question_file) if q.type != "collect"]
    split = split_questions(questions)
    golds = map_gold(questions, [r.id for r in index.releases])
    rows = []
    for q in questions:
        if split[q.id] != "tune" or (q.answerable and not golds[q.id]):
            continue
        answer = index.answer(q.question)
        quotes = "\n".join(x.text for x in answer.quotes)
        correct = q.answerable and contains_all(quotes, q.answer_all)
        rows.append((answer.confidence, q.answerable, correct))
    return rows


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--set", action="append", required=True, metavar="QUESTIONS=INDEX",
                   help="a question file and the index it is asked of (repeatable)")
    p.add_argument("--config", default=None, help="rag.yaml (default: ./rag.yaml)")
    p.add_argument("--cutoffs", default=None,
                   help="answer.relative_cutoff values to try, comma-separated (default: the "
                        "config's)")
    args = p.parse_args()
    config = rag.load_config(args.config)
    cutoffs = [float(c) for c in args.cutoffs.split(",")] if args.cutoffs \
        else [config.answer.relative_cutoff]
    for cutoff in cutoffs:
        rows = []
        for pair in args.set:
            questions, index = pair.split("=", 1)
            part = _rows(Path(questions), Path(index), config, cutoff)
            print(f"{questions}: {len(part)} tune-part questions (relative_cutoff {cutoff})")
            rows += part
        _sweep(rows)
    return 0


def _sweep(rows) -> None:
    conf = np.array([r[0] for r in rows])
    answerable = np.array([r[1] for r in rows])
    correct = np.array([r[2] for r in rows])
    n_ans, n_un = int(answerable.sum()), int((~answerable).sum())
    print(f"{'threshold':>9} {'accuracy':>8} {'abstained':>9} {'unans. answered':>15}")
    ok, net = [], []
    for t in np.round(np.arange(0.30, 0.80, 0.005), 3):
        answered = conf >= t
        accuracy = (correct & answered & answerable).sum() / max(1, n_ans)
        abstained = int((~answered & answerable).sum())
        leaked = int((answered & ~answerable).sum())
        print(f"{t:>9.3f} {accuracy:>8.3f} {abstained:>9} {leaked:>15}")
        if leaked <= n_un / 4 and abstained <= n_ans / 25:
            ok.append((round(float(accuracy), 3), float(t)))
        net.append((int((correct & answered & answerable).sum()) - leaked, float(t)))
    if ok:
        best = max(a for a, _ in ok)
        run = [t for a, t in ok if a == best]
        print(f"best accuracy {best:.3f} for thresholds {run[0]:.3f}-{run[-1]:.3f}; "
              f"middle: {run[len(run) // 2]:.3f}")
        return
    # No threshold meets both bounds: a wrong answer to an unanswerable question
    # counts as much as a right answer lost.
    print("no threshold meets both bounds on the tune part")
    most = max(n for n, _ in net)
    run = [t for n, t in net if n == most]
    print(f"most correct answers less unanswerable ones answered: {most}, for thresholds "
          f"{', '.join(f'{t:.3f}' for t in run)}; middle: {run[len(run) // 2]:.3f}")


if __name__ == "__main__":
    sys.exit(main())
