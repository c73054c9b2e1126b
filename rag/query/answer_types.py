"""What kind of answer a question asks for, and whether a sentence holds one.

"Who headed the delegation?" wants a person's name; "How much money ...?" an amount;
"When ...?" a date. A sentence that merely restates the question ("the President
announced a delegation") holds no such thing, and should not be quoted as the answer.
Checking this is what lets the answer skip topic sentences, and abstain when the
releases discuss the subject but never give the figure or name asked for.
"""

from __future__ import annotations

import re
from functools import lru_cache

from ..index.lexical import analyse

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
           "candidate|appointee|appointees|chair|co-chairs|spokesperson|envoy|"
           # roles held by people: "which Korean War veteran", "which head of state"
           "veteran|veterans|recipient|recipients|honoree|honorees|winner|winners|head|"
           "heads|chief|chiefs|officer|officers|commander|commanders|lawmaker|lawmakers")

_ORGANIZATIONS = ("agency|agencies|department|departments|office|offices|organization|"
                  "organizations|organisation|company|companies|firm|firms|bureau|commission|"
                  "council|institution|institutions|group|groups|union|unions|bank|banks|"
                  "university|universities|committee|board|service")
_PLACES = ("country|countries|nation|nations|state|states|city|cities|county|counties|"
           "territory|territories|region|regions|place|places|ally|allies|island|islands")
_LAWS = ("law|laws|act|acts|bill|bills|program|programs|programme|initiative|initiatives|"
         "executive order|order|orders|plan|plans|report|strategy|framework|fund|partnership|"
         "treaty|agreement|award|awards|prize|honor|honors|honour|honours|medal|medals|"
         "decoration|decorations|campaign|project|system|systems|weapon|weapons")

# (type, question pattern). The first match wins, so specific forms come first.
_QUESTION_TYPES = [
    ("money", re.compile(r"\bhow much (?:money|funding|aid|assistance|\w+ )?(?:did|will|is|was|"
                         r"would|has|have|does)?\b.*\b(?:cost|pay|paid|spend|fund|provide|"
                         r"give|commit|invest|worth|dollars?)\b|"
                         # "how much prize money", "what was the projected construction cost"
                         r"\bhow much (?:[\w-]+ ){0,2}(?:money|funding|financing)\b|"
                         r"\b(?:what|which) (?:was|is|were|are|will be) the (?:[\w-]+ ){0,3}"
                         r"(?:cost|price|budget|funding)\b|"
                         r"\b(?:dollar|dollars)\b.*\b(?:size|amount|total|value)\b|"
                         r"\b(?:size|amount|total|value)\b.*\bdollars?\b", re.I)),
    ("percent", re.compile(r"\b(?:what|which) (?:share|percentage|percent|proportion|"
                           r"fraction|portion)\b|\bwhat (?:[\w-]+ ){0,3}rate\b|"
                           r"\bby what (?:percent|percentage)\b", re.I)),
    # A vote is told as a tally ("53-47", "50 to 49"), not as any number.
    ("tally", re.compile(r"\bvotes? (?:count|tally|total|margin)\b|\bfinal vote\b|"
                         r"\bhow many votes\b|\bby what (?:vote|margin)\b", re.I)),
    ("number", re.compile(r"\bhow many\b|\bhow much\b|\bwhat number\b|\bhow far\b|"
                          r"\bhow long\b|\bhow large\b|\bhow big\b|"
                          # "what career home run total", "what was the new cap"
                          r"\b(?:what|which) (?:(?!did|does|do|was|is|were|has|have|had|will|"
                          r"would|can)[\w-]+ ){0,4}(?:total|number|count|figure|amount|sum|"
                          r"cap|ceiling|price|cost|tally)\b|\bwhat (?:was|is|were) the (?:[\w-]+ )"
                          r"{0,3}(?:total|number|count|figure|amount|sum|cap|ceiling|price|cost)\b",
                          re.I)),
    ("date", re.compile(r"^\s*when\b|\b(?:what|which) (?:(?:two|three|four|five|\d+) )?"
                        r"(?:date|day|month|year)s?(?![-\w])|"
                        r"\bwhen (?:and where|did|will|was|is|does|do|were)\b", re.I)),
    ("person", re.compile(rf"^\s*(?:who|whom|whose)\b|\bwho (?:is|was|will|were|are|has|"
                          rf"had|did|co-?chairs?|heads?|headed|leads?|led|replaced|joined)\b|"
                          # "which former senator", not "what did the President say"
                          rf"\b(?:which|what) (?:(?!did|does|do|was|is|were|has|have|had|"
                          rf"will|would|can)\w+ ){{0,3}}(?:{_PEOPLE})\b", re.I)),
    ("name", re.compile(r"\bwhat is the name\b|\bwhat (?:was|is) (?:it|the \w+) called\b|"
                        r"\bname of the\b|\bwhat (?:was|is|were|are) (?:\w+ ){0,4}called\b", re.I)),
    ("organization", re.compile(rf"\b(?:which|what) (?:(?!did|does|do|was|is|were|has|have|had|"
                                rf"will|would|can)[\w-]+ ){{0,3}}(?:{_ORGANIZATIONS})\b", re.I)),
    ("place", re.compile(rf"\b(?:which|what) (?:(?!did|does|do|was|is|were|has|have|had|"
                         rf"will|would|can)[\w-]+ ){{0,3}}(?:{_PLACES})\b|^\s*where\b", re.I)),
    ("law", re.compile(rf"\b(?:which|what) (?:(?!did|does|do|was|is|were|has|have|had|"
                       rf"will|would|can)[\w-]+ ){{0,3}}(?:{_LAWS})\b", re.I)),
]

