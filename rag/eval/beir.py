"""BEIR-format evaluation: index a standard corpus and score dense, BM25 and hybrid.

The layout is BEIR's: ``corpus.jsonl`` (``_id``, ``title``, ``text``), ``queries.jsonl``
(``_id``, ``text``) and ``qrels/test.tsv`` (``query-id``, ``corpus-id``, ``score``), so
the retriever's nDCG@10 can be compared with published BEIR and MTEB figures.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from ..config import MODES, Config
from ..errors import ConfigError
from ..index.build import build_index
from ..ingest.markdown import markdown_to_text
from ..ingest.releases import Release
from ..model.embedder import Embedder
from ..query.index import Index
from ..query.retrieve import MAX_QUESTION_CHARS
from .metrics import doc_recall_at_k, ndcg_at_k

BEIR_TOP_K = 100
BEIR_DATE = dt.date(2000, 1, 1)


@dataclass(frozen=True)
class BeirDoc:
    id: str
    title: str
    text: str
    date: dt.date | None


@dataclass(frozen=True)
class BeirData:
    """A BEIR dataset: documents, queries by id, graded judgements ``qrels[qid][docid]``."""

    docs: tuple[BeirDoc, ...]
    queries: Mapping[str, str]
    qrels: Mapping[str, Mapping[str, int]]


def _jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{path} line {n}: not valid JSON ({exc.msg})") from None
            if not isinstance(obj, dict):
                raise ConfigError(f"{path} line {n}: expected a JSON object, "
                                  f"got {type(obj).__name__}")
            yield n, obj


def _field(obj: dict[str, Any], key: str, where: str, required: bool = True) -> str:
    value = obj.get(key)
    if value is None and not required:
        value = ""
    if isinstance(value, int) and not isinstance(value, bool) and key == "_id":
        value = str(value)
    if not isinstance(value, str) or (key == "_id" and not value.strip()):
        raise ConfigError(f"{where}: {key} must be {'a non-empty' if key == '_id' else 'a'} "
                          f"string, got {value!r}")
    return value


def load_beir(folder: str | Path, split: str = "test") -> BeirData:
    """Read a BEIR folder: ``corpus.jsonl``, ``queries.jsonl``, ``qrels/<split>.tsv``.

    Raises:
        ConfigError: a file is missing, or a line is not valid (the message names the
            file and line number): bad JSON, missing ``_id``/``text``, duplicate id, bad
            date, qrels row without three tab-separated fields or with an unknown id.
    """
    folder = Path(folder)
    files = {"corpus": folder / "corpus.jsonl", "queries": folder / "queries.jsonl",
             "qrels": folder / "qrels" / f"{split}.tsv"}
    missing = [str(p) for p in files.values() if not p.is_file()]
    if missing:
        raise ConfigError(f"BEIR folder {folder} lacks {', '.join(missing)}; expected "
                          f"corpus.jsonl, queries.jsonl and qrels/{split}.tsv")
    docs: dict[str, BeirDoc] = {}
    for n, obj in _jsonl(files["corpus"]):
        where = f"{files['corpus']} line {n}"
        doc_id = _field(obj, "_id", where)
        if doc_id in docs:
            raise ConfigError(f"{where}: duplicate _id {doc_id!r}")
        metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
        date = None
        if metadata.get("date"):
            try:
                date = dt.date.fromisoformat(str(metadata["date"]).strip()[:10])
            except ValueError:
                raise ConfigError(f"{where}: metadata.date {metadata['date']!r} is not a "
                                  f"YYYY-MM-DD date") from None
        docs[doc_id] = BeirDoc(doc_id, _field(obj, "title", where, required=False),
                               _field(obj, "text", where), date)
    queries: dict[str, str] = {}
    for n, obj in _jsonl(files["queries"]):
        where = f"{files['queries']} line {n}"
        qid = _field(obj, "_id", where)
        if qid in queries:
            raise ConfigError(f"{where}: duplicate _id {qid!r}")
        text = _field(obj, "text", where)
        if not text.strip():
            raise ConfigError(f"{where}: query {qid!r} has empty text")
        queries[qid] = text
    qrels: dict[str, dict[str, int]] = {}
    with files["qrels"].open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            where = f"{files['qrels']} line {n}"
            fields = line.rstrip("\r\n").split("\t")
            if not line.strip() or (n == 1 and fields[0].strip() == "query-id"):
                continue
            if len(fields) != 3:
                raise ConfigError(f"{where}: expected 3 tab-separated fields (query-id, "
                                  f"corpus-id, score), got {len(fields)}")
            qid, doc_id, score = (x.strip() for x in fields)
            try:
                grade = int(score)
            except ValueError:
                raise ConfigError(f"{where}: score {score!r} is not a whole number") from None
            if qid not in queries:
                raise ConfigError(f"{where}: query-id {qid!r} is not in queries.jsonl")
            if doc_id not in docs:
                raise ConfigError(f"{where}: corpus-id {doc_id!r} is not in corpus.jsonl")
            qrels.setdefault(qid, {})[doc_id] = grade
    if not any(g > 0 for judged in qrels.values() for g in judged.values()):
        raise ConfigError(f"{files['qrels']}: no relevant judgements (score > 0)")
    return BeirData(tuple(docs.values()), queries, qrels)


def beir_releases(data: BeirData) -> list[Release]:
    """The documents as releases: id = ``_id``, category ``beir``, empty texts skipped."""
    releases = []
    for doc in data.docs:
        body = markdown_to_text(doc.text)
        if body:
            releases.append(Release(id=doc.id, title=" ".join(doc.title.split()),
                                    date=doc.date or BEIR_DATE, category="beir", url="",
                                    published="", modified="", body=body))
    return releases


def evaluate_beir(folder: str | Path, config: Config, embedder: Embedder,
                  modes: Sequence[str] = MODES) -> dict[str, dict[str, float]]:
    """Index a BEIR corpus in a temporary folder and score document rankings per mode.

    Passages are retrieved (top 100, one span per document, no date filter read from the
    query) and their documents, in hit order, are the ranking. Queries without a relevant
    judgement are left out, as in BEIR.

    Returns:
        ``{mode: {"ndcg@10": ..., "recall@10": ..., "recall@100": ...}}``, means over queries.

    Raises:
        ConfigError: an unknown mode, or any reason of :func:`load_beir`.
    """
    bad = [m for m in modes if m not in MODES]
    if bad or not modes:
        raise ConfigError(f"modes {list(modes)!r} must be among {', '.join(MODES)}")
    data = load_beir(folder)
    judged = {q: rel for q, rel in data.qrels.items() if any(g > 0 for g in rel.values())}
    out: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="rag-beir-") as tmp:
        # One span per document, so 100 hits are 100 distinct documents.
        retrieval = dataclasses.replace(config.retrieval, max_per_release=1)
        beir_config = config.replace(index=Path(tmp), retrieval=retrieval)
        build_index(beir_config, embedder, full=True, progress=False,
                    releases=beir_releases(data))
        index = Index.load(tmp, embedder, beir_config)
        for mode in modes:
            scores: dict[str, list[float]] = {"ndcg@10": [], "recall@10": [], "recall@100": []}
            for qid, relevance in judged.items():
                hits = index.search(data.queries[qid][:MAX_QUESTION_CHARS], top_k=BEIR_TOP_K,
                                    mode=mode, question_dates=False).hits
                ranking = list(dict.fromkeys(h.release_id for h in hits))
                scores["ndcg@10"].append(ndcg_at_k(ranking, relevance, 10))
                scores["recall@10"].append(doc_recall_at_k(ranking, relevance, 10))
                scores["recall@100"].append(doc_recall_at_k(ranking, relevance, 100))
            out[mode] = {k: float(np.mean(v)) for k, v in scores.items()}
    return out
