"""A chat session's memory: the question the next follow-up is rewritten from.

Each session keeps the last question answered (as answered: the standalone rewrite when
it was a follow-up), so "And in 2024?" after "Which countries received new battle
groups?" is answered as "Which countries received new battle groups in 2024?", and a
further "What about March 2022?" builds on that. A question the index refuses (empty,
too long) leaves the memory as it was.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import QuestionError
from ..query.followup import rewrite
from ..query.retrieve import check_question


@dataclass(frozen=True)
class Turn:
    """What a chat message leaves for the next one.

    Attributes:
        previous: The question a follow-up is built on next (None: none yet).
        editable: Whether the reply answered a rewritten question, so "Edit question"
            is offered to correct it.
    """

    previous: str | None
    editable: bool


def conversation_turn(message: str, previous: str | None) -> Turn:
    """The session's state after ``message`` was asked with ``previous`` remembered."""
    try:
        check_question(message or "")
    except QuestionError:
        return Turn(previous, False)
    turn = rewrite(message, previous)
    return Turn(" ".join(turn.text.split()), turn.rewritten)
