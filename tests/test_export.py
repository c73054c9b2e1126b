"""Timeline and diff exports (rag/web/export.py): CSV read back by the csv module gives
every quote verbatim, whatever it holds; Markdown keeps each quote in its table cell."""

import csv
import datetime as dt
import io

import pytest

from rag.query.collection import Collection, Item, Row
from rag.query.dates import DateWindow
from rag.query.diff import Diff, DiffPair, DiffSentence, DiffSide
from rag.web.export import (COLLECTION_COLUMNS, DIFF_COLUMNS, collection_csv,
                            collection_markdown, diff_csv, diff_markdown, markdown_text,
                            write_export)

HARD = 'Aid to "Kyiv", Kharkiv | Odesa,\nthen *more* <b>x</b> & [y](z) $5'
URL = "https://www.whitehouse.gov/briefing-room/a-b/"


def _row(text, date="2022-03-24", title="NATO summit statement", items=(), rid="a.md"):
    spans = tuple((text.index(i), text.index(i) + len(i)) for i in items)
    return Row(dt.date.fromisoformat(date), rid, title, "statements-releases", URL, text, 0,
               len(text), URL + "#:~:text=Aid", tuple(items), spans, 1.0)


@pytest.fixture
def collection():
    rows = [_row("Four new battle groups in Slovakia and Romania.", items=("Slovakia", "Romania")),
            _row(HARD, "2022-06-02", 'A "hard" | title, with commas', ("Kyiv",), "b.md")]
    items = [Item("Slovakia", ("a.md",)), Item("Romania", ("a.md",)), Item("Kyiv", ("b.md",))]
    return Collection("Which places | got aid?", DateWindow(dt.date(2022, 1, 1),
                                                             dt.date(2022, 12, 31), "in 2022"),
                      "5 releases matched; 2 name the places asked for; all shown",
                      items, rows, 5, "place")


def _sentence(text, date, title="Statement", rid="a.md", link=URL + "#:~:text=x"):
    return DiffSentence(text, 0, len(text), rid, title, dt.date.fromisoformat(date),
                        "statements-releases", URL, link, 0.5)


@pytest.fixture
def diff():
    side = lambda label, year: DiffSide(label, DateWindow(dt.date(year, 1, 1),  # noqa: E731
                                                          dt.date(year, 12, 31), str(year)),
                                        None, 3, ("a.md",), 2, 2)
    old = _sentence("Four battle groups, in the east.", "2022-03-24")
    pairs = [DiffPair("reworded", old, _sentence("Eight battle groups, in the east.",
                                                 "2023-07-11", "B | title"), 0.8123),
             DiffPair("dropped", _sentence(HARD, "2022-05-01", 'Say "no"'), None, None),
             DiffPair("new", None, _sentence("A new sentence.", "2023-02-01"), None)]
    return Diff("battle groups", side("A", 2022), side("B", 2023), pairs,
                ("A: all 2 sentences on the subject, from the 1 best of 3 releases retrieved.",))


def test_collection_csv_reads_back_verbatim(collection):
    rows = list(csv.reader(io.StringIO(collection_csv(collection), newline="")))
    assert tuple(rows[0]) == COLLECTION_COLUMNS
    assert len(rows) == 1 + len(collection.rows)
    got = [dict(zip(rows[0], r)) for r in rows[1:]]
    assert [g["text"] for g in got] == [r.text for r in collection.rows]
    assert got[1]["text"] == HARD  # commas, quotes, the line break, markup: all verbatim
    assert got[1]["title"] == 'A "hard" | title, with commas'
    assert got[0] == {"date": "2022-03-24", "title": "NATO summit statement",
                      "text": "Four new battle groups in Slovakia and Romania.",
                      "items": "Slovakia; Romania", "link": URL + "#:~:text=Aid",
                      "release_id": "a.md", "category": "statements-releases", "url": URL}


def test_diff_csv_reads_back_verbatim(diff):
    rows = list(csv.reader(io.StringIO(diff_csv(diff), newline="")))
    assert tuple(rows[0]) == DIFF_COLUMNS
    got = [dict(zip(rows[0], r)) for r in rows[1:]]
    assert [g["status"] for g in got] == ["reworded", "dropped", "new"]
    assert got[0]["similarity"] == "0.8123" and got[1]["similarity"] == ""
    assert (got[0]["a_text"], got[0]["b_text"]) == ("Four battle groups, in the east.",
                                                    "Eight battle groups, in the east.")
    assert got[0]["b_title"] == "B | title" and got[0]["b_date"] == "2023-07-11"
    assert got[1]["a_text"] == HARD and got[1]["a_title"] == 'Say "no"'
    assert got[1]["b_text"] == got[1]["b_link"] == "" and got[2]["a_date"] == ""


