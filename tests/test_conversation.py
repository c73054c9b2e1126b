"""A chat session's follow-ups (rag/web/conversation.py, and respond() with a previous
question; fake embedder)."""

import pytest

from rag import load_index
from rag.config import AnswerConfig
from rag.index.build import build_index
from rag.web.app import ALL_CATEGORIES, AppState, build_app, respond
from rag.web.conversation import Turn, conversation_turn
from rag.web.render import escape_markdown

BATTLE = "Which countries received new battle groups?"
REWRITTEN = "Which countries received new battle groups in March 2022?"


@pytest.fixture
def state(config, embedder):
    build_index(config, embedder, progress=False)
    config = config.replace(answer=AnswerConfig(min_score=0.2))
    return AppState(config, load_index(config.index, config, embedder))


def _ask(state, message, previous=None, **settings):
    args = {"since": "", "until": "", "category": ALL_CATEGORIES, "mode": "hybrid",
            "sources": 5, **settings}
    *_, (history, panel) = respond(state, message, [], *args.values(), previous=previous)
    return history, panel


@pytest.mark.parametrize("message, previous, turn", [
    (BATTLE, None, Turn(BATTLE, False)),
    ("And in March 2022?", BATTLE, Turn(REWRITTEN, True)),
    ("What about February 2022?", REWRITTEN,
     Turn("Which countries received new battle groups in February 2022?", True)),
    ("Who is the Secretary of State?", BATTLE, Turn("Who is the Secretary of State?", False)),
    ("", BATTLE, Turn(BATTLE, False)),                    # refused: the memory stays
    ("   ", None, Turn(None, False)),
    ("x" * 2001, BATTLE, Turn(BATTLE, False)),
    ("And in 2024?", None, Turn("And in 2024?", False)),
])
def test_each_message_leaves_the_question_for_the_next(message, previous, turn):
    assert conversation_turn(message, previous) == turn


def test_a_follow_up_is_answered_as_rewritten_and_the_reply_says_so(state):
    history, panel = _ask(state, "And in March 2022?", previous=BATTLE)
    assert history[0] == {"role": "user", "content": escape_markdown("And in March 2022?")}
    reply = history[-1]["content"]
    assert reply.startswith(f"*Answering: {escape_markdown(REWRITTEN)}*\n\n")
    assert "Slovakia" in reply and "read from “in March 2022”" in reply
    assert 'data-date="2022-03-24"' in panel


def test_the_same_follow_up_without_a_previous_question_is_answered_as_asked(state):
    history, _ = _ask(state, "And in March 2022?")
    assert "Answering:" not in history[-1]["content"]


def test_a_standalone_question_shows_no_rewrite(state):
    history, _ = _ask(state, BATTLE, previous="What about free COVID tests?")
    assert not history[-1]["content"].startswith("*Answering")


def test_a_refused_follow_up_still_names_the_question(state):
    history, panel = _ask(state, "And in March 2022?", previous=BATTLE, since="2022-13-01")
    reply = history[-1]["content"]
    assert reply.startswith(f"*Answering: {escape_markdown(REWRITTEN)}*\n\n⚠️ ") and panel == ""


def test_every_streamed_reply_starts_with_the_rewrite(state):
    args = ["", "", ALL_CATEGORIES, "hybrid", 5]
    steps = list(respond(state, "And in March 2022?", [], *args, previous=BATTLE))
    assert len(steps) >= 2
    assert all(h[-1]["content"].startswith("*Answering: ") for h, _ in steps)


def test_the_app_builds_with_an_edit_button(state):
    demo = build_app(state)
    buttons = {b.elem_id: b for b in demo.blocks.values() if getattr(b, "elem_id", None)}
    assert {"edit-question", "question", "ask", "clear"} <= buttons.keys()
    assert buttons["edit-question"].visible is False      # until a follow-up is rewritten
