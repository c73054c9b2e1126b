"""Follow-up questions, rewritten into standalone ones from the previous question.

``rewrite("And in 2024?", "Which countries received new battle groups?")`` gives
``Rewrite(text="Which countries received new battle groups in 2024?", rewritten=True,
reason="date: “in 2024” added")``. A question that stands on its own comes back as it
was, with ``rewritten=False``. No model is involved: a few word-level rules, each one a
guess that English allows, chosen to leave standalone questions alone.

What counts as a follow-up:

- **A lead-in**: the question starts with "and", "what about", "how about", "what of",
  "same for" (and a few like them). What follows is a *fragment* ("in 2024", "Germany",
  "last year") unless it is a clause of its own (it starts with a wh-word or an
  auxiliary, or holds a verb), in which case only its pronouns are resolved.
- **An unresolved pronoun**: it/they/them/he/she/him/her/its/their/his with no noun
  before it in the question (no word that is neither a function word nor a verb:
  "Which countries said they ..." refers to its own countries), and, for a
  possessive, no name or "the" phrase after the noun it qualifies ("In his statement,
  what did the President say?" points forward). "this/that/these/those" count only as
  a pronoun, not as a determiner ("this bill"): at the end, before a preposition, or
  after a wh-word or auxiliary and before a verb or nothing ("When was this signed?").
  Where a pronoun might refer inside the question, it is taken to: a standalone
  question wrongly rewritten is worse than a follow-up answered as typed.
- **A short fragment**: at most four words, no wh-word, no auxiliary, no verb, and
  either a date ("March 2022") or a question mark ("Germany?"). Keyword searches
  without a question mark ("free COVID tests") stay standalone.

How it is rewritten, always from the previous question (the rewritten one, so a chain
of follow-ups keeps its subject):

- **Date**: the fragment's date expression (``rag.query.dates.find_date_window``)
  replaces the previous question's, or is added before its final punctuation. A date
  without a preposition gets "on" (a single day) or "in" ("Same for March 2022" ->
  "in March 2022"); relative ones ("last year") are used as written.
- **Entity**: what is left of the fragment (without fillers such as "then", "too",
  "instead", and leading prepositions) replaces a slot of the previous question: a
  capitalised entity ("Germany", "the EU") the last proper-noun phrase (a run of
  capitalised words, inner "of/and/the/for" allowed, with its "the"); a lower-case one
  the last noun phrase (the last run of words that are neither function words nor
  verbs). With no such slot, it is added: "..., regarding Germany?".
- **Pronouns**: each unresolved pronoun becomes the previous question's subject noun
  phrase: for he/she/him/her/his the first proper-noun phrase, for the others the
  longest noun phrase (most words; a capitalised run or a run of
  content words, with its article), a different one from the phrase a personal pronoun
  took when there is one. On a tie, "it/this/that" take the last one (a thing is
  usually the object) and "they/them/these/those" the first (actors are usually the
  subject). Possessives get "'s".

Verbs are recognised without a tagger: auxiliaries and modals, a list of common verbs
of the releases ("announce", "sign", "pledge", ...) unless an article comes just
before them ("the release"), and lower-case words ending in "-ed".
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

from .dates import DateWindow, find_date_window
from .retrieve import MAX_QUESTION_CHARS

__all__ = ["Rewrite", "rewrite"]


@dataclass(frozen=True)
class Rewrite:
    """The question to answer, and whether and why it differs from the one asked.

    Attributes:
        text: The standalone question to answer (the question itself if it is one).
        rewritten: Whether ``text`` was built from the previous question.
        reason: What was done ("date: “in 2024” replaces “in March 2022”", ...) or why
            nothing was ("standalone", "no previous question").
    """

    text: str
    rewritten: bool
    reason: str


_WH = {"who", "whom", "whose", "what", "which", "when", "where", "why", "how"}
_AUX = {"is", "are", "was", "were", "be", "been", "being", "am", "do", "does", "did",
        "has", "have", "had", "can", "could", "will", "would", "shall", "should", "may",
        "might", "must", "isn't", "aren't", "wasn't", "weren't", "don't", "doesn't",
        "didn't", "hasn't", "haven't", "won't", "can't"}
_ARTICLES = {"the", "a", "an"}
_PREPOSITIONS = {
    "about", "above", "across", "after", "against", "along", "among", "around", "at",
    "before", "behind", "below", "beside", "between", "beyond", "by", "despite", "during",
    "for", "from", "in", "inside", "into", "like", "near", "of", "off", "on", "onto",
    "out", "outside", "over", "per", "since", "through", "throughout", "to", "toward",
    "towards", "under", "until", "up", "upon", "with", "within", "without", "via",
    "regarding", "concerning"}
_PERSONAL = {"he", "she", "him", "her", "his"}
_PRONOUNS = _PERSONAL | {"it", "they", "them", "its", "their"}
_DEMONSTRATIVES = {"this", "that", "these", "those"}
_POSSESSIVES = {"its", "their", "his"}
_FUNCTION = (_WH | _AUX | _ARTICLES | _PREPOSITIONS | _PRONOUNS | _DEMONSTRATIVES | {
    "i", "you", "we", "me", "us", "my", "your", "our", "some", "any", "all", "each",
    "every", "no", "not", "other", "another", "such", "and", "or", "but", "nor", "so",
    "yet", "if", "than", "whether", "because", "while", "as", "many", "much", "more",
    "most", "also", "too", "only", "just", "then", "there", "here", "ever", "very",
    "same", "instead", "else", "again", "now", "still", "even", "well", "please"})
# Words that introduce a noun phrase, so what follows them is a noun (an antecedent).
_INTRODUCERS = _ARTICLES | {"which", "what", "whose"}
_DETERMINERS = _ARTICLES | {"this", "that", "these", "those", "its", "their", "his", "her",
                            "our", "my", "your", "some", "any", "each", "every", "no"}
# Common verbs of the releases' questions that don't end in "-ed" (base and irregular
# forms); an article just before one makes it a noun ("the release").
_VERBS = {
    "say", "says", "said", "announce", "announces", "sign", "signs", "pledge", "pledges",
    "send", "sends", "sent", "give", "gives", "gave", "given", "get", "gets", "got",
    "make", "makes", "made", "take", "takes", "took", "taken", "go", "goes", "went",
    "meet", "meets", "met", "impose", "imposes", "provide", "provides", "release",
    "releases", "receive", "receives", "happen", "happens", "mean", "means", "plan",
    "plans", "propose", "proposes", "ask", "asks", "call", "calls", "tell", "tells",
    "told", "speak", "speaks", "spoke", "visit", "visits", "host", "hosts", "support",
    "supports", "offer", "offers", "cost", "costs", "issue", "issues", "approve",
    "approves", "launch", "launches", "discuss", "discusses", "nominate", "nominates",
    "name", "names", "lead", "leads", "led", "hold", "holds", "held", "win", "won",
    "pay", "pays", "paid", "spend", "spends", "spent", "ban", "bans", "sanction",
    "sanctions", "commit", "commits", "promise", "promises", "want", "wants", "need",
    "needs", "think", "thinks", "thought", "know", "knows", "knew", "see", "saw", "seen",
    "become", "became", "begin", "began", "begun", "bring", "brought", "buy", "bought",
    "build", "built", "find", "found", "keep", "kept", "leave", "left", "let", "put",
    "run", "ran", "set", "show", "shows", "shown", "stand", "stood", "veto", "vetoes",
    "respond", "responds", "expect", "expects", "include", "includes", "declare",
    "declares", "deploy", "deploys", "allocate", "allocates", "fund", "funds", "help",
    "helps", "work", "works", "join", "joins", "start", "starts", "end", "ends"}
_LEADS = ("what about", "how about", "what of", "the same for", "same question for",
          "same for", "same but for", "same with", "likewise for", "and for", "and also",
          "and", "also for", "now for", "but", "ok", "okay", "so")
_LEAD = re.compile(r"^\s*(?:" + "|".join(re.escape(w) for w in _LEADS) + r")\b[\s,:;-]*",
                   re.IGNORECASE)
_FILLERS = {"then", "too", "also", "instead", "only", "just", "though", "as", "well",
            "please", "same", "the same", "now", "again"}
_RELATIVE_START = {"last", "this", "past", "yesterday", "today", "the", "next"}
_DATE_PREPS = {"in", "on", "during", "throughout", "of", "over", "within", "from", "since",
               "after", "before", "until", "till", "through", "thru", "between"}
_TOKEN = re.compile(r"\w+(?:\.\w+)+\.?|\w[\w'’\-]*|[^\w\s]")
# A "today" for reading date phrases: only their words are used here, never the window,
# so any fixed date reads the same phrases.
_TODAY = datetime.date(2100, 1, 1)
_MAX_FRAGMENT_WORDS = 4


@dataclass(frozen=True)
class _Token:
    text: str
    start: int
    end: int

    @property
    def word(self) -> bool:
        return self.text[0].isalnum() or self.text[0] == "_"

    @property
    def lower(self) -> str:
        return self.text.lower().replace("’", "'")

    @property
    def capitalised(self) -> bool:
        return self.text[0].isupper() or (self.text[0].isdigit() and any(
            c.isupper() for c in self.text))


def _tokens(text: str) -> list[_Token]:
    return [_Token(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text)]


def _verb_form(t: _Token) -> bool:
    """Whether the word can be a verb (auxiliary, listed verb, lower-case "-ed")."""
    return t.word and (t.lower in _AUX or t.lower in _VERBS or (
        not t.capitalised and len(t.lower) > 4 and t.lower.endswith("ed")
        and not t.lower.endswith("eed")))


def _is_verb(tokens: list[_Token], i: int) -> bool:
    """Whether the word is a verb here: a determiner just before a verb form, or before
    one lower-case word before it, makes it a noun ("the release", "the oil release")."""
    t = tokens[i]
    if t.lower in _AUX:
        return True
    if not _verb_form(t):
        return False
    before = [tokens[k] for k in range(max(0, i - 2), i)]
    if before and before[-1].lower in _DETERMINERS:
        return False
    return not (len(before) == 2 and before[0].lower in _DETERMINERS and before[1].word
                and not before[1].capitalised and before[1].lower not in _FUNCTION
                and not _verb_form(before[1]))


def _is_content(tokens: list[_Token], i: int, masked: tuple[int, int] | None) -> bool:
    t = tokens[i]
    if masked and masked[0] <= t.start < masked[1]:
        return False
    return t.word and t.lower not in _FUNCTION and not _is_verb(tokens, i)


@dataclass(frozen=True)
class _Phrase:
    start: int      # character offsets into the question, article included
    end: int
    words: int      # content words, the article not counted
    proper: bool


def _phrases(text: str, masked: tuple[int, int] | None = None) -> list[_Phrase]:
    """Noun phrases: runs of content words (a leading article kept), and proper-noun
    phrases (capitalised runs after the first word, with inner of/and/the/for)."""
    tokens = _tokens(text)
    out: list[_Phrase] = []
    i = 0
    while i < len(tokens):
        if not _is_content(tokens, i, masked):
            i += 1
            continue
        j = i
        while j + 1 < len(tokens) and (_is_content(tokens, j + 1, masked) or (
                tokens[j + 1].lower in ("of", "and", "the", "for") and tokens[j].capitalised
                and j + 2 < len(tokens) and tokens[j + 2].capitalised
                and _is_content(tokens, j + 2, masked))):
            j += 1
        first = i - 1 if i > 0 and tokens[i - 1].lower in _ARTICLES else i
        run = tokens[i:j + 1]
        proper = any(t.capitalised for t in run) and not (i == 0 and len(run) == 1)
        words = sum(1 for t in run if t.lower not in ("of", "and", "the", "for"))
        out.append(_Phrase(tokens[first].start, tokens[j].end, words, proper))
        i = j + 1
    return out


def _phrase_text(text: str, phrase: _Phrase) -> str:
    """A phrase as it reads inside another sentence: the capital of a sentence-initial
    article or common noun dropped ("The President" -> "the President"), an acronym's
    kept."""
    words = text[phrase.start:phrase.end]
    if phrase.start == 0 and not (len(words) > 1 and words[:2].isupper()):
        first = words.split()[0]
        if first.lower() in _ARTICLES or not phrase.proper:
            words = words[:1].lower() + words[1:]
    return words


def _end(text: str) -> tuple[str, str]:
    """The question without its final punctuation, and that punctuation."""
    m = re.search(r"[\s?.!]*$", text)
    body, end = text[:m.start()], text[m.start():].strip()
    return body, end or "?"


def _date_in(fragment: str) -> tuple[DateWindow | None, str]:
    """The fragment's date window and its phrase as written into a question."""
    window = find_date_window(fragment, _TODAY)
    if window is None:
        # "February 24" or "March" alone need a preposition to read as dates.
        trial = find_date_window("in " + fragment, _TODAY)
        if trial is None or not trial.text.lower().startswith("in "):
            return None, ""
        window = DateWindow(trial.since, trial.until, trial.text[3:])
    phrase = window.text
    words = phrase.lower().split()
    first = words[0]
    at = fragment.lower().find(phrase.lower())
    if re.search(r"\bthe\s+$", fragment[:max(at, 0)], re.IGNORECASE) or first == "past" or (
            first == "last" and len(words) > 2):
        # "the last month" is the rolling month, "last month" the calendar one: keep "the".
        return window, "in the " + phrase
    if first in _DATE_PREPS or first in _RELATIVE_START:
        phrase = phrase[:1].lower() + phrase[1:]        # "In 2021?" asked alone
    else:
        single = window.since is not None and window.since == window.until
        phrase = ("on " if single else "in ") + phrase
    return window, phrase


