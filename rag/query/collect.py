"""Collect mode: questions whose answer is spread over many releases ("Which countries
received new battle groups?", "In which months of 2023 were sanctions announced?").

The stages, one function each:

1. ``index.search_deep``: both rankings read far beyond the top 5 (``depth`` passages
   each), under the date filter inside the search.
2. Every sentence of every hit scored as the answer step scores it (cosine with stored
   sentence vectors, question terms covered, rank; ``rag.query.answer``), and kept only
   if it holds the kind of item asked for (``answer_types.answer_spans``).
3. One row per release: its best sentence, grown over neighbouring sentences that also
   name items (a list of names runs over several lines), if it scores ``min_score``.
4. Near-duplicates merged: a row whose words are mostly another's and names nothing new
   (boilerplate, the same fact in a fact sheet and a statement) is folded into it.
5. A timeline (rows by date), the distinct items with their releases, a count line.
"""

from __future__ import annotations

import calendar
import re
from typing import Any, Callable

from ..config import AnswerConfig, CollectConfig
from ..errors import RagError
from ..index.lexical import analyse
from ..ingest.sentences import paragraph_spans, sentence_spans
from .answer import (_Candidate, _evidence, _overlap_above, _score, _similarities,
                     _word_set)
from .answer_types import expected_type
from .collection import Collection, Item, Row
from .items import item_spans
from .links import text_fragment_link
from .retrieve import Hit, Retriever

# Questions that ask for a set or a history, not one fact.
_SET_RE = re.compile(
    r"\b(?:list|lists|listed|every|each time|all (?:the|of the)|timeline|how often|"
    r"how many times|in which (?:months|years|weeks)|which (?:months|years|dates))\b|"
    # "which countries", "which U.S. Supreme Court rulings", "which countries' leaders":
    # which + up to three words + a plural noun.
    r"\bwhich (?:[\w.’'-]+ ){0,3}?(?!(?:is|was|has|does|its|this|his|us|as)\b)"
    r"[a-z][\w-]*[^s'\W]s['’]?(?=\s|\?|$)", re.IGNORECASE)
# A history asked for by when it happened: the items are the months of the rows.
_WHEN_RE = re.compile(r"\b(?:in which|which|what) (?:months|years|dates)\b|\bhow often\b|"
                      r"\beach time\b|\bevery time\b|\bhow many times\b|\btimeline\b",
                      re.IGNORECASE)
_PLURAL_RE = re.compile(r"\bwhich ((?:[\w.’'-]+ ){0,3}?[a-z][\w-]*[^s'\W]s)['’]?(?=\s|\?|$)",
                        re.IGNORECASE)
# Titles in front of a name: the item is the name ("Governor Tim Walz" -> "Tim Walz").
_TITLE_RE = re.compile(
    r"^(?:(?:the|president|vice|prime|minister|chancellor|governor|gov\.|secretary|senator|"
    r"sen\.|representative|rep\.|congressman|congresswoman|mayor|king|queen|emperor|premier|"
    r"ambassador|administrator|director|dr\.|mr\.|mrs\.|ms\.|general|gen\.|state|states|"
    r"republic|commonwealth|of|his|her|majesty|excellency|first|lady|second|gentleman)\s+)+",
    re.IGNORECASE)
_TRAILING_RE = re.compile(r"(?:['’]s|['’])$")
# A heading's verb in front of a name: "Restoring the Bears Ears National Monument".
_VERB_RE = re.compile(r"^[A-Z][a-z]+ing\s+(?:the\s+)?")
# Words that name no particular thing when they stand alone.
_GENERIC = frozenset("""
president vice administration america american americans nation national federal government
congress senate house state states country countries today secretary governor governors
department office white week year month day the and people leader leaders democrats
republicans democrat republican mr mrs ms dr i we you our my god thank thanks q
""".split())


def wants_collection(question: str) -> bool:
    """Whether a question asks for a set or a history ("which countries ...", "list",
    "every", "each time", "all the", "timeline of", "how often", "in which months")."""
    return bool(_SET_RE.search(question))


def item_kind(query: str) -> str | None:
    """The kind of item a collect question gathers: ``month`` for a history asked by
    when ("in which months", "how often", "each time"), else the answer kind
    (``answer_types.expected_type``), else ``name`` for "which <things>"; None when
    the question names no kind (then rows carry no items)."""
    if _WHEN_RE.search(query):
        return "month"
    kind = expected_type(query)
    if kind is None and _PLURAL_RE.search(query):
        return "name"
    return kind


