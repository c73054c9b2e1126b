"""The items a collect question gathers, found in a sentence: countries, U.S. states,
people's names, or named things of the kind the question asks for.

The question's head noun says which: "Which *states* ..." wants U.S. states (a list of
them), "Which *countries*' leaders ..." countries (a list), "Which *governors* ..."
people (capitalised name shapes, or a surname after a title: "Secretary Mayorkas"),
"Which national *monuments* ..." names that contain the word ("Bears Ears National
Monument"). Without a head noun it falls back on the answer kind's spans
(``answer_types.answer_spans``). All of it is shape and word lists: no model.
"""

from __future__ import annotations

import re
from typing import Callable

from .answer_types import answer_spans

US_STATES = tuple((
    "Alabama,Alaska,Arizona,Arkansas,California,Colorado,Connecticut,Delaware,Florida,"
    "Georgia,Hawaii,Idaho,Illinois,Indiana,Iowa,Kansas,Kentucky,Louisiana,Maine,Maryland,"
    "Massachusetts,Michigan,Minnesota,Mississippi,Missouri,Montana,Nebraska,Nevada,"
    "New Hampshire,New Jersey,New Mexico,New York,North Carolina,North Dakota,Ohio,Oklahoma,"
    "Oregon,Pennsylvania,Rhode Island,South Carolina,South Dakota,Tennessee,Texas,Utah,"
    "Vermont,Virginia,Washington,West Virginia,Wisconsin,Wyoming,Puerto Rico,Guam,"
    "American Samoa,U.S. Virgin Islands,Northern Mariana Islands,District of Columbia"
).split(","))
COUNTRIES = tuple((
    "Afghanistan,Albania,Algeria,Andorra,Angola,Argentina,Armenia,Australia,Austria,"
    "Azerbaijan,Bahamas,Bahrain,Bangladesh,Barbados,Belarus,Belgium,Belize,Benin,Bhutan,"
    "Bolivia,Bosnia and Herzegovina,Botswana,Brazil,Brunei,Bulgaria,Burkina Faso,Burundi,"
    "Cabo Verde,Cambodia,Cameroon,Canada,Central African Republic,Chad,Chile,China,Colombia,"
    "Comoros,Congo,Costa Rica,Croatia,Cuba,Cyprus,Czechia,Czech Republic,Denmark,Djibouti,"
    "Dominica,Dominican Republic,Ecuador,Egypt,El Salvador,Equatorial Guinea,Eritrea,"
    "Estonia,Eswatini,Ethiopia,Fiji,Finland,France,Gabon,Gambia,Georgia,Germany,Ghana,"
    "Greece,Grenada,Guatemala,Guinea,Guyana,Haiti,Honduras,Hungary,Iceland,India,Indonesia,"
    "Iran,Iraq,Ireland,Israel,Italy,Jamaica,Japan,Jordan,Kazakhstan,Kenya,Kiribati,Kosovo,"
    "Kuwait,Kyrgyzstan,Laos,Latvia,Lebanon,Lesotho,Liberia,Libya,Liechtenstein,Lithuania,"
    "Luxembourg,Madagascar,Malawi,Malaysia,Maldives,Mali,Malta,Marshall Islands,Mauritania,"
    "Mauritius,Mexico,Micronesia,Moldova,Monaco,Mongolia,Montenegro,Morocco,Mozambique,"
    "Myanmar,Burma,Namibia,Nauru,Nepal,Netherlands,New Zealand,Nicaragua,Niger,Nigeria,"
    "North Korea,North Macedonia,Norway,Oman,Pakistan,Palau,Panama,Papua New Guinea,"
    "Paraguay,Peru,Philippines,Poland,Portugal,Qatar,Romania,Russia,Rwanda,Samoa,San Marino,"
    "Saudi Arabia,Senegal,Serbia,Seychelles,Sierra Leone,Singapore,Slovakia,Slovenia,"
    "Solomon Islands,Somalia,South Africa,South Korea,Republic of Korea,Korea,South Sudan,"
    "Spain,Sri Lanka,Sudan,Suriname,Sweden,Switzerland,Syria,Taiwan,Tajikistan,Tanzania,"
    "Thailand,Timor-Leste,Togo,Tonga,Trinidad and Tobago,Tunisia,Turkey,Türkiye,"
    "Turkmenistan,Tuvalu,Uganda,Ukraine,United Arab Emirates,United Kingdom,Uruguay,"
    "Uzbekistan,Vanuatu,Venezuela,Vietnam,Yemen,Zambia,Zimbabwe"
).split(","))


def _gazetteer(names: tuple[str, ...]) -> re.Pattern:
    alternatives = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    return re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])")


_STATES_RE = _gazetteer(US_STATES)
_COUNTRIES_RE = _gazetteer(COUNTRIES)
_PLACE_HEADS = {"states": _STATES_RE, "territories": _STATES_RE, "countries": _COUNTRIES_RE,
                "nations": _COUNTRIES_RE, "allies": _COUNTRIES_RE, "partners": _COUNTRIES_RE,
                "governments": _COUNTRIES_RE}
