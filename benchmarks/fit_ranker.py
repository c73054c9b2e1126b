"""Would a learned sentence ranker beat the hand-set sentence score? Measured on the
TUNE parts of question sets, out of fold.

    .venv/bin/python benchmarks/fit_ranker.py --set eval/dev_questions.yaml=index \\
        --set ../shared/eval/tune.yaml=/work/bench/idx-full

Each question is searched and its sentences ranked once by the answer step
(``rag.query.answer.rank_sentences``). For the few best sentences per part (those
embedded on their own), the features below are computed, and a row is a positive
example when its sentence contains a string a right answer must contain; every row of
an unanswerable question is a negative one. A logistic regression (regularisation
chosen by grouped 5-fold cross-validation) is fitted on the tune-part rows, and each
question is then ranked by the model of the fold that did not see it. Printed: how often
the top 1/3/5 sentences hold the answer in either order; how well the best score tells
answerable from unanswerable questions (AUC); and the quoting thresholds each order
does best with on the tune part (``answer.min_score``-style floor, extra-sentence
floor, ``max_sentences``), by the most right outcomes (answerable questions answered
correctly plus unanswerable ones abstained on) among the settings answering at most a
quarter of the unanswerable questions. The test parts are never read.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import rag
from rag.config import AnswerConfig
from rag.eval.sets import contains_all, map_gold, split_questions, squash
from rag.eval.typed import load_any
from rag.index.lexical import analyse
from rag.query.answer import Ranking, _coverage, answer_from, rank_sentences, select
from rag.query.answer_types import answer_spans

# What the ranker knows of a sentence.
FEATURES = (
    "cosine_passage",    # cosine to the question of the sentence vector pooled in its passage
    "cosine_alone",      # ... of the sentence embedded on its own
    "cosine_previous",   # ... of the sentence before it (0 for a passage's first)
    "coverage",          # share of the question's term weight in it, its title, the one before
    "coverage_alone",    # ... in the sentence alone
    "rare_coverage",     # share of the question's three rarest terms in it or the one before
    "title_coverage",    # share of the question's term weight in the release title
    "passage_rank",      # 1 / sqrt(rank of its passage)
    "passage_score",     # its passage's fused score over the first passage's
    "release_passages",  # share of the retrieved passages from the same release
    "position",          # where it stands in its release: 0 first, 1 last
    "answer_spans",      # things of the kind asked for in it (0-3)
    "kind_asked",        # 1 when the question asks for a kind (a name, an amount, a date)
    "words",             # log of its length in words
    "question_terms",    # log of the number of content terms of the question part
    "hand_score",        # the hand-set score
    "hand_rank",         # 1 / sqrt(its place in the hand-set ranking)
)


def _features(index, ranking: Ranking, hits, part: str, kind, scored) -> np.ndarray:
    pool = hits[:len({c.source for c in ranking.candidates}) or 1]
    share: dict[str, float] = {}
    for hit in hits[:max(c.source for c in ranking.candidates)]:
        share[hit.release_id] = share.get(hit.release_id, 0) + 1
    row_of = {id(c): i for i, c in enumerate(ranking.candidates)}
    terms = analyse(part)
    rare = sorted(set(terms), key=lambda t: -index.idf(t))[:3]
    rows = []
    for place, (hand, cand) in enumerate(scored, 1):
        i = row_of[id(cand)]
        before_cand = ranking.candidates[i - 1] if i and \
            ranking.candidates[i - 1].source == cand.source else None
        release = index.release(cand.release_id)
        own = set(analyse(cand.text))
        before = set(analyse(before_cand.text)) if before_cand else set()
        title = set(analyse(release.title))
        hit = hits[cand.source - 1]
        sim = ranking.similarity
        rows.append([
            sim[i], ranking.alone.get(i, sim[i]), sim[i - 1] if before_cand else 0.0,
            _coverage(terms, own | before | title, index.idf),
            _coverage(terms, own, index.idf),
            sum(t in own or t in before for t in rare) / len(rare) if rare else 0.0,
            _coverage(terms, title, index.idf),
            1 / math.sqrt(cand.source),
            hit.score / pool[0].score if pool[0].score > 0 else 0.0,
            share.get(cand.release_id, 0) / sum(share.values()),
            cand.start / max(1, len(release.body)),
            min(3, len(answer_spans(cand.text, kind, part))),
            float(kind is not None),
            math.log(max(1, len(cand.text.split()))),
            math.log(max(1, len(set(terms)))),
            hand, 1 / math.sqrt(place)])
    return np.array(rows, dtype=float).reshape(-1, len(FEATURES))


@dataclass
class Asked:
    set_name: str
    type: str
    split: str
    answerable: bool
    answer_all: tuple[str, ...]
    ranking: Ranking  # the hand-set ranking, cut to the sentences embedded on their own
    features: list[np.ndarray]  # per part, rows in ranking.ranked order
    hits: list
    window: object
    mode: str
    index: object


def _collect(question_file: Path, index_dir: Path, config: rag.Config) -> list[Asked]:
    index = rag.load_index(index_dir, config)
    questions = [q for q in load_any(question_file) if q.type != "collect"]
    split = split_questions(questions)
    golds = map_gold(questions, [r.id for r in index.releases])
    depth = max(config.answer.rescore, 8)
    out = []
    for q in questions:
        if split[q.id] != "tune" or (q.answerable and not golds[q.id]):
            continue
        result = index.search(q.question)
        ranking = rank_sentences(index, result.query, result.hits, config.answer)
        ranking.ranked = [scored[:depth] for scored in ranking.ranked]
        parts = ranking.parts if len(ranking.parts) > 1 else [result.query]
        features = [_features(index, ranking, result.hits, part, kind, scored)
                    for part, kind, scored in zip(parts, ranking.kinds, ranking.ranked)]
        out.append(Asked(str(question_file), q.type, split[q.id], q.answerable, q.answer_all,
                         ranking, features, result.hits, result.window, result.mode, index))
    return out


def _labels(a: Asked) -> np.ndarray:
    wanted = [squash(x) for x in a.answer_all] if a.answerable else []
    return np.array([any(w in squash(c.text) for w in wanted)
                     for scored in a.ranking.ranked for _, c in scored], dtype=bool)


def _out_of_fold(asked: list[Asked]) -> list[list[np.ndarray]]:
    """Per question and part, the probabilities of the fold model that did not see it."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold

    x = np.vstack([f for a in asked for f in a.features])
    y = np.concatenate([_labels(a) for a in asked])
    groups = np.concatenate([[g] * sum(len(f) for f in a.features)
                             for g, a in enumerate(asked)]).astype(int)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    z = (x - mean) / np.where(scale > 1e-9, scale, 1.0)
    print(f"tune rows: {len(y)} ({int(y.sum())} positive) from {len(asked)} questions")
    folds = list(GroupKFold(n_splits=5).split(z, y, groups))
    best = None
    for c in (0.01, 0.03, 0.1, 0.3, 1.0, 3.0):
        p = np.zeros(len(y))
        for train, held in folds:
            p[held] = LogisticRegression(C=c, max_iter=2000).fit(z[train], y[train]
                                                                 ).predict_proba(z[held])[:, 1]
        q = np.clip(p, 1e-6, 1 - 1e-6)
        loss = -float(np.mean(y * np.log(q) + (~y) * np.log(1 - q)))
        print(f"  C={c:<5} out-of-fold log-loss per row {loss:.4f}")
        if best is None or loss < best[0]:
            best = (loss, c, p)
    weights = LogisticRegression(C=best[1], max_iter=2000).fit(z, y).coef_[0]
    print(f"chosen C={best[1]}; weights fitted on all tune rows:")
    for name, w in sorted(zip(FEATURES, weights), key=lambda t: -abs(t[1])):
        print(f"  {name:<18} {w:+.3f}")
    out, at = [], 0
    for a in asked:
        mine = []
        for f in a.features:
            mine.append(best[2][at:at + len(f)])
            at += len(f)
        out.append(mine)
    return out


