"""Evaluation: question files, metrics on hand-made data, BEIR, the end-to-end runs."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import REPO, FakeEmbedder
from rag.index.build import build_index
from rag.config import config_from_dict
from rag.errors import ConfigError
from rag.eval.metrics import (abstention_precision_recall, answer_correct, doc_recall_at_k,
                              gold_rank, mrr_at_k, ndcg_at_k, percentiles_ms, recall_at_k)
from rag.eval.questions import EvalQuestion, load_questions
from rag.eval.run import EvalReport, QuestionResult, calibrate, evaluate, format_table
from rag.cli import add_eval_parser
from rag.eval.beir import evaluate_beir, load_beir
from rag import Hit, load_index

BEIR_SMALL = REPO / "tests" / "data" / "beir_small"


def _hit(release_id: str, url: str = "", rank: int = 1) -> Hit:
    return Hit(rank=rank, score=1.0, text="t", start=0, end=1, release_id=release_id,
               title="T", date=dt.date(2022, 3, 1), category="c", url=url)


# --- question files ----------------------------------------------------------------------

def _questions(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "qs.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_load_questions_reads_every_field(tmp_path):
    path = _questions(tmp_path, """
questions:
  - id: a
    question: "Which  countries\n received battle groups?"
    gold: [x/nato.md, "https://example.org/nato/"]
    answer_contains: [Slovakia, 117]
    dates: true
  - id: 7
    question: Mars budget?
    unanswerable: true
