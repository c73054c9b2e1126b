"""The BM25 index: scores against bm25s, incremental assembly against a fresh build,
save/load, and damaged files."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from rag.errors import IndexCorruptError
from rag.index.lexical import LexicalIndex, NewTexts, OldRows, analyse
from rag.ingest.releases import load_releases
from conftest import SEEDS

QUERIES = ["NATO battle groups in Hungary", "free COVID tests for every household",
           "Strategic Petroleum Reserve oil barrels", "infrastructure jobs bridges",
           "vaccine vaccine booster", "climate clean energy tax credits", "zyzzyva"]


@pytest.fixture(scope="module")
def texts() -> list[str]:
    """Paragraphs of 60 seed releases, each with its title as header (~1000 texts)."""
    out = []
    for release in load_releases(SEEDS).releases[:60]:
        out.extend(f"{release.title}\n{p}" for p in release.body.split("\n\n") if p.strip())
    return out


def _same_scores(a: LexicalIndex, b: LexicalIndex) -> None:
    assert a.size == b.size
    for query in QUERIES:
        terms = analyse(query)
        assert np.allclose(a.scores(terms), b.scores(terms), rtol=1e-6, atol=0), query
        assert [a.idf(t) for t in terms] == [b.idf(t) for t in terms]


def test_scores_and_ranking_equal_bm25s_lucene(texts):
    import bm25s

    ours = LexicalIndex.build(texts)
    oracle = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
    oracle.index([analyse(t) for t in texts], show_progress=False)
    for query in QUERIES[:-1]:
        terms = analyse(query)
        got = ours.scores(terms)
        want = np.asarray(oracle.get_scores(terms), dtype=np.float32)
        assert np.allclose(got, want, rtol=1e-4, atol=1e-6), query
        top = np.argsort(-want, kind="stable")[:10]
        assert list(np.argsort(-got, kind="stable")[:10]) == list(top), query
        assert np.all(want[top] > 0)


def test_idf_is_lucene_and_unknown_terms_score_nothing(texts):
    index = LexicalIndex.build(texts)
    term = analyse("NATO")[0]
    df = sum(term in set(analyse(t)) for t in texts)
    assert index.idf(term) == pytest.approx(math.log(1 + (len(texts) - df + 0.5) / (df + 0.5)))
    assert index.idf("zyzzyva") == pytest.approx(math.log(1 + (len(texts) + 0.5) / 0.5))
    assert not index.scores(["zyzzyva"]).any() and not index.scores([]).any()


def test_a_repeated_query_term_counts_twice(texts):
    index = LexicalIndex.build(texts)
    once, twice = index.scores(analyse("vaccine")), index.scores(analyse("vaccine vaccine"))
    assert np.allclose(twice, 2 * once)


def test_assembly_equals_a_fresh_build_after_adds_changes_and_removals(texts, tmp_path):
    old = LexicalIndex.build(texts)
    old.save(tmp_path)
    old = LexicalIndex.load(tmp_path)
    added = ["Quantum zyzzyva summit\nLeaders discussed zyzzyva and NATO battle groups.",
             "Second new passage on petroleum and oil."]
    changed = [t.upper() + " infrastructure" for t in texts[400:420]]
    # Rows 100:150 removed, 400:420 changed, new ones in between and at both ends.
    parts = [NewTexts(added[:1]), OldRows(0, 100), OldRows(150, 400), NewTexts(changed),
             OldRows(420, 700), NewTexts([]), NewTexts(added), OldRows(700, len(texts))]
    merged = LexicalIndex.assemble(parts, old)
    fresh = LexicalIndex.build(added[:1] + texts[:100] + texts[150:400] + changed
                               + texts[420:700] + added + texts[700:])
    _same_scores(merged, fresh)
    assert sorted(merged.vocab) == sorted(fresh.vocab)  # terms only removed rows had are gone
    assert np.array_equal(merged.lengths, fresh.lengths)


def test_assembly_from_out_of_order_ranges_still_equals_a_fresh_build(texts):
    old = LexicalIndex.build(texts)
    merged = LexicalIndex.assemble([OldRows(500, 600), NewTexts(["new text on oil"]),
                                    OldRows(0, 100)], old)
    _same_scores(merged, LexicalIndex.build(texts[500:600] + ["new text on oil"] + texts[:100]))


@pytest.mark.parametrize("parts, message", [
    ([OldRows(0, 5)], r"old rows 0:5 are outside the old lexical index \(3 passages\)"),
    ([("kept", (0, 1))], r"part \('kept', \(0, 1\)\) is neither OldRows nor NewTexts"),
])
def test_bad_parts_are_refused(parts, message):
    old = LexicalIndex.build(["a text", "another text", "third"])
    with pytest.raises(ValueError, match=message):
        LexicalIndex.assemble(parts, old)


def test_save_load_gives_identical_scores(texts, tmp_path):
    index = LexicalIndex.build(texts)
    index.save(tmp_path)
    loaded = LexicalIndex.load(tmp_path)
    assert isinstance(loaded.rows, np.memmap)
    _same_scores(index, loaded)
    params = json.loads((tmp_path / "params.json").read_text())
    assert params["passages"] == len(texts) and params["k1"] == 1.2 and params["b"] == 0.75


def test_empty_index_saves_and_loads(tmp_path):
    LexicalIndex.build([]).save(tmp_path)
    index = LexicalIndex.load(tmp_path)
    assert index.size == 0 and index.scores(["nato"]).shape == (0,)


def _truncate(name: str):
    def damage(folder: Path) -> None:
        (folder / name).write_bytes((folder / name).read_bytes()[:60])
    return damage


def _resave(name: str, change):
    def damage(folder: Path) -> None:
        np.save(folder / name, change(np.load(folder / name)))
    return damage


def _edit_json(name: str, change):
    def damage(folder: Path) -> None:
        (folder / name).write_text(json.dumps(change(json.loads((folder / name).read_text()))))
    return damage


DAMAGE = [
    ("rows truncated", _truncate("rows.npy"), r"rows\.npy cannot be read \("),
    ("tf truncated", _truncate("tf.npy"), r"tf\.npy cannot be read \("),
    ("indptr missing", lambda f: (f / "indptr.npy").unlink(), r"indptr\.npy cannot be read \("),
    ("lengths missing", lambda f: (f / "lengths.npy").unlink(),
     r"lengths\.npy cannot be read \("),
    ("vocab not JSON", lambda f: (f / "vocab.json").write_text('["nato", '),
     r"vocab\.json cannot be read \("),
    ("vocab not terms", _edit_json("vocab.json", lambda v: {"nato": 1}),
     r"vocab\.json is not a list of terms"),
    ("vocab one term short", _edit_json("vocab.json", lambda v: v[:-1]),
     r"indptr\.npy holds \d+ offsets for \d+ terms"),
    ("params missing", lambda f: (f / "params.json").unlink(), r"params\.json cannot be read"),
    ("params of bm25s", _edit_json("params.json", lambda p: {"k1": 1.5}),
     r"params\.json is not a lexical index of format csc-counts-1"),
    ("rows outside", _resave("rows.npy", lambda r: r + 10**6),
     r"rows\.npy points outside the \d+ passages"),
    ("rows shorter", _resave("rows.npy", lambda r: r[:-1]),
     r"rows\.npy holds \d+ postings and tf\.npy \d+; indptr\.npy says \d+"),
    ("indptr descending", _resave("indptr.npy", lambda p: p[::-1].copy()),
     r"indptr\.npy is not a sequence of ascending offsets from 0"),
    ("lengths shorter", _resave("lengths.npy", lambda n: n[:-1]),
     r"params\.json counts \d+ passages and \d+ terms, the files hold \d+ and \d+"),
    ("tf of floats", _resave("tf.npy", lambda t: t.astype(np.float32)),
     r"tf\.npy is not a one-dimensional integer array"),
]


@pytest.mark.parametrize("damage, message", [d[1:] for d in DAMAGE], ids=[d[0] for d in DAMAGE])
def test_damaged_files_are_refused_naming_the_file(texts, tmp_path, damage, message):
    LexicalIndex.build(texts[:50]).save(tmp_path)
    damage(tmp_path)
    with pytest.raises(IndexCorruptError, match=message + r".*; run `rag index --full`"):
        LexicalIndex.load(tmp_path)


def test_the_stem_table_gives_the_stemmer_s_stems(monkeypatch):
    """analyse stems each word once (rag.index.lexical._stems), also after the table of
    stems is started afresh: the same terms as stemming every word."""
    from rag.index import lexical

    bodies = [r.body for r in load_releases(SEEDS).releases[:40]]
    stemmer = lexical._stemmer()

    def plain(text):
        return stemmer.stemWords([w for w in lexical._WORD_RE.findall(
            text.lower().replace("’", "'")) if w not in lexical.STOPWORDS])

    monkeypatch.setattr(lexical, "_MAX_STEMS", 50)  # start afresh every few texts
    assert [analyse(b) for b in bodies] == [plain(b) for b in bodies]