def _learned(a: Asked, probabilities: list[np.ndarray]) -> Ranking:
    ranked = []
    for scored, p in zip(a.ranking.ranked, probabilities):
        order = sorted(range(len(scored)), key=lambda j: (-p[j], scored[j][1].source,
                                                          scored[j][1].start))
        ranked.append([(float(p[j]), scored[j][1]) for j in order])
    return dataclasses.replace(a.ranking, ranked=ranked)


def _outcome(a: Asked, ranking: Ranking, config: AnswerConfig) -> tuple[bool, bool]:
    """(answered, correct) for one question."""
    answer = answer_from(a.index, "", a.hits, a.window, a.mode, ranking,
                         select(a.index, ranking, config))
    quotes = "\n".join(q.text for q in answer.quotes)
    return (not answer.abstained,
            a.answerable and not answer.abstained and contains_all(quotes, a.answer_all))


def _summary(asked: list[Asked], rankings: list[Ranking], config: AnswerConfig) -> dict:
    s = {"n": 0, "correct": 0, "abstained": 0, "n_un": 0, "leaked": 0}
    for a, r in zip(asked, rankings):
        answered, correct = _outcome(a, r, config)
        if a.answerable:
            s["n"] += 1
            s["correct"] += correct
            s["abstained"] += not answered
        else:
            s["n_un"] += 1
            s["leaked"] += answered
    return s


