"""A chat reply with its timeline or diff (rag/web/reply.py, fake embedder): collect
auto/on/off, a "how did X change" question answered by a diff, errors as one line."""

import pytest

from rag import load_index
from rag.config import config_from_dict
from rag.index.build import build_index
from rag.web.app import AppState
from rag.web.reply import ALL_CATEGORIES, respond_views
from test_collect import QUESTION, _battle_seeds

SETTINGS = ("", "", ALL_CATEGORIES, "hybrid", 5)


@pytest.fixture(scope="module")
def state(tmp_path_factory):
    from conftest import FakeEmbedder

    root = tmp_path_factory.mktemp("reply")
    _battle_seeds(root / "seeds")
    config = config_from_dict({"seeds": str(root / "seeds"), "index": str(root / "index"),
                               "chunking": {"max_tokens": 40, "header_tokens": 16},
                               "answer": {"min_score": 0.2},
                               "collect": {"min_score": 0.2, "grow_score": 0.2}}, root)
    embedder = FakeEmbedder()
    build_index(config, embedder, progress=False)
    return AppState(config, load_index(config.index, config, embedder))


def _last(state, question, **kwargs):
    steps = list(respond_views(state, question, [], *SETTINGS, **kwargs))
    return steps, steps[-1]


def test_a_set_question_brings_its_timeline(state):
    steps, last = _last(state, QUESTION)
    assert last.collection is not None and last.diff is None
    assert last.collection.rows and last.collection == state.index.collect(QUESTION)
    # Only the finished reply carries it (the tab is filled once).
    assert all(s.collection is None for s in steps[:-1])
    reply = last.history[-1]["content"]
    assert reply.endswith("the rows are under “Timeline” below.*")
    assert "*Timeline: 4 releases matched; 3 name the countries asked for" in reply


def test_the_collect_switch_forces_it_on_or_off(state):
    assert _last(state, QUESTION, collect="off")[1].collection is None
    other = "What did the President announce about oil?"
    assert _last(state, other)[1].collection is None
    assert _last(state, other, collect="on")[1].collection is not None
    _, bad = _last(state, QUESTION, collect="sometimes")
    assert bad.history[-1]["content"] == "⚠️ collect = 'sometimes' must be one of auto, on, off"


def test_a_what_changed_question_is_answered_by_a_diff(state):
    question = "How did the description of battle groups change between March 2022 and June 2022?"
    _, last = _last(state, question)
    assert last.collection is None and last.diff is not None
    assert last.diff.subject == "battle groups"
    assert last.diff.window_a.describe() == "March 1, 2022 – March 31, 2022"
    assert last.diff.to_dict() == state.index.diff(question).to_dict()
    reply = last.history[-1]["content"]
    assert reply.startswith("**What changed: battle groups**, A: March 1, 2022 – March 31, "
                            "2022, B: June 1, 2022 – June 30, 2022")
    counts = ", ".join(f"{n} {s}" for s, n in last.diff.counts.items())
    assert counts in reply


def test_a_change_word_without_two_windows_is_answered_as_a_question(state):
    _, last = _last(state, "Which countries received new battle groups after the change?")
    assert last.diff is None and last.collection is not None
