"""The checkable facts of a sentence (numbers, dates, names) and whether a quote holds them.

A fact is compared in a normal form, so "$1.2 billion" matches "$1,200 million", "30%"
matches "30 percent", "March 24" matches "24 March", and names ignore case, spacing,
dots and a possessive "'s".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

_MONTHS = {name: i + 1 for i, name in enumerate(
    "january february march april may june july august september october november "
    "december".split())}
_MONTH_ABBREVIATIONS = {name[:3]: n for name, n in _MONTHS.items()} | {"sept": 9}
_MONTH_WORD = (r"(?:January|February|March|April|May|June|July|August|September|October|"
               r"November|December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)\.?")
_DAY = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"
_YEAR = r"(?:1[89]\d\d|20\d\d|21\d\d)"
# Month names are facts only when capitalised; "May" only next to a day or a year
# (otherwise it is the verb).
_DATE_RE = re.compile(
    rf"\b(?P<m1>{_MONTH_WORD})\s+(?P<d1>{_DAY})\b(?:,?\s+(?P<y1>{_YEAR})\b)?"
    rf"|\b(?P<d2>{_DAY})\s+(?P<m2>{_MONTH_WORD})(?:,?\s+(?P<y2>{_YEAR})\b)?"
    rf"|\b(?P<m3>{_MONTH_WORD})(?:,?\s+(?P<y3>{_YEAR})\b)"
    rf"|\b(?P<m4>(?!May\b){_MONTH_WORD})(?![\w.])")

# "one" is left out: "one of the ..." is seldom a figure, and flagging it drops good sentences.
_WORD_VALUES = {w: i + 2 for i, w in enumerate(
    "two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen twenty".split())}
_TENS = {w: 10 * (i + 3) for i, w in enumerate("thirty forty fifty sixty seventy eighty ninety"
                                               .split())} | {"twenty": 20}
_UNITS = {w: i + 1 for i, w in enumerate("one two three four five six seven eight nine".split())}
_NUMBER_WORD = (rf"(?:(?:{'|'.join(_TENS)})(?:-(?:{'|'.join(_UNITS)}))?|"
                rf"{'|'.join(sorted(_WORD_VALUES, key=len, reverse=True))})")
_SCALES = {"thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12}
_NUMBER_RE = re.compile(
    r"(?P<money>\$\s?)?"
    r"(?:(?<![\w.,])(?P<digits>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
    rf"|\b(?P<word>{_NUMBER_WORD})\b)"
    r"(?:st|nd|rd|th)?"
    r"(?:\s*(?P<scale>thousand|million|billion|trillion)\b)?"
    r"(?:\s*(?P<unit>%|percent\b|per cent\b|dollars\b))?", re.IGNORECASE)

_WORD_RE = re.compile(r"[A-Za-z0-9][\w’'.&-]*")
_CONNECTORS = frozenset("of the and for de la del von van".split())
# Capitalised words that carry no fact of their own.
_NOT_NAMES = frozenset({"i", "i'm", "i've", "i'd", "i'll"})


@dataclass(frozen=True)
class Fact:
    """A number, date or name as written (``text``) and in normal form (``key``).

    ``kind`` is number, year, date or name; ``key`` is (value, unit) for numbers and
    years, (month, day or 0) for dates, and the normalised words for names.
    """

    kind: str
    text: str
    key: tuple


@dataclass(frozen=True)
class Evidence:
    """What a quote holds, in the facts' normal forms."""

    numbers: frozenset[tuple[Decimal, str]]
    dates: frozenset[tuple[int, int]]
    words: frozenset[str]

    def holds(self, fact: Fact) -> bool:
        """Whether the fact appears in this quote."""
        if fact.kind in ("number", "year"):
            value, unit = fact.key
            return (value, unit) in self.numbers or (
                not unit and any(v == value for v, _ in self.numbers))
        if fact.kind == "date":
            month, day = fact.key
            return (month, day) in self.dates if day else any(m == month for m, _ in self.dates)
        return all(_has_word(self.words, w) for w in fact.key)


def _has_word(words: frozenset[str], word: str) -> bool:
    # A plural or singular form counts: "Americans" supports "American".
    return word in words or word + "s" in words or (word.endswith("s") and word[:-1] in words)


def _month(text: str) -> int:
    word = text.lower().rstrip(".")
    return _MONTHS.get(word) or _MONTH_ABBREVIATIONS[word[:4] if word == "sept" else word[:3]]


