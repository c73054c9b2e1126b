"""Dates written in a question, read as a window of release dates to filter on.

``find_date_window("What did the President announce in March 2022?", today)`` gives
``DateWindow(since=2022-03-01, until=2022-03-31, text="in March 2022")``;
``strip_date_expression`` then drops those words so they don't steer retrieval.

Choices, each one a place where English is ambiguous:

- A date without a year is the most recent one starting on or before ``today``
  ("in April", asked on 2022-03-31, is April 2021; "in March" is March 2022).
- Words that are often not dates need a preposition (in, on, during, since, ...):
  a bare month or season ("in March", not "march on Washington"), a bare year
  ("in 2022", not "2022 people" or "the 2022 Winter Olympics") and a month-day without
  a year ("on January 6", not "the January 6 attack"). "May" must be capitalised.
- "after X" starts the day after X, "before X" ends the day before X, "since X" and
  "X onward" are open-ended, "until/through X" include X; a lone "from X" means X
  ("releases from 2021"). Only the first date expression in the question is used.
- Early/mid/late of a month: days 1-10, 11-20, 21-end; of a year: Jan-Apr, May-Aug,
  Sep-Dec. Seasons are meteorological; "winter 2022" is Dec 2021 - Feb 2022, the
  winter that ends in 2022.
- "last week/month/year" is the calendar period before the current one (weeks start on
  Monday); "this week/month/year" runs to ``today``. "past N days", "last N weeks",
  "the past year" are rolling: the N units that end on ``today``.
"""

from __future__ import annotations

import calendar
import datetime
import re
from dataclasses import dataclass
from typing import Callable

from ..errors import QuestionError
from ..ingest.releases import format_day

_Span = tuple[datetime.date, datetime.date]
_ONE_DAY = datetime.timedelta(days=1)


@dataclass(frozen=True)
class DateWindow:
    """Release dates from ``since`` to ``until``, both inclusive; None leaves that side open.

    Attributes:
        since: First date in the window, or None for no lower bound.
        until: Last date in the window, or None for no upper bound.
        text: The words of the question it was read from, e.g. ``"in March 2022"``.
        attributive: read from a date with no preposition before it and a word after
            it ("the FBI's April 2016 memo"): it may date the thing named rather than
            the release.
        content: read from a date that says what a release covers ("visitor logs
            covering January 2021", "records generated in May"): such a release comes
            out then or later, so the window has no end, and its words stay in the
            question.

    Raises:
        QuestionError: ``since`` is after ``until``.
    """

    since: datetime.date | None
    until: datetime.date | None
    text: str
    attributive: bool = False
    content: bool = False

    def __post_init__(self) -> None:
        if self.since and self.until and self.since > self.until:
            raise QuestionError(f"date window starts ({self.since}) after it ends "
                                f"({self.until}): swap the two dates")

    def to_dict(self) -> dict[str, str | None]:
        """The JSON shape of ``date_window`` in ``rag ask --json`` and collections."""
        return {"since": self.since.isoformat() if self.since else None,
                "until": self.until.isoformat() if self.until else None,
                "text": self.text, "description": self.describe()}

    def describe(self) -> str:
        """Human-readable window, e.g. ``"March 1, 2022 – March 31, 2022"``."""
        if self.since and self.until:
            if self.since == self.until:
                return format_day(self.since)
            return f"{format_day(self.since)} – {format_day(self.until)}"
        if self.since:
            return f"since {format_day(self.since)}"
        if self.until:
            return f"until {format_day(self.until)}"
        return "any date"

    def contains(self, d: datetime.date) -> bool:
        """Whether a release dated ``d`` falls in the window."""
        return (self.since is None or self.since <= d) and (self.until is None or d <= self.until)


# --- Patterns --------------------------------------------------------------------------

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
# Full names and the usual abbreviations ("Feb.", "Sept"); the month number is found
# from the first three letters.
_MONTH = (r"(?P<mon>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|"
          r"aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\b\.?")
# 1-31 with an optional ordinal suffix; \b stops "20" being read out of "2022".
_DAY = r"(?P<day>3[01]|[12]\d|0?[1-9])(?:st|nd|rd|th)?\b"
# 1990-2099 only, and not money or a count: "$2022", "2022,000", "2022 people".
_YEAR = (r"(?<![$£€])(?P<year>199\d|20\d\d)\b(?![.,]\d)(?!\s*%)"
         r"(?!\s*(?:percent|hundred|thousand|million|billion|trillion|people|dollars)\b)")
