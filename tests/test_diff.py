"""What changed between two windows: alignment, verbatim sentences, to_dict, errors,
the CLI (fake embedder), and one diff with the real model on seeds/."""

import json

import pytest

from conftest import write_release
from rag import cli, load_index
from rag.config import config_from_dict
from rag.index.build import build_index
from rag.query.diff import STATUSES, DiffSettings, _same_wording
from rag.query.diff_print import format_diff

KEPT = "The battle groups on the eastern flank defend every inch of NATO territory."
KEPT_2023 = "The battle groups on the eastern flank defend every inch of NATO territory!"
OLD = ("The new battle groups in Slovakia, Romania, Bulgaria and Hungary strengthen the "
       "eastern flank of the Alliance.")
REWORDED = ("The battle groups in Slovakia, Romania, Bulgaria and Hungary now stand at "
            "brigade strength on the eastern flank.")
DROPPED = "Leaders cancelled joint battle groups exercises scheduled with Ukrainian cadets."
NEW = "Battle groups commanders welcomed Finland as a member at the Vilnius summit."

A_BODY = f"""
NATO leaders met in Brussels today. {KEPT}

{OLD} {DROPPED}
"""
B_BODY = f"""
NATO leaders met in Vilnius today. {KEPT_2023}

{REWORDED} {NEW}
"""
OTHER = """
The Administration announced that every household can order more free at-home COVID-19
tests. Tests ship within seven to twelve days.
"""
WINDOWS = (("2022-01-01", "2022-12-31"), ("2023-01-01", "2023-12-31"))
A_ID = "statements-releases/2022-03/nato-2022.md"
B_ID = "statements-releases/2023-07/nato-2023.md"
# The fake embedder's cosines are those of word bags: lower than the real model's.
LENIENT = DiffSettings(align_min=0.45)


@pytest.fixture
def diff_seeds(tmp_path):
    root = tmp_path / "seeds"
    write_release(root, A_ID, "NATO summit statement 2022", "2022-03-24", A_BODY)
    write_release(root, B_ID, "NATO summit statement 2023", "2023-07-11", B_BODY)
    write_release(root, "statements-releases/2022-03/covid.md", "Free COVID tests",
                  "2022-03-02", OTHER)
    write_release(root, "statements-releases/2023-02/covid.md", "More free COVID tests",
                  "2023-02-02", OTHER)
    return root


@pytest.fixture
def diff_config(tmp_path, diff_seeds):
    return config_from_dict({"seeds": str(diff_seeds), "index": str(tmp_path / "index"),
                             "chunking": {"max_tokens": 40, "header_tokens": 16}}, tmp_path)


@pytest.fixture
def index(diff_config, embedder):
    build_index(diff_config, embedder, progress=False)
    return load_index(diff_config.index, diff_config, embedder)


def _by_text(diff):
    return {(p.a.text if p.a else None, p.b.text if p.b else None): p.status
            for p in diff.pairs}


def test_sentences_are_aligned_and_classified(index):
    diff = index.diff("battle groups", *WINDOWS, settings=LENIENT)
    pairs = _by_text(diff)
    assert pairs[(KEPT, KEPT_2023)] == "kept"
    assert pairs[(OLD, REWORDED)] == "reworded"
    assert pairs[(DROPPED, None)] == "dropped"
    assert pairs[(None, NEW)] == "new"
    assert diff.counts == {"kept": 1, "reworded": 1, "dropped": 1, "new": 1}
    assert [p.status for p in diff.pairs][-1] == "new"  # A's sentences first, then B's new
    # The COVID releases are retrieved too (every passage is, in so small an index),
    # but none of their sentences is on the subject.
    assert diff.window_a.releases_used[0] == A_ID and diff.window_b.releases_used[0] == B_ID
    assert {p.a.release_id for p in diff.pairs if p.a} == {A_ID}
    assert {p.b.release_id for p in diff.pairs if p.b} == {B_ID}


def test_alignment_is_one_to_one_and_scored(index):
    diff = index.diff("battle groups", *WINDOWS, settings=LENIENT)
    a_texts = [p.a.text for p in diff.pairs if p.a]
    b_texts = [p.b.text for p in diff.pairs if p.b]
    assert len(a_texts) == len(set(a_texts)) and len(b_texts) == len(set(b_texts))
    for p in diff.pairs:
        aligned = p.status in ("kept", "reworded")
        assert (p.similarity is not None) == aligned
        assert (p.a is not None) == (p.status != "new")
        assert (p.b is not None) == (p.status != "dropped")
        if aligned:
            assert p.similarity >= LENIENT.align_min


