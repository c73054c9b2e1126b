"""What kind of answer a question asks for, and whether a sentence holds one.

"Who headed the delegation?" wants a person's name; "How much money ...?" an amount;
"When ...?" a date. A sentence that merely restates the question ("the President
announced a delegation") holds no such thing, and should not be quoted as the answer.
Checking this is what lets the answer skip topic sentences, and abstain when the
releases discuss the subject but never give the figure or name asked for.
"""

from __future__ import annotations

import re

_MONTHS = ("january|february|march|april|may|june|july|august|september|october|november|"
           "december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec")
_NUMBER_WORDS = ("one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|"
                 "fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|"
                 "fifty|sixty|seventy|eighty|ninety|hundred|thousand|million|billion|"
                 "trillion|dozen|dozens|hundreds|thousands|millions|billions|half|double|"
                 "triple|several")
_PEOPLE = ("senator|senators|official|officials|americans|american|nominee|nominees|leader|"
           "leaders|ambassador|secretary|person|people|members|member|governor|judge|justice|"
           "advisor|adviser|advisors|advisers|president|minister|director|individuals|"
           "candidate|appointee|appointees|chair|co-chairs|spokesperson|envoy")

# (type, question pattern). The first match wins, so specific forms come first.
_QUESTION_TYPES = [
    ("money", re.compile(r"\bhow much (?:money|funding|aid|assistance|\w+ )?(?:did|will|is|was|"
                         r"would|has|have|does)?\b.*\b(?:cost|pay|paid|spend|fund|provide|"
                         r"give|commit|invest|worth|dollars?)\b|\bhow much money\b|"
                         r"\b(?:dollar|dollars)\b.*\b(?:size|amount|total|value)\b|"
                         r"\b(?:size|amount|total|value)\b.*\bdollars?\b", re.I)),
    ("percent", re.compile(r"\b(?:what|which) (?:share|percentage|percent|proportion|"
                           r"fraction|portion)\b|\bwhat (?:[\w-]+ ){0,3}rate\b|"
                           r"\bby what (?:percent|percentage)\b", re.I)),
    # A vote is told as a tally ("53-47", "50 to 49"), not as any number.
    ("tally", re.compile(r"\bvotes? (?:count|tally|total|margin)\b|\bfinal vote\b|"
                         r"\bhow many votes\b|\bby what (?:vote|margin)\b", re.I)),
    ("number", re.compile(r"\bhow many\b|\bhow much\b|\bwhat number\b|\bhow far\b|"
                          r"\bhow long\b|\bhow large\b|\bhow big\b", re.I)),
    ("date", re.compile(r"^\s*when\b|\b(?:what|which) (?:date|day|month|year)(?![-\w])|"
                        r"\bwhen (?:and where|did|will|was|is|does|do|were)\b", re.I)),
    ("person", re.compile(rf"^\s*(?:who|whom|whose)\b|\bwho (?:is|was|will|were|are|has|"
                          rf"had|did|co-?chairs?|heads?|headed|leads?|led|replaced|joined)\b|"
                          # "which former senator", not "what did the President say"
                          rf"\b(?:which|what) (?:(?!did|does|do|was|is|were|has|have|had|"
                          rf"will|would|can)\w+ ){{0,3}}(?:{_PEOPLE})\b", re.I)),
    ("name", re.compile(r"\bwhat is the name\b|\bwhat (?:was|is) (?:it|the \w+) called\b|"
                        r"\bname of the\b", re.I)),
]

_MONEY_RE = re.compile(r"\$\s?\d|\b\d[\d,.]*\s*(?:million|billion|trillion)?\s*(?:dollars|cents)\b|"
                       r"\b(?:million|billion|trillion) dollars\b", re.I)
_PERCENT_RE = re.compile(r"\d\s?(?:%|percent\b|per cent\b|percentage points?\b)|"
                         r"\b(?:half|one-third|two-thirds|one-quarter|third|quarter|fifth|"
                         r"majority)\b|\bone in \w+\b", re.I)
_TALLY_RE = re.compile(r"\b\d{1,3}\s*(?:-|–|—|to)\s*\d{1,3}\b(?!\s*(?:percent|%|years?|months?))",
                       re.I)
_NUMBER_RE = re.compile(rf"\d|\b(?:{_NUMBER_WORDS})\b", re.I)
_DATE_RE = re.compile(rf"\b(?:{_MONTHS})\.?\s+\d{{1,2}}\b|\b(?:19|20)\d\d\b|"
                      r"\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|today|"
                      r"tonight|yesterday|tomorrow|this week|last week|next week)\b|"
                      r"\b\d{1,2}/\d{1,2}\b", re.I)
_NAME_RE = re.compile(r"\b[A-Z][\w’'.-]*(?:\s+(?:[A-Z]\.|of|the|and|for|in|on|de|la|[A-Z][\w’'.-]*))*"
                      r"\s+[A-Z][\w’'-]*")
# Names on almost every page: the President's and the Vice President's own, and titles.
_COMMON_NAME_WORDS = frozenset(
    "president vice joseph joe biden jr harris kamala white house administration united "
    "states america american the his her their today this we our".split())


def expected_type(question: str) -> str | None:
    """The kind of answer the question asks for: money, percent, tally (of votes),
    number, date, person, name, or None when it does not say."""
    for kind, pattern in _QUESTION_TYPES:
        if pattern.search(question):
            return kind
    return None


def _new_names(sentence: str, question: str) -> list[str]:
    asked = set(re.findall(r"\w+", question.lower()))
    names = []
    for match in _NAME_RE.finditer(sentence):
        words = [w.lower().strip(".’'") for w in re.findall(r"[\w’'.-]+", match.group(0))]
        content = [w for w in words if w not in _COMMON_NAME_WORDS and len(w) > 1
                   and w not in ("of", "and", "for", "in", "on", "de", "la")]
        if content and not all(w in asked for w in content):
            names.append(match.group(0))
    return names


def holds_answer(sentence: str, kind: str | None, question: str) -> bool:
    """Whether the sentence contains something of the kind asked for that the question
    itself does not already say. With no kind asked for, every sentence qualifies."""
    if kind is None:
        return True
    if kind == "money":
        return bool(_MONEY_RE.search(sentence))
    if kind == "percent":
        return bool(_PERCENT_RE.search(sentence))
    if kind == "tally":
        return bool(_TALLY_RE.search(sentence))
    if kind == "number":
        asked = set(_NUMBER_RE.findall(question.lower()))
        return any(n.lower() not in asked for n in _NUMBER_RE.findall(sentence))
    if kind == "date":
        return bool(_DATE_RE.search(sentence))
    return bool(_new_names(sentence, question))
