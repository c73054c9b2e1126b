"""Collect mode: a counted timeline over many releases (fake embedder; one real-model test)."""

import dataclasses
import json
import re

import pytest

from conftest import write_release
from rag import cli, load_index
from rag.config import CollectConfig, config_from_dict
from rag.errors import ConfigError, QuestionError
from rag.index.build import build_index
from rag.query.collect import clean_item, item_kind, wants_collection
from rag.query.items import head_noun, item_spans
from rag.query.links import text_fragment_link

QUESTION = "Which countries received new battle groups?"
BOILERPLATE = ("The new battle group in {c} will be led by allied forces, under NATO "
               "command, and will train with the host nation's army.")


def _battle_seeds(root):
    releases = [
        ("nato.md", "NATO summit statement", "2022-03-24",
         "Leaders met in Brussels today.\n\nToday's establishment of four new battle groups in "
         "Slovakia, Romania, Bulgaria, and Hungary signals that we will defend every inch "
         "of NATO territory."),
        # The same fact again in a fact sheet: folded into the statement's row.
        ("fact-sheet.md", "FACT SHEET on the NATO summit", "2022-03-25",
         "Today's establishment of four new battle groups in Slovakia, Romania, Bulgaria, "
         "and Hungary signals that we will defend every inch of NATO territory."),
        # Boilerplate repeated with another country: two rows, one per country.
        ("poland.md", "Battle group in Poland", "2022-06-02",
         BOILERPLATE.format(c="Poland") + "\n\nNew battle groups received support."),
        ("latvia.md", "Battle group in Latvia", "2022-07-12",
         BOILERPLATE.format(c="Latvia") + "\n\nNew battle groups received support."),
        ("oil.md", "Oil reserve release", "2022-03-31",
         "The President announced the release of one million barrels of oil per day."),
    ]
    for name, title, date, body in releases:
        write_release(root, f"statements-releases/{date[:7]}/{name}", title, date, body)


@pytest.fixture
def conf(tmp_path):
    seeds = tmp_path / "seeds"
    _battle_seeds(seeds)
    path = tmp_path / "rag.yaml"
    path.write_text(f"seeds: {seeds}\nindex: {tmp_path / 'index'}\n"
                    "chunking:\n  max_tokens: 40\n  header_tokens: 16\n"
                    # The fake embedder's cosines are low; the real thresholds are
                    # fitted for the real model.
                    "answer:\n  min_score: 0.2\n"
                    "collect:\n  min_score: 0.2\n  grow_score: 0.2\n")
    return path


@pytest.fixture
def index(conf, embedder):
    from rag.config import load_config

    config = load_config(conf)
    build_index(config, embedder, progress=False)
    return load_index(config.index, config, embedder)


def _count(line: str) -> int:
    """The rows the count line announces: "N releases matched; M name ..."."""
    return int(re.search(r"; (\d+) ", line).group(1))


def test_rows_are_verbatim_dated_and_linked(index):
    collection = index.collect(QUESTION)
    assert collection.rows
    dates = [r.date for r in collection.rows]
    assert dates == sorted(dates)
    for row in collection.rows:
        body = index.release(row.release_id).body
        assert body[row.start:row.end] == row.text
        assert row.link == text_fragment_link(row.url, row.text) and "#:~:text=" in row.link
        for s, e in row.spans:  # every bold span is inside the row, and is one of its items
            assert row.start <= s < e <= row.end
            assert body[s:e] in row.items
    assert _count(collection.count_line) == len(collection.rows)
    assert collection.count_line.endswith("all shown")


def test_items_are_distinct_with_their_releases(index):
    collection = index.collect(QUESTION)
    texts = [i.text for i in collection.items]
    assert {"Slovakia", "Romania", "Bulgaria", "Hungary", "Poland", "Latvia"} <= set(texts)
    assert len({t.casefold() for t in texts}) == len(texts)
    row_releases = {r.release_id for r in collection.rows}
    for item in collection.items:
        assert set(item.releases) <= row_releases
        assert all(item.text in r.items for r in collection.rows
                   if r.release_id in item.releases)
    assert "NATO" not in texts  # not a country


def test_near_duplicates_are_folded_but_boilerplate_with_new_items_is_kept(index):
    assert index.release_count == 5  # the fact sheet is in the index
    rows = index.collect(QUESTION).rows
    ids = [r.release_id.rsplit("/", 1)[-1] for r in rows]
    # The fact sheet repeats the statement: one of the two is kept, not both.
    assert ("nato.md" in ids) != ("fact-sheet.md" in ids)
    # The boilerplate names another country in each release: both kept.
    assert "poland.md" in ids and "latvia.md" in ids
    assert "oil.md" not in ids