_YEAR_AFTER = rf"\s*,?\s*(?:of\s+)?{_YEAR}"  # "March 2022", "March, 2022", "March of 2022"
# A bare month or season followed by "of" is a name, not a date: "the fall of Kabul".
_YEAR_OR_NOT_OF = rf"(?:{_YEAR_AFTER}|(?!\s+of\b))"
_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "1st": 1, "2nd": 2, "3rd": 3,
             "4th": 4}
_NUMBER_WORDS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
                 "ten", "eleven", "twelve")

# One written date each, tried in this order (more specific first, as the regex
# alternation takes the first alternative that matches, not the longest).
_KINDS = {
    "iso": r"(?P<year>199\d|20\d\d)-(?P<mnum>\d\d?)-(?P<day>\d\d?)\b",
    "us": r"(?P<mnum>\d\d?)/(?P<day>\d\d?)/(?P<year>199\d|20\d\d)\b",
    "month_day": rf"{_MONTH}\s*{_DAY}(?:{_YEAR_AFTER})?",
    "day_month": rf"{_DAY}\s+(?:of\s+)?{_MONTH}(?:{_YEAR_AFTER})?",
    "part_month": rf"(?P<part>early|mid|late)(?:-|\s+){_MONTH}(?:{_YEAR_AFTER})?",
    "part_year": rf"(?P<part>early|mid|late)(?:-|\s+){_YEAR}",
    "period": (r"(?:(?P<nth>first|second|third|fourth|1st|2nd|3rd|4th)\s+(?P<per>half|quarter)"
               rf"|(?P<letter>[hq])(?P<num>[1-4]))\s+(?:of\s+)?{_YEAR}"),
    "season": rf"(?P<season>spring|summer|fall|autumn|winter)\b{_YEAR_OR_NOT_OF}",
    "month": rf"{_MONTH}{_YEAR_OR_NOT_OF}",
    "relative": (r"(?P<word>yesterday|today)\b|(?P<which>this|last|past)\s+"
                 rf"(?:(?P<n>\d{{1,3}}|{'|'.join(_NUMBER_WORDS)})\s+)?"
                 r"(?P<unit>day|week|month|year)(?P<plural>s)?\b"),
    "year": rf"(?P<word>year\s+)?{_YEAR}",
    # Only as the end of a range that starts on a day: "March 1-15, 2022".
    "day_only": rf"{_DAY}(?:{_YEAR_AFTER})?",
}
_COMPILED = {kind: re.compile(p, re.IGNORECASE) for kind, p in _KINDS.items()}


def _unnamed(pattern: str) -> str:
    # The combined pattern holds each kind twice (start and end of a range), and a
    # group name may occur once: find spans with it, then re-read each side by kind.
    return re.sub(r"\(\?P<\w+>", "(?:", pattern)


_POINT = "|".join(f"(?:{_unnamed(p)})" for kind, p in _KINDS.items() if kind != "day_only")
_SAME = ("in", "on", "during", "throughout", "of", "over", "within")  # keep the window as is
_PREPS = "|".join(_SAME + ("from", "since", "after", "before", "until", "till", "through",
                           "thru", "between"))
_EXPRESSION = re.compile(
    rf"\b(?:(?P<prep>{_PREPS})\s+)?(?P<the>the\s+)?(?P<a>{_POINT})"
    r"(?:(?:\s+(?P<conn>and|to|until|till|through|thru)\s+|\s*(?P<dash>[-–—])\s*)"
    rf"(?P<b>{_POINT}|{_unnamed(_KINDS['day_only'])}))?"
    r"(?P<onward>\s+(?:onwards?|forward))?",
    re.IGNORECASE)


# --- Reading one date ------------------------------------------------------------------

@dataclass(frozen=True)
class _Point:
    year: int | None                   # None: not written, resolved against today
    span: Callable[[int], _Span]       # the dates it covers in a year; ValueError if none
    weak: bool = False                 # might be an ordinary word: needs a preposition
    month: int | None = None           # set for a single day, so "March 1-15" can reuse it


def _months(year: int, first: int, last: int) -> _Span:
    return (datetime.date(year, first, 1),
            datetime.date(year, last, calendar.monthrange(year, last)[1]))


def _shift(d: datetime.date, unit: str, n: int) -> datetime.date:
    if unit in ("day", "week"):
        return d + datetime.timedelta(days=n * (7 if unit == "week" else 1))
    y, m = divmod(d.year * 12 + d.month - 1 + n * (12 if unit == "year" else 1), 12)
    return datetime.date(y, m + 1, min(d.day, calendar.monthrange(y, m + 1)[1]))


