import datetime as dt
from pathlib import Path

import pytest

from rag.errors import ReleaseError
from rag.ingest.releases import load_releases, parse_release, read_release
from conftest import NATO, SEEDS, release_text, write_release


def test_original_key_set():
    r = parse_release(release_text("NATO summit", "2022-03-24", NATO), "a/b.md")
    assert r.id == "a/b.md"
    assert r.title == "NATO summit"
    assert r.date == dt.date(2022, 3, 24)
    assert r.category == "statements-releases"
    assert r.url == "https://www.whitehouse.gov/briefing-room/nato-summit/"
    assert r.published == "2022-03-24T09:29:47-04:00"
    assert r.modified == "2022-03-24T09:29:48-04:00"


def test_biden_era_key_set():
    r = parse_release(release_text("Oil", "2022-03-31", "Barrels.", category="blog",
                                   url="https://bidenwhitehouse.archives.gov/x/", keys="biden"),
                      "x.md")
    assert (r.category, r.url) == ("blog", "https://bidenwhitehouse.archives.gov/x/")


def test_modified_time_is_optional():
    text = release_text("T", "2022-03-24", "Body.").replace(
        "modified_time: 2022-03-24 09:29:48-04:00\n", "")
    assert parse_release(text, "x.md").modified == ""


def test_body_is_normalised():
    body = ("First line of a\u00a0hard-wrapped\nparagraph. Second “quoted” sentence.\n\n"
            "**Bold** text with a [link](https://example.com/a_(b)) and \\[1\\] and \\$5.\n\n"
            "-   a list item that wraps\n    onto two lines\n-   another item\n\n"
            "### A heading\n\nLiteral <script>alert(1)</script> and <u>under</u>line.")
    r = parse_release(release_text("T", "2022-03-24", body), "x.md")
    assert r.body == (
        "First line of a hard-wrapped paragraph. Second “quoted” sentence.\n\n"
        "Bold text with a link and [1] and $5.\n\n"
        "a list item that wraps onto two lines\n\nanother item\n\nA heading\n\n"
        "Literal <script>alert(1)</script> and underline.")
    assert "\u00a0" not in r.body and "###" not in r.body


def test_table_rows_become_paragraphs():
    body = ("Awards:\n\n<table>\n<thead>\n<tr class=\"header\">\n<th><strong>STATE</strong></th>\n"
            "<th>Award<br />\n(May 4, 2021)</th>\n</tr>\n</thead>\n<tbody>\n<tr>\n<td>Alabama</td>\n"
            "<td>$41,305,882</td>\n</tr>\n</tbody>\n</table>\n\nAfter.")
    r = parse_release(release_text("T", "2022-03-24", body), "x.md")
    assert r.body == "Awards:\n\nSTATE | Award (May 4, 2021)\n\nAlabama | $41,305,882\n\nAfter."


@pytest.mark.parametrize("text, reason", [
    ("no front matter at all\n", "no front matter"),
    ("---\ntitle: T\ndate: '2022-03-01'\nbody without closing\n", "never closed"),
    ("---\ntitle: [unclosed\ndate: '2022-03-01'\n---\nBody.\n", "not valid YAML"),
    ("---\n- a\n- b\n---\nBody.\n", "not a mapping"),
    ("---\ndate: '2022-03-01'\n---\nBody.\n", "missing title"),
    ("---\ntitle: T\n---\nBody.\n", "missing date"),
    ("---\ntitle: T\ndate: 'last Tuesday'\n---\nBody.\n", "not a valid YYYY-MM-DD date"),
    ("---\ntitle: T\ndate: '2022-02-30'\n---\nBody.\n", "not a valid YYYY-MM-DD date"),
    ("---\ntitle: T\ndate: '2022-03-01'\n---\n\u00a0\n\n\\###\n", "empty body"),
    ("---\ntitle: T\ndate: '2022-03-01'\n---\nBo\x00dy\n", "binary"),
])
def test_bad_release_is_refused_with_reason(text, reason):
    with pytest.raises(ReleaseError, match=reason):
        parse_release(text, "bad.md")


def test_not_utf8_and_binary_files(tmp_path: Path):
    (tmp_path / "latin1.md").write_bytes(release_text("Caf\u00e9").encode("latin-1"))
    (tmp_path / "image.md").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    with pytest.raises(ReleaseError, match=r"latin1.md: not UTF-8 \(byte 0xe9"):
        read_release(tmp_path / "latin1.md", tmp_path)
    with pytest.raises(ReleaseError, match="image.md: binary file"):
        read_release(tmp_path / "image.md", tmp_path)


