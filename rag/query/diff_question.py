"""The two date windows and the subject of a "what changed" question.

``read_diff_question("How did the White House's description of NATO battle groups
change between 2022 and 2023?", today)`` gives the subject ``"NATO battle groups"`` and
the windows 2022 and 2023. ``read_window("March 2022", today, "A")`` reads one window
as the CLI's ``--a``/``--b`` give it.

Each side is read by ``rag.query.dates.find_date_window``, so a side is anything it
reads ("2022", "March 2022", "early 2023", "the first half of 2022", "2022-03-24"),
and must be read whole. Choices:

- The comparison is written "between A and B", "from A to B" (or until, through),
  "in A versus B" (vs, vs., compared to/with) or "A versus B".
- A side without a year borrows the other side's: "between March and June 2022" is
  March 2022 and June 2022.
- The subject is what follows "description of", "framing of", "language on", ...
  up to the last "change"; else what follows "describe"/"talk about"; else what
  stands between "how did/has" and "change/evolve";
  else what follows "what changed in/about"; else the question without the windows.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

from ..config import parse_day
from ..errors import ConfigError, QuestionError
from .dates import DateWindow, find_date_window

_WINDOW_HELP = "write e.g. 2022, March 2022, early 2023 or 2022-03-01..2022-06-30"
_YEAR_RE = re.compile(r"\b(?:199\d|20\d\d)\b")

# "between A and B", "from A to B", "in A versus B", "A versus B"; A is checked whole
# by read_window, B is the longest run of words after the connector that reads whole.
_COMPARISON = re.compile(
    r"\b(?:(?P<lead>between|from|in|during)\s+)?(?P<a>[^?!;]{1,40}?)\s+"
    r"(?P<conn>and|to|until|through|versus|vs\.?|compared\s+(?:to|with))\s+"
    r"(?:(?:in|during)\s+)?(?P<rest>[^?!;]+)", re.IGNORECASE)
_CONNECTORS = {"between": ("and",), "from": ("to", "until", "through"),
               None: ("versus", "vs", "vs.", "compared")}
_MAX_SIDE_WORDS = 6

_CHANGE = r"(?:change|changed|evolve|evolved|shift|shifted|differ|differed|develop|developed)"
# The last change word ends the subject: "language on climate change evolved".
_LAST_CHANGE = rf"{_CHANGE}\b(?!.*\b{_CHANGE}\b)"
_SUBJECT_PATTERNS = [
    re.compile(r"\b(?:description|portrayal|framing|characteri[sz]ation|account|language|"
               r"messaging|wording|rhetoric|position|stance|statements?|talk|tone|view|"
               r"policy|approach|coverage)\s+(?:of|on|about|regarding|toward|towards)\s+"
               rf"(?P<s>.+?)(?:\s+{_LAST_CHANGE}|[\s?.!,]*$)", re.IGNORECASE),
    re.compile(r"\b(?:describe[sd]?|discuss(?:ed|es)?|talk(?:ed|s)?\s+about|frame[sd]?|"
               r"portray(?:ed|s)?|characteri[sz]e[sd]?|present(?:ed|s)?)\s+(?P<s>.+?)"
               r"[\s?.!,]*$", re.IGNORECASE),
    re.compile(r"\bhow\s+(?:did|has|have|does|do|was|were)\s+(?P<s>.+?)\s+(?:been\s+)?"
               rf"{_LAST_CHANGE}", re.IGNORECASE),
    re.compile(r"\bwhat\s+(?:changed|was\s+different|is\s+different|differs?)\s+"
               r"(?:in|about|on|regarding|for)\s+(?P<s>.+?)[\s?.!,]*$", re.IGNORECASE),
]
_SPEAKER = re.compile(r"^(?:the\s+)?(?:white\s+house|administration|president|"
                      r"biden\s+administration|president\s+biden)(?:['’]s)?\s+", re.IGNORECASE)
_FILLER = re.compile(r"^(?:how|what|did|has|have|does|do|the|of|about|on)\b\s*|"
                     rf"\s*\b(?:{_CHANGE}|compare|compared)\b\s*$", re.IGNORECASE)


_ASKS_CHANGE = re.compile(rf"\b(?:{_CHANGE}|compared?|comparison)\b", re.IGNORECASE)


def asks_what_changed(question: str) -> bool:
    """Whether a question asks how something changed ("How did ... change", "what
    changed", "compared to"): it has a change word. Whether it names two windows is
    for :func:`read_diff_question` to say."""
    return bool(_ASKS_CHANGE.search(question))


@dataclass(frozen=True)
class DiffQuestion:
    """What a "what changed" question compares: a subject in two date windows."""

    subject: str
    window_a: DateWindow
    window_b: DateWindow


def read_window(text: str, today: datetime.date, label: str) -> DateWindow:
    """One date window, as ``--a``/``--b`` or one side of a question write it.

    Args:
        text: "2022", "March 2022", "early 2023", "2022-03-24", "since June 2023", or
            ``SINCE..UNTIL`` with YYYY-MM-DD dates (either may be left out).
        today: the newest release date, for dates without a year.
        label: "A" or "B", named in errors.

    Returns:
        The window, its ``text`` being ``text``.

    Raises:
        QuestionError: the text is not a date or period, or the window ends before it starts.
    """
    text = " ".join(str(text).split())
    if not text:
        raise QuestionError(f"window {label} is empty; {_WINDOW_HELP}")
    try:
        if ".." in text:
            first, _, last = (part.strip() for part in text.partition(".."))
            if not first and not last:
                raise QuestionError(f"window {label} ({text!r}) has no dates; {_WINDOW_HELP}")
            try:
                since = parse_day(first, f"window {label} start") if first else None
                until = parse_day(last, f"window {label} end") if last else None
            except ConfigError as exc:
                raise QuestionError(f"{exc}; {_WINDOW_HELP}") from None
            return DateWindow(since, until, text)
        for written in (text, f"in {text}"):
            window = find_date_window(written, today)
            if window is not None and window.text.lower() == written.lower():
                return DateWindow(window.since, window.until, text)
    except QuestionError as exc:
        if str(exc).startswith("window "):
            raise
        raise QuestionError(f"window {label} ({text!r}): {exc}") from None
    raise QuestionError(f"window {label} ({text!r}) is not a date or a period; {_WINDOW_HELP}")


def _side(words: str, today: datetime.date, label: str) -> DateWindow | None:
    try:
        return read_window(words, today, label)
    except QuestionError:
        return None


def _with_year(side: str, other: str) -> str:
    # "between March and June 2022": March borrows June's year.
    if _YEAR_RE.search(side) or not (year := _YEAR_RE.search(other)):
        return side
    return f"{side} {year.group()}"


def _windows(question: str, today: datetime.date
             ) -> tuple[DateWindow, DateWindow, int, int] | None:
    """The first comparison of two date windows in the question, and its span."""
    for start in range(len(question)):
        m = _COMPARISON.match(question, start)
        if m is None or (start and question[start - 1].isalnum()):
            continue
        lead = (m["lead"] or "").lower() or None
        conn = m["conn"].lower().split()[0]
        allowed = _CONNECTORS.get(lead, ()) + _CONNECTORS[None]
        if conn not in allowed:
            continue
        words = m["rest"].split()
        for n in range(min(_MAX_SIDE_WORDS, len(words)), 0, -1):
            b_text = " ".join(words[:n]).rstrip(".,:")
            a = _side(_with_year(m["a"], b_text), today, "A")
            b = _side(_with_year(b_text, m["a"]), today, "B") if a else None
            if a and b:
                end = question.index(b_text, m.start("rest")) + len(b_text)
                return a, b, m.start(), end
    return None


def _subject(rest: str) -> str:
    rest = " ".join(rest.split())
    for pattern in _SUBJECT_PATTERNS:
        m = pattern.search(rest)
        if m and m["s"].strip():
            subject = m["s"]
            break
    else:
        subject, previous = rest, None
        while previous != subject:  # "How did ... change" left over around the subject
            previous, subject = subject, _FILLER.sub("", subject).strip(" ?.!,;:")
    return _SPEAKER.sub("", subject.strip(" ?.!,;:")).strip(" ?.!,;:")


def read_diff_question(question: str, today: datetime.date) -> DiffQuestion:
    """The subject and the two windows of a "what changed" question.

    Args:
        question: e.g. "How did the White House's description of X change between
            2022 and 2023?".
        today: the newest release date, for dates without a year.

    Returns:
        The subject ("X") and the windows (2022 as A, 2023 as B).

    Raises:
        QuestionError: no two windows in the question, or nothing left as a subject.
    """
    found = _windows(question, today)
    if found is None:
        raise QuestionError(
            f"no two date windows to compare in {question!r}: ask e.g. \"How did the "
            "description of X change between 2022 and 2023?\", or give them: "
            "rag diff SUBJECT --a 2022 --b 2023")
    a, b, start, end = found
    subject = _subject(question[:start] + " " + question[end:])
    if not re.search(r"\w", subject):
        raise QuestionError(f"no subject in {question!r}: say what to compare, e.g. "
                            "\"How did the description of NATO battle groups change "
                            "between 2022 and 2023?\"")
    return DiffQuestion(subject, a, b)