def test_date_window_filters_inside_the_search(index):
    collection = index.collect(QUESTION, since="2022-06-01", until="2022-06-30")
    assert [r.release_id.rsplit("/", 1)[-1] for r in collection.rows] == ["poland.md"]
    assert collection.date_window.since.isoformat() == "2022-06-01"
    assert _count(collection.count_line) == 1
    assert "; 1 names the countries asked for" in collection.count_line  # singular verb


def test_no_release_in_the_window_gives_an_empty_collection(index):
    collection = index.collect(QUESTION, since="2023-01-01")
    assert collection.rows == [] and collection.items == []
    assert collection.count_line == "0 releases matched; 0 name the countries asked for"


def test_to_dict_shape(index):
    data = index.collect(QUESTION).to_dict()
    assert list(data) == ["question", "date_window", "count_line", "items", "rows"]
    assert data["question"] == QUESTION and data["date_window"] is None
    assert all(set(i) == {"text", "releases"} for i in data["items"])
    for row in data["rows"]:
        assert set(row) == {"date", "release", "text", "start", "end", "link", "items"}
        assert set(row["release"]) == {"id", "title", "date", "category", "url"}
        assert row["date"] == row["release"]["date"]
    json.dumps(data)  # plain JSON


@pytest.mark.parametrize("question, wanted", [
    (QUESTION, True),
    ("List the sanctions announced on Russia", True),
    ("Every time the White House mentioned the CHIPS Act in 2024", True),
    ("In which months of 2023 did the White House announce new sanctions?", True),
    ("How often did the President call governors about wildfires?", True),
    ("Which governors did the President call?", True),
    ("Give a timeline of the summit preparations", True),
    ("Who headed the delegation?", False),
    ("How much oil will be released from the reserve?", False),
    ("Which is the largest programme?", False),
    ("What did the President say about Ukraine?", False),
])
def test_wants_collection(question, wanted):
    assert wants_collection(question) is wanted


def test_item_kind_and_head_noun():
    assert item_kind("In which months of 2023 were sanctions announced?") == "month"
    assert head_noun("Which countries' leaders were honored?") == "countries"
    assert head_noun("Which existing national monuments did he enlarge?") == "monuments"
    assert head_noun("Who led it?") is None


def test_item_spans_by_head_noun():
    text = ("Governor John Bel Edwards of Louisiana and Minnesota Governor Tim Walz met "
            "Secretary Mayorkas in New York. But I'm told.")
    spans = lambda q: [text[s:e] for s, e in item_spans(text, None, q)]  # noqa: E731
    assert spans("Which states got aid?") == ["Louisiana", "Minnesota", "New York"]
    assert spans("Which governors did he appoint?") == ["John Bel Edwards", "Tim Walz",
                                                        "Mayorkas"]
    monument = "He restored the Bears Ears National Monument and met Deb Haaland."
    assert [monument[s:e] for s, e in item_spans(monument, None, "Which monuments grew?")] \
        == ["Bears Ears National Monument"]


def test_person_items_need_a_word_the_corpus_only_capitalises():
    text = "Economic Development and Renewable Energy were praised by Kate Brown and Gentleman."
    proper = {"Kate": True, "Brown": False}.get
    spans = [text[s:e] for s, e in item_spans(text, None, "Which governors spoke?",
                                               lambda w: proper(w, False))]
    assert spans == ["Kate Brown"]
    # Without the corpus's word (tests, old callers): capitalised shapes only.
    assert "Economic Development" in [text[s:e] for s, e in
                                      item_spans(text, None, "Which governors spoke?")]


def test_is_proper_reads_the_corpus(tmp_path, embedder):
    from rag.config import load_config

    seeds = tmp_path / "seeds"
    body = ("Governor Whitmer spoke on economic development. Whitmer said the energy plan "
            "works.\n\nThe Development Office opened, and development grew. Energy "
            "prices fell.")
    for k in range(3):
        write_release(seeds, f"statements-releases/2022-03/r{k}.md", f"Release {k}",
                      "2022-03-2" + str(k), body)
    conf = tmp_path / "rag.yaml"
    conf.write_text(f"seeds: {seeds}\nindex: {tmp_path / 'index'}\n")
    config = load_config(conf)
    build_index(config, embedder, progress=False)
    index = load_index(config.index, config, embedder)
    assert index.is_proper("Whitmer")
    assert not index.is_proper("Development")  # lowercase in 2 of its 3 uses
    assert not index.is_proper("Energy")
    assert index.is_proper("Zyxwv")  # no passage holds it: taken as a name


