"""Questions that ask two things at once: "How much X, and how much of it came from Y?"

Each part is answered on its own (its own kind of answer, its own terms), so the
answer quotes a sentence for each instead of two sentences for the first.
"""

from __future__ import annotations

import re

_WH = r"(?:how|what|which|who|whom|whose|when|where|why|did|does|do|is|are|was|were|has|have)"
_PREP = r"(?:in|at|on|for|to|from|by|with|of|under)"
# ", and how much ...", " and which ...", "? And when ...": a second question joined on.
# After a comma, a short clause of two or more words, lowercase first, may come between
# "and" and the question word (", and, once he had their review, which phase ...",
# ", and after the amendment, for how many days ..."); it belongs to the second part.
# (", and Poland, which ..." is a list, not a clause.)
_JOIN_RE = re.compile(rf"(?:,\s*|\s+|\?\s*)and\s+(?=(?:{_PREP}\s+)?{_WH}\b)"
                      rf"|,\s*and\s*,?\s*(?=(?-i:[a-z])[^,?\s]*\s[^,?]{{1,60}},\s*(?:{_PREP}\s+)?{_WH}\b)"
                      rf"|\?\s+(?={_WH}\b)", re.IGNORECASE)
_MIN_PART_WORDS = 3


def question_parts(question: str) -> list[str]:
    """The question's parts: two or more when it joins questions with "and" (or asks
    two questions), else the question alone. Each part has at least three words."""
    pieces = [p.strip(" ,?") for p in _JOIN_RE.split(question)]
    pieces = [p for p in pieces if p]
    if len(pieces) < 2 or any(len(p.split()) < _MIN_PART_WORDS for p in pieces):
        return [question]
    return [p + "?" for p in pieces]
