"""The Timeline tab (rag/web/timeline.py, rag/web/views.py): count line, items, rows in
the order asked, everything from a release escaped."""

import csv
import datetime as dt
import io
import re

import pytest

from rag.query.collection import Collection, Item, Row
from rag.web.timeline import EMPTY, SORTS, sorted_rows, timeline_html
from rag.web.views import timeline_view

URL = "https://www.whitehouse.gov/briefing-room/x/"


def _row(date, title, text, items=(), rid=None, url=URL):
    spans = tuple((text.index(i), text.index(i) + len(i)) for i in items)
    return Row(dt.date.fromisoformat(date), rid or title, title, "statements-releases", url,
               text, 10, 10 + len(text), url + "#:~:text=t", tuple(items),
               tuple((s + 10, e + 10) for s, e in spans), 1.0)


@pytest.fixture
def collection():
    rows = [_row("2022-03-24", "NATO summit statement",
                 "Four new battle groups in Slovakia and Romania.", ("Slovakia", "Romania")),
            _row("2022-06-02", "Battle group in Poland", "The battle group in Poland.",
                 ("Poland",)),
            _row("2024-07-10", "<script>alert(1)</script> remarks",
                 "Battle groups <img src=x onerror=alert(2)> in Latvia.", ("Latvia",),
                 url="javascript:alert(3)")]
    items = [Item("Slovakia", ("a",)), Item("Romania", ("a",)), Item("Poland", ("b", "c")),
             Item("<b>Latvia</b>", ("d",))]
    return Collection("Which countries got <i>battle groups</i>?", None,
                      "7 releases matched; 3 name the countries asked for; all shown",
                      items, rows, 7, "country")


def _shown(page: str, attr: str) -> list[str]:
    return re.findall(rf'<tr class="timeline-row" {attr}="([^"]*)"', page)


def test_rows_sort_by_date_either_way_and_by_title(collection):
    assert [r.title[:4] for r in sorted_rows(collection.rows)] == ["NATO", "Batt", "<scr"]
    assert [r.date.year for r in sorted_rows(collection.rows, "date-desc")] == [2024, 2022, 2022]
    assert [r.title[:4] for r in sorted_rows(collection.rows, "title")] == ["<scr", "Batt", "NATO"]
    assert [v for _, v in SORTS] == ["date", "date-desc", "title"]
    with pytest.raises(ValueError, match="sort = 'size' must be one of date, date-desc, title"):
        sorted_rows(collection.rows, "size")


def test_the_panel_shows_count_line_items_and_rows_in_order(collection):
    page = timeline_html(collection)
    assert '<p class="count-line">7 releases matched; 3 name the countries asked for; ' \
           'all shown</p>' in page
    assert page.count('class="timeline-row"') == len(collection.rows) == 3
    assert _shown(page, "data-date") == ["2022-03-24", "2022-06-02", "2024-07-10"]
    assert _shown(timeline_html(collection, "date-desc"), "data-date") == \
        ["2024-07-10", "2022-06-02", "2022-03-24"]
    assert "<li><strong>Poland</strong> · 2 releases</li>" in page
    assert "Four new battle groups in <strong>Slovakia</strong> and <strong>Romania</strong>." \
        in page
    assert f'<a href="{URL}#:~:text=t" target="_blank" rel="noopener noreferrer">NATO summit ' \
           'statement</a>' in page
    assert "March 24, 2022" in page


def test_release_markup_is_escaped_and_odd_links_are_text(collection):
    page = timeline_html(collection)
    assert "<script" not in page and "<img" not in page and "<i>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; remarks" in page
    assert "&lt;img src=x onerror=alert(2)&gt; in <strong>Latvia</strong>." in page
    assert "<strong>&lt;b&gt;Latvia&lt;/b&gt;</strong>" in page
    assert "javascript:" not in page


def test_no_collection_says_how_to_get_one():
    assert timeline_html(None) == EMPTY and "set Collect to “on”" in EMPTY
    view = timeline_view(None)
    assert view.html == EMPTY and view.csv is None and view.markdown is None


def test_the_view_offers_both_exports(collection):
    view = timeline_view(collection, "title")
    assert _shown(view.html, "data-date")[0] == "2024-07-10"
    rows = list(csv.DictReader(io.StringIO(view.csv.read_text(encoding="utf-8"), newline="")))
    # The exports keep the timeline's order, oldest first, whatever the page's sort.
    assert [r["date"] for r in rows] == ["2022-03-24", "2022-06-02", "2024-07-10"]
    assert view.markdown.name == "timeline.md"
    assert "7 releases matched" in view.markdown.read_text(encoding="utf-8")