def _day(text: str) -> int:
    return int(re.match(r"\d+", text).group(0))


def _dates(text: str) -> tuple[list[Fact], str]:
    """Date facts (and their years) in ``text``, and the text with those dates blanked."""
    facts = []
    for match in _DATE_RE.finditer(text):
        g = match.groupdict()
        month = g["m1"] or g["m2"] or g["m3"] or g["m4"]
        day = g["d1"] or g["d2"]
        year = g["y1"] or g["y2"] or g["y3"]
        shown = f"{month.rstrip('.')} {_day(day)}" if day else month.rstrip(".")
        facts.append(Fact("date", shown, (_month(month), _day(day) if day else 0)))
        if year:
            facts.append(Fact("year", year, (Decimal(year), "")))
    return facts, _DATE_RE.sub(lambda m: " " * len(m.group(0)), text)


def _number_value(match: re.Match[str]) -> Decimal | None:
    if match.group("digits"):
        try:
            value = Decimal(match.group("digits").replace(",", ""))
        except InvalidOperation:
            return None
    else:
        word = match.group("word").lower()
        tens, _, unit = word.partition("-")
        value = Decimal(_TENS.get(tens, 0) + _UNITS.get(unit, 0) if unit
                        else _WORD_VALUES.get(word) or _TENS[word])
    if match.group("scale"):
        value *= _SCALES[match.group("scale").lower()]
    return value


def _numbers(text: str) -> list[Fact]:
    facts = []
    for match in _NUMBER_RE.finditer(text):
        value = _number_value(match)
        if value is None:
            continue
        unit_word = (match.group("unit") or "").lower()
        unit = "%" if unit_word in ("%", "percent", "per cent") else (
            "$" if match.group("money") or unit_word == "dollars" else "")
        shown = " ".join(match.group(0).split())
        kind = "year" if (not unit and match.group("digits") and re.fullmatch(_YEAR, shown)) \
            else "number"
        facts.append(Fact(kind, shown, (value, unit)))
    return facts


def normal_word(word: str) -> str:
    """A word as names are compared: lower case, no dots, no possessive 's."""
    word = word.replace("’", "'").lower()
    word = re.sub(r"'s$|'$", "", word)
    return word.replace(".", "")


def _strip_dot(token: str) -> str:
    # A sentence's full stop is not part of its last word, but the dots of "U.S." are.
    return token if re.fullmatch(r"(?:[A-Za-z]\.)+", token) else token.rstrip(".")


def _names(text: str) -> list[Fact]:
    """Runs of capitalised words and acronyms, less a capital that only opens the sentence."""
    facts, run = [], []

    def close() -> None:
        while run and run[-1].lower() in _CONNECTORS:
            run.pop()
        words = [normal_word(w) for w in run if w.lower() not in _CONNECTORS]
        words = [w for w in words if w and w not in _NOT_NAMES and len(w) > 1]
        if words:
            facts.append(Fact("name", " ".join(run), tuple(words)))
        run.clear()

    last_end = 0
    for i, match in enumerate(_WORD_RE.finditer(text)):
        token = _strip_dot(match.group(0))
        if text[last_end:match.start()].strip() or match.start() - last_end > 2:
            close()  # a name does not run over punctuation or a blanked-out date
        last_end = match.end()
        capital = token[0].isupper()
        acronym = sum(c.isupper() for c in token) >= 2
        if i == 0 and capital and not acronym:
            continue  # capitalised because it opens the sentence
        if capital:
            run.append(token)
        elif run and token.lower() in _CONNECTORS and run[-1].lower() not in _CONNECTORS:
            run.append(token)
        else:
            close()
    close()
    return facts


def facts_of(sentence: str) -> list[Fact]:
    """The numbers, years, dates and names in a sentence (citation markers removed)."""
    dates, rest = _dates(sentence)
    return dates + _numbers(rest) + _names(rest)


def evidence_of(text: str) -> Evidence:
    """What a quote's text (with its title and date) holds, for :meth:`Evidence.holds`."""
    dates, rest = _dates(text)
    numbers = [f for f in dates if f.kind == "year"] + _numbers(rest)
    words = set()
    for token in _WORD_RE.findall(text):
        word = normal_word(_strip_dot(token))
        words.add(word)
        words.update(p for p in re.split(r"[-&]", word) if p)
    return Evidence(numbers=frozenset(f.key for f in numbers),
                    dates=frozenset(f.key for f in dates if f.kind == "date"),
                    words=frozenset(words))