""")
    assert load_questions(path) == [
        EvalQuestion("a", "Which countries received battle groups?",
                     ("x/nato.md", "https://example.org/nato/"), ("Slovakia", "117"),
                     False, True),
        EvalQuestion("7", "Mars budget?", (), (), True, False),
    ]


def test_load_questions_takes_a_bare_list_and_the_dev_set(tmp_path):
    path = _questions(tmp_path, "- id: a\n  question: Q?\n  gold: x.md\n")
    assert load_questions(path) == [EvalQuestion("a", "Q?", ("x.md",))]
    dev = load_questions(REPO / "eval" / "dev_questions.yaml")
    assert len(dev) == len({q.id for q in dev}) > 50
    assert all(q.gold for q in dev if not q.unanswerable)


@pytest.mark.parametrize("text, match", [
    ("questions: {id: a}", r"qs\.yaml: expected a list of questions .*got dict"),
    ("just text", r"qs\.yaml: expected a list of questions .*got str"),
    ("questions: []\nversion: 2", r"qs\.yaml: unknown top-level key\(s\) version"),
    ("- id: a\n  gold: [x.md]", r"qs\.yaml: question a: missing question text"),
    ("- id: a\n  question: '  '\n  gold: [x.md]", r"question a: missing question text"),
    ("- question: Q?\n  gold: [x.md]", r"qs\.yaml: question #1 has no id"),
    ("- id: a\n  question: Q?\n  gold: [x.md]\n- id: a\n  question: R?\n  gold: [y.md]",
     r"qs\.yaml: question a: duplicate id"),
    ("- id: a\n  question: Q?", r"question a: answerable but has no gold releases"),
    ("- id: a\n  question: Q?\n  unanswerable: true\n  gold: [x.md]",
     r"question a: unanswerable but has gold or answer_contains"),
    ("- id: a\n  question: Q?\n  unanswerable: true\n  answer_contains: [x]",
     r"question a: unanswerable but has gold"),
    ("- id: a\n  question: Q?\n  gold: [x.md]\n  golds: [y.md]",
     r"question a: unknown key\(s\) golds \(known: id, question"),
    ("- id: a\n  question: Q?\n  gold: [x.md]\n  unanswerable: yes please",
     r"question a: unanswerable = 'yes please' must be true or false"),
    ("- id: a\n  question: Q?\n  gold: {x: 1}", r"question a: gold must be a list"),
    ("- id: a\n  question: Q?\n  gold: [x.md, '']",
     r"question a: gold must be a list of non-empty"),
    ("- just a string", r"question #1 must be a mapping"),
    ("- id: [unclosed", r"qs\.yaml is not valid YAML"),
])
def test_load_questions_rejects(tmp_path, text, match):
    with pytest.raises(ConfigError, match=match):
        load_questions(_questions(tmp_path, text))


def test_load_questions_missing_file(tmp_path):
    with pytest.raises(ConfigError, match=r"cannot read question file .*nope\.yaml"):
        load_questions(tmp_path / "nope.yaml")


# --- metrics on hand-made data -----------------------------------------------------------

def test_gold_rank_by_id_and_by_url():
    hits = [_hit("a.md", "https://wh.gov/a/"), _hit("b.md", "https://wh.gov/b/"),
            _hit("c.md", "https://WH.gov/c/")]
    assert gold_rank(hits, ["b.md"]) == 2
    assert gold_rank(hits, ["c.md", "b.md"]) == 2  # the first gold hit, not the first gold
    assert gold_rank(hits, ["https://wh.gov/c"]) == 3  # trailing slash and case ignored
    assert gold_rank(hits, ["zzz.md", "https://wh.gov/zzz/"]) is None
    assert gold_rank([_hit("a.md", "")], [""]) is None  # an empty url never matches
    assert gold_rank([], ["a.md"]) is None


def test_recall_and_mrr():
    ranks = [1, 3, None, 12]
    assert recall_at_k(ranks, 1) == 0.25
    assert recall_at_k(ranks, 5) == 0.5
    assert recall_at_k(ranks, 10) == 0.5
    assert recall_at_k(ranks, 12) == 0.75
    assert mrr_at_k(ranks, 10) == pytest.approx((1 + 1 / 3) / 4)
    assert mrr_at_k(ranks, 20) == pytest.approx((1 + 1 / 3 + 1 / 12) / 4)
    assert recall_at_k([], 10) is None and mrr_at_k([]) is None


def test_answer_correct():
    text = "Four new battle groups in SLOVAKIA,\n Romania, Bulgaria,  and Hungary [1]"
    assert answer_correct(text, ["slovakia", "Bulgaria, and hungary"], abstained=False)
    assert not answer_correct(text, ["Slovakia", "Poland"], abstained=False)
    assert not answer_correct(text, ["Slovakia"], abstained=True)  # abstention counts as wrong
    assert answer_correct("anything", [], abstained=False)


def test_abstention_precision_recall():
    abstained = [True, True, False, False, True]
    unanswerable = [True, False, True, False, True]
    assert abstention_precision_recall(abstained, unanswerable) == (2 / 3, 2 / 3)
    assert abstention_precision_recall([True, False], [True, True]) == (1.0, 0.5)
    assert abstention_precision_recall([False, False], [False, True]) == (None, 0.0)
    assert abstention_precision_recall([True], [False]) == (0.0, None)


def test_percentiles_ms():
    assert percentiles_ms([float(v) for v in range(10, 0, -1)]) == (5.5, pytest.approx(9.55))
    assert percentiles_ms([]) == (None, None)


def test_ndcg_against_hand_computed_value():
    ranking = ["a", "b", "c", "d"]
    relevance = {"b": 2, "d": 1, "e": 3, "c": 0}
    # DCG = 2/log2(3) + 1/log2(5) = 1.26186 + 0.43068 = 1.69254
    # ideal = 3/log2(2) + 2/log2(3) + 1/log2(4) = 3 + 1.26186 + 0.5 = 4.76186
    assert ndcg_at_k(ranking, relevance, 10) == pytest.approx(1.69254 / 4.76186, abs=1e-5)
    assert ndcg_at_k(ranking, relevance, 10) == pytest.approx(0.355436, abs=1e-5)
    # cut at 2: DCG = 2/log2(3); ideal = 3 + 2/log2(3)
    assert ndcg_at_k(ranking, relevance, 2) == pytest.approx(1.26186 / 4.26186, abs=1e-5)
    assert ndcg_at_k(["e", "b", "d"], relevance, 10) == pytest.approx(1.0)
    assert ndcg_at_k(["a"], {"a": 0}, 10) == 0.0


def test_doc_recall():
    relevance = {"b": 2, "d": 1, "e": 3, "c": 0}
    assert doc_recall_at_k(["a", "b", "c", "d"], relevance, 10) == pytest.approx(2 / 3)
    assert doc_recall_at_k(["a", "b", "c", "d"], relevance, 2) == pytest.approx(1 / 3)
    assert doc_recall_at_k(["c"], {"c": 0}, 10) == 0.0


def _row(qid, unanswerable=False, rank=None, correct=None, abstained=False, confidence=0.5,
         retrieval_ms=1.0, answer_ms=2.0):
    return QuestionResult(qid, unanswerable, False, rank, correct, abstained, confidence,
                          retrieval_ms, answer_ms)


ROWS = (
    _row("q1", rank=1, correct=True, confidence=0.7, retrieval_ms=10, answer_ms=20),
    _row("q2", rank=4, correct=False, abstained=True, confidence=0.3, retrieval_ms=20,
         answer_ms=40),
    _row("q3", rank=None, correct=False, confidence=0.5, retrieval_ms=30, answer_ms=60),
    _row("q4", rank=2, correct=None, confidence=0.6, retrieval_ms=40, answer_ms=80),
    _row("u1", unanswerable=True, abstained=True, confidence=0.2, retrieval_ms=50,
         answer_ms=100),
    _row("u2", unanswerable=True, abstained=False, confidence=0.5, retrieval_ms=60,
         answer_ms=120),
)


def test_report_metrics_from_rows():
    m = EvalReport("bm25", ROWS).metrics()
    assert m["questions"] == 6 and m["answerable"] == 4
    assert (m["recall@1"], m["recall@5"], m["recall@10"]) == (0.25, 0.75, 0.75)
    assert m["mrr@10"] == pytest.approx((1 + 1 / 4 + 0 + 1 / 2) / 4)
    assert m["answer_accuracy"] == pytest.approx(1 / 3)  # q4 has no answer_contains
    assert m["abstention_precision"] == 0.5 and m["abstention_recall"] == 0.5
    assert m["answerable_abstained"] == 1 and m["unanswerable_answered"] == 1
    assert m["retrieval_p50_ms"] == 35.0 and m["answer_p50_ms"] == 70.0
    assert m["retrieval_p95_ms"] == pytest.approx(57.5)


def test_report_to_dict_and_format():
    report = EvalReport("bm25", ROWS)
    d = json.loads(json.dumps(report.to_dict()))
    assert d["mode"] == "bm25" and d["metrics"]["mrr@10"] == 0.4375
    assert d["questions"][1] == {"id": "q2", "unanswerable": False, "dates": False,
                                 "gold_rank": 4, "correct": False, "abstained": True,
                                 "confidence": 0.3, "retrieval_ms": 20.0, "answer_ms": 40.0}
    text = report.format()
    assert text.splitlines()[0].split() == ["bm25"]
    assert "recall@5" in text and "0.750" in text and "35.0" in text
    assert "gold not retrieved: q3" in text
    assert "answer wrong: q2, q3" in text
    assert "unanswerable answered: u2" in text


def test_format_table_side_by_side():
    table = format_table({"dense": {"recall@1": 0.5, "n": 3},
                          "hybrid": {"recall@1": None, "n": 4}})
    lines = table.splitlines()
    assert lines[0].split() == ["dense", "hybrid"]
    assert lines[1].split() == ["recall@1", "0.500", "-"]
    assert lines[2].split() == ["n", "3", "4"]


def test_calibrate_sweeps_observed_confidences():
    # Answerable confidences 0.7, 0.3, 0.5, 0.6; unanswerable 0.2, 0.5. A question abstains
    # when its confidence is below the threshold.
    assert calibrate(ROWS) == [
        (0.2, 0, 2),  # nothing abstains: both unanswerable questions are answered
        (0.3, 0, 1),  # u1 (0.2) abstains
        (0.5, 1, 1),  # q2 (0.3) abstains too; u2 (0.5) is still answered
        (0.6, 2, 0),  # q3 (0.5) and u2 abstain
        (0.7, 3, 0),  # q4 (0.6) abstains; only q1 is answered
    ]
    assert calibrate([]) == []


# --- evaluate() ------------------------------------------------------------------------

@dataclass
class _StubAnswer:
    text: str
    abstained: bool
    confidence: float
    sources: list = field(default_factory=list)
    quotes: list = field(default_factory=list)


@dataclass
class _StubResult:
    hits: list
    mode: str


class _StubIndex:
    """The shape of rag.Index that evaluate() uses: search() and answer()."""

    def __init__(self):
        self.calls: list[tuple] = []

    def search(self, question, top_k=None, *, mode=None):
        self.calls.append(("search", question, top_k, mode))
        hits = [_hit("other.md", "https://wh.gov/other/", 1),
                _hit("gold.md", "https://wh.gov/g/", 2)]
        return _StubResult(hits, mode or "hybrid")

    def answer(self, question, top_k=None, mode=None):
        self.calls.append(("answer", question, top_k, mode))
        if "Mars" in question:
            return _StubAnswer("No release answers.", True, 0.1)
        return _StubAnswer("Slovakia and Hungary [2]", False, 0.8)


def test_evaluate_with_a_stub_index():
    questions = [EvalQuestion("q1", "Battle groups?", ("gold.md",), ("hungary",)),
                 EvalQuestion("q2", "Battle groups where?", ("https://wh.gov/g",), ("Poland",)),
                 EvalQuestion("q3", "Nothing?", ("missing.md",)),
                 EvalQuestion("u1", "Mars budget?", unanswerable=True)]
    index = _StubIndex()
    report = evaluate(index, questions)
    assert report.mode == "hybrid"
    assert [(r.id, r.gold_rank, r.correct, r.abstained, r.confidence) for r in report.results] == [
        ("q1", 2, True, False, 0.8), ("q2", 2, False, False, 0.8),
        ("q3", None, None, False, 0.8), ("u1", None, None, True, 0.1)]
    assert all(r.retrieval_ms >= 0 and r.answer_ms >= 0 for r in report.results)
    # one warm-up pair, then search(top_k=10) and answer(default top_k) per question
    assert index.calls[2:4] == [("search", "Battle groups?", 10, None),
                                ("answer", "Battle groups?", None, None)]
    assert len(index.calls) == 2 + 2 * len(questions)
    m = report.metrics()
    assert m["recall@1"] == 0.0 and m["recall@5"] == pytest.approx(2 / 3)
    assert m["answer_accuracy"] == 0.5
    assert (m["abstention_precision"], m["abstention_recall"]) == (1.0, 1.0)


def test_evaluate_rejects_bad_arguments():
    with pytest.raises(ConfigError, match="no questions to evaluate"):
        evaluate(_StubIndex(), [])
    with pytest.raises(ConfigError, match="top_k = 5 must be between 10 and 100"):
        evaluate(_StubIndex(), [EvalQuestion("q", "Q?", ("a",))], top_k=5)


@pytest.fixture
def index(config, embedder):
    build_index(config, embedder, progress=False)
    return load_index(config.index, config, embedder)


E2E_QUESTIONS = [
    EvalQuestion("nato", "Which countries received new battle groups?",
                 ("statements-releases/2022-03/nato.md",), ("Slovakia", "Hungary")),
    EvalQuestion("oil", "How many barrels of oil per day will be released?",
                 ("https://www.whitehouse.gov/briefing-room/oil-reserve-release",),
                 ("one million barrels",)),
    EvalQuestion("covid", "How long do free COVID tests take to ship?",
                 ("statements-releases/2022-03/covid.md",), ("seven to twelve days",)),
    EvalQuestion("mars", "What did the President say about the Mars colony budget?",
                 unanswerable=True),
]


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_evaluate_end_to_end(index, mode):
    report = evaluate(index, E2E_QUESTIONS, mode=mode)
    assert report.mode == mode
    assert [r.gold_rank for r in report.results] == [1, 1, 1, None]
    assert report.metrics()["recall@1"] == 1.0 and report.mrr == 1.0
    for q, r in zip(E2E_QUESTIONS, report.results):
        answer = index.answer(q.question, mode=mode)
        assert r.abstained == answer.abstained
        assert r.confidence == pytest.approx(answer.confidence)
        if not q.unanswerable:
            assert r.correct == answer_correct(answer.text, q.answer_contains, answer.abstained)
    assert report.results[1].correct is True  # the oil answer quotes its figure
    sweep = calibrate(report.results)
    assert [t for t, _, _ in sweep] == sorted({r.confidence for r in report.results})


# --- BEIR ------------------------------------------------------------------------------

def _beir(root: Path, corpus: list, queries: list, qrels: str) -> Path:
    (root / "qrels").mkdir(parents=True, exist_ok=True)
    (root / "corpus.jsonl").write_text(
        "".join((c if isinstance(c, str) else json.dumps(c)) + "\n" for c in corpus))
    (root / "queries.jsonl").write_text(
        "".join((q if isinstance(q, str) else json.dumps(q)) + "\n" for q in queries))
    (root / "qrels" / "test.tsv").write_text(qrels)
    return root


CORPUS = [
    {"_id": "nato", "title": "NATO summit", "text": "Four new battle groups in Slovakia, "
     "Romania, Bulgaria and Hungary will defend every inch of NATO territory.",
     "metadata": {"date": "2021-05-01"}},
    {"_id": "oil", "title": "Oil reserve", "text": "One million barrels of oil per day from the "
     "Strategic Petroleum Reserve."},
    {"_id": "covid", "title": "", "text": "Every household can order free at-home COVID-19 "
     "tests.\n\nTests ship within seven to twelve days."},
    {"_id": "empty", "title": "Nothing", "text": "  "},
]
QUERIES = [
    {"_id": "q1", "text": "battle groups Slovakia Hungary"},
    {"_id": "q2", "text": "barrels of oil per day released in March 2022"},
    {"_id": "q3", "text": "free covid tests ship"},
    {"_id": "q4", "text": "unjudged query"},
]
QRELS = "query-id\tcorpus-id\tscore\nq1\tnato\t1\nq2\toil\t2\nq2\tempty\t0\nq3\tcovid\t1\n"


def test_load_beir(tmp_path):
    data = load_beir(_beir(tmp_path, CORPUS, QUERIES, QRELS))
    assert [d.id for d in data.docs] == ["nato", "oil", "covid", "empty"]
    assert data.docs[0].date == dt.date(2021, 5, 1) and data.docs[1].date is None
    assert data.queries["q3"] == "free covid tests ship"
    assert data.qrels == {"q1": {"nato": 1}, "q2": {"oil": 2, "empty": 0}, "q3": {"covid": 1}}


@pytest.mark.parametrize("corpus, queries, qrels, match", [
    (['{"_id": "a", "text": "x"}', "{not json"], QUERIES, QRELS,
     r"corpus\.jsonl line 2: not valid JSON"),
    (['["a list"]'], QUERIES, QRELS, r"corpus\.jsonl line 1: expected a JSON object"),
    ([{"title": "no id", "text": "x"}], QUERIES, QRELS,
     r"corpus\.jsonl line 1: _id must be a non-empty string"),
    ([{"_id": "a"}], QUERIES, QRELS, r"corpus\.jsonl line 1: text must be a string"),
    ([{"_id": "a", "text": "x"}, "", {"_id": "a", "text": "y"}], QUERIES, QRELS,
     r"corpus\.jsonl line 3: duplicate _id 'a'"),
    ([{"_id": "a", "text": "x", "metadata": {"date": "March"}}], QUERIES, QRELS,
     r"corpus\.jsonl line 1: metadata\.date 'March' is not a YYYY-MM-DD date"),
    (CORPUS, [{"_id": "q1", "text": " "}], QRELS, r"queries\.jsonl line 1: query 'q1' has empty"),
    (CORPUS, QUERIES, "query-id\tcorpus-id\tscore\nq1 nato 1\n",
     r"test\.tsv line 2: expected 3 tab-separated fields .* got 1"),
    (CORPUS, QUERIES, "q1\tnato\thigh\n", r"test\.tsv line 1: score 'high' is not a whole"),
    (CORPUS, QUERIES, "q1\tnato\t1\nq9\tnato\t1\n",
     r"test\.tsv line 2: query-id 'q9' is not in queries\.jsonl"),
    (CORPUS, QUERIES, "q1\tzzz\t1\n", r"test\.tsv line 1: corpus-id 'zzz' is not in corpus"),
    (CORPUS, QUERIES, "q1\tnato\t0\n", r"test\.tsv: no relevant judgements \(score > 0\)"),
])
def test_load_beir_rejects(tmp_path, corpus, queries, qrels, match):
    with pytest.raises(ConfigError, match=match):
        load_beir(_beir(tmp_path, corpus, queries, qrels))


def test_load_beir_missing_files(tmp_path):
    (tmp_path / "corpus.jsonl").write_text("")
    with pytest.raises(ConfigError, match=r"lacks .*queries\.jsonl, .*qrels/test\.tsv; expected"):
        load_beir(tmp_path)


def _beir_config(tmp_path: Path):
    return config_from_dict({"seeds": str(tmp_path / "no-seeds"), "index": str(tmp_path / "ix"),
                             "chunking": {"max_tokens": 40, "header_tokens": 16}}, tmp_path)


def test_evaluate_beir_end_to_end(tmp_path):
    folder = _beir(tmp_path / "beir", CORPUS, QUERIES, QRELS)
    embedder = FakeEmbedder()
    results = evaluate_beir(folder, _beir_config(tmp_path), embedder)
    assert set(results) == {"dense", "bm25", "hybrid"}
    assert all(set(r) == {"ndcg@10", "recall@10", "recall@100"} for r in results.values())
    # Three judged queries, each finding its one relevant document first with BM25. q2's
    # "in March 2022" does not filter: its document is dated 2000-01-01 (no metadata.date).
    assert results["bm25"] == {"ndcg@10": 1.0, "recall@10": 1.0, "recall@100": 1.0}
    assert all(r["recall@100"] == 1.0 for r in results.values())  # 3 documents, all ranked
    assert not any("Nothing" in t for t in embedder.embedded)  # the empty doc is skipped
    assert not (tmp_path / "ix").exists()  # built in a temporary folder, not config.index


def test_evaluate_beir_rejects_unknown_mode(tmp_path):
    with pytest.raises(ConfigError, match=r"modes \['sparse'\] must be among dense, bm25"):
        evaluate_beir(tmp_path, _beir_config(tmp_path), FakeEmbedder(), modes=("sparse",))


def test_beir_small_sample():
    data = load_beir(BEIR_SMALL)
    assert len(data.docs) == 40 and len(data.queries) == len(data.qrels) >= 30
    assert sum(p.stat().st_size for p in BEIR_SMALL.rglob("*") if p.is_file()) < 300_000
    config = config_from_dict({}, REPO)
    results = evaluate_beir(BEIR_SMALL, config, FakeEmbedder())
    for metrics in results.values():
        assert all(0.0 <= v <= 1.0 for v in metrics.values())
    # Measured with the fake embedder: bm25 1.00, hybrid 0.78, dense 0.44 nDCG@10.
    assert results["bm25"]["ndcg@10"] > 0.8
    assert results["hybrid"]["ndcg@10"] > results["dense"]["ndcg@10"] > 0.2


# --- the `rag eval` command ------------------------------------------------------------

def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rag")
    p.add_argument("--config", default=None)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", default=argparse.SUPPRESS)
    add_eval_parser(p.add_subparsers(dest="command", required=True), common)
    return p


@pytest.fixture
def cli_setup(tmp_path, seeds, monkeypatch):
    embedder = FakeEmbedder()
    monkeypatch.setattr("rag.model.transformer.load_embedder", lambda config: embedder)
    conf = tmp_path / "rag.yaml"
    conf.write_text(f"seeds: {seeds}\nindex: {tmp_path / 'index'}\n"
                    "chunking:\n  max_tokens: 40\n  header_tokens: 16\n")
    from rag.config import load_config

    build_index(load_config(conf), embedder, progress=False)
    questions = tmp_path / "qs.yaml"
    questions.write_text(
        "- id: nato\n  question: Which countries received new battle groups?\n"
        "  gold: [statements-releases/2022-03/nato.md]\n  answer_contains: [Hungary]\n"
        "- id: mars\n  question: What did the President say about the Mars colony budget?\n"
        "  unanswerable: true\n")
    return str(conf), str(questions)


def _run(argv):
    args = _parser().parse_args(argv)
    return args.func(args)


def test_cli_eval_json(cli_setup, capsys):
    conf, questions = cli_setup
    assert _run(["--config", conf, "eval", questions, "--mode", "bm25", "--json",
                 "--calibrate"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["bm25"]["metrics"]["recall@1"] == 1.0
    assert [q["id"] for q in out["bm25"]["questions"]] == ["nato", "mars"]
    assert out["bm25"]["questions"][0]["gold_rank"] == 1
    assert [len(row) for row in out["calibration"]["bm25"]] == [3] * len(
        out["calibration"]["bm25"])


def test_cli_eval_all_modes_table(cli_setup, capsys):
    conf, questions = cli_setup
    assert _run(["eval", questions, "--config", conf, "--mode", "all"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["dense", "bm25", "hybrid"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[1:]}
    assert rows["recall@1"] == ["1.000"] * 3
    for name in ("mrr@10", "answer_accuracy", "abstention_precision", "abstention_recall",
                 "answerable_abstained", "unanswerable_answered", "retrieval_p50_ms",
                 "retrieval_p95_ms", "answer_p50_ms", "answer_p95_ms"):
        assert len(rows[name]) == 3


def test_cli_eval_beir(cli_setup, capsys, tmp_path):
    conf, _ = cli_setup
    folder = _beir(tmp_path / "beir", CORPUS, QUERIES, QRELS)
    assert _run(["eval", "--beir", str(folder), "--config", conf, "--json",
                 "--mode", "bm25"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "bm25": {"ndcg@10": 1.0, "recall@10": 1.0, "recall@100": 1.0}}


def test_cli_eval_needs_exactly_one_source(cli_setup):
    conf, questions = cli_setup
    with pytest.raises(ConfigError, match="give a question file or --beir DIR"):
        _run(["eval", "--config", conf])
    with pytest.raises(ConfigError, match="give a question file or --beir DIR"):
        _run(["eval", questions, "--beir", "x", "--config", conf])


def test_cli_eval_of_a_typed_set_prints_each_split(cli_setup, capsys, tmp_path):
    conf, _ = cli_setup
    typed = tmp_path / "typed.yaml"
    typed.write_text(
        "- id: T-1\n  corpus: full\n  type: list\n"
        "  question: Which countries received new battle groups?\n"
        "  gold: [nato]\n  gold_dates: ['2022-03-24']\n  answer_all: [Hungary]\n"
        "- id: T-2\n  corpus: full\n  type: unanswerable\n"
        "  question: What did the President say about the Mars colony budget?\n  gold: []\n")
    assert _run(["eval", str(typed), "--config", conf, "--mode", "bm25"]) == 0
    out = capsys.readouterr().out
    assert "[all]" in out and "gold release not in the index" not in out
    assert any(line.split()[:2] == ["list", "1"] for line in out.splitlines())
    assert any(line.split()[:2] == ["unanswerable", "1"] for line in out.splitlines())
