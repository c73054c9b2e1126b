"""Hybrid retrieval, filters inside the search, dates read from questions (fake embedder)."""

import datetime as dt

import pytest

from rag.index.build import build_index
from rag.config import config_from_dict
from rag.errors import QuestionError
from rag import load_index
from conftest import FakeEmbedder, write_release


@pytest.fixture
def index(tmp_path):
    seeds = tmp_path / "seeds"
    # Thirty releases about sanctions, one per day in March 2022, plus one blog post.
    for day in range(1, 31):
        write_release(seeds, f"s/2022-03-{day:02d}.md", f"Sanctions update {day}",
                      f"2022-03-{day:02d}",
                      f"The Treasury announced sanctions number {day} on Russian banks. "
                      f"Officials said the measure is effective at once.")
    write_release(seeds, "b/blog.md", "Garden tour", "2022-02-10",
                  "The spring garden tour opens to the public with tulips.", category="blog")
    write_release(seeds, "s/long.md", "Long sanctions fact sheet", "2022-02-15",
                  " ".join(f"Sanctions on Russian banks paragraph {i} sentence."
                           for i in range(60)))
    config = config_from_dict({"seeds": str(seeds), "index": str(tmp_path / "index"),
                               "chunking": {"max_tokens": 32, "header_tokens": 16}}, tmp_path)
    embedder = FakeEmbedder()
    build_index(config, embedder, progress=False)
    return load_index(config.index, config, embedder)


def test_narrow_date_filter_still_returns_top_k(index):
    hits = index.retrieve("sanctions on Russian banks", top_k=5, since="2022-03-10",
                          until="2022-03-16")
    assert len(hits) == 5
    assert all(dt.date(2022, 3, 10) <= h.date <= dt.date(2022, 3, 16) for h in hits)


def test_date_in_question_becomes_the_filter(index):
    result = index.search("What sanctions were announced on March 7, 2022?", top_k=3)
    assert result.window.since == result.window.until == dt.date(2022, 3, 7)
    assert result.window.text == "on March 7, 2022"
    assert [h.release_id for h in result.hits] == ["s/2022-03-07.md"]
    assert "March 7" not in result.query


def test_relative_dates_count_from_the_newest_release(index):
    result = index.search("Which sanctions came last month?", top_k=10)
    # Newest release is 2022-03-30, so "last month" is February 2022.
    assert (result.window.since, result.window.until) == (dt.date(2022, 2, 1),
                                                          dt.date(2022, 2, 28))
    assert {h.release_id for h in result.hits} <= {"s/long.md", "b/blog.md"}


def test_dates_outside_the_releases_name_the_event_not_the_release(index):
    # The oldest release is 2022-02-10 and the newest 2022-03-30: a window wholly
    # after them, or before them and dating a thing, filters nothing, and its words
    # stay in the query.
    for question in ("Which sanctions followed the FBI's April 2016 memo?",
                     "Which sanctions are planned for the summit in June 2031?"):
        result = index.search(question, top_k=10)
        assert result.window is None and len(result.hits) == 10
        assert result.query == question
    # A window inside the releases' span still filters, even where it finds nothing.
    result = index.search("Which sanctions came on February 20, 2022?", top_k=10)
    assert result.window.since == dt.date(2022, 2, 20) and result.hits == []


def test_question_without_dates_is_not_filtered(index):
    result = index.search("sanctions on Russian banks", top_k=10)
    assert result.window is None and len(result.hits) == 10


def test_explicit_filter_wins_over_question_dates(index):
    result = index.search("sanctions in February 2022", top_k=3, since="2022-03-20")
    assert result.window.text == "filter" and all(h.date >= dt.date(2022, 3, 20)
                                                  for h in result.hits)


def test_category_filter(index):
    hits = index.retrieve("sanctions tulips garden", top_k=5, category="blog")
    assert [h.release_id for h in hits] == ["b/blog.md"]
    with pytest.raises(QuestionError, match=r"category 'memo' is not in the index "
                                            r"\(known: blog, statements-releases\)"):
        index.retrieve("x", category="memo")


def test_window_with_no_releases_gives_no_hits(index):
    assert index.retrieve("sanctions in 2019") == []


@pytest.mark.parametrize("kwargs, message", [
    ({"since": "March 3"}, "since = 'March 3' must be a date written YYYY-MM-DD"),
    ({"since": "2022-03-10", "until": "2022-03-01"}, r"since \(2022-03-10\) is after until"),
    ({"mode": "magic"}, "mode = 'magic' must be one of dense, bm25, hybrid"),
])
def test_bad_filters(index, kwargs, message):
    with pytest.raises(QuestionError, match=message):
        index.retrieve("sanctions", **kwargs)


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_each_mode_finds_the_rare_word(index, mode):
    assert index.retrieve("garden tour tulips", top_k=1, mode=mode)[0].release_id == "b/blog.md"


def test_one_release_cannot_crowd_out_the_others(index):
    hits = index.retrieve("Sanctions on Russian banks paragraph sentence", top_k=5)
    assert sum(h.release_id == "s/long.md" for h in hits) <= 2
    assert len({h.release_id for h in hits}) >= 4


def test_bm25_scores_only_lexical_matches(index):
    assert index.retrieve("zyzzyva", mode="bm25") == []


def test_recent_query_vectors_are_kept_and_bounded(index, monkeypatch):
    monkeypatch.setattr("rag.query.retrieve.QUERY_VECTORS_KEPT", 3)
    embedded = index.embedder.embedded
    for day in range(5):
        index.retrieve(f"sanctions number {day}")
    embedded.clear()
    index.retrieve("sanctions number 4")  # among the last three: not embedded again
    assert embedded == []
    index.retrieve("sanctions number 0")  # pushed out by the later ones
    assert embedded == ["sanctions number 0"]
