"""The `rag` command, with the fake embedder in place of the model."""

import json

import pytest

from rag import cli


@pytest.fixture
def conf(tmp_path, seeds):
    path = tmp_path / "rag.yaml"
    path.write_text(f"seeds: {seeds}\nindex: {tmp_path / 'index'}\n"
                    "chunking:\n  max_tokens: 40\n  header_tokens: 16\n")
    return str(path)


def test_index_then_search_json(fake_model, conf, capsys):
    assert cli.main(["--config", conf, "index", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "full rebuild (no index yet): 3 added, 0 changed, 0 removed, 0 unchanged" in out
    assert cli.main(["--config", conf, "search", "battle groups in Hungary", "--json",
                     "--top-k", "2"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert len(hits) == 2
    assert set(hits[0]) == {"rank", "score", "text", "start", "end", "release"}
    assert set(hits[0]["release"]) == {"id", "title", "date", "category", "url"}
    assert hits[0]["release"]["id"] == "statements-releases/2022-03/nato.md"
    assert hits[0]["release"]["date"] == "2022-03-24" and hits[0]["rank"] == 1


def test_hit_to_dict_is_the_json_shape(fake_model, conf, capsys):
    import rag
    from rag.config import load_config

    cli.main(["--config", conf, "index", "--quiet"])
    capsys.readouterr()
    config = load_config(conf)
    hits = rag.load_index(config.index, config, fake_model).retrieve("free tests", 3)
    cli.main(["--config", conf, "search", "free tests", "--json", "--top-k", "3"])
    assert json.loads(capsys.readouterr().out) == [h.to_dict() for h in hits]


def test_second_index_run_is_incremental(fake_model, conf, capsys):
    cli.main(["--config", conf, "index", "--quiet"])
    cli.main(["--config", conf, "index", "--quiet"])
    out = capsys.readouterr().out.splitlines()
    assert out[-2].startswith("incremental: 0 added, 0 changed, 0 removed, 3 unchanged; "
                              "0 passages embedded")
    assert out[-1] == "index is up to date; nothing written"


def test_stale_index_warns_on_search(fake_model, conf, seeds, capsys):
    cli.main(["--config", conf, "index", "--quiet"])
    (seeds / "statements-releases/2022-03/oil.md").unlink()
    assert cli.main(["--config", conf, "search", "oil"]) == 0
    assert "warning: the index is stale (1 removed release files" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["search", "anything"], "error: no index in "),
    (["search", "   "], "error: no index in "),
    (["index", "--seeds", "/nonexistent/seeds"], "error: seeds folder /nonexistent/seeds does not exist"),
])
def test_errors_are_one_line_without_traceback(fake_model, conf, capsys, argv, message):
    assert cli.main(["--config", conf, *argv]) == 1
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1 and "Traceback" not in err


def test_empty_question_is_an_error(fake_model, conf, capsys):
    cli.main(["--config", conf, "index", "--quiet"])
    assert cli.main(["--config", conf, "search", " "]) == 1
    assert capsys.readouterr().err == "error: the question is empty; type a question about the releases\n"


def test_bad_config_is_an_error(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("chunking:\n  max_tokens: 5\n")
    assert cli.main(["--config", str(bad), "search", "x"]) == 1
    assert capsys.readouterr().err == (
        "error: chunking.max_tokens = 5 must be between 32 and 512\n")


def test_watch_updates_after_a_change(fake_model, conf, seeds, capsys, monkeypatch):
    from conftest import write_release

    calls = []

    def fake_sleep(seconds):
        calls.append(seconds)
        if len(calls) == 1:
            write_release(seeds, "new/added.md", "Added", "2022-03-30", "A brand new release.")
        elif len(calls) == 3:
            raise KeyboardInterrupt  # the user's Ctrl-C ends the watch
    monkeypatch.setattr("rag.cli.time.sleep", fake_sleep)
    assert cli.main(["--config", conf, "index", "--quiet", "--watch", "--interval", "0.5"]) == 130
    out = capsys.readouterr().out
    assert "watching " in out and calls == [0.5, 0.5, 0.5]
    # One update after the change, and none after the check that found nothing new.
    assert out.count("incremental: 1 added, 0 changed, 0 removed, 3 unchanged") == 1


def test_an_index_named_by_index_is_checked_against_its_own_seeds(fake_model, conf, tmp_path,
                                                                  capsys):
    """`rag search --index DIR` compares DIR with the folder it was built from, not with
    the configured seeds (which would report releases of an unrelated folder)."""
    from conftest import write_release

    other = tmp_path / "other-seeds"
    write_release(other, "a/one.md", "Another release", "2022-03-01", "Oil and grain.")
    other_index = tmp_path / "other-index"
    assert cli.main(["--config", conf, "index", "--quiet", "--seeds", str(other),
                     "--index", str(other_index)]) == 0
    capsys.readouterr()
    assert cli.main(["--config", conf, "search", "oil", "--index", str(other_index)]) == 0
    assert "stale" not in capsys.readouterr().err
    write_release(other, "a/two.md", "A second release", "2022-03-02", "More oil.")
    assert cli.main(["--config", conf, "search", "oil", "--index", str(other_index)]) == 0
    assert f"the index is stale (1 new release files in {other})" in capsys.readouterr().err


@pytest.fixture
def llm():
    from generate_helpers import scripted_server

    with scripted_server() as script:
        yield script


def _llm_conf(conf: str, llm, lenient: bool = True) -> str:
    with open(conf, "a") as f:
        f.write(f"llm:\n  base_url: {llm.url}\n  model: test-model\n  timeout: 5\n"
                + ("answer:\n  min_score: 0.2\n" if lenient else ""))
    return conf


def test_ask_generate_json_shape(fake_model, conf, llm, capsys):
    conf = _llm_conf(conf, llm)
    cli.main(["--config", conf, "index", "--quiet"])
    capsys.readouterr()
    cli.main(["--config", conf, "ask", "battle groups in Hungary", "--json"])
    extracted = json.loads(capsys.readouterr().out)
    quote = extracted["sentences"][0]
    llm.reply(f"{quote['text']} [Q1] They sent 75,000 troops [Q1]. Hungary joined [Q9].")
    assert cli.main(["--config", conf, "ask", "battle groups in Hungary", "--json",
                     "--generate"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {"answer", "abstained", "date_window", "sentences", "sources",
                         "generated", "generated_sentences", "note"}
    assert data["generated"] is True and data["answer"] == f"{quote['text']} [{quote['source']}]"
    assert [(s["supported"], s["why"]) for s in data["generated_sentences"]][1:] == [
        (False, "number 75,000 is not in Q1"), (False, "cites Q9, which does not exist")]
    assert set(data["generated_sentences"][0]) == {"text", "quotes", "supported", "why",
                                                   "sources"}
    assert data["note"] == "2 of 3 generated sentences were dropped: not supported by their quotes"
    assert data["sentences"] == extracted["sentences"]


def test_ask_generate_text_marks_each_sentence(fake_model, conf, llm, capsys):
    conf = _llm_conf(conf, llm)
    cli.main(["--config", conf, "index", "--quiet"])
    capsys.readouterr()
    cli.main(["--config", conf, "ask", "battle groups in Hungary", "--json"])
    quote = json.loads(capsys.readouterr().out)["sentences"][0]
    llm.reply(f"{quote['text']} [Q1] They sent 75,000 troops [Q1].")
    assert cli.main(["--config", conf, "ask", "battle groups in Hungary", "--generate"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{quote['text']} [{quote['source']}]\n")
    assert f"  ✓ {quote['text']} [Q1]\n" in out
    assert "  ✗ dropped: They sent 75,000 troops [Q1].\n      (number 75,000 is not in Q1)" in out
    assert "Note: 1 of 2 generated sentences was dropped" in out
    assert f"Quotes:\n  Q1 [{quote['source']}] {quote['text']}" in out and "Sources:" in out


def test_ask_generate_without_llm_is_a_one_line_error(fake_model, conf, capsys):
    cli.main(["--config", conf, "index", "--quiet"])
    capsys.readouterr()
    assert cli.main(["--config", conf, "ask", "battle groups", "--generate"]) == 1
    assert capsys.readouterr().err == (
        "error: generating an answer needs a language model: set llm.base_url "
        "(e.g. http://127.0.0.1:8080/v1) and llm.model in rag.yaml\n")
def test_ask_rewrites_a_follow_up_of_previous(fake_model, conf, capsys):
    assert cli.main(["--config", conf, "index", "--quiet"]) == 0
    capsys.readouterr()
    previous = "Which countries received new battle groups?"
    assert cli.main(["--config", conf, "ask", "And in March 2022?", "--previous", previous]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Answering: Which countries received new battle groups in "
                          "March 2022?\n")
    assert "March 1, 2022" in out
    assert cli.main(["--config", conf, "ask", "And in March 2022?", "--previous", previous,
                     "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["question"] == "Which countries received new battle groups in March 2022?"
    assert got["rewritten"] is True and got["date_window"]["text"] == "in March 2022"
    assert cli.main(["--config", conf, "search", "What about Hungary?", "--previous",
                     "Which battle groups did NATO establish in Slovakia?"]) == 0
    assert capsys.readouterr().out.startswith(
        "Searching: Which battle groups did NATO establish in Hungary?\n")