def _entity(fragment: str, window: DateWindow | None) -> str:
    """What the fragment names besides its date, without fillers."""
    rest = fragment
    if window is not None and window.text:
        at = rest.lower().find(window.text.lower())
        if at >= 0:
            rest = rest[:at] + " " + rest[at + len(window.text):]
    words = [w for w in re.split(r"\s+", re.sub(r"[?.!,;:]", " ", rest)) if w]
    while words and (words[0].lower() in _FILLERS | _PREPOSITIONS | {"and", "or"}):
        words.pop(0)
    while words and (words[-1].lower() in _FILLERS | _ARTICLES | {"and", "or"}):
        words.pop()
    text = " ".join(words)
    for filler in ("as well", "the same"):
        text = re.sub(rf"\s*\b{filler}\b\s*$", "", text, flags=re.IGNORECASE)
    return text.strip()


def _swap_entity(previous: str, entity: str, masked: tuple[int, int] | None
                 ) -> tuple[str, str]:
    """Put ``entity`` in the previous question's matching slot; (question, reason)."""
    proper = any(w[:1].isupper() for w in entity.split() if w.lower() not in _ARTICLES)
    phrases = [p for p in _phrases(previous, masked) if p.proper == proper or not proper]
    if phrases:
        slot = phrases[-1]
        old = previous[slot.start:slot.end]
        return (previous[:slot.start] + entity + previous[slot.end:],
                f"entity: “{entity}” replaces “{old}”")
    body, end = _end(previous)
    return f"{body}, regarding {entity}{end}", f"entity: “{entity}” added"