def test_load_skips_bad_files_and_keeps_good_ones(tmp_path: Path):
    write_release(tmp_path, "a/good.md", "Good one", "2022-03-01", "Fine text.")
    (tmp_path / "a" / "broken.md").write_text("---\ntitle: [x\n---\nBody\n", encoding="utf-8")
    (tmp_path / "a" / "empty.md").write_text("", encoding="utf-8")
    (tmp_path / "a" / "notes.txt").write_text("not a release", encoding="utf-8")
    write_release(tmp_path, "b/good2.md", "Good two", "2022-03-02", "More text.")
    result = load_releases(tmp_path)
    assert [r.id for r in result.releases] == ["a/good.md", "b/good2.md"]
    assert {(s.path, s.reason.split(" (")[0]) for s in result.skipped} == {
        ("a/broken.md", "front matter is not valid YAML"),
        ("a/empty.md", "no front matter"),
    }


def test_missing_seeds_folder(tmp_path: Path):
    with pytest.raises(ReleaseError, match="does not exist"):
        load_releases(tmp_path / "nope")


def test_every_seed_release_loads():
    result = load_releases(SEEDS)
    assert len(result.releases) == 350 and result.skipped == []
    nato = next(r for r in result.releases if r.id.endswith("extraordinary-nato-summit.md"))
    assert "four new battle groups in Slovakia, Romania, Bulgaria, and Hungary" in nato.body
    assert all("\u00a0" not in r.body and not r.body.endswith("###") for r in result.releases)


def test_reuse_replaces_parsing_for_regular_files_only(tmp_path: Path):
    import os

    from rag.ingest.releases import MAX_FILE_BYTES, file_stamp

    write_release(tmp_path, "a.md", "Parsed", "2022-03-01", "Read from the file.")
    write_release(tmp_path, "b.md", "On disk", "2022-03-02", "Never read.")
    os.mkfifo(tmp_path / "pipe.md")
    (tmp_path / "huge.md").write_bytes(b"x" * (MAX_FILE_BYTES + 1))
    stored = parse_release(release_text("Stored", "2022-03-02", "From the last index."), "b.md")
    offered = []

    def reuse(rid, stamp):
        offered.append((rid, stamp))
        return stored if rid == "b.md" else None

    result = load_releases(tmp_path, reuse=reuse)
    assert [r.title for r in result.releases] == ["Parsed", "Stored"]
    assert offered == [("a.md", file_stamp(tmp_path / "a.md")),
                       ("b.md", file_stamp(tmp_path / "b.md"))]
    assert [(s.path, s.reason.split(",")[0]) for s in result.skipped] == [
        ("huge.md", "file is 2.0 MB"), ("pipe.md", "not a regular file")]
    assert result.stamps["a.md"] == file_stamp(tmp_path / "a.md")


def test_reused_release_with_a_taken_url_is_skipped(tmp_path: Path):
    write_release(tmp_path, "a.md", "First", "2022-03-01", "Text.", url="https://x.gov/1")
    write_release(tmp_path, "b.md", "Second", "2022-03-02", "Text.", url="https://x.gov/2")
    stored = parse_release(release_text("Old", "2022-03-02", "Old.", url="https://x.gov/1"),
                           "b.md")
    result = load_releases(tmp_path, reuse=lambda rid, stamp: stored if rid == "b.md" else None)
    assert [r.id for r in result.releases] == ["a.md"]
    assert [(s.path, s.reason) for s in result.skipped] == [("b.md", "same url as a.md")]


def test_libyaml_and_pure_python_front_matter_agree(monkeypatch):
    """Front matter is parsed by libyaml when PyYAML has it; the releases and the errors
    are the pure-Python loader's."""
    import rag.ingest.releases as releases

    texts = [release_text("A statement", "2022-03-24"),
             release_text("Unquoted", "2022-03-24").replace("date: '2022-03-24'",
                                                            "date: 2022-03-24"),
             release_text("Impossible", "2022-02-30").replace("'2022-02-30'", "2022-02-30"),
             "---\ntitle: [unclosed\ndate: '2022-03-01'\n---\nBody.\n"]

    def parsed():
        out = []
        for i, text in enumerate(texts):
            try:
                out.append(parse_release(text, f"r{i}.md"))
            except ReleaseError as exc:
                out.append(str(exc))
        return out

    fast = parsed()
    monkeypatch.setattr(releases, "_FastLoader", None)
    assert fast == parsed()
    assert fast[1].date == dt.date(2022, 3, 24) and fast[0].modified == "2022-03-24T09:29:48-04:00"
    assert "date '2022-02-30' is not a valid" in fast[2]
    assert "front matter is not valid YAML" in fast[3]