def _asked_for(query: str) -> str:
    match = _PLURAL_RE.search(query)
    return f"the {match.group(1).split()[-1].lower()} asked for" if match else "an answer"


def _sentences(index: Retriever, hits: list[Hit]) -> list[_Candidate]:
    """Every sentence of every hit, with offsets into its release body (short ones too:
    a list names one item a line)."""
    out = []
    for number, hit in enumerate(hits, 1):
        body = index.release(hit.release_id).body
        for ps, pe in paragraph_spans(body[hit.start:hit.end]):
            for s, e in sentence_spans(body, hit.start + ps, hit.start + pe):
                out.append(_Candidate(number, hit.release_id, s, e, body[s:e]))
    return out


def clean_item(text: str) -> str:
    """An item as listed: without a leading title ("Governor", "the State of") or a
    trailing possessive; '' when nothing particular is left."""
    text = text.strip(" ,;:.()\"“”")
    text = _TRAILING_RE.sub("", _TITLE_RE.sub("", _VERB_RE.sub("", text))).strip(" ,;:.")
    words = re.findall(r"\w+", text.lower())
    if not words or all(w in _GENERIC or w.isdigit() for w in words):
        return ""
    return text


def _spans(text: str, start: int, kind: str | None, query: str,
           proper: Callable[[str], bool] | None = None) -> list[tuple[int, int, str]]:
    """Item spans of a sentence as (body start, body end, item)."""
    if kind in (None, "month"):
        return []
    out = []
    for s, e in item_spans(text, kind, query, proper):
        item = clean_item(text[s:e])
        if item:
            at = text.find(item, s, e)
            out.append((start + at, start + at + len(item), item))
    return out


def _month(row: Row) -> str:
    return f"{calendar.month_name[row.date.month]} {row.date.year}"


def collect(index: Retriever, question: str, since: Any = None, until: Any = None,
            config: CollectConfig | None = None, answer_config: AnswerConfig | None = None,
            **filters: Any) -> Collection:
    """Every release that answers a set or history question, as a counted timeline.

    Args:
        index: the loaded index.
        question: the question, in plain words ("Which governors did the President
            call about the wildfires?"); a date in it ("in 2023") is the window unless
            since/until are given.
        since, until: release dates, inclusive (date or YYYY-MM-DD).
        config: depth and thresholds (default ``CollectConfig()``).
        answer_config: the sentence score's weights (default: the index's, as answers).
        **filters: mode, category, question_dates, as :meth:`Retriever.search`.

    Returns:
        The :class:`Collection`: rows (one per release, by date, each verbatim with its
        text-fragment link and the items it names), the distinct items, a count line.

    Raises:
        QuestionError: an unusable question, date (since after until) or filter.
        ConfigError: a ``config`` value outside its range.
    """
    config = config or CollectConfig()
    config.validate()
    answer_config = answer_config or getattr(index, "answer_config", None) or AnswerConfig()
    result = index.search_deep(question, config.depth, max_per_release=config.max_per_release,
                               since=since, until=until, **filters)
    query, hits = result.query, result.hits
    kind = item_kind(query)
    candidates = _sentences(index, hits)
    rows: list[Row] = []
    scores: dict[int, float] = {}
    if candidates:
        _, similarity = _similarities(index, query, candidates)
        # Every sentence is scored; which ones name items is item_spans' call.
        evidence = _evidence(index, candidates, query, analyse(query), None, answer_config)
        scores = dict(zip(evidence, (s for s, _ in _score(candidates, similarity, evidence,
                                                          answer_config, evidence))))
        rows = _rows(index, candidates, scores, kind, query, config)
    # Matched: releases with a sentence on the subject (scoring min_score), whether or
    # not it names an item; the rows are those of them that do.
    matched = len({candidates[i].release_id for i, s in scores.items()
                   if s >= config.min_score}) if candidates else 0
    rows = _fold_duplicates(rows, config.duplicate)
    rows.sort(key=lambda r: (r.date, r.release_id, r.start))
    items = _items(rows, kind)
    return Collection(question=question, date_window=result.window,
                      count_line=_count_line(matched, rows, items, kind, query), items=items,
                      rows=rows, matched=matched, kind=kind)