_MONEY_RE = re.compile(r"\$\s?\d|\b\d[\d,.]*\s*(?:million|billion|trillion)?\s*(?:dollars|cents)\b|"
                       r"\b(?:million|billion|trillion) dollars\b", re.I)
_PERCENT_RE = re.compile(r"\d\s?(?:%|percent\b|per cent\b|percentage points?\b)|"
                         r"\b(?:half|one-third|two-thirds|one-quarter|third|quarter|fifth|"
                         r"majority)\b|\bone in \w+\b", re.I)
_TALLY_RE = re.compile(r"\b\d{1,3}\s*(?:-|–|—|to)\s*\d{1,3}\b(?!\s*(?:percent|%|years?|months?))",
                       re.I)
_NUMBER_RE = re.compile(rf"\d|\b(?:{_NUMBER_WORDS})\b", re.I)
# Whole figures, for showing the span: "$1.2 billion", "more than 4,000", "117".
_MONEY_SPAN_RE = re.compile(r"\$\s?\d[\d,.]*(?:\s*(?:million|billion|trillion))?|"
                            r"\b\d[\d,.]*\s*(?:million|billion|trillion)?\s*(?:dollars|cents)\b|"
                            r"\b(?:million|billion|trillion) dollars\b", re.I)
_NUMBER_SPAN_RE = re.compile(rf"\$?\d[\d,.]*(?:\s*(?:%|percent|million|billion|trillion|"
                             rf"thousand|hundred))?|\b(?:{_NUMBER_WORDS})(?:[ -](?:{_NUMBER_WORDS}))*\b",
                             re.I)
_DATE_RE = re.compile(rf"\b(?:{_MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?\b|\b(?:19|20)\d\d\b|"
                      r"\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|today|"
                      r"tonight|yesterday|tomorrow|this week|last week|next week)\b|"
                      r"\b\d{1,2}/\d{1,2}\b", re.I)
_NAME_RE = re.compile(r"\b[A-Z][\w’'.-]*(?:\s+(?:[A-Z]\.|of|the|and|for|in|on|de|la|[A-Z][\w’'.-]*))*"
                      r"\s+[A-Z][\w’'-]*")
# Names on almost every page: the President's and the Vice President's own, and titles.
_COMMON_NAME_WORDS = frozenset(
    "president vice joseph joe biden jr harris kamala white house administration united "
    "states america american the his her their today this we our".split())


# A question that opens with a clause setting the scene ("When he signed the Act, what
# term did he use?", "In his tribute to X, what total did he cite?") asks its question
# after the comma: the opening "When" asks for no date.
_SCENE_RE = re.compile(r"^\s*(?:when|after|before|while|as|in|on|during|at|since|with)\b[^,?]*,"
                       r"\s*(?=(?:and\s+)?(?:what|which|who|whom|whose|how|when|where|did|does|"
                       r"do|is|was|were)\b)", re.IGNORECASE)


def main_clause(question: str) -> str:
    """The part of the question that asks: after an opening scene-setting clause."""
    match = _SCENE_RE.match(question)
    return question[match.end():] if match else question


