"""Building, saving, loading, updating and searching an index (fake embedder)."""

import json
import os

import numpy as np
import pytest

from rag import store
from rag.build import build_index
from rag.errors import (IndexCorruptError, IndexLockedError, IndexMismatchError,
                        IndexNotFoundError, QuestionError)
from rag.search import load_index
from conftest import FakeEmbedder, write_release


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


def test_manifest_records_settings(config, embedder):
    build_index(config, embedder, progress=False)
    manifest = json.loads((config.index / "current" / "manifest.json").read_text())
    assert manifest["format_version"] == store.FORMAT_VERSION
    assert manifest["model"] == {"name": "bundled", "id": "fake/bag-of-words", "dim": 64,
                                 "precision": "float32", "variant": ""}
    assert manifest["chunking"]["max_tokens"] == 40
    assert manifest["counts"]["releases"] == 3
    entry = manifest["releases"]["statements-releases/2022-03/nato.md"]
    assert len(entry["hash"]) == 32 and entry["passages"] >= 1
    assert manifest["package_version"] and manifest["created"]


@pytest.mark.parametrize("change, message", [
    (lambda c: c.replace(chunking=c.chunking.__class__(max_tokens=64, header_tokens=16)),
     "chunking.max_tokens is 40 in the index, 64 in the config"),
])
def test_mismatched_settings_are_refused(config, embedder, change, message):
    build_index(config, embedder, progress=False)
    with pytest.raises(IndexMismatchError, match=message + r".*rag index --full"):
        load_index(config.index, change(config), embedder)


def test_other_model_or_dimension_is_refused(config, embedder):
    build_index(config, embedder, progress=False)
    other = FakeEmbedder(dim=32)
    with pytest.raises(IndexMismatchError, match="model.dim is 64 in the index, 32 in the config"):
        load_index(config.index, config, other)
    renamed = FakeEmbedder()
    renamed.model_id = "other/model"
    with pytest.raises(IndexMismatchError, match="model.id is 'fake/bag-of-words'"):
        load_index(config.index, config, renamed)


def test_vectors_of_another_export_recipe_are_refused_then_rebuilt(config, embedder):
    embedder.variant = "onnx-r1"
    build_index(config, embedder, progress=False)
    newer = FakeEmbedder()
    newer.variant = "onnx-r2"
    with pytest.raises(IndexMismatchError, match="model.variant is 'onnx-r1' in the index"):
        load_index(config.index, config, newer)
    report = build_index(config, newer, progress=False)
    assert report.full and "model.variant" in report.reason
    load_index(config.index, config, newer)


def test_format_version_mismatch_then_index_rebuilds_fully(config, embedder):
    build_index(config, embedder, progress=False)
    manifest_path = config.index / "current" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["format_version"] = 999
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(IndexMismatchError, match="index format 999"):
        load_index(config.index, config, embedder)
    report = build_index(config, embedder, progress=False)
    assert report.full and "index format 999" in report.reason
    load_index(config.index, config, embedder)


def test_an_older_format_without_the_newer_files_is_rebuilt_for_its_format(config, embedder):
    from rag import store

    build_index(config, embedder, progress=False)
    gen = (config.index / "current").resolve()
    (gen / store.SENTENCES).unlink()  # format 1 and 2 had no sentence table
    manifest = json.loads((gen / "manifest.json").read_text())
    manifest["format_version"] = 2
    (gen / "manifest.json").write_text(json.dumps(manifest))
    report = build_index(config, embedder, progress=False)
    assert report.full and report.reason == (f"index format 2 is not the supported "
                                             f"{store.FORMAT_VERSION}")


def test_missing_index(config, embedder):
    with pytest.raises(IndexNotFoundError, match="build one with `rag index`"):
        load_index(config.index, config, embedder)


def test_no_change_embeds_and_writes_nothing(config, embedder):
    build_index(config, embedder, progress=False)
    before = os.readlink(config.index / "current")
    embedder.embedded.clear()
    report = build_index(config, embedder, progress=False)
    assert not report.full and report.unchanged == 3 and report.passages_embedded == 0
    assert embedder.embedded == [] and not report.wrote
    assert os.readlink(config.index / "current") == before


