"""The plain data that goes into and comes out of a generated answer."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

# A citation marker as the prompt asks for it: [Q2], also [Q1, Q3] or [Q1; Q3].
CITATION_RE = re.compile(r"\[\s*Q(\d+)((?:\s*[,;]\s*Q?\d+)*)\s*\]", re.IGNORECASE)


def cited_numbers(text: str) -> list[int]:
    """The quote numbers a text cites, in order of first citation, without repeats."""
    numbers: list[int] = []
    for match in CITATION_RE.finditer(text):
        for n in [match.group(1), *re.findall(r"\d+", match.group(2))]:
            if int(n) not in numbers:
                numbers.append(int(n))
    return numbers


def quote_marker(number: int) -> str:
    """The default marker of a quote in shown text: ``[Q2]``."""
    return f"[Q{number}]"


@dataclass(frozen=True)
class QuoteInput:
    """A numbered quote the model may answer from and cite as ``[Q<number>]``.

    ``date`` is the release date as ``YYYY-MM-DD`` (other text is shown as given).
    """

    number: int
    text: str
    release_id: str
    title: str
    date: str


@dataclass(frozen=True)
class GeneratedSentence:
    """One sentence of the model's reply, as the model wrote it, and its verdict.

    ``quotes`` are the quote numbers it cites; ``why`` says why it was dropped, or
    which quote supports it when ``supported``.
    """

    text: str
    quotes: list[int]
    supported: bool
    why: str

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "quotes": list(self.quotes), "supported": self.supported,
                "why": self.why}


@dataclass(frozen=True)
class Generated:
    """A generated answer after checking: only supported sentences are shown.

    ``generated`` is False when the model failed, declined, or no sentence survived;
    the caller then shows its extracted answer, with ``note`` saying why.
    """

    shown_text: str
    sentences: list[GeneratedSentence] = field(default_factory=list)
    generated: bool = False
    note: str = ""

    def render(self, marker: Callable[[int], str] = quote_marker) -> str:
        """The shown text with each citation rewritten by ``marker`` (quote number -> text),
        e.g. ``lambda n: f"[{source_of[n]}]"`` to cite sources instead of quotes."""
        return render_sentences(self.sentences, marker) if self.generated else ""

    def to_dict(self) -> dict[str, Any]:
        """The keys the caller merges into its answer's JSON."""
        return {"generated": self.generated,
                "generated_sentences": [s.to_dict() for s in self.sentences],
                "note": self.note}


def render_sentences(sentences: list[GeneratedSentence],
                     marker: Callable[[int], str] = quote_marker) -> str:
    """The supported sentences joined, each citation rewritten by ``marker``."""
    return " ".join(
        CITATION_RE.sub(lambda m: "".join(marker(n) for n in cited_numbers(m.group(0))), s.text)
        for s in sentences if s.supported)


def failed(note: str, sentences: list[GeneratedSentence] | None = None) -> Generated:
    """A result with nothing generated to show, and the reason as its note."""
    return Generated(shown_text="", sentences=sentences or [], generated=False, note=note)