def expected_type(question: str) -> str | None:
    """The kind of answer the question asks for: money, percent, tally (of votes),
    number, date, person, name, organization, place, law (a law, programme or other
    named thing), or None when it does not say. An opening clause that sets the scene
    ("When Biden raised the ceiling, what was the new cap?") is not read for the kind."""
    asking = main_clause(question)
    for kind, pattern in _QUESTION_TYPES:
        if pattern.search(asking):
            return kind
    return None


_ACRONYM_RE = re.compile(r"\b[A-Z][A-Z&.-]{1,7}[A-Z]\b|\b[A-Z]{2}\b")
# A capitalised word alone, not at the start of the sentence: "Slovakia", "Collins".
_WORD_NAME_RE = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z’'-]{2,}\b")
# Capitalised, but neither a place nor a person: "the summit in June", "on Monday".
_CALENDAR_WORDS = frozenset("january february march april may june july august september "
                            "october november december monday tuesday wednesday thursday "
                            "friday saturday sunday".split())


def _asked_words(question: str) -> set[str]:
    return {w.strip(".’'") for w in re.findall(r"[\w’'.-]+", question.lower())}


def _is_new(text: str, asked: set[str]) -> bool:
    words = [w.lower().strip(".’'") for w in re.findall(r"[\w’'.-]+", text)]
    content = [w for w in words if w not in _COMMON_NAME_WORDS and len(w) > 1
               and w not in ("of", "and", "for", "in", "on", "de", "la")]
    return bool(content) and not all(w in asked for w in content)


def _new_name_spans(sentence: str, question: str) -> list[tuple[int, int]]:
    """Spans of proper-name phrases (two or more capitalised words) the question does not
    already name."""
    asked = _asked_words(question)
    return [m.span() for m in _NAME_RE.finditer(sentence) if _is_new(m.group(0), asked)]


def _new_names(sentence: str, question: str) -> list[str]:
    return [sentence[s:e] for s, e in _new_name_spans(sentence, question)]


def _figure_spans(sentence: str, question: str) -> list[tuple[int, int]]:
    """The whole figures of the sentence ("more than 4,000", "117") that the question
    does not itself give."""
    asked = {n.lower() for n in _NUMBER_RE.findall(question)}
    return _merge([m.span() for m in _NUMBER_SPAN_RE.finditer(sentence)
                   if not {n.lower() for n in _NUMBER_RE.findall(m.group(0))} <= asked])


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


# A transcript's speaker label: "SENIOR ADMINISTRATION OFFICIAL:", "MS. PSAKI:", "Q".
_SPEAKER_RE = re.compile(r"^\s*(?:[A-Z][A-Z.’'-]*(?:\s+[A-Z][A-Z.’'-]*)*:|Q\b)")


def _speaker_end(sentence: str) -> int:
    """Where the sentence's words begin after its speaker label (0 without one): who
    speaks is not what the sentence says, and "SENIOR ADMINISTRATION OFFICIAL" names no
    one."""
    match = _SPEAKER_RE.match(sentence)
    if not match:
        return 0
    rest = sentence[match.end():]
    return match.end() + len(rest) - len(rest.lstrip())


def answer_spans(sentence: str, kind: str | None, question: str) -> list[tuple[int, int]]:
    """Where in the sentence the things of the kind asked for stand (character spans),
    leaving out what the question itself already says: the figure for "how much", the
    names for "who", the countries for "which countries". Empty when the sentence holds
    none, and for a question that asks for no particular kind. A transcript's speaker
    label is not read."""
    if kind is None:
        return []
    said = _speaker_end(sentence)
    if said:
        return [(said + s, said + e) for s, e in answer_spans(sentence[said:], kind, question)]
    if kind in ("money", "percent", "tally", "date"):
        pattern = {"money": _MONEY_SPAN_RE, "percent": _PERCENT_RE, "tally": _TALLY_RE,
                   "date": _DATE_RE}[kind]
        return _merge([m.span() for m in pattern.finditer(sentence)])
    if kind == "number":
        spans = _figure_spans(sentence, question)
        counted = counted_terms(question)
        # "How many toys ...": the figure that counts toys, where one does.
        return (_counting_spans(sentence, spans, counted) or spans) if counted else spans
    asked = _asked_words(question)
    spans = _new_name_spans(sentence, question)
    if kind in ("place", "law", "organization", "name"):
        spans += [m.span() for m in _ACRONYM_RE.finditer(sentence)
                  if m.group(0).lower().strip(".") not in asked]
    if kind in ("place", "person", "organization"):
        # Single capitalised words: countries ("Slovakia, Romania"), surnames, banks.
        spans += [m.span() for m in _WORD_NAME_RE.finditer(sentence)
                  if _is_new(m.group(0), asked) and m.group(0).lower() not in _CALENDAR_WORDS]
    return _merge(spans)


