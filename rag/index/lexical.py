"""Lexical evidence: a BM25 index over passages and the term analysis it uses.

The index keeps raw term counts, not scores, as term-major sparse postings (CSC: a
vocabulary, ``indptr`` into per-term runs of passage rows and counts, plus each passage's
length). Scores depend on corpus-wide figures (passage count, document frequencies,
average length), so they are computed at query time; storing counts is what lets a
build assemble the next index from row ranges of the last one plus the new passages
only, instead of re-reading every passage.

Scoring is BM25 as Lucene (and bm25s' default ``method="lucene"``) computes it:
``idf(t) * tf / (tf + k1 * (1 - b + b * len / avg_len))`` with
``idf(t) = log(1 + (N - df + 0.5) / (df + 0.5))``.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import IndexCorruptError
from .files import FIX, read_array, read_json, write_file, write_json
from .topk import top_rows

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

FORMAT = "csc-counts-1"
PARAMS = "params.json"
VOCAB = "vocab.json"
ARRAYS = ("indptr", "rows", "tf", "lengths")  # each saved as NAME.npy



@dataclass(frozen=True)
class OldRows:
    """Rows ``start:end`` of the previous index, carried over as they are."""

    start: int
    end: int


@dataclass(frozen=True)
class NewTexts:
    """Texts of new passages, analysed now."""

    texts: Sequence[str]


# The parts of a new index, in row order.
Part = OldRows | NewTexts


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


_STEMS: dict[str, str] = {}  # word -> stem, for the words seen so far
_MAX_STEMS = 1_000_000


def _stems(words: list[str]) -> list[str]:
    """Stems of words, each word stemmed once: the same few hundred thousand words come
    back in every passage, and a look-up is a fifth of a stemming."""
    global _STEMS
    stems = _STEMS
    unseen = [w for w in words if w not in stems]
    if unseen:
        if len(stems) > _MAX_STEMS:
            stems = _STEMS = {}  # a new table: a reader in another thread keeps the old one
        unique = list(dict.fromkeys(unseen))
        stems.update(zip(unique, _stemmer().stemWords(unique)))
    return list(map(stems.__getitem__, words))


def analyse(text: str) -> list[str]:
    """Lower-cased, stemmed content words of a text, in order."""
    words = [w for w in _WORD_RE.findall(text.lower().replace("’", "'")) if w not in STOPWORDS]
    return _stems(words)


def _count_terms(texts: Sequence[str], vocab: dict[str, int]):
    """Postings of ``texts`` as (term ids, local rows, counts) sorted by term then row,
    plus each text's length in terms; terms not yet in ``vocab`` are appended to it."""
    docs = [analyse(t) for t in texts]
    lengths = np.fromiter(map(len, docs), dtype=np.int32, count=len(docs))
    flat = list(chain.from_iterable(docs))
    unseen = [t for t in dict.fromkeys(flat) if t not in vocab]
    vocab.update(zip(unseen, range(len(vocab), len(vocab) + len(unseen))))
    ids = np.fromiter(map(vocab.__getitem__, flat), dtype=np.int64, count=len(flat))
    n = max(len(docs), 1)
    # One key per (term, text) pair; np.unique sorts them term-major and counts repeats.
    keys, tf = np.unique(ids * n + np.repeat(np.arange(len(docs), dtype=np.int64), lengths),
                         return_counts=True)
    return (keys // n).astype(np.int64), keys % n, tf.astype(np.int32), lengths


class LexicalIndex:
    """BM25 over passage texts (header included), stored as term counts per passage.

    Attributes:
        vocab: the analysed terms, in the order of their ids.
        indptr: int64 (terms + 1): term ``t``'s postings are ``indptr[t]:indptr[t+1]``.
        rows: int32 (postings): passage row of each posting, ascending within a term.
        tf: integer (postings): how often the term occurs in that passage.
        lengths: int32 (passages): terms in each passage, repeats included.
    """

    def __init__(self, vocab: list[str], indptr: np.ndarray, rows: np.ndarray, tf: np.ndarray,
                 lengths: np.ndarray, k1: float = 1.2, b: float = 0.75):
        self.vocab = vocab
        self.indptr, self.rows, self.tf, self.lengths = indptr, rows, tf, lengths
        self.k1, self.b = k1, b
        self.size = len(lengths)
        self._vocab: dict[str, int] = {t: i for i, t in enumerate(vocab)}
        self._df = np.diff(np.asarray(indptr))
        self._norm: np.ndarray | None = None  # per passage, computed on first query

    @property
    def settings(self) -> dict[str, Any]:
        """How the index scores, as recorded in an index manifest."""
        return {"format": FORMAT, "scoring": "BM25, Lucene tf and idf", "k1": self.k1,
                "b": self.b}

    @classmethod
    def build(cls, texts: Sequence[str], k1: float = 1.2, b: float = 0.75) -> LexicalIndex:
        """An index over ``texts``; passage row ``i`` is ``texts[i]``."""
        return cls.assemble([NewTexts(texts)], None, k1=k1, b=b)

    @classmethod
    def assemble(cls, parts: Sequence[Part], old: LexicalIndex | None, k1: float = 1.2,
                 b: float = 0.75) -> LexicalIndex:
        """A new index from row ranges of ``old`` and texts of new passages, in order.

        Only the new texts are analysed; old postings are renumbered, filtered and merged
        with array operations, so the work beyond copying is proportional to the new texts.

        Args:
            parts: ``OldRows(a, b)`` for rows ``a:b`` of ``old``, or ``NewTexts(texts)``;
                the new index's rows are the parts' rows one after the other.
            old: the index the old ranges refer to (None if there are none).
            k1, b: BM25 parameters of the new index.

        Raises:
            ValueError: a part is not of either kind, or an old range is outside ``old``.
        """
        old_size = old.size if old is not None else 0
        old_map = np.full(old_size, -1, dtype=np.int64)  # old row -> new row, -1 if dropped
        texts: list[str] = []
        text_rows: list[np.ndarray] = []
        pos, last_old, monotonic = 0, 0, True
        for part in parts:
            if isinstance(part, OldRows):
                a, b_ = part.start, part.end
                if old is None or not 0 <= a <= b_ <= old_size:
                    raise ValueError(f"old rows {a}:{b_} are outside the old lexical index "
                                     f"({old_size} passages)")
                old_map[a:b_] = np.arange(pos, pos + b_ - a)
                monotonic &= a >= last_old
                last_old = b_
                pos += b_ - a
            elif isinstance(part, NewTexts):
                texts.extend(part.texts)
                text_rows.append(np.arange(pos, pos + len(part.texts), dtype=np.int64))
                pos += len(part.texts)
            else:
                raise ValueError(f"lexical index part {part!r} is neither OldRows nor NewTexts")

        vocab = dict(old._vocab) if old is not None else {}
        n_old_terms = len(vocab)
        new_term, local, new_tf, new_lengths = _count_terms(texts, vocab)
        new_rows = (np.concatenate(text_rows) if text_rows else np.zeros(0, np.int64))[local]

        lengths = np.zeros(pos, dtype=np.int32)
        if texts:
            lengths[np.concatenate(text_rows)] = new_lengths
        if old is not None and old_size:
            kept_docs = old_map >= 0
            lengths[old_map[kept_docs]] = np.asarray(old.lengths)[kept_docs]
            old_term = np.repeat(np.arange(n_old_terms, dtype=np.int64), old._df)
            old_rows = old_map[np.asarray(old.rows)]
            old_tf = np.asarray(old.tf).astype(np.int32)
            kept = old_rows >= 0
            if not kept.all():
                old_term, old_rows, old_tf = old_term[kept], old_rows[kept], old_tf[kept]
        else:
            old_term = old_rows = np.zeros(0, np.int64)
            old_tf = np.zeros(0, np.int32)

        if monotonic:
            # Kept old postings are still sorted by (term, row), as are the new ones
            # (new rows grow with the text order): merge by inserting the few into the many.
            at = np.searchsorted(old_term * pos + old_rows, new_term * pos + new_rows)
            term = np.insert(old_term, at, new_term)
            rows = np.insert(old_rows, at, new_rows)
            tf = np.insert(old_tf, at, new_tf)
        else:
            term = np.concatenate([old_term, new_term])
            rows = np.concatenate([old_rows, new_rows])
            order = np.lexsort((rows, term))
            term, rows, tf = term[order], rows[order], np.concatenate([old_tf, new_tf])[order]

        terms = list(vocab)
        df = np.bincount(term, minlength=len(terms))
        if not df.all():  # terms only removed passages had
            present = df > 0
            term = (np.cumsum(present) - 1)[term]
            terms = [t for t, p in zip(terms, present.tolist()) if p]
            df = df[present]
        indptr = np.zeros(len(terms) + 1, dtype=np.int64)
        np.cumsum(df, out=indptr[1:])
        return cls(terms, indptr, rows.astype(np.int32), tf, lengths, k1=k1, b=b)

    def save(self, folder: Path) -> None:
        """Write the index into ``folder`` (which must exist), each file synced to disk."""
        folder = Path(folder)
        tf = np.asarray(self.tf)
        if tf.max(initial=0) < 2**16:
            tf = tf.astype(np.uint16)  # passage-sized counts: halves the largest file
        arrays = {"indptr": np.asarray(self.indptr, np.int64),
                  "rows": np.asarray(self.rows, np.int32), "tf": tf,
                  "lengths": np.asarray(self.lengths, np.int32)}
        for name, array in arrays.items():
            write_file(folder / f"{name}.npy", lambda f, a=array: np.save(f, a))
        write_json(folder / VOCAB, self.vocab)
        params = dict(self.settings, passages=self.size, terms=len(self.vocab),
                      postings=len(self.rows))
        write_json(folder / PARAMS, params, indent=1)

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        """Read an index saved by ``save``; the arrays are memory-mapped.

        Raises:
            IndexCorruptError: a file is missing, damaged or disagrees with the others
                (the message names the file).
        """
        folder = Path(folder)
        params = read_json(folder / PARAMS)
        vocab = read_json(folder / VOCAB)
        arrays = {name: read_array(folder / f"{name}.npy") for name in ARRAYS}
        if not isinstance(params, dict) or params.get("format") != FORMAT:
            raise IndexCorruptError(f"{folder / PARAMS} is not a lexical index of format "
                                    f"{FORMAT}; {FIX}")
        if not isinstance(vocab, list) or not all(isinstance(t, str) for t in vocab):
            raise IndexCorruptError(f"{folder / VOCAB} is not a list of terms; {FIX}")
        indptr, rows, tf, lengths = (arrays[name] for name in ARRAYS)
        problem = _inconsistency(params, vocab, indptr, rows, tf, lengths)
        if problem:
            raise IndexCorruptError(f"{folder / problem[0]} {problem[1]}; {FIX}")
        return cls(vocab, indptr, rows, tf, lengths, k1=float(params["k1"]),
                   b=float(params["b"]))

    def scores(self, terms: Sequence[str]) -> np.ndarray:
        """BM25 score of every passage for the analysed query terms (a repeated term
        counts as often as it is repeated)."""
        out = np.zeros(self.size, dtype=np.float32)
        counts = Counter(self._vocab[t] for t in terms if t in self._vocab)
        if not counts:
            return out
        norm = self._length_norm()
        for term, repeats in counts.items():
            start, end = int(self.indptr[term]), int(self.indptr[term + 1])
            rows = np.asarray(self.rows[start:end])
            tf = np.asarray(self.tf[start:end], dtype=np.float32)
            # Rows are unique within a term, so a plain fancy-index add is exact.
            out[rows] += np.float32(repeats * self._idf_at(term)) * tf / (tf + norm[rows])
        return out

    def scores_at(self, terms: Sequence[str], rows: np.ndarray) -> np.ndarray:
        """:meth:`scores` of the given rows only, bit for bit (the same float32 steps
        in the same order), for re-scoring candidates found elsewhere."""
        rows = np.asarray(rows, dtype=np.int64)
        out = np.zeros(len(rows), dtype=np.float32)
        counts = Counter(self._vocab[t] for t in terms if t in self._vocab)
        if not counts or not len(rows):
            return out
        norm = self._length_norm()[rows]
        for term, repeats in counts.items():
            start, end = int(self.indptr[term]), int(self.indptr[term + 1])
            postings = np.asarray(self.rows[start:end])
            at = np.minimum(np.searchsorted(postings, rows), len(postings) - 1)
            found = postings[at] == rows
            tf = np.asarray(self.tf[start:end], dtype=np.float32)[at[found]]
            out[found] += np.float32(repeats * self._idf_at(term)) * tf / (tf + norm[found])
        return out

    def top(self, terms: Sequence[str], k: int, mask: np.ndarray | None = None
            ) -> tuple[np.ndarray, np.ndarray]:
        """The k best passages (rows, scores) with a positive score, best first; with a
        mask, only its true rows."""
        scores = self.scores(terms)
        if mask is not None:
            rows = np.flatnonzero(mask)
            return top_rows(scores[rows], k, rows, positive_only=True)
        return top_rows(scores, k, positive_only=True)

    def query_weights(self, terms: Sequence[str]) -> dict[int, float]:
        """The query side of BM25 as a sparse vector: term id -> repeats * idf, for the
        analysed query terms in the vocabulary. Its dot product with
        :meth:`document_weights` is :meth:`scores`; idf is taken from this index, so it
        follows the passages an incremental build removed."""
        counts = Counter(self._vocab[t] for t in terms if t in self._vocab)
        return {term: repeats * self._idf_at(term) for term, repeats in counts.items()}

    def document_weights(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The document side of BM25 as sparse rows: ``tf / (tf + k1 * (1 - b + b * len /
        avg_len))`` per posting, regrouped passage-major.

        Returns:
            ``indptr`` (passages + 1) into ``terms`` (int64) and ``weights`` (float32):
            passage ``i``'s entries are ``indptr[i]:indptr[i + 1]``, term ids ascending.
        """
        terms = np.repeat(np.arange(len(self.vocab), dtype=np.int64), self._df)
        rows = np.asarray(self.rows, dtype=np.int64)
        tf = np.asarray(self.tf, dtype=np.float32)
        weights = tf / (tf + self._length_norm()[rows])
        order = np.lexsort((terms, rows))  # stable by row, terms ascending within one
        indptr = np.zeros(self.size + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=self.size), out=indptr[1:])
        return indptr, terms[order], weights[order]

    def postings(self, term: str) -> np.ndarray | None:
        """The passage rows holding an analysed term, ascending (None: no passage)."""
        term_id = self._vocab.get(term)
        if term_id is None:
            return None
        return self.rows[self.indptr[term_id]:self.indptr[term_id + 1]]

    def idf(self, term: str) -> float:
        """Inverse document frequency of an analysed term (unknown terms count as rare)."""
        return self._idf_at(self._vocab[term]) if term in self._vocab else \
            math.log(1.0 + (self.size + 0.5) / 0.5)

    def _idf_at(self, term_id: int) -> float:
        df = int(self._df[term_id])
        return math.log(1.0 + (self.size - df + 0.5) / (df + 0.5))

    def _length_norm(self) -> np.ndarray:
        """``k1 * (1 - b + b * len / avg_len)`` per passage."""
        if self._norm is None:
            lengths = np.asarray(self.lengths, dtype=np.float64)
            avg = lengths.mean() if len(lengths) and lengths.sum() else 1.0
            self._norm = (self.k1 * (1 - self.b + self.b * lengths / avg)).astype(np.float32)
        return self._norm


def _inconsistency(params: dict, vocab: list[str], indptr: np.ndarray, rows: np.ndarray,
                   tf: np.ndarray, lengths: np.ndarray) -> tuple[str, str] | None:
    """(file, what is wrong) for the first disagreement between the parts, or None.

    Every check that keeps a query from failing with an IndexError is here; the
    postings are read once for the row bounds, which is cheap next to loading the model.
    """
    if indptr.ndim != 1 or len(indptr) != len(vocab) + 1:
        return "indptr.npy", f"holds {len(indptr)} offsets for {len(vocab)} terms"
    if not np.issubdtype(indptr.dtype, np.integer) or indptr[0] != 0 \
            or np.any(np.diff(indptr) < 0):
        return "indptr.npy", "is not a sequence of ascending offsets from 0"
    for name, array in (("rows.npy", rows), ("tf.npy", tf), ("lengths.npy", lengths)):
        if array.ndim != 1 or not np.issubdtype(array.dtype, np.integer):
            return name, "is not a one-dimensional integer array"
    if len(rows) != indptr[-1] or len(tf) != len(rows):
        return "rows.npy", (f"holds {len(rows)} postings and tf.npy {len(tf)}; indptr.npy "
                            f"says {int(indptr[-1])}")
    if len(lengths) != params.get("passages") or len(vocab) != params.get("terms"):
        return PARAMS, (f"counts {params.get('passages')} passages and {params.get('terms')} "
                        f"terms, the files hold {len(lengths)} and {len(vocab)}")
    if len(rows) and (rows.min() < 0 or rows.max() >= len(lengths)):
        return "rows.npy", f"points outside the {len(lengths)} passages"
    return None