_PEOPLE_HEADS = frozenset("""
governors senators leaders people persons officials members heads secretaries ministers
teachers comedians judges justices nominees appointees ambassadors advisers advisors
winners recipients honorees athletes artists mayors lawmakers presidents guests speakers
candidates founders executives chiefs directors generals soldiers veterans students
""".split())
# Words in capitalised phrases that are not part of a person's name.
_NOT_NAME = frozenset("""
department office house council committee commission board agency administration act day
week month year association university college school institute foundation center centre
court senate congress party dinner show program programme plan initiative fund bank
national federal united states america american americans white press room summit
forum state city county republic kingdom union international global security health
service services corps army navy force guard reserve group caucus affairs justice
government ministry embassy museum library hall garden park church company inc corp llc
north south east west new god thank thanks applause laughter
governor governors secretary secretaries senator president vice acting assistant deputy
senior advisor adviser chair chairman chairwoman lady first counsel dr mr mrs ms today but
and so now when then if as i i’m i'm i’ve i'd i’d we let well yes no oh okay q mp
""".split())
_TITLES = ("Secretary|Governor|Gov\\.|Senator|Sen\\.|Representative|Rep\\.|Congressman|"
           "Congresswoman|Mayor|Ambassador|Administrator|Chancellor|Minister|Justice|Judge|"
           "Mr\\.|Mrs\\.|Ms\\.|Dr\\.|Commissioner|Director|Chair|Chairman|Chairwoman")
_CAP = r"[A-Z][a-zà-ÿ’'-]+(?:[A-Z][a-zà-ÿ’'-]+)?"
# Given name (+ initial or particles) + surname (+ suffix): "Michelle Lujan Grisham".
_PERSON_RE = re.compile(rf"(?<![\w.])(?:{_CAP})(?:\s+(?:[A-Z]\.|{_CAP}|de|da|van|von|Bel)){{1,3}}"
                        rf"(?:,?\s+(?:Jr\.|Sr\.|III|II))?(?![\w-])")
# A surname after a title: "Secretary Mayorkas", "Governor Walz".
_TITLED_RE = re.compile(rf"\b(?:{_TITLES})\s+(?:of\s+[A-Z][\w ]+?\s+)?({_CAP}(?:\s+{_CAP})*)")
_PLURAL_HEAD_RE = re.compile(r"\bwhich ((?:[\w.’'-]+ ){0,3}?[a-z][\w-]*[^s'\W]s)['’]?(?=\s|\?|$)",
                             re.IGNORECASE)


def head_noun(question: str) -> str | None:
    """The plural noun a "which ..." question asks for, lower-cased ("states",
    "countries", "monuments"), or None."""
    match = _PLURAL_HEAD_RE.search(question)
    return match.group(1).split()[-1].lower() if match else None


def _singular(noun: str) -> str:
    if noun.endswith("ies"):
        return noun[:-3] + "y"
    if noun.endswith(("ches", "shes", "sses", "xes")):
        return noun[:-2]
    return noun[:-1]


def _asked(question: str) -> set[str]:
    return {w.lower() for w in re.findall(r"[\w’'-]+", question)}


def _named(phrase: str, proper: Callable[[str], bool] | None) -> bool:
    """Whether some word of the phrase (initials and particles aside) is one the corpus
    only ever capitalises (``Retriever.is_proper``): "Kate Brown" is a name, "Economic
    Development", "Renewable Energy" and "Gentleman" are not. Without ``proper``, every
    phrase passes."""
    if proper is None:
        return True
    return any(proper(w) for w in re.findall(r"[\w’'-]{2,}", phrase)
               if w.lower() not in _PARTICLES)


_PARTICLES = frozenset("de da van von bin al la le del jr sr ii iii".split())


def _person_spans(sentence: str, asked: set[str], proper: Callable[[str], bool] | None = None
                  ) -> list[tuple[int, int]]:
    spans = []
    for m in _PERSON_RE.finditer(sentence):
        words = [w.lower().strip("’'.,") for w in m.group(0).split()]
        if any(w in _NOT_NAME for w in words) or all(w in asked for w in words) \
                or _STATES_RE.fullmatch(m.group(0)) or _COUNTRIES_RE.fullmatch(m.group(0)) \
                or not _named(m.group(0), proper):
            continue
        spans.append(m.span())
    for m in _TITLED_RE.finditer(sentence):
        s, e = m.span(1)
        words = [w.lower() for w in sentence[s:e].split()]
        if not any(w in _NOT_NAME for w in words) and not all(w in asked for w in words) \
                and _named(sentence[s:e], proper):
            spans.append((s, e))
    return _outer(spans)


def _outer(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The spans not inside another one, in order."""
    out: list[tuple[int, int]] = []
    for s, e in sorted(spans, key=lambda se: (se[0], -se[1])):
        if out and s >= out[-1][0] and e <= out[-1][1]:
            continue
        if out and s < out[-1][1]:  # overlapping: keep the longer
            if e - s > out[-1][1] - out[-1][0]:
                out[-1] = (s, e)
            continue
        out.append((s, e))
    return out


def item_spans(sentence: str, kind: str | None, question: str,
               proper: Callable[[str], bool] | None = None) -> list[tuple[int, int]]:
    """Where the items the question gathers stand in the sentence (character spans),
    leaving out what the question names itself.

    Args:
        sentence: one sentence.
        kind: the answer kind (``answer_types.expected_type``), used without a head noun.
        question: the question (its head noun picks the kind of item).
        proper: whether the corpus always capitalises a word (``Retriever.is_proper``);
            given, a person's name must hold such a word.
    """
    head = head_noun(question)
    asked = _asked(question)
    if head in _PLACE_HEADS:
        return [m.span() for m in _PLACE_HEADS[head].finditer(sentence)
                if m.group(0).lower() not in asked]
    if head in _PEOPLE_HEADS or kind == "person":
        return _person_spans(sentence, asked, proper)
    if head is not None:
        word = _singular(head)
        named = [(s, e) for s, e in answer_spans(sentence, "name", question)
                 if re.search(rf"\b{re.escape(word)}s?\b", sentence[s:e], re.IGNORECASE)]
        if named:
            return named
        return _person_spans(sentence, asked, proper)
    return answer_spans(sentence, kind, question)
