import numpy as np

from rag.index.topk import top_rows
from rag.query.fusion import merge_spans, reciprocal_rank_fusion
from rag.index.store import PASSAGE_DTYPE


def test_top_rows_matches_a_full_sort():
    rng = np.random.default_rng(0)
    scores = rng.random(1000).astype(np.float32)
    rows, got = top_rows(scores, 10)
    expected = np.argsort(-scores)[:10]
    assert rows.tolist() == expected.tolist() and np.array_equal(got, scores[expected])


def test_top_rows_keeps_given_row_numbers_and_drops_non_positive():
    rows, scores = top_rows(np.array([0.0, 2.0, -1.0, 1.0]), 10, np.array([7, 8, 9, 10]),
                            positive_only=True)
    assert rows.tolist() == [8, 10] and scores.tolist() == [2.0, 1.0]


def test_rrf_rewards_agreement_and_respects_weights():
    dense = np.array([1, 2, 3])
    bm25 = np.array([3, 1, 4])
    rows, scores = reciprocal_rank_fusion([(dense, 1.0), (bm25, 1.0)], rrf_k=60)
    assert rows.tolist() == [1, 3, 2, 4]
    assert np.isclose(scores[0], 1 / 61 + 1 / 62)
    rows, _ = reciprocal_rank_fusion([(dense, 0.0), (bm25, 1.0)], rrf_k=60)
    assert rows.tolist()[:3] == [3, 1, 4]


def passages(*spans):
    arr = np.zeros(len(spans), dtype=PASSAGE_DTYPE)
    for i, (release, start, end) in enumerate(spans):
        arr[i] = (release, i, start, end, 10)
    return arr


def test_overlapping_passages_of_one_release_are_merged():
    p = passages((0, 0, 100), (0, 90, 200), (1, 0, 50))
    spans = merge_spans(np.array([0, 1, 2]), np.array([3.0, 2.0, 1.0]), p, top_k=5,
                        max_per_release=2)
    assert [(s.release, s.start, s.end, s.score) for s in spans] == [(0, 0, 200, 3.0),
                                                                     (1, 0, 50, 1.0)]


def test_at_most_n_passages_per_release():
    p = passages((0, 0, 10), (0, 100, 110), (0, 200, 210), (1, 0, 10))
    spans = merge_spans(np.array([0, 1, 2, 3]), np.arange(4, 0, -1).astype(float), p,
                        top_k=3, max_per_release=2)
    assert [(s.release, s.start) for s in spans] == [(0, 0), (0, 100), (1, 0)]


def test_a_kept_span_still_grows_with_its_neighbours_ranked_below_the_top_k():
    # Ranked: release 0's first passage, release 1, then the passage after release 0's.
    p = passages((0, 0, 100), (1, 0, 50), (0, 100, 200), (2, 0, 50))
    rows, scores = np.array([0, 1, 2, 3]), np.array([4.0, 3.0, 2.0, 1.0])
    spans = merge_spans(rows, scores, p, top_k=2, max_per_release=2)
    assert [(s.release, s.start, s.end) for s in spans] == [(0, 0, 200), (1, 0, 50)]
    # A deep search stops at its top_k-th span, as before.
    spans = merge_spans(rows, scores, p, top_k=2, max_per_release=2, grow=False)
    assert [(s.release, s.start, s.end) for s in spans] == [(0, 0, 100), (1, 0, 50)]


def test_growth_after_the_top_k_stops_at_max_span_passages():
    from rag.query.fusion import MAX_SPAN_PASSAGES

    chain = [(0, 100 * i, 100 * (i + 1)) for i in range(MAX_SPAN_PASSAGES + 3)]
    p = passages(*chain)
    spans = merge_spans(np.arange(len(chain)), np.arange(len(chain), 0, -1).astype(float), p,
                        top_k=1, max_per_release=2)
    assert len(spans) == 1
    assert (spans[0].start, spans[0].end) == (0, 100 * MAX_SPAN_PASSAGES)


def test_growth_reads_only_the_first_grow_depth_rows_of_the_ranking():
    from rag.query.fusion import GROW_DEPTH

    # Row 0 is kept; fillers of other releases follow; its neighbour comes last.
    fillers = [(1 + i, 0, 10) for i in range(GROW_DEPTH)]
    p = passages((0, 0, 100), *fillers, (0, 100, 200))
    rows = np.arange(len(p))
    spans = merge_spans(rows, np.arange(len(p), 0, -1).astype(float), p, top_k=1,
                        max_per_release=2)
    assert (spans[0].start, spans[0].end) == (0, 100)
    # Within the first GROW_DEPTH rows it joins.
    order = np.array([0, len(p) - 1, *range(1, len(p) - 1)])
    spans = merge_spans(order, np.arange(len(p), 0, -1).astype(float), p, top_k=1,
                        max_per_release=2)
    assert (spans[0].start, spans[0].end) == (0, 200)