def _line(label: str, s: dict) -> str:
    return (f"{label:<30} accuracy {s['correct'] / max(1, s['n']):.3f} ({s['correct']}/"
            f"{s['n']})  answerable abstained {s['abstained']}/{s['n']}  unanswerable "
            f"answered {s['leaked']}/{s['n_un']}")


def _choose(asked, rankings, base: AnswerConfig, floors) -> tuple[dict, AnswerConfig]:
    """The setting with the most right outcomes among those answering at most a quarter
    of the unanswerable questions (else among all); ties go to more correct answers."""
    grid = []
    for lo, cut, most in itertools.product(floors, (0.5, 0.6, 0.7, 0.8, 0.9), (3, 4, 5)):
        settings = dataclasses.replace(base, min_score=float(lo), relative_cutoff=cut,
                                       max_sentences=most)
        grid.append((_summary(asked, rankings, settings), settings))
    within = [g for g in grid if g[0]["leaked"] <= g[0]["n_un"] / 4] or grid
    return max(within, key=lambda g: (g[0]["correct"] + g[0]["n_un"] - g[0]["leaked"],
                                      g[0]["correct"]))


def _auc(asked: list[Asked], rankings: list[Ranking]) -> float:
    best = [max((sc[0][0] for sc in r.ranked if sc), default=0.0) for r in rankings]
    pos = [b for a, b in zip(asked, best) if a.answerable]
    neg = [b for a, b in zip(asked, best) if not a.answerable]
    return float(np.mean([(x > y) + 0.5 * (x == y) for x in pos for y in neg]))


def _top_k(asked: list[Asked], rankings: list[Ranking], k: int) -> int:
    n = 0
    for a, r in zip(asked, rankings):
        if a.answerable:
            merged = [c.text for group in itertools.zip_longest(*r.ranked) for x in group
                      if x for c in [x[1]]]
            n += contains_all("\n".join(merged[:max(k, len(r.ranked))]), a.answer_all)
    return n


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--set", action="append", required=True, metavar="QUESTIONS=INDEX")
    p.add_argument("--config", default=None, help="rag.yaml (default: ./rag.yaml)")
    args = p.parse_args()
    config = rag.load_config(args.config)
    asked: list[Asked] = []
    for pair in args.set:
        questions, index = pair.split("=", 1)
        part = _collect(Path(questions), Path(index), config)
        print(f"{questions}: {len(part)} tune-part questions ranked", flush=True)
        asked += part
    hand = [a.ranking for a in asked]
    learned = [_learned(a, p) for a, p in zip(asked, _out_of_fold(asked))]
    n = sum(a.answerable for a in asked)
    print(f"\non the {n} answerable tune questions, the top-k sentences hold the answer:")
    for name, rankings in (("hand-set", hand), ("learned", learned)):
        print(f"  {name:<9}" + "  ".join(f"top{k} {_top_k(asked, rankings, k)}"
                                         for k in (1, 3, 5))
              + f"   best-score AUC answerable vs unanswerable {_auc(asked, rankings):.3f}")
    print(_line("\nhand-set, current config", _summary(asked, hand, config.answer)))
    for name, rankings, floors in (
            ("hand-set", hand, np.round(np.arange(0.30, 0.75, 0.01), 2)),
            ("learned", learned, np.round(np.arange(0.02, 0.9, 0.02), 2))):
        s, chosen = _choose(asked, rankings, config.answer, floors)
        print(_line(f"{name}, thresholds refitted", s)
              + f"\n{'':<30} (floor {chosen.min_score}, relative_cutoff "
                f"{chosen.relative_cutoff}, max_sentences {chosen.max_sentences})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