def _swap_date(previous: str, phrase: str) -> tuple[str, str]:
    window = find_date_window(previous, _TODAY)
    if window is not None and window.text and window.text in previous:
        return (previous.replace(window.text, phrase, 1),
                f"date: “{phrase}” replaces “{window.text}”")
    body, end = _end(previous)
    return f"{body} {phrase}{end}", f"date: “{phrase}” added"


def _from_fragment(fragment: str, previous: str) -> Rewrite | None:
    window, phrase = _date_in(fragment)
    entity = _entity(fragment, window)
    if entity.lower() in _PRONOUNS | _DEMONSTRATIVES:
        entity = ""                    # "what about it?": the same subject
    if not entity and window is None:
        return None
    text, reasons = previous, []
    if entity:
        old = find_date_window(previous, _TODAY)
        at = previous.find(old.text) if old is not None and old.text else -1
        masked = (at, at + len(old.text)) if at >= 0 else None
        text, why = _swap_entity(text, entity, masked)
        reasons.append(why)
    if window is not None:
        text, why = _swap_date(text, phrase)
        reasons.append(why)
    return Rewrite(text, True, "; ".join(reasons))


def _is_clause(tokens: list[_Token]) -> bool:
    words = [i for i, t in enumerate(tokens) if t.word]
    if not words:
        return False
    first = tokens[words[0]].lower
    return first in _WH or first in _AUX or any(_is_verb(tokens, i) for i in words)