@pytest.mark.parametrize("raw, clean", [
    ("Governor Tim Walz", "Tim Walz"), ("the State of Louisiana", "Louisiana"),
    ("Restoring the Bears Ears National Monument", "Bears Ears National Monument"),
    ("France’s", "France"), ("the White House", ""), ("President", "")])
def test_clean_item(raw, clean):
    assert clean_item(raw) == clean


def test_answer_carries_the_collection_when_chosen(index):
    chosen = index.answer(QUESTION)
    assert chosen.collection is not None and not chosen.abstained
    assert "Slovakia" in chosen.text  # the text stays the extractive answer
    assert chosen.to_dict()["collection"] == chosen.collection.to_dict()
    assert index.answer(QUESTION, collect=False).collection is None
    one_fact = "How much oil per day will be released?"
    assert index.answer(one_fact).collection is None
    assert "collection" not in index.answer(one_fact).to_dict()
    assert index.answer(one_fact, collect=True).collection is not None


def test_cli_collect_json_prints_exactly_to_dict(fake_model, conf, capsys):
    assert cli.main(["--config", str(conf), "index", "--quiet"]) == 0
    capsys.readouterr()
    assert cli.main(["--config", str(conf), "ask", QUESTION, "--collect", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    from rag.config import load_config

    config = load_config(conf)
    expected = load_index(config.index, config, fake_model).collect(QUESTION).to_dict()
    assert printed == expected


def test_cli_collect_prints_a_timeline_with_items_in_bold(fake_model, conf, capsys):
    cli.main(["--config", str(conf), "index", "--quiet"])
    capsys.readouterr()
    assert cli.main(["--config", str(conf), "ask", QUESTION, "--collect"]) == 0
    out = capsys.readouterr().out
    first, *_ = out.splitlines()
    assert re.match(r"\d+ releases? matched; \d+ name the countries asked for", first)
    assert "**Poland**" in out and "2022-06-02  Battle group in Poland" in out
    # --no-collect: the plain answer, no timeline.
    assert cli.main(["--config", str(conf), "ask", QUESTION, "--no-collect"]) == 0
    assert "matched;" not in capsys.readouterr().out


def test_since_after_until_is_refused(index):
    with pytest.raises(QuestionError, match=r"since \(2022-07-01\) is after until \(2022-06-01\)"):
        index.collect(QUESTION, since="2022-07-01", until="2022-06-01")


def test_bad_dates_and_questions_are_refused(index):
    with pytest.raises(QuestionError, match="since = '2022-13-01' must be a date"):
        index.collect(QUESTION, since="2022-13-01")
    with pytest.raises(QuestionError, match="the question is empty"):
        index.collect("   ")
    with pytest.raises(QuestionError, match="collect = 'yes' must be True, False or None"):
        index.answer(QUESTION, collect="yes")


def test_search_deep_depth_is_checked(index):
    with pytest.raises(QuestionError, match="depth = 0 must be between 1 and 10000"):
        index.search_deep(QUESTION, 0)
    hits = index.search_deep(QUESTION, 50).hits
    assert len({(h.release_id, h.start) for h in hits}) == len(hits)


@pytest.mark.parametrize("key, value, message", [
    ("depth", 0, "collect.depth = 0 must be between 1 and 10000"),
    ("min_score", 1.5, "collect.min_score = 1.5 must be between 0 and 1"),
    ("max_row_sentences", 0, "collect.max_row_sentences = 0 must be between 1 and 20"),
])
def test_collect_config_is_validated(tmp_path, key, value, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        config_from_dict({"collect": {key: value}}, tmp_path)
    with pytest.raises(ConfigError, match=re.escape(message)):
        dataclasses.replace(CollectConfig(), **{key: value}).validate()


@pytest.mark.model
def test_real_model_timeline_on_seeds(real_index):
    collection = real_index.collect(QUESTION)
    nato = [r for r in collection.rows if "Extraordinary NATO Summit" in r.title]
    assert nato, collection.count_line
    assert {"Slovakia", "Romania", "Bulgaria", "Hungary"} <= set(nato[0].items)
    for row in collection.rows:
        assert real_index.release(row.release_id).body[row.start:row.end] == row.text
    assert _count(collection.count_line) == len(collection.rows)
    assert [r.date for r in collection.rows] == sorted(r.date for r in collection.rows)
    window = real_index.collect(QUESTION, since="2022-03-01", until="2022-03-31")
    assert all(r.date.month == 3 and r.date.year == 2022 for r in window.rows)