def test_editing_one_release_reembeds_only_its_passages(config, embedder, seeds):
    build_index(config, embedder, progress=False)
    old = load_index(config.index, config, embedder)
    embedder.embedded.clear()
    write_release(seeds, "statements-releases/2022-03/covid.md", "Free COVID tests",
                  "2022-03-02", "Households can now order a third round of free tests.")
    report = build_index(config, embedder, progress=False)
    assert report.changed == ["statements-releases/2022-03/covid.md"]
    assert report.unchanged == 2 and not report.added and not report.removed
    assert report.passages_embedded == 1 and len(embedder.embedded) == 1
    assert "third round" in embedder.embedded[0]
    new = load_index(config.index, config, embedder)
    # The unchanged releases kept their vectors, row for row.
    for rid in ["statements-releases/2022-03/nato.md", "statements-releases/2022-03/oil.md"]:
        def rows(ix):
            r = next(i for i, rel in enumerate(ix.releases) if rel.id == rid)
            return np.asarray(ix.vectors)[ix.passages["release"] == r]
        assert np.array_equal(rows(old), rows(new))
    assert "third round" in new.retrieve("third round of free tests", 1)[0].text


def test_deleted_release_disappears_and_new_one_is_found(config, embedder, seeds):
    build_index(config, embedder, progress=False)
    (seeds / "statements-releases/2022-03/nato.md").unlink()
    write_release(seeds, "statements-releases/2022-02/chips.md", "Chips act", "2022-02-04",
                  "The House passed the America COMPETES Act to boost semiconductor supply.")
    embedder.embedded.clear()
    report = build_index(config, embedder, progress=False)
    assert report.removed == ["statements-releases/2022-03/nato.md"]
    assert report.added == ["statements-releases/2022-02/chips.md"]
    assert len(embedder.embedded) == 1
    index = load_index(config.index, config, embedder)
    ids = {h.release_id for h in index.retrieve("battle groups Slovakia Hungary", 10)}
    assert "statements-releases/2022-03/nato.md" not in ids
    assert index.retrieve("semiconductor COMPETES Act", 1)[0].release_id == \
        "statements-releases/2022-02/chips.md"


def test_full_rebuild_reembeds_everything(config, embedder):
    build_index(config, embedder, progress=False)
    embedder.embedded.clear()
    report = build_index(config, embedder, full=True, progress=False)
    assert report.full and report.reason == "--full"
    assert len(embedder.embedded) == report.passages


def test_bad_files_are_skipped_and_reported(config, embedder, seeds):
    (seeds / "broken.md").write_text("---\ntitle: x\n", encoding="utf-8")
    report = build_index(config, embedder, progress=False)
    assert [(s.path, s.reason) for s in report.skipped] == [
        ("broken.md", "front matter is never closed (no second '---' line)")]
    assert len(report.added) == 3
    assert "skipped 1 file(s):\n  broken.md: front matter is never closed" in report.summary()


def test_crash_while_saving_keeps_old_index(config, embedder, seeds, monkeypatch):
    build_index(config, embedder, progress=False)
    expected = load_index(config.index, config, embedder).retrieve("battle groups", 3)
    write_release(seeds, "statements-releases/2022-03/new.md", "New", "2022-03-30", "Fresh news.")

    def boom(*args):
        raise OSError("disk full")
    monkeypatch.setattr("faiss.write_index", boom)
    with pytest.raises(OSError, match="disk full"):
        build_index(config, embedder, progress=False)
    assert not list(config.index.glob(".tmp-*"))
    assert load_index(config.index, config, embedder).retrieve("battle groups", 3) == expected


def test_old_generations_are_pruned(config, embedder, seeds):
    for i in range(4):
        write_release(seeds, f"x/{i}.md", f"Release {i}", "2022-03-01", f"Number {i} here.")
        build_index(config, embedder, progress=False)
    gens = sorted(p.name for p in config.index.glob("gen-*"))
    assert len(gens) == 2 and os.readlink(config.index / "current") in gens