def _demonstrative_is_pronoun(tokens: list[_Token], i: int) -> bool:
    nxt = tokens[i + 1] if i + 1 < len(tokens) else None
    if nxt is None or not nxt.word or nxt.lower in _PREPOSITIONS:
        return True
    prev = tokens[i - 1].lower if i > 0 else ""
    return (prev in _WH or prev in _AUX) and _verb_form(nxt)


def _first_antecedent(tokens: list[_Token]) -> int:
    """Index of the first content word: a pronoun after it may refer to it ("Which
    countries said they ...", "how much are women paid for ... their ...")."""
    return next((k for k in range(len(tokens)) if _is_content(tokens, k, None)), len(tokens))


def _named_later(tokens: list[_Token], i: int) -> bool:
    """Whether a possessive at ``i`` is followed, past the noun it qualifies, by a name or
    a "the" phrase it can point forward to ("In his statement, what did the President
    ...")."""
    k = i + 1
    while k < len(tokens) and _is_content(tokens, k, None):
        k += 1
    return any(_is_content(tokens, j, None) and (
        tokens[j].capitalised or tokens[j - 1].lower in _INTRODUCERS)
        for j in range(k, len(tokens)))


def _possessive(tokens: list[_Token], i: int) -> bool:
    t = tokens[i]
    nxt = tokens[i + 1] if i + 1 < len(tokens) else None
    return t.lower in _POSSESSIVES or (
        t.lower == "her" and nxt is not None and _is_content(tokens, i + 1, None))


