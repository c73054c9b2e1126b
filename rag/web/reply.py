"""A chat reply, step by step as it forms: the answer (streamed quote by quote), the
Sources panel, and the timeline or the diff the other tabs show."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Protocol

from ..errors import QuestionError, RagError
from ..query.collection import Collection
from ..query.diff import Diff
from ..query.diff_question import DiffQuestion, asks_what_changed, read_diff_question
from ..query.followup import rewrite
from ..query.index import Index
from .render import (answer_markdown, answering_markdown, draft_markdown, escape_markdown,
                     generated_markdown, sources_html)

ALL_CATEGORIES = "All categories"


class IndexHolder(Protocol):
    """What a reply is answered from: the app's state (``rag.web.app.AppState``),
    whose index a rebuild may swap."""

    @property
    def index(self) -> Index: ...

COLLECT_CHOICES = {"auto": None, "on": True, "off": False}


@dataclass(frozen=True)
class Reply:
    """One step of a chat reply: the chat history, the Sources panel, and what the
    other views show (None: nothing from this reply)."""

    history: list[dict]
    panel: str
    collection: Collection | None = None
    diff: Diff | None = None


def respond(state: IndexHolder, message: str, history: list[dict], since: str, until: str,
            category: str, mode: str, sources: float, generate: bool = False,
            previous: str | None = None, collect: str = "auto"
            ) -> Iterator[tuple[list[dict], str]]:
    """Answer one chat message, yielding (history, sources panel) as the answer forms
    (see :func:`respond_views`, which also yields the timeline and the diff)."""
    for step in respond_views(state, message, history, since, until, category, mode,
                              sources, generate, previous, collect):
        yield step.history, step.panel


def respond_views(state: IndexHolder, message: str, history: list[dict], since: str,
                  until: str, category: str, mode: str, sources: float,
                  generate: bool = False, previous: str | None = None,
                  collect: str = "auto") -> Iterator[Reply]:
    """Answer one chat message, yielding a :class:`Reply` at each step as it forms.

    A follow-up of ``previous`` (the last question answered) is rewritten into a
    standalone question first (rag.query.followup), and the reply starts with it.
    ``collect`` ("auto", "on", "off"): whether the answer gathers a timeline of every
    release that answers (auto: for set and history questions). A question asking how
    something changed between two windows ("How did ... change between 2022 and
    2023?") is answered by a diff instead.
    """
    history = list(history or []) + [{"role": "user", "content": escape_markdown(message or "")}]
    turn = rewrite(message or "", previous)
    lead = answering_markdown(turn)
    index = state.index
    try:
        if collect not in COLLECT_CHOICES:
            raise QuestionError(f"collect = {collect!r} must be one of "
                                f"{', '.join(COLLECT_CHOICES)}")
        filters = {"mode": mode, "since": (since or "").strip() or None,
                   "until": (until or "").strip() or None,
                   "category": None if category in ("", ALL_CATEGORIES) else category}
        yield Reply(history + [{"role": "assistant",
                                "content": lead + "*Searching the releases…*"}], "")
        if generate:
            for shown, panel in _respond_generated(index, turn.text, history, int(sources),
                                                   filters, lead):
                yield Reply(shown, panel)
            return
        asked_diff = _diff_question(index, turn.text)
        if asked_diff is not None:
            found = index.diff(asked_diff.subject, asked_diff.window_a, asked_diff.window_b,
                               mode=filters["mode"], category=filters["category"])
            yield Reply(history + [{"role": "assistant", "content": lead + diff_reply(found)}],
                        "", diff=found)
            return
        answer = index.answer(turn.text, int(sources), collect=COLLECT_CHOICES[collect],
                              **filters)
    except RagError as exc:
        yield Reply(history + [{"role": "assistant",
                                "content": lead + f"⚠️ {escape_markdown(str(exc))}"}], "")
        return
    panel = sources_html(answer)
    timeline = timeline_reply(answer.collection) if answer.collection is not None else ""
    if answer.abstained:
        yield Reply(history + [{"role": "assistant",
                                "content": lead + answer_markdown(answer) + timeline}],
                    panel, answer.collection)
        return
    # The whole reply at once: it is complete by now, and streaming it quote by quote
    # cost Gradio a full update of every output per quote, about as much CPU as the
    # answer itself (benchmarks/RESULTS.md, "Many users on one machine").
    content = answer_markdown(answer) + timeline
    yield Reply(history + [{"role": "assistant", "content": lead + content}], panel,
                answer.collection)


def _diff_question(index: Index, question: str) -> DiffQuestion | None:
    """The subject and windows of a question that asks how something changed between
    two windows; None for any other question."""
    if not asks_what_changed(question):
        return None
    try:
        return read_diff_question(question, index.newest)
    except QuestionError:
        return None


def timeline_reply(collection: Collection) -> str:
    """The line under a reply that gathered a timeline: its count line, and where it is."""
    return (f"\n\n*Timeline: {escape_markdown(collection.count_line)} — "
            "the rows are under “Timeline” below.*")


def diff_reply(diff: Diff) -> str:
    """The chat reply to a "what changed" question: what was compared, the counts, and
    where the sentences are."""
    counts = ", ".join(f"{n} {status}" for status, n in diff.counts.items())
    return (f"**What changed: {escape_markdown(diff.subject)}**, "
            f"A: {escape_markdown(diff.window_a.describe())}, "
            f"B: {escape_markdown(diff.window_b.describe())}\n\n"
            f"{escape_markdown(counts)}; the sentences are under “What changed” below.")


def _respond_generated(index: Index, message: str, history: list[dict], sources: int,
                       filters: dict, lead: str = "") -> Iterator[tuple[list[dict], str]]:
    """The generated reply: the draft as the model writes it, then the checked answer
    (a mark per sentence) in its place; the Sources panel as for an extracted one."""
    panel, draft = "", ""
    for item in index.stream_answer(message, sources, **filters):
        if isinstance(item, str):
            draft += item
            content = draft_markdown(draft)
        else:  # the extracted answer first, the checked one last
            panel = sources_html(item)
            content = (generated_markdown(item) if item.generated is not None
                       else "*Asking your language model…*")
        yield history + [{"role": "assistant", "content": lead + content}], panel