def _period_start(d: datetime.date, unit: str) -> datetime.date:
    if unit == "week":
        return d - datetime.timedelta(days=d.weekday())
    return d.replace(day=1) if unit == "month" else d.replace(month=1, day=1)


def _relative(m: re.Match[str], today: datetime.date, has_the: bool) -> _Span | None:
    if m["word"]:
        d = today - _ONE_DAY if m["word"].lower() == "yesterday" else today
        return d, d
    which, unit, n = m["which"].lower(), m["unit"].lower(), m["n"]
    count = None if n is None else int(n) if n.isdigit() else _NUMBER_WORDS.index(n.lower()) + 1
    if (count is None and (m["plural"] or unit == "day")) or count == 0:
        return None                    # "the last days of the session", "this day"
    if which == "this":
        return None if count else (_period_start(today, unit), today)
    if which == "last" and count is None and not has_the:
        end = _period_start(today, unit) - _ONE_DAY
        return _period_start(end, unit), end
    return _shift(today, unit, -(count or 1)) + _ONE_DAY, today


def _parse_point(text: str, today: datetime.date, prep: str | None, has_the: bool,
                 day_month: int | None = None) -> _Point | None:
    """Read one date expression; None if it is not one (or not in this context)."""
    for kind, pattern in _COMPILED.items():
        m = pattern.fullmatch(text) if kind != "day_only" or day_month else None
        if m:
            break
    else:
        return None
    g = m.groupdict()
    year = int(g["year"]) if g.get("year") else None
    mon = g.get("mon")
    if mon and mon.lower() == "may" and not mon[0].isupper():
        return None                    # "the President may announce": the verb
    month = (_MONTHS.index(mon[:3].lower()) + 1 if mon
             else int(g["mnum"]) if g.get("mnum") else day_month)
    if kind in ("iso", "us", "month_day", "day_month", "day_only"):
        day = int(g["day"])
        return _Point(year, lambda y: (datetime.date(y, month, day),) * 2,
                      weak=year is None and kind != "day_only", month=month)
    if kind == "part_month":
        first, last = {"early": (1, 10), "mid": (11, 20), "late": (21, 31)}[g["part"].lower()]
        return _Point(year, lambda y: (datetime.date(y, month, first), datetime.date(
            y, month, min(last, calendar.monthrange(y, month)[1]))), weak=year is None)
    if kind == "part_year":
        first, last = {"early": (1, 4), "mid": (5, 8), "late": (9, 12)}[g["part"].lower()]
        return _Point(year, lambda y: _months(y, first, last))
    if kind == "period":
        n = int(g["num"]) if g["num"] else _ORDINALS[g["nth"].lower()]
        size = 6 if (g["per"] or g["letter"]).lower()[0] == "h" else 3
        if n * size > 12:
            return None                # "third half", "H3"
        return _Point(year, lambda y: _months(y, n * size - size + 1, n * size))
    if kind == "season":
        season = g["season"].lower()
        if season == "winter":         # the winter that ends in that year
            return _Point(year, lambda y: (datetime.date(y - 1, 12, 1), _months(y, 2, 2)[1]),
                          weak=year is None)
        first = {"spring": 3, "summer": 6, "fall": 9, "autumn": 9}[season]
        return _Point(year, lambda y: _months(y, first, first + 2), weak=year is None)
    if kind == "month":
        return _Point(year, lambda y: _months(y, month, month), weak=year is None)
    if kind == "relative":
        span = _relative(m, today, has_the)
        return None if span is None else _Point(today.year, lambda _y: span)
    # A bare year: "the 2022 budget" and "over 2022 applications" are not dates.
    if not g["word"] and (has_the or prep in ("over", "within")):
        return None
    return _Point(year, lambda y: _months(y, 1, 12), weak=not g["word"])


# --- From a matched expression to a window ---------------------------------------------

def _latest_year(point: _Point, today: datetime.date) -> int:
    for year in range(today.year, today.year - 8, -1):
        try:
            if point.span(year)[0] <= today:
                return year
        except ValueError:             # February 29 in a common year: try an earlier one
            continue
    raise ValueError("no such date in recent years")


def _range(a: _Point, b: _Point, today: datetime.date) -> _Span:
    # A side without a year borrows the other side's, stepping a year so that the range
    # runs forward: "between November and February 2022" starts in November 2021.
    ya, yb = a.year, b.year
    if ya is None and yb is None:
        yb = _latest_year(b, today)
    if yb is None:
        yb = ya + (b.span(ya)[1] < a.span(ya)[0])
    if ya is None:
        ya = yb - (a.span(yb)[0] > b.span(yb)[1])
    since, until = a.span(ya)[0], b.span(yb)[1]
    if since > until:
        raise ValueError("the range ends before it starts")
    return since, until