def _unresolved(tokens: list[_Token]) -> list[int]:
    first = _first_antecedent(tokens)
    out = []
    for i, t in enumerate(tokens[:first]):
        if t.lower in _PRONOUNS:
            if not (_possessive(tokens, i) and _named_later(tokens, i)):
                out.append(i)
        elif t.lower in _DEMONSTRATIVES and _demonstrative_is_pronoun(tokens, i):
            out.append(i)
    return out


def _resolve_pronouns(clause: str, previous: str) -> Rewrite | None:
    tokens = _tokens(clause)
    targets = _unresolved(tokens)
    phrases = _phrases(previous)
    if not targets or not phrases:
        return None
    window = find_date_window(previous, _TODAY)
    if window is not None and window.text:
        # A date is not a subject ("in March 2022" has capitalised words).
        at = previous.find(window.text)
        phrases = [p for p in phrases if not (at <= p.start < at + len(window.text))] \
            or phrases
    proper = [p for p in phrases if p.proper]
    personal = proper[0] if proper else max(phrases, key=lambda p: (p.words, -p.start))
    has_personal = any(tokens[i].lower in _PERSONAL for i in targets)
    candidates = [p for p in phrases if p != personal] if has_personal else phrases

    def subject(pronoun: str) -> _Phrase:
        if pronoun in _PERSONAL:
            return personal
        pool = candidates or phrases
        # Longest; on a tie "it/this/that" take the last (a thing is usually the object),
        # "they/them/these/those" the first (actors are usually the subject).
        later = -1 if pronoun in ("it", "its", "this", "that") else 1
        return max(pool, key=lambda p: (p.words, later * -p.start))
    pieces, pos, reasons = [], 0, []
    for i in targets:
        t = tokens[i]
        phrase = _phrase_text(previous, subject(t.lower))
        if _possessive(tokens, i):
            phrase += "'" if phrase.endswith("s") else "'s"
        if t.start == 0 or clause[:t.start].strip() == "":
            phrase = phrase[:1].upper() + phrase[1:]
        pieces.append(clause[pos:t.start] + phrase)
        pos = t.end
        reasons.append(f"“{t.text}” -> “{phrase}”")
    pieces.append(clause[pos:])
    return Rewrite("".join(pieces), True, "pronoun: " + ", ".join(reasons))


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


def _short_fragment(tokens: list[_Token], text: str) -> bool:
    words = [t for t in tokens if t.word]
    if not words or len(words) > _MAX_FRAGMENT_WORDS or _is_clause(tokens):
        return False
    return text.rstrip().endswith("?") or _date_in(text)[0] is not None


def rewrite(question: str, previous: str | None) -> Rewrite:
    """Rewrite a follow-up question into a standalone one, from the previous question.

    Args:
        question: The question as asked, e.g. ``"And in 2024?"``.
        previous: The last question answered (itself the rewritten one when it was a
            follow-up), or None at the start of a conversation.

    Returns:
        A :class:`Rewrite`: the question to answer, whether it was rewritten, and why.
        A standalone question (or any question without a previous one) is returned
        unchanged with ``rewritten=False``.
    """
    if previous is None or not previous.strip() or not question.strip():
        return Rewrite(question, False, "no previous question")
    if len(question) > MAX_QUESTION_CHARS or len(previous) > MAX_QUESTION_CHARS:
        return Rewrite(question, False, "too long to be a follow-up")
    previous = " ".join(previous.split())
    asked = " ".join(question.split())
    rest, led = asked, False
    while (m := _LEAD.match(rest)) and m.end() > 0 and m.end() < len(rest):
        rest, led = rest[m.end():], True
    tokens = _tokens(rest)
    if led and not _is_clause(tokens) or not led and _short_fragment(tokens, rest):
        result = _from_fragment(rest, previous)
        if result is not None:
            return result
        return Rewrite(question, False, "follow-up with nothing to carry over")
    result = _resolve_pronouns(rest, previous)
    if result is not None:
        return Rewrite(_capitalise(result.text), True, result.reason)
    return Rewrite(question, False, "standalone")