def test_a_strict_threshold_aligns_nothing(index):
    diff = index.diff("battle groups", *WINDOWS, settings=DiffSettings(align_min=1.0))
    assert diff.counts["kept"] == diff.counts["reworded"] == 0
    assert diff.counts["dropped"] == diff.window_a.sentences_shown == 3
    assert diff.counts["new"] == diff.window_b.sentences_shown == 3


def test_every_sentence_is_verbatim_with_its_release_and_link(index):
    diff = index.diff("battle groups", *WINDOWS, settings=LENIENT)
    sentences = [s for p in diff.pairs for s in (p.a, p.b) if s is not None]
    assert len(sentences) == 6
    for s in sentences:
        release = index.release(s.release_id)
        assert release.body[s.start:s.end] == s.text
        assert (s.title, s.date, s.category, s.url) == (release.title, release.date,
                                                        release.category, release.url)
        assert s.link.startswith(release.url + "#:~:text=")
    assert all(p.a.date.year == 2022 for p in diff.pairs if p.a)
    assert all(p.b.date.year == 2023 for p in diff.pairs if p.b)


def test_to_dict_shape(index):
    diff = index.diff("battle groups", *WINDOWS, settings=LENIENT)
    data = json.loads(json.dumps(diff.to_dict()))
    assert set(data) == {"subject", "window_a", "window_b", "pairs", "counts", "notes"}
    assert data["subject"] == "battle groups"
    assert data["window_a"] == {
        "since": "2022-01-01", "until": "2022-12-31", "text": "filter", "release": None,
        "description": "January 1, 2022 – December 31, 2022", "releases_found": 2,
        "releases_used": [A_ID, "statements-releases/2022-03/covid.md"], "sentences_found": 3, "sentences_shown": 3}
    assert data["counts"] == {status: 1 for status in STATUSES}
    new = next(p for p in data["pairs"] if p["status"] == "new")
    assert new["a"] is None and new["similarity"] is None
    assert set(new["b"]) == {"text", "start", "end", "link", "relevance", "release"}
    assert set(new["b"]["release"]) == {"id", "title", "date", "category", "url"}
    assert new["b"]["release"]["date"] == "2023-07-11" and new["b"]["text"] == NEW


def test_a_question_names_the_subject_and_windows(index):
    asked = index.diff("How did the White House's description of battle groups change "
                       "between 2022 and 2023?", settings=LENIENT)
    given = index.diff("battle groups", "2022", "2023", settings=LENIENT)
    assert asked.subject == "battle groups"
    assert asked.window_a.window.since.isoformat() == "2022-01-01"
    assert asked.window_b.window.until.isoformat() == "2023-12-31"
    assert [p.to_dict() for p in asked.pairs] == [p.to_dict() for p in given.pairs]


def test_two_releases_instead_of_windows(index):
    diff = index.diff("battle groups", A_ID, B_ID, settings=LENIENT)
    assert diff.window_a.release_id == A_ID and diff.window_a.window is None
    assert diff.to_dict()["window_b"]["description"] == f"release {B_ID}"
    assert _by_text(diff)[(KEPT, KEPT_2023)] == "kept"
    assert {p.a.release_id for p in diff.pairs if p.a} == {A_ID}


def test_the_cap_is_applied_and_said(index):
    diff = index.diff("battle groups", *WINDOWS, settings=DiffSettings(per_side=1))
    assert diff.window_a.sentences_shown == 1 and diff.window_a.sentences_found == 3
    assert len([p for p in diff.pairs if p.a]) == 1
    assert "A: the 1 sentence most on the subject of 3 found." in diff.notes


def test_an_empty_window_makes_everything_new(index):
    diff = index.diff("battle groups", "2019", "2023", settings=LENIENT)
    assert diff.window_a.sentences_found == 0
    assert {p.status for p in diff.pairs} == {"new"} and len(diff.pairs) == 3
    assert diff.notes[0].startswith("A: no sentence on the subject in the releases dated")


def test_changed_numbers_are_never_kept():
    assert _same_wording("NATO has four battle groups in the east.",
                         "NATO has four battle groups in the east!", 0.9)
    assert not _same_wording("NATO has four battle groups in 2022.",
                             "NATO has four battle groups in 2023.", 0.9)


@pytest.mark.parametrize("args, message", [
    (("battle groups", ("2022-06-30", "2022-03-01"), "2023"),
     r"window A starts \(2022-06-30\) after it ends \(2022-03-01\)"),
    (("battle groups", "2022", "20222"), r"window B \('20222'\) is not a date or a period"),
    (("battle groups", "2022", "2023-05-01..2023-02-01"), r"window B .*after it ends"),
    (("battle groups", "2022-13-01..", "2023"), r"window A start = '2022-13-01' must be"),
    (("battle groups", "2022", None), r"window B is missing"),
    (("   ", "2022", "2023"), r"no subject to compare"),
    (("battle groups", "statements-releases/nope.md", "2023"), r"window A: no release"),
    (("battle groups", ("2022-01-01", 5), "2023"), r"window A: 5 is not a date"),
    (("What did NATO say about battle groups?",), r"no two date windows to compare"),
    (("What changed between 2022 and 2023?",), r"no subject in"),
])
def test_bad_input_is_a_question_error_naming_it(index, args, message):
    from rag import QuestionError

    with pytest.raises(QuestionError, match=message):
        index.diff(*args)