# "How many toys did he say ...": what is counted is the words after "how many", up to
# the verb or preposition that ends the noun phrase ("how many members of the House").
_PHRASE_ENDS = ("did|does|do|was|were|is|are|has|have|had|been|will|would|could|can|of|in|"
                "on|at|for|from|to|with|by|that|which|who|under|during|across")
_HOW_MANY_RE = re.compile(rf"\bhow many\s+(?!(?:{_PHRASE_ENDS})\b)"
                          rf"((?:[\w’'-]+\s+){{0,4}}?[\w’'-]+?)"
                          rf"(?=\s+(?:{_PHRASE_ENDS})\b|\s*[?,;]|\s*$)", re.I)
# No such word after it ("how many Christmas trees decorated ..."): its first two words.
_HOW_MANY_SHORT_RE = re.compile(rf"\bhow many\s+(?!(?:{_PHRASE_ENDS})\b)"
                                r"([\w’'-]+(?:\s+[\w’'-]+)?)", re.I)
_COUNT_NEAR = 4  # words from a figure to the thing it counts ("22 million new toys")
_YEAR_RE = re.compile(r"(?:19|20)\d\d")


@lru_cache(maxsize=256)
def counted_terms(question: str) -> frozenset[str]:
    """The analysed terms of what a "how many ..." question counts ("how many members
    of the House voted" -> {"member"}); empty for any other question, and for one whose
    noun is elided ("how many were delivered?")."""
    asking = main_clause(question)
    match = _HOW_MANY_RE.search(asking) or _HOW_MANY_SHORT_RE.search(asking)
    return frozenset(analyse(match.group(1))) if match else frozenset()


def _counts(sentence: str, start: int, counted: frozenset[str]) -> bool:
    """Whether one of ``counted`` stands within _COUNT_NEAR words after ``start``."""
    following = re.findall(r"[\w’'-]+", sentence[start:])[:_COUNT_NEAR]
    return bool(counted.intersection(analyse(" ".join(following))))


def _counting_spans(sentence: str, spans: list[tuple[int, int]], counted: frozenset[str]
                    ) -> list[tuple[int, int]]:
    """The figures among ``spans`` that count the thing asked for: "83 Christmas trees"
    and "316 deployments" do, "millions of couples" does not count members; a year
    counts nothing."""
    return [(s, e) for s, e in spans
            if not _YEAR_RE.fullmatch(sentence[s:e].strip(" ,.")) and _counts(sentence, e, counted)]


def holds_answer(sentence: str, kind: str | None, question: str) -> bool:
    """Whether the sentence contains something of the kind asked for that the question
    itself does not already say. With no kind asked for, every sentence qualifies. A
    transcript's speaker label is not read."""
    if kind is None:
        return True
    sentence = sentence[_speaker_end(sentence):]
    if kind in ("organization", "place", "law"):
        return bool(answer_spans(sentence, kind, question))
    if kind == "money":
        return bool(_MONEY_RE.search(sentence))
    if kind == "percent":
        return bool(_PERCENT_RE.search(sentence))
    if kind == "tally":
        return bool(_TALLY_RE.search(sentence))
    if kind == "number":
        asked = set(_NUMBER_RE.findall(question.lower()))
        if not any(n.lower() not in asked for n in _NUMBER_RE.findall(sentence)):
            return False
        counted = counted_terms(question)
        return not counted or bool(_counting_spans(sentence, _figure_spans(sentence, question),
                                                   counted))
    if kind == "date":
        return bool(_DATE_RE.search(sentence))
    return bool(_new_names(sentence, question))


def span_pieces(text: str, start: int, spans: tuple[tuple[int, int], ...]
                ) -> list[tuple[str, bool]]:
    """``text`` (which stands at body offset ``start``) in order, in pieces, each with
    whether it is one of ``spans`` (body offsets; spans outside the text or overlapping
    an earlier one are left out)."""
    pieces, pos, end = [], start, start + len(text)
    for s, e in spans:
        if s < pos or e > end:
            continue
        pieces += [(text[pos - start:s - start], False), (text[s - start:e - start], True)]
        pos = e
    pieces.append((text[pos - start:], False))
    return [(t, span) for t, span in pieces if t]
