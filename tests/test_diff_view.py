"""The What-changed tab (rag/web/diff_view.py): counts, notes, A beside B, escaped."""

import datetime as dt
import re

from rag.query.dates import DateWindow
from rag.query.diff import Diff, DiffPair, DiffSentence, DiffSide
from rag.web.diff_view import EMPTY, diff_html
from rag.web.views import diff_panel

URL = "https://www.whitehouse.gov/briefing-room/x/"


def _s(text, date, title="Statement"):
    return DiffSentence(text, 0, len(text), "a.md", title, dt.date.fromisoformat(date),
                        "statements-releases", URL, URL + "#:~:text=x", 0.5)


def _side(label, year):
    return DiffSide(label, DateWindow(dt.date(year, 1, 1), dt.date(year, 12, 31), str(year)),
                    None, 3, ("a.md",), 2, 2)


def _diff():
    pairs = [DiffPair("kept", _s("Same words.", "2022-03-24"), _s("Same words.", "2023-03-24"),
                      0.99),
             DiffPair("dropped", _s("Old <script>x()</script> words.", "2022-05-01",
                                    "<b>Old</b>"), None, None),
             DiffPair("new", None, _s("New words.", "2023-06-01"), None)]
    return Diff("battle <groups>", _side("A", 2022), _side("B", 2023), pairs,
                ("B: all 2 sentences on the subject.",))


def test_pairs_are_shown_side_by_side_with_counts_and_notes():
    page = diff_html(_diff())
    assert "What changed: battle &lt;groups&gt;" in page
    assert "1 kept · 0 reworded · 1 dropped · 1 new" in page
    assert '<p class="diff-note">B: all 2 sentences on the subject.</p>' in page
    assert re.findall(r'data-status="(\w+)"', page) == ["kept", "dropped", "new"]
    assert "<th>A: January 1, 2022 – December 31, 2022 (2)</th>" in page
    kept = page.split('data-status="kept"')[1].split("</tr>")[0]
    assert kept.count('<td class="side"') == 2 and "kept 0.99" in kept
    assert 'data-date="2022-03-24"' in kept and 'data-date="2023-03-24"' in kept
    new = page.split('data-status="new"')[1].split("</tr>")[0]
    assert new.index('<td class="side none">—</td>') < new.index("New words.")


def test_sentences_and_titles_are_escaped_and_linked():
    page = diff_html(_diff())
    assert "<script" not in page and "<b>" not in page
    assert "“Old &lt;script&gt;x()&lt;/script&gt; words.”" in page
    assert f'<a href="{URL}#:~:text=x" target="_blank" rel="noopener noreferrer">' \
           "&lt;b&gt;Old&lt;/b&gt;</a>" in page


def test_an_empty_diff_and_no_diff():
    empty = Diff("x", _side("A", 2022), _side("B", 2023), [], ())
    assert "No sentence on the subject in either window." in diff_html(empty)
    assert diff_html(None) == EMPTY and diff_panel(None).csv is None
    view = diff_panel(_diff())
    assert view.csv.name == "diff.csv" and "status" in view.csv.read_text(encoding="utf-8")
    assert view.markdown.read_text(encoding="utf-8").startswith("# What changed: battle")