def test_second_build_is_locked_out(config, embedder):
    with store.build_lock(config.index):
        with pytest.raises(IndexLockedError, match="another `rag index` is building"):
            build_index(config, embedder, progress=False)


def test_damaged_files_are_refused(config, embedder):
    build_index(config, embedder, progress=False)
    gen = (config.index / "current").resolve()
    faiss_file = gen / "index.faiss"
    faiss_file.write_bytes(faiss_file.read_bytes()[:100])
    with pytest.raises(IndexCorruptError, match=r"index.faiss cannot be read.*rag index --full"):
        load_index(config.index, config, embedder)


def test_staleness(config, embedder, seeds):
    build_index(config, embedder, progress=False)
    index = load_index(config.index, config, embedder)
    assert not index.staleness(seeds).stale
    path = seeds / "statements-releases/2022-03/oil.md"
    os.utime(path, ns=(1, 1))  # touched, same content: not stale
    assert not index.staleness(seeds).stale
    path.write_text(path.read_text().replace("six months", "nine months"))
    (seeds / "statements-releases/2022-03/nato.md").unlink()
    write_release(seeds, "y/new.md", "New", "2022-03-30", "Fresh.")
    stale = index.staleness(seeds)
    assert (stale.added, stale.changed, stale.removed) == (
        ["y/new.md"], ["statements-releases/2022-03/oil.md"],
        ["statements-releases/2022-03/nato.md"])
    assert stale.describe() == "1 new, 1 changed, 1 removed"


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
    assert hnsw.manifest["faiss"] == {"type": "hnsw", "metric": "inner_product", "m": 32}
    for q in ["battle groups Hungary", "free tests", "oil barrels"]:
        v = embedder.embed([q])[0]
        # Same scores as the exact index (rows may differ only among tied scores).
        assert np.allclose(hnsw.search_vectors(v, 3)[1], flat.search_vectors(v, 3)[1], atol=1e-5)


def test_an_edit_reembeds_only_the_passages_it_changed(config, embedder, seeds):
    from conftest import NATO

    build_index(config, embedder, progress=False)
    path = seeds / "statements-releases/2022-03/nato.md"
    embedder.embedded.clear()
    write_release(seeds, "statements-releases/2022-03/nato.md", "NATO summit statement",
                  "2022-03-24", NATO + "\n\nA new closing paragraph about the summit in June.")
    report = build_index(config, embedder, progress=False)
    assert report.changed == ["statements-releases/2022-03/nato.md"]
    assert report.passages_reused >= 1
    assert report.passages_embedded == len(embedder.embedded) >= 1
    assert all("closing paragraph" in t for t in embedder.embedded)
    assert "reused" in report.summary() and path.exists()


def test_identical_passages_are_embedded_once(config, embedder, seeds):
    for name in ("a", "b", "c"):
        write_release(seeds, f"dup/{name}.md", "Same title", "2022-03-01",
                      "Boilerplate paragraph that every release repeats.",
                      url=f"https://example.gov/{name}")
    report = build_index(config, embedder, progress=False)
    assert report.passages == report.passages_embedded + 2 and report.passages_reused == 2


# --- Incremental builds: only changed files are parsed, BM25 assembled from the last index ---

def _many_releases(seeds, n=30):
    for i in range(n):
        write_release(seeds, f"many/{i:02d}.md", f"Release number {i} on topic {i % 7}",
                      f"2022-01-{i % 28 + 1:02d}",
                      f"Paragraph {i} about tariffs, ports and topic {i % 7} in depth.\n\n"
                      f"A second paragraph of release {i} naming grain and shipping lanes.")


def _count_parses(monkeypatch) -> list[str]:
    import rag.releases

    parsed: list[str] = []
    read = rag.releases.read_release

    def counting(path, root):
        parsed.append(path.relative_to(root).as_posix())
        return read(path, root)
    monkeypatch.setattr(rag.releases, "read_release", counting)
    return parsed


