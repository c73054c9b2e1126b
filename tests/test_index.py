"""Searching a built index: FAISS against brute force, save/load, index types (fake embedder)."""

import numpy as np
import pytest

from rag import load_index
from rag.errors import IndexMismatchError, QuestionError
from rag.index.build import build_index


from test_build import _many_releases


def test_build_then_retrieve(config, embedder):
    report = build_index(config, embedder, progress=False)
    assert report.full and report.reason == "no index yet"
    assert len(report.added) == 3 and report.passages == report.passages_embedded > 3
    index = load_index(config.index, config, embedder)
    hits = index.retrieve("Which countries received new battle groups?", top_k=2)
    assert hits[0].release_id == "statements-releases/2022-03/nato.md"
    assert "Slovakia, Romania" in hits[0].text
    assert [h.rank for h in hits] == [1, 2] and hits[0].score >= hits[1].score
    release = next(r for r in index.releases if r.id == hits[0].release_id)
    assert release.body[hits[0].start:hits[0].end] == hits[0].text


def test_faiss_top_k_equals_numpy_brute_force(config, embedder):
    build_index(config, embedder, progress=False)
    index = load_index(config.index, config, embedder)
    for question in ["battle groups Hungary", "free tests", "oil barrels reserve", "NATO"]:
        q = embedder.embed([question])[0]
        scores = np.asarray(index.vectors) @ q
        expected = np.argsort(-scores, kind="stable")[:4]
        rows, got_scores = index.search_vectors(q, 4)
        assert np.allclose(got_scores, scores[expected], atol=1e-5)
        assert set(rows) == set(expected) or np.allclose(
            sorted(scores[rows]), sorted(scores[expected]), atol=1e-5)


def test_save_load_gives_identical_hits(config, embedder):
    build_index(config, embedder, progress=False)
    first = load_index(config.index, config, embedder)
    again = load_index(config.index, config, embedder)
    for q in ["battle groups", "COVID tests", "petroleum"]:
        assert first.retrieve(q, 5) == again.retrieve(q, 5)


@pytest.mark.parametrize("question, top_k, message", [
    ("   ", 5, "the question is empty"),
    ("x" * 2001, 5, "the question is 2001 characters long; the limit is 2000"),
    ("fine", 0, "top_k = 0 must be between 1 and 100"),
])
def test_bad_questions(config, embedder, question, top_k, message):
    build_index(config, embedder, progress=False)
    index = load_index(config.index, config, embedder)
    with pytest.raises(QuestionError, match=message):
        index.retrieve(question, top_k)


def test_hnsw_index_is_selectable_without_reembedding(config, embedder):
    build_index(config, embedder, progress=False)
    flat = load_index(config.index, config, embedder)
    hnsw_config = config.replace(retrieval=config.retrieval.__class__(faiss="hnsw"))
    with pytest.raises(IndexMismatchError, match="has a flat FAISS index, the config asks for "
                                                 "hnsw; run `rag index`"):
        load_index(config.index, hnsw_config, embedder)
    embedder.embedded.clear()
    report = build_index(hnsw_config, embedder, progress=False)
    assert report.wrote and embedder.embedded == [] and not report.full
    hnsw = load_index(config.index, hnsw_config, embedder)
    assert hnsw.manifest.faiss.to_json() == {"type": "hnsw", "metric": "inner_product", "m": 32}
    for q in ["battle groups Hungary", "free tests", "oil barrels"]:
        v = embedder.embed([q])[0]
        # Same scores as the exact index (rows may differ only among tied scores).
        assert np.allclose(hnsw.search_vectors(v, 3)[1], flat.search_vectors(v, 3)[1], atol=1e-5)


def test_auto_is_flat_for_a_small_index_and_hnsw_from_hnsw_from_passages(config, embedder):
    import dataclasses

    from rag.index.manifest import FaissSettings

    assert config.retrieval.faiss == "auto"  # the default
    build_index(config, embedder, progress=False)
    small = load_index(config.index, config, embedder)
    assert small.manifest.faiss.type == "flat"
    passages = len(small)
    # The same index under a threshold it reaches: a rewrite, not a re-embedding.
    low = config.replace(retrieval=dataclasses.replace(config.retrieval, hnsw_from=passages))
    with pytest.raises(IndexMismatchError, match="the config asks for hnsw"):
        load_index(config.index, low, embedder)
    embedder.embedded.clear()
    report = build_index(low, embedder, progress=False)
    assert report.wrote and embedder.embedded == []
    assert load_index(config.index, low, embedder).manifest.faiss.type == "hnsw"
    # One passage short of it: flat.
    high = dataclasses.replace(config.retrieval, hnsw_from=passages + 1)
    assert FaissSettings.of(high, passages).type == "flat"
    assert FaissSettings.of(high, passages + 1).type == "hnsw"


def test_float16_scan_rescored_in_float32_gives_the_exact_top_k(config, embedder, seeds):
    import faiss

    _many_releases(seeds, 150)
    build_index(config, embedder, progress=False)
    index = load_index(config.index, config, embedder)
    assert isinstance(index.vector_store.dense_search._faiss, faiss.IndexScalarQuantizer)  # float16 storage
    assert len(index) > 100  # deeper than the scan's candidate list for k = 3
    for question in ["topic 3 grain", "ports in depth", "release number 42", "NATO Hungary"]:
        q = embedder.embed([question])[0]
        scores = np.asarray(index.vectors) @ q
        rows, got = index.search_vectors(q, 3)
        assert np.allclose(got, np.sort(scores)[::-1][:3], atol=1e-6)  # float32 scores
        assert np.allclose(scores[rows], got, atol=1e-6)
