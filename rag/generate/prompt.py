"""The prompt: the numbered quotes first, verbatim, then the question and the rules."""

from __future__ import annotations

import datetime as dt
import re
from typing import Sequence

from .types import CITATION_RE, QuoteInput

# What the model is told to reply, word for word, when the quotes do not answer.
NO_ANSWER_REPLY = "The quotes do not answer the question."

SYSTEM_PROMPT = (
    "You answer questions about White House press releases using only the numbered "
    "quotes you are given. Answer in one to four short sentences. End every sentence "
    "with the numbers of the quotes that support it, like [Q2] or [Q1][Q3], and cite "
    "only numbers from the list. Use only numbers, dates and names that appear in the "
    "quotes a sentence cites, and add nothing from elsewhere. If the quotes do not "
    f"answer the question, reply exactly: {NO_ANSWER_REPLY}")

# Phrases of a reply that declines: the exact one asked for and its usual variants.
_DECLINE_RE = re.compile(
    r"\b(?:quotes?|passages?|sources?|context)\b[^.]{0,40}\b(?:do(?:es)?\s*(?:not|n[’']t)|"
    r"cannot|can[’']t)\s+(?:answer|say|contain|provide|mention|address|include)|"
    r"\b(?:not enough|insufficient|no) information\b|\bcannot be answered\b", re.IGNORECASE)


def long_date(date: str) -> str:
    """``2022-03-24`` as ``Thursday, March 24, 2022``; any other text as given."""
    try:
        day = dt.date.fromisoformat(date.strip())
    except ValueError:
        return date.strip()
    return f"{day:%A}, {day:%B} {day.day}, {day.year}"


def build_messages(question: str, quotes: Sequence[QuoteInput]) -> list[dict[str, str]]:
    """The chat messages that ask the model to answer ``question`` from ``quotes``.

    Each quote is listed verbatim as ``Q<number>`` with its release's title and date.
    """
    listed = "\n\n".join(
        f"Q{q.number} (from \"{q.title.strip()}\", {long_date(q.date)}):\n\"{q.text.strip()}\""
        for q in quotes)
    user = (f"Quotes:\n\n{listed}\n\nQuestion: {question.strip()}\n\n"
            "Answer from these quotes only, citing them as [Q1], [Q2], ... at the end of "
            f"each sentence, or reply exactly: {NO_ANSWER_REPLY}")
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def is_decline(reply: str) -> bool:
    """Whether the reply says the quotes do not answer, and cites nothing."""
    return not CITATION_RE.search(reply) and bool(_DECLINE_RE.search(reply))