def _same_lexical_scores(a, b, queries):
    from rag.lexical import analyse

    for query in queries:
        assert np.allclose(a.lexical.scores(analyse(query)), b.lexical.scores(analyse(query)),
                           rtol=1e-6), query


def test_rebuild_parses_only_the_changed_file(config, embedder, seeds, monkeypatch, tmp_path):
    _many_releases(seeds)
    build_index(config, embedder, progress=False)
    parsed = _count_parses(monkeypatch)
    write_release(seeds, "many/07.md", "Release number 7 rewritten", "2022-01-08",
                  "Entirely new words: semiconductor fabs and zyzzyva.")
    report = build_index(config, embedder, progress=False)
    assert parsed == ["many/07.md"] and report.changed == ["many/07.md"]
    assert report.unchanged == 32 and not report.full
    index = load_index(config.index, config, embedder)
    assert index.retrieve("zyzzyva semiconductor fabs", 1, mode="bm25")[0].release_id == \
        "many/07.md"
    # The same index as a full build that parses everything.
    parsed.clear()
    full_config = config.replace(index=tmp_path / "full-index")
    assert build_index(full_config, embedder, full=True, progress=False).full
    assert len(parsed) == 33
    full = load_index(full_config.index, full_config, embedder)
    assert [r for r in index.releases] == [r for r in full.releases]
    assert np.array_equal(index.passages, full.passages)
    _same_lexical_scores(index, full, ["tariffs ports topic 3", "grain shipping lanes",
                                       "Release number 7 rewritten", "NATO battle groups"])


def test_touched_file_is_parsed_again_but_nothing_changes(config, embedder, seeds, monkeypatch):
    build_index(config, embedder, progress=False)
    parsed = _count_parses(monkeypatch)
    os.utime(seeds / "statements-releases/2022-03/oil.md", ns=(1, 1))
    report = build_index(config, embedder, progress=False)
    assert parsed == ["statements-releases/2022-03/oil.md"]
    assert report.unchanged == 3 and not (report.added or report.changed or report.removed)
    # The new stamp is recorded, so the next build parses nothing.
    parsed.clear()
    assert not build_index(config, embedder, progress=False).wrote and parsed == []


def test_incremental_index_equals_a_full_build_after_adds_changes_removals(
        config, embedder, seeds, tmp_path):
    _many_releases(seeds, 12)
    build_index(config, embedder, progress=False)
    (seeds / "many/03.md").unlink()
    (seeds / "statements-releases/2022-03/nato.md").unlink()
    write_release(seeds, "many/05.md", "Release five, edited", "2022-01-06",
                  "Now about wheat exports and NATO battle groups in Hungary.")
    write_release(seeds, "aaa/first.md", "A new first release", "2022-02-01",
                  "Fresh text on ports and tariffs.")
    write_release(seeds, "zzz/last.md", "A new last release", "2022-02-02",
                  "Closing text on shipping lanes and wheat.")
    report = build_index(config, embedder, progress=False)
    assert (len(report.added), len(report.changed), len(report.removed)) == (2, 1, 2)
    full_config = config.replace(index=tmp_path / "full-index")
    build_index(full_config, embedder, full=True, progress=False)
    inc = load_index(config.index, config, embedder)
    full = load_index(full_config.index, full_config, embedder)
    assert np.array_equal(inc.passages, full.passages)
    queries = ["wheat exports", "NATO battle groups Hungary", "ports and tariffs",
               "free COVID tests", "topic 4 grain", "Release five"]
    _same_lexical_scores(inc, full, queries)
    for q in queries:
        assert inc.retrieve(q, 5, mode="bm25") == full.retrieve(q, 5, mode="bm25")
    # Sentence rows and their pooled vectors are carried over row for row.
    assert np.array_equal(inc.sentences, full.sentences)
    assert np.array_equal(inc.sentence_vectors, full.sentence_vectors)
    assert len(inc.sentences) > len(inc.passages)