@pytest.mark.parametrize("changes, message", [
    ({"per_side": 0}, r"per_side = 0 must be 1 to 100"),
    ({"align_min": 1.5}, r"align_min = 1.5 must be 0 to 1"),
])
def test_bad_settings_are_refused(changes, message):
    from rag import QuestionError

    with pytest.raises(QuestionError, match=message):
        DiffSettings(**changes)


@pytest.fixture
def conf(tmp_path, diff_seeds):
    path = tmp_path / "rag.yaml"
    path.write_text(f"seeds: {diff_seeds}\nindex: {tmp_path / 'index'}\n"
                    "chunking:\n  max_tokens: 40\n  header_tokens: 16\n")
    return str(path)


def test_cli_json_prints_exactly_to_dict(fake_model, conf, diff_config, capsys):
    assert cli.main(["--config", conf, "index", "--quiet"]) == 0
    capsys.readouterr()
    assert cli.main(["--config", conf, "diff", "battle groups", "--a", "2022",
                     "--b", "2023", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    index = load_index(diff_config.index, diff_config, fake_model)
    assert printed == json.loads(json.dumps(index.diff("battle groups", "2022", "2023")
                                            .to_dict()))


def test_cli_reads_the_question_and_prints_a_listing(fake_model, conf, diff_config, capsys):
    assert cli.main(["--config", conf, "index", "--quiet"]) == 0
    capsys.readouterr()
    assert cli.main(["--config", conf, "diff", "How did the description of battle groups "
                     "change from 2022 to 2023?", "--per-side", "2"]) == 0
    out = capsys.readouterr().out
    index = load_index(diff_config.index, diff_config, fake_model)
    expected = index.diff("battle groups", "2022", "2023", settings=DiffSettings(per_side=2))
    assert out == format_diff(expected) + "\n"
    assert out.startswith("What changed: battle groups\n  A: January 1, 2022 – December 31, "
                          "2022, 2 sentences\n")
    assert "  A  2022-03-24  NATO summit statement 2022 (statements-releases)" in out


@pytest.mark.parametrize("argv, message", [
    (["battle groups", "--a", "2023-05-01..2023-01-01", "--b", "2023"],
     "error: window A ('2023-05-01..2023-01-01'): date window starts (2023-05-01) after "
     "it ends (2023-01-01): swap the two dates"),
    (["battle groups", "--a", "2022"],
     "error: window B is missing: give both windows, or neither and name them in the "
     "question"),
])
def test_cli_bad_windows_are_one_line_errors(fake_model, conf, capsys, argv, message):
    assert cli.main(["--config", conf, "index", "--quiet"]) == 0
    capsys.readouterr()
    assert cli.main(["--config", conf, "diff", *argv]) == 1
    err = capsys.readouterr().err
    assert err.strip() == message


def test_text_listing_marks_each_status(index):
    text = format_diff(index.diff("battle groups", *WINDOWS, settings=LENIENT))
    for mark in ("= kept (", "~ reworded (", "- dropped", "+ new"):
        assert f"\n{mark}" in text
    assert "  0 kept" not in text and "1 kept, 1 reworded, 1 dropped, 1 new" in text


@pytest.mark.model
def test_real_model_diff_of_sanctions_on_seeds(real_index):
    diff = real_index.diff("How did the description of sanctions on Russia change between "
                           "February 2022 and March 2022?")
    assert diff.subject == "sanctions on Russia"
    assert diff.window_a.describe() == "February 1, 2022 – February 28, 2022"
    assert diff.window_b.describe() == "March 1, 2022 – March 31, 2022"
    assert diff.window_a.sentences_shown == diff.window_b.sentences_shown == 12
    for p in diff.pairs:
        for s, month in ((p.a, 2), (p.b, 3)):
            if s is not None:
                assert (s.date.year, s.date.month) == (2022, month)
                assert real_index.release(s.release_id).body[s.start:s.end] == s.text
    # Both months impose "full blocking sanctions", on other targets: a reworded pair.
    assert any(p.status == "reworded" and p.a.text.startswith("Full blocking sanctions")
               and p.b.text.startswith("Full blocking sanctions") for p in diff.pairs)
    on_subject = [s for p in diff.pairs for s in (p.a, p.b)
                  if s is not None and "sanction" in s.text.lower()]
    assert len(on_subject) >= 20