def test_markdown_text_escapes_markup_and_keeps_one_line():
    assert markdown_text("a | b *c* <i>d</i> [e](f) & $1") == \
        r"a \| b \*c\* \<i\>d\</i\> \[e\](f) \& \$1"
    assert markdown_text("one\ntwo \r\n three") == "one<br>two<br>three"
    assert markdown_text("# not a heading", line_start=True) == r"\# not a heading"
    assert markdown_text("1. not a list", line_start=True) == r"1\. not a list"
    assert markdown_text("1. in a cell") == "1. in a cell"
    assert markdown_text("U.S. in 2022.") == "U.S. in 2022."  # plain text stays readable


def _table_rows(markdown: str) -> list[str]:
    return [line for line in markdown.splitlines() if line.startswith("| 20")]


def _cells(line: str) -> list[str]:
    """A GFM table row's cells: split at the pipes that are not backslash-escaped."""
    cells, cell, escaped = [], "", False
    for ch in line.strip()[1:-1]:
        if ch == "|" and not escaped:
            cells.append(cell.strip())
            cell = ""
        else:
            cell += ch
        escaped = ch == "\\" and not escaped
    return cells + [cell.strip()]


def test_collection_markdown_has_count_items_and_one_cell_per_column(collection):
    text = collection_markdown(collection)
    assert text.startswith("# Which places \\| got aid?\n")
    assert "5 releases matched; 2 name the places asked for; all shown" in text
    assert "Dates: January 1, 2022 – December 31, 2022" in text
    assert "- Slovakia: 1 release\n" in text
    rows = _table_rows(text)
    assert len(rows) == len(collection.rows)
    assert [len(_cells(r)) for r in rows] == [4, 4]
    date, release, quote, items = _cells(rows[1])
    assert date == "2022-06-02"
    assert release == (r'[A "hard" \| title, with commas](<' + URL + "#:~:text=Aid>)")
    assert quote == ("“Aid to \"**Kyiv**\", Kharkiv \\| Odesa,<br>then \\*more\\* \\<b\\>x\\</b\\> "
                     "\\& \\[y\\](z) \\$5”")
    assert _cells(rows[0])[2] == "“Four new battle groups in **Slovakia** and **Romania**.”"


def test_diff_markdown_puts_a_beside_b(diff):
    text = diff_markdown(diff)
    assert text.startswith("# What changed: battle groups\n")
    assert "- A: January 1, 2022 – December 31, 2022, 2 sentences" in text
    assert "0 kept, 1 reworded, 1 dropped, 1 new" in text
    assert "> A: all 2 sentences on the subject" in text
    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line]
    header, *pairs = rows
    assert _cells(header) == ["Status", "A: January 1, 2022 – December 31, 2022",
                              "B: January 1, 2023 – December 31, 2023"]
    assert [len(_cells(p)) for p in pairs] == [3, 3, 3]
    status, a, b = _cells(pairs[0])
    assert status == "reworded"
    assert a == f"2022-03-24, [Statement](<{URL}#:~:text=x>): “Four battle groups, in the east.”"
    assert b.startswith("2023-07-11, [B \\| title](")
    assert _cells(pairs[2])[1] == "" and _cells(pairs[1])[2] == ""


def test_a_link_that_is_not_a_web_address_is_not_a_link(collection):
    row = _row("Text.")
    odd = Collection("q", None, "1 releases matched; 1 name it; all shown", [],
                     [Row(row.date, row.release_id, "T", row.category, "javascript:alert(1)",
                          row.text, 0, 5, "javascript:alert(1)", (), (), 1.0)], 1, None)
    assert "javascript" not in collection_markdown(odd)
    assert "| 2022-03-24 | T | “Text.” |  |" in collection_markdown(odd)


def test_export_files_are_written_whole(collection, tmp_path):
    path = write_export(collection_csv(collection), "timeline.csv")
    assert path.name == "timeline.csv"
    assert path.read_bytes().decode("utf-8") == collection_csv(collection)


def test_only_the_newest_exports_stay_on_disk(collection, tmp_path):
    paths = [write_export(f"export {i}\n", "timeline.csv", root=tmp_path, keep=3)
             for i in range(7)]
    assert [p.exists() for p in paths] == [False] * 4 + [True] * 3
    assert [p.read_text() for p in paths[4:]] == ["export 4\n", "export 5\n", "export 6\n"]
    assert len(list(tmp_path.iterdir())) == 3