def test_sentence_table_covers_every_passage_sentence(config, embedder):
    from rag.text import passage_sentences

    build_index(config, embedder, progress=False)
    index = load_index(config.index, config, embedder)
    expected = []
    for row, p in enumerate(index.passages):
        body = index.releases[int(p["release"])].body
        start = int(p["start"])
        text = body[start:int(p["end"])]
        expected += [(row, start + s, start + e) for s, e in passage_sentences(text)]
    assert [tuple(map(int, r)) for r in index.sentences] == expected
    assert index.sentence_vectors.dtype == np.int8
    peaks = np.abs(index.sentence_vectors.astype(np.int16)).max(axis=1)
    assert set(np.unique(peaks)) <= {0, 127} and (peaks == 127).mean() > 0.99


@pytest.mark.parametrize("name, damage, message", [
    ("sentences.npy", lambda b: b[:60], r"sentences.npy cannot be read"),
    ("sentence_vectors.npy", lambda b: b[:-64], r"sentence_vectors.npy cannot be read"),
])
def test_damaged_sentence_files_are_refused(config, embedder, name, damage, message):
    build_index(config, embedder, progress=False)
    path = (config.index / "current").resolve() / name
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(IndexCorruptError, match=message + r".*rag index --full"):
        load_index(config.index, config, embedder)


def test_sentence_rows_pointing_past_the_passages_are_refused(config, embedder):
    from rag import store

    build_index(config, embedder, progress=False)
    gen = (config.index / "current").resolve()
    sentences = np.load(gen / store.SENTENCES)
    sentences["passage"][-1] = 10 ** 6
    np.save(gen / store.SENTENCES, sentences)
    with pytest.raises(IndexCorruptError, match=r"sentences.npy points outside the passages"):
        load_index(config.index, config, embedder)


def test_duplicate_urls_are_skipped_as_in_a_fresh_load(config, embedder, seeds):
    from rag.releases import load_releases

    url = "https://www.whitehouse.gov/briefing-room/nato-summit-statement/"
    build_index(config, embedder, progress=False)
    # A new file sorting before the (reused) NATO release, with its url: the new one is
    # kept and the reused one skipped, exactly as when every file is parsed.
    write_release(seeds, "statements-releases/2022-03/a-copy.md", "NATO copy", "2022-03-24",
                  "A copy of the statement.", url=url)
    report = build_index(config, embedder, progress=False)
    fresh = load_releases(seeds)
    assert [(s.path, s.reason) for s in report.skipped] == \
        [(s.path, s.reason) for s in fresh.skipped] == \
        [("statements-releases/2022-03/nato.md",
          "same url as statements-releases/2022-03/a-copy.md")]
    assert report.removed == ["statements-releases/2022-03/nato.md"]
    manifest = json.loads((config.index / "current" / "manifest.json").read_text())
    assert list(manifest["skipped"]) == ["statements-releases/2022-03/nato.md"]


def test_damaged_lexical_index_makes_the_next_build_full(config, embedder, seeds):
    build_index(config, embedder, progress=False)
    tf = (config.index / "current").resolve() / "bm25" / "tf.npy"
    tf.write_bytes(tf.read_bytes()[:50])
    write_release(seeds, "y/new.md", "New", "2022-03-30", "Fresh.")
    report = build_index(config, embedder, progress=False)
    assert report.full and "previous index unusable" in report.reason and "tf.npy" in report.reason
    load_index(config.index, config, embedder)


def test_float16_scan_rescored_in_float32_gives_the_exact_top_k(config, embedder, seeds):
    import faiss

    _many_releases(seeds, 150)
    build_index(config, embedder, progress=False)
    index = load_index(config.index, config, embedder)
    assert isinstance(index._faiss, faiss.IndexScalarQuantizer)  # float16 storage
    assert len(index) > 100  # deeper than the scan's candidate list for k = 3
    for question in ["topic 3 grain", "ports in depth", "release number 42", "NATO Hungary"]:
        q = embedder.embed([question])[0]
        scores = np.asarray(index.vectors) @ q
        rows, got = index.search_vectors(q, 3)
        assert np.allclose(got, np.sort(scores)[::-1][:3], atol=1e-6)  # float32 scores
        assert np.allclose(scores[rows], got, atol=1e-6)
