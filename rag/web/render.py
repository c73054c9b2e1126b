"""HTML and Markdown for the web page. Everything from a release or a user is escaped."""

from __future__ import annotations

import html
import re

from ..ingest.releases import format_day
from ..query.answer import Answer, Quote, Source
from ..query.generated import cite_sources
from ..query.followup import Rewrite
from ..query.index import Index

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>$])")


def escape_markdown(text: str) -> str:
    """Text shown literally inside Markdown: HTML-escaped, Markdown syntax backslashed."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def answer_markdown(answer: Answer, show_window: bool = True) -> str:
    """The chat reply: quoted sentences with their [n] markers, and the date window used
    (unless ``show_window`` is false, as while the reply is still being streamed)."""
    if answer.abstained:
        text = f"**{escape_markdown(answer.text)}**"
        if answer.sources:
            text += "\n\nThe nearest passages are listed under Sources."
    else:
        text = " ".join(f"“{_quote_markdown(q)}” \\[{q.source}\\]" for q in answer.quotes)
    if show_window and answer.date_window is not None:
        text += "\n\n" + _window_markdown(answer)
    return text


def _window_markdown(answer: Answer) -> str:
    w = answer.date_window
    origin = "filter" if w.text == "filter" else f"read from “{escape_markdown(w.text)}”"
    return f"*Dates: {escape_markdown(w.describe())} ({origin})*"


def draft_markdown(draft: str) -> str:
    """The model's reply while it is written: marked as an unchecked draft."""
    return ("*Draft from your language model — not checked yet:*\n\n"
            f"{escape_markdown(draft.strip()) or '…'}")


def generated_markdown(answer: Answer) -> str:
    """The reply after checking: each supported sentence marked ✓, each dropped one ✗
    (struck through, with the reason), and the note. When no sentence survived, the
    extracted answer is shown instead, above the dropped sentences."""
    generated = answer.generated
    if generated is None:
        return answer_markdown(answer)
    kept = [s for s in generated.sentences if s.supported] if generated.generated else []
    dropped = [s for s in generated.sentences if not s.supported]
    parts = ["\n\n".join(f"✓ {escape_markdown(cite_sources(answer, s.text))}" for s in kept)
             if kept else answer_markdown(answer, show_window=False)]
    if dropped:
        parts.append("\n\n".join(
            f"✗ ~~{escape_markdown(cite_sources(answer, s.text))}~~ "
            f"*dropped: {escape_markdown(cite_sources(answer, s.why))}*" for s in dropped))
    parts.append(f"*{'Generated and checked' if kept else 'Not generated'}: "
                 f"{escape_markdown(generated.note)}*")
    if answer.date_window is not None:
        parts.append(_window_markdown(answer))
    return "\n\n".join(parts)


def answering_markdown(turn: Rewrite) -> str:
    """The line a reply to a follow-up starts with: the standalone question it answered
    (e.g. "*Answering: Which countries received new battle groups in 2024?*"), so a wrong
    rewrite is seen at once; empty for a question answered as asked."""
    if not turn.rewritten:
        return ""
    return f"*Answering: {escape_markdown(turn.text)}*\n\n"


def _quote_markdown(quote: Quote) -> str:
    """A quote for the chat: escaped, the things asked for in bold."""
    return "".join(f"**{escape_markdown(t)}**" if bold else escape_markdown(t)
                   for t, bold in quote.pieces())


def _quote_html(quote: Quote) -> str:
    return "".join(f"<strong>{html.escape(t)}</strong>" if bold else html.escape(t)
                   for t, bold in quote.pieces())


def _passage_html(source: Source, answer: Answer) -> str:
    """The source's passage with its quoted sentences marked."""
    hit = source.hit
    quotes = sorted((q for q in answer.quotes if q.source == source.number),
                    key=lambda q: q.start)
    parts, pos = [], hit.start
    body_text = hit.text
    for quote in quotes:
        if quote.start < pos or quote.end > hit.end:
            continue
        parts.append(html.escape(body_text[pos - hit.start:quote.start - hit.start]))
        parts.append(f"<mark>{_quote_html(quote)}</mark>")
        pos = quote.end
    parts.append(html.escape(body_text[pos - hit.start:]))
    return "".join(parts).replace("\n\n", "<br><br>")


def link_html(text: str, url: str) -> str:
    """``text`` escaped, as a link to ``url`` when that is a web address (a release's url
    comes from its file, so a ``javascript:`` one is shown as plain text)."""
    if not url.startswith(("https://", "http://")):
        return html.escape(text)
    return (f'<a href="{html.escape(url, quote=True)}" target="_blank" '
            f'rel="noopener noreferrer">{html.escape(text)}</a>')


def _source_html(source: Source, answer: Answer) -> str:
    hit = source.hit
    link = link_html(hit.title, source.link)
    return (f'<div class="source" data-number="{source.number}" '
            f'data-date="{hit.date.isoformat()}">'
            f'<div class="source-head"><span class="num">[{source.number}]</span> {link}</div>'
            f'<div class="source-meta">{format_day(hit.date)} · '
            f'{html.escape(hit.category)}</div>'
            f'<div class="passage">{_passage_html(source, answer)}</div></div>')


def sources_html(answer: Answer) -> str:
    """The sources panel: cited sources, then the other nearest passages folded away."""
    if not answer.sources:
        return '<div class="sources empty">No passages matched.</div>'
    cited = [s for s in answer.sources if s.cited]
    others = [s for s in answer.sources if not s.cited]
    parts = ['<div class="sources">']
    if cited:
        parts.append("<h3>Sources</h3>")
        parts.extend(_source_html(s, answer) for s in cited)
    if others:
        label = "Nearest passages" if answer.abstained else "Other nearest passages"
        opened = " open" if answer.abstained else ""
        parts.append(f'<details class="uncited"{opened}><summary>{label} '
                     f'({len(others)})</summary>')
        parts.extend(_source_html(s, answer) for s in others)
        parts.append("</details>")
    parts.append("</div>")
    return "".join(parts)


def status_markdown(index: Index, stale_note: str = "") -> str:
    """Index status line: releases, passages, model, build time, which generation answers
    (a lexical one: how far its embedding is), and a stale warning."""
    m = index.manifest
    text = (f"**Index:** {index.release_count:,} releases · {len(index):,} passages · "
            f"{escape_markdown(m.model.id)} · built {escape_markdown(m.created or '?')}")
    note = index.generation_note()
    if note:
        text += (f"\n\n⏳ **{escape_markdown(note)}**: answers come from keyword (BM25) "
                 "search until the hybrid index replaces this one")
    if stale_note:
        text += f"\n\n⚠️ {escape_markdown(stale_note)}"
    return text


CSS = """
.sources h3 { margin: 0 0 .5em 0; }
.source { border-left: 3px solid #9ca3af; padding: .3em .8em; margin: .6em 0; }
/* 700: the theme declares 400 and 700 faces only (see app.theme) */
.source-head { font-weight: 700; }
.source-meta { color: #6b7280; font-size: .85em; margin: .1em 0 .3em 0; }
.passage { font-size: .92em; line-height: 1.45; }
.passage mark { background: #fde68a; padding: 0 .1em; }
details.uncited summary { cursor: pointer; margin-top: .6em; }
"""
