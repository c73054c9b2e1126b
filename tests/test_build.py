"""Building and updating an index: only what changed is read and embedded (fake embedder)."""

import json
import os

import numpy as np

from rag import load_index
from rag.index.build import build_index
from conftest import write_release


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


def _many_releases(seeds, n=30):
    for i in range(n):
        write_release(seeds, f"many/{i:02d}.md", f"Release number {i} on topic {i % 7}",
                      f"2022-01-{i % 28 + 1:02d}",
                      f"Paragraph {i} about tariffs, ports and topic {i % 7} in depth.\n\n"
                      f"A second paragraph of release {i} naming grain and shipping lanes.")


def _count_parses(monkeypatch) -> list[str]:
    import rag.ingest.releases

    parsed: list[str] = []
    read = rag.ingest.releases.read_release

    def counting(path, root):
        parsed.append(path.relative_to(root).as_posix())
        return read(path, root)
    monkeypatch.setattr(rag.ingest.releases, "read_release", counting)
    return parsed


def _same_lexical_scores(a, b, queries):
    from rag.index.lexical import analyse

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
    from rag.ingest.sentences import passage_sentences

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


def test_duplicate_urls_are_skipped_as_in_a_fresh_load(config, embedder, seeds):
    from rag.ingest.releases import load_releases

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


def test_a_newer_reader_reads_every_file_again(config, embedder, seeds, monkeypatch):
    """Releases are reused by file stamp only when the index was read by this version of
    the reader; after a change to it, every file is parsed, and only releases whose text
    came out different are embedded again."""
    from rag.index import store

    build_index(config, embedder, progress=False)
    gen = store.resolve(config.index)
    raw = json.loads((gen / store.MANIFEST).read_text())
    raw["reader"] = 1
    (gen / store.MANIFEST).write_text(json.dumps(raw))
    parsed = _count_parses(monkeypatch)
    report = build_index(config, embedder, progress=False)
    assert len(parsed) == 3 and report.wrote and report.passages_embedded == 0
    assert store.read_manifest(store.resolve(config.index)).reader >= 2
    parsed.clear()
    report = build_index(config, embedder, progress=False)
    assert parsed == [] and not report.wrote