# Words before a date that make it the date of what a release covers, not of the release:
# "covering the final days of January 2021", "records generated in May 2022", "data for
# the first quarter of 2023".
_CONTENT_BEFORE = re.compile(
    r"\b(?:covering|covered|covers|spanning|generated|recorded|collected|"
    r"(?:records?|logs?|data|figures|statistics|numbers)\s+(?:from|for|of))"
    r"(?:\s+(?:the|its|their|a|an))?(?:\s+[\w-]+){0,3}?\s*$", re.IGNORECASE)


def _joins(prep: str | None, conn: str) -> bool:
    # "between X and Y", "in March and April 2022", "from X to Y", "January-March 2022".
    if conn.lower() == "and":
        return prep in _SAME + ("between",)
    return prep is None or prep in _SAME + ("between", "from")


def _window(m: re.Match[str], question: str, today: datetime.date) -> DateWindow | None:
    prep = m["prep"].lower() if m["prep"] else None
    a = _parse_point(m["a"], today, prep, bool(m["the"]))
    if a is None:
        return None
    end, span = m.end("a"), None
    if m["b"] and _joins(prep, m["conn"] or m["dash"]):
        b = _parse_point(m["b"], today, None, False, day_month=a.month)
        if b is not None:
            if prep is None and a.weak and b.weak:
                return None            # "2021-2022", "march to June": no anchor at all
            span, end = _range(a, b, today), m.end("b")
    if span is None:
        if prep == "between" or (a.weak and prep is None):
            return None
        span = a.span(a.year if a.year is not None else _latest_year(a, today))
    since, until = span
    if m["onward"] and m.start("onward") == end:
        until, end = None, m.end("onward")
    # From the span itself: "after spring onward" has already dropped its end.
    if prep == "after":
        since, until = span[1] + _ONE_DAY, None
    elif prep == "before":
        since, until = None, span[0] - _ONE_DAY
    elif prep == "since":
        until = None
    elif prep in ("until", "till", "through", "thru"):
        since = None
    content = bool(_CONTENT_BEFORE.search(question, 0, m.start()))
    if content:
        until = None
    # Without a preposition a leading "the" stays in the question: "the summer 2021 agenda".
    return DateWindow(since, until, question[m.start() if prep else m.start("a"):end],
                      attributive=prep is None and re.match(r"\s+[a-z]", question[end:],
                                                            re.IGNORECASE) is not None,
                      content=content)


def find_date_window(question: str, today: datetime.date) -> DateWindow | None:
    """Find the first date expression in a question and read it as a window.

    Args:
        question: The user's question, in any letter case.
        today: Reference for relative and year-less dates: the newest release date
            in the index.

    Returns:
        The window of the first expression that reads as a valid date, or None if
        there is none. An impossible date ("February 30, 2022") is skipped, not raised.
    """
    for m in _EXPRESSION.finditer(question):
        try:
            window = _window(m, question, today)
        except ValueError:             # an impossible date: not a window
            window = None
        if window is not None:
            return window
    return None


def strip_date_expression(question: str, window: DateWindow) -> str:
    """The question without the window's words, so they don't steer retrieval.

    Args:
        question: The question the window was read from.
        window: A window from ``find_date_window(question, ...)``.

    Returns:
        E.g. ``"What did the President announce?"`` for ``"What did the President
        announce in March 2022?"``. The question unchanged if the words are not in it
        or nothing but the date would be left.
    """
    at = question.find(window.text) if window.text else -1
    if at < 0:
        return question
    rest = question[:at] + " " + question[at + len(window.text):]
    rest = re.sub(r"\(\s*\)", " ", rest)                # "(in March 2022)" left "()"
    rest = re.sub(r"\s+([?.!,;:])", r"\1", rest)        # "announce ?" -> "announce?"
    rest = re.sub(r",\s*,", " ", rest)                  # "What, in 2021, did" -> "What did"
    rest = re.sub(r",+(?=[?.!;:]|\s*$)", "", rest)      # "happened, ?" -> "happened?"
    rest = " ".join(rest.split()).lstrip(",;: ")
    if not re.search(r"\w", rest):
        return question
    return rest[:1].upper() + rest[1:] if question[:1].isupper() else rest