def _rows(index: Retriever, candidates: list[_Candidate], scores: dict[int, float],
          kind: str | None, query: str, config: CollectConfig) -> list[Row]:
    """One row per release whose best item-naming sentence scores ``min_score``."""
    # Items are looked for only where a sentence could be a row or join one: below
    # both scores it is neither, and most candidates of a deep search are.
    low = min(config.min_score, config.grow_score)
    spans = {i: _spans(candidates[i].text, candidates[i].start,
                       None if kind == "month" else kind, query, index.is_proper)
             for i, score in scores.items() if score >= low}
    needs_items = kind not in (None, "month")
    by_release: dict[str, list[int]] = {}
    for i in spans:
        if spans[i] or not needs_items:
            by_release.setdefault(candidates[i].release_id, []).append(i)
    rows = []
    for release_id, members in by_release.items():
        best = max(members, key=lambda i: (scores[i], -i))
        if scores[best] < config.min_score:
            continue
        run = [best]

        def joins(j: int) -> bool:
            return (0 <= j < len(candidates) and candidates[j].source == candidates[best].source
                    and j in spans and scores[j] >= config.grow_score
                    and (bool(spans[j]) or not needs_items))

        # Grow over neighbours that name items too, the better side first.
        while len(run) < config.max_row_sentences:
            after, before = run[-1] + 1, run[0] - 1
            options = [j for j in (after, before) if joins(j)]
            if not options:
                break
            j = max(options, key=lambda k: scores[k])
            run = sorted(run + [j])
        first, last = candidates[run[0]], candidates[run[-1]]
        release = index.release(release_id)
        text = release.body[first.start:last.end]
        if not text.startswith(first.text) or not text.endswith(last.text):
            raise RagError(f"internal error: row does not match {release_id} at "
                           f"{first.start}:{last.end}")
        row_spans = [s for j in run for s in spans[j]]
        items = tuple(dict.fromkeys(item for _, _, item in row_spans))
        rows.append(Row(date=release.date, release_id=release_id, title=release.title,
                        category=release.category, url=release.url, text=text,
                        start=first.start, end=last.end,
                        link=text_fragment_link(release.url, text), items=items,
                        spans=tuple((s, e) for s, e, _ in row_spans),
                        score=float(scores[best])))
    return rows


def _fold_duplicates(rows: list[Row], threshold: float) -> list[Row]:
    """The rows without near-copies of a better one that name nothing it does not."""
    kept: list[tuple[Row, set[str], set[str]]] = []  # row, its words, its items
    for row in sorted(rows, key=lambda r: (-r.score, r.date, r.release_id)):
        words, items = _word_set(row.text), {i.casefold() for i in row.items}
        if any(_overlap_above(words, kept_words, threshold) and items <= kept_items
               for _, kept_words, kept_items in kept):
            continue
        kept.append((row, words, items))
    return [row for row, _, _ in kept]


def _items(rows: list[Row], kind: str | None) -> list[Item]:
    """The distinct items of the rows (case-insensitive), each with its releases; an
    item that is part of a longer one ("Korea", "Republic of Korea") counts as it."""
    support: dict[str, list[str]] = {}
    shown: dict[str, str] = {}
    for row in rows:
        for item in ([_month(row)] if kind == "month" else row.items):
            key = " ".join(item.split()).casefold()
            shown.setdefault(key, item)
            if row.release_id not in support.setdefault(key, []):
                support[key].append(row.release_id)
    keys = sorted(support, key=lambda k: (-len(k.split()), k))
    merged: dict[str, list[str]] = {}
    for key in keys:
        inside = re.compile(rf"(?<!\w){re.escape(key)}(?!\w)")
        longer = next((m for m in merged if inside.search(m)), None)
        target = merged.setdefault(longer or key, [])
        target.extend(r for r in support[key] if r not in target)
    order = {r.release_id: n for n, r in enumerate(rows)}
    items = [Item(shown[k], tuple(sorted(v, key=order.__getitem__))) for k, v in merged.items()]
    if kind == "month":
        return sorted(items, key=lambda i: order[i.releases[0]])
    return sorted(items, key=lambda i: (-len(i.releases), order[i.releases[0]]))


def _count_line(matched: int, rows: list[Row], items: list[Item], kind: str | None,
                query: str) -> str:
    verb = "answers" if len(rows) == 1 else "answer"
    what = f"{verb} the question" if kind in (None, "month") else \
        f"{'names' if len(rows) == 1 else 'name'} {_asked_for(query)}"
    line = f"{matched} release{'s' if matched != 1 else ''} matched; {len(rows)} {what}"
    if items:
        unit = "month" if kind == "month" else "distinct item"
        line += f" ({len(items)} {unit}{'s' if len(items) != 1 else ''})"
    return line + ("; all shown" if rows else "")
