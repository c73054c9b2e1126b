"""The result of a collect question: a counted timeline of rows, one per release, and the
distinct items they name (built by ``rag.query.collect``).

Kept apart from the code that builds it so that ``rag.query.answer.Answer`` can carry a
collection without importing the collect stage, which builds on the answer step.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from .answer_types import span_pieces
from .dates import DateWindow
from .links import release_json


@dataclass(frozen=True)
class Row:
    """One release's answer: ``text == body[start:end]`` of that release, verbatim.

    ``items`` are the distinct items (see :class:`Item`) the text names, and ``spans``
    where they stand, as body offsets (what is shown in bold).
    """

    date: dt.date
    release_id: str
    title: str
    category: str
    url: str
    text: str
    start: int
    end: int
    link: str
    items: tuple[str, ...]
    spans: tuple[tuple[int, int], ...]
    score: float

    def pieces(self) -> list[tuple[str, bool]]:
        """The row's text in order, in pieces, each with whether it is an item span."""
        return span_pieces(self.text, self.start, self.spans)

    def to_dict(self) -> dict[str, Any]:
        return {"date": self.date.isoformat(),
                "release": release_json(self.release_id, self.title, self.date, self.category,
                                        self.url),
                "text": self.text, "start": self.start, "end": self.end, "link": self.link,
                "items": list(self.items)}


@dataclass(frozen=True)
class Item:
    """A distinct thing the answer names (a country, a person, a programme, a month),
    with the releases whose rows name it, oldest first."""

    text: str
    releases: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "releases": list(self.releases)}


@dataclass(frozen=True)
class Collection:
    """Every release that answers a set or history question, as a dated timeline.

    Attributes:
        question: the question as asked.
        date_window: the release dates searched (None: all).
        count_line: e.g. "212 releases matched; 9 name the states asked for; all shown";
            its count of rows always equals ``len(rows)``.
        items: the distinct items, most supported first.
        rows: one per release, oldest first.
        matched: releases with a sentence on the subject (scoring ``min_score``),
            whether or not it names an item; the rows are those that do, folded.
        kind: the kind of item gathered (as ``answer_types.expected_type``, or "month").
    """

    question: str
    date_window: DateWindow | None
    count_line: str
    items: list[Item]
    rows: list[Row]
    matched: int
    kind: str | None

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``rag ask --collect --json`` (documented in the README)."""
        window = self.date_window.to_dict() if self.date_window is not None else None
        return {"question": self.question, "date_window": window,
                "count_line": self.count_line, "items": [i.to_dict() for i in self.items],
                "rows": [r.to_dict() for r in self.rows]}
