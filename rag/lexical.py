"""Lexical evidence: a BM25 index over passages (bm25s) and the term analysis it uses."""

from __future__ import annotations

import logging
import math
import re
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

from .errors import IndexCorruptError

# Function words, plus the words questions are made of ("which", "did", "say"):
# they match everywhere and carry no evidence.
STOPWORDS = frozenset("""
a an and are as at be but by for if in into is it no not of on or such that the their then
there these they this to was will with which what who whom whose when where why how did do
does done say said says tell told about many much any some all also has have had been being
were its it's our we us you your i me my he she his her him them from than so can could
would should may might more most other over under up out per each very just s t
""".split())
_WORD_RE = re.compile(r"\w+")


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def analyse(text: str) -> list[str]:
    """Lower-cased, stemmed content words of a text, in order."""
    words = [w for w in _WORD_RE.findall(text.lower().replace("’", "'")) if w not in STOPWORDS]
    return _stemmer().stemWords(words)


class LexicalIndex:
    """BM25 over passage texts (header included), with document frequencies for IDF."""

    def __init__(self, bm25):
        self._bm25 = bm25
        self._vocab: dict[str, int] = bm25.vocab_dict
        self._df = np.diff(np.asarray(bm25.scores["indptr"]))
        self.size = int(bm25.scores["num_docs"])

    @classmethod
    def build(cls, texts: Sequence[str], k1: float = 1.2, b: float = 0.75) -> LexicalIndex:
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs each build at DEBUG
        bm25 = bm25s.BM25(k1=k1, b=b)
        # bm25s refuses an empty vocabulary; a lone placeholder keeps tiny corpora valid.
        docs = [analyse(t) or ["\u2205"] for t in texts] or [["\u2205"]]
        bm25.index(docs, show_progress=False)
        return cls(bm25)

    def save(self, folder: Path) -> None:
        self._bm25.save(str(folder), show_progress=False)

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        import bm25s

        try:
            bm25 = bm25s.BM25.load(str(folder), mmap=True, show_progress=False)
        except (OSError, ValueError, KeyError) as exc:
            raise IndexCorruptError(f"{folder} cannot be read ({exc}); run `rag index --full` "
                                    "to rebuild it") from None
        return cls(bm25)

    def scores(self, terms: Sequence[str]) -> np.ndarray:
        """BM25 score of every passage for the analysed query terms."""
        known = [t for t in terms if t in self._vocab]
        if not known:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(known), dtype=np.float32)

    def idf(self, term: str) -> float:
        """Inverse document frequency of an analysed term (unknown terms count as rare)."""
        df = int(self._df[self._vocab[term]]) if term in self._vocab else 0
        return math.log(1.0 + (self.size - df + 0.5) / (df + 0.5))
