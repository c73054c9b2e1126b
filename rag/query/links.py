"""Where a quote points: its release as JSON, and deep links that open the release at
the quoted sentence (URL text fragments).

The directive is ``#:~:text=[start][,end]`` as the URL Fragment Text Directives spec
defines it: each part is percent-encoded, and ``-``, ``,`` and ``&`` — which the
directive's own syntax uses — are always encoded.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote

# A long quote is matched by its first and last words (textStart,textEnd): shorter
# links, and robust to small differences in the middle of the page's text.
_EDGE_WORDS = 5
_LONG = 12


def _encode(text: str) -> str:
    return quote(text, safe="").replace("-", "%2D")


def text_fragment_link(url: str, sentence: str) -> str:
    """The url with a text fragment selecting ``sentence``; '' when there is no url."""
    if not url:
        return ""
    base = url.split("#", 1)[0]
    words = sentence.split()
    if not words:
        return base
    if len(words) > _LONG:
        directive = (f"{_encode(' '.join(words[:_EDGE_WORDS]))},"
                     f"{_encode(' '.join(words[-_EDGE_WORDS:]))}")
    else:
        directive = _encode(" ".join(words))
    return f"{base}#:~:text={directive}"


def release_json(release_id: str, title: str, date: dt.date, category: str,
                 url: str) -> dict[str, Any]:
    """The ``"release"`` object of every JSON shape that cites one (hits, timeline rows,
    diff sentences)."""
    return {"id": release_id, "title": title, "date": date.isoformat(),
            "category": category, "url": url}
