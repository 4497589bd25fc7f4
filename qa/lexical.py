"""BM25 over chunk texts (bm25s), with stemming and spelling-variant expansion.

Scraped news misspells names ("Brinken" for "Blinken"): exact-token BM25 misses
them. A query term of five letters or more also matches index terms one edit
away (two for long terms) that start with the same letter.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

_TOKEN = re.compile(r"(?u)\b\w\w+\b")


@functools.cache
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


@functools.cache
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


def is_stopword(word: str) -> bool:
    return word in _stopwords()


def tokens(text: str) -> list[str]:
    """Lower-cased, stop words removed, stemmed.

    >>> tokens("Where did the ministers meet?")
    ['where', 'did', 'minist', 'meet']
    """
    words = [w for w in _TOKEN.findall(text.lower()) if w not in _stopwords()]
    return list(_stemmer().stemWords(words))


def _quiet() -> None:
    logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every build at DEBUG


def build(texts: Sequence[str]) -> Any:
    import bm25s

    _quiet()
    retriever = bm25s.BM25()
    retriever.index([tokens(t) or ["\x00empty"] for t in texts], show_progress=False)
    return retriever


def load(path: str) -> Any:
    import bm25s

    _quiet()
    # memory-mapped: the score matrix stays in the page cache, not in the process, which is what lets a
    # store of millions of passages open in a few GB (docs/scale.md); on Linux a mapping outlives the
    # removal of an old generation's files, so a rebuild can clean up under a serving process
    retriever = bm25s.BM25.load(path, mmap=True, show_progress=False)
    retriever.vocab_list = Vocabulary(retriever.vocab_dict)  # for spelling-variant look-ups
    return retriever


class Vocabulary(list[str]):
    """The index terms, sorted; also grouped by first letter and ordered by length, with their letter
    counts and the variants found so far.

    A variant shares the first letter, is within the edit limit in length, and (one edit changes
    the letter counts by at most 2) its letter counts differ from the term's by at most twice the
    limit. So a look-up filters one contiguous slice of its letter's group with numpy and measures
    edit distances on the few terms left (~0.1 ms a term). A full scan took ~80 ms a term on a
    100k-chunk index (290k terms; a 1M-chunk one has ~840k), and retrieval asks again for every
    passage it checks, hence the memo (bench/scale.py).
    """

    def __init__(self, terms: Iterable[str]):
        super().__init__(sorted(terms))
        self.by_letter: dict[str, list[str]] = {}
        for term in sorted(self, key=len):  # stable: alphabetical within a length
            self.by_letter.setdefault(term[:1], []).append(term)
        # starts[letter][n] = index of the first term of length >= n in by_letter[letter]
        self.starts = {letter: np.searchsorted([len(t) for t in group], np.arange(64)).tolist()
                       for letter, group in self.by_letter.items()}
        self.counts = {letter: letter_counts(group) for letter, group in self.by_letter.items()}
        self.found: dict[str, list[str]] = {}

    def candidates(self, term: str, limit: int) -> list[str]:
        """The terms that may be within `limit` edits of term and share its first letter."""
        group, starts = self.by_letter.get(term[:1], []), self.starts.get(term[:1], [0])
        lo, hi = max(len(term) - limit, 0), len(term) + limit + 1
        first, last = starts[min(lo, len(starts) - 1)], starts[hi] if hi < len(starts) else len(group)
        if first >= last:
            return []
        block = self.counts[term[:1]][:, first:last]  # letters x terms: sums run along rows, fast
        apart = np.abs(block - letter_counts([term])).sum(axis=0, dtype=np.int16)
        return [group[first + i] for i in np.flatnonzero(apart <= 2 * limit).tolist()]


def letter_counts(terms: Sequence[str]) -> np.ndarray:
    """27 x len(terms): how often each of a-z occurs in each term (any other character in row 26),
    capped at 127 so that differences fit in int8.

    >>> letter_counts(["abba", "c1"])[[0, 1, 2, 26]].T.tolist()
    [[2, 2, 0, 0], [0, 0, 1, 1]]
    """
    codes = np.frombuffer("".join(terms).encode("utf-32-le"), dtype=np.uint32)
    letters = np.where((codes >= 97) & (codes <= 122), codes - 97, 26)
    columns = np.repeat(np.arange(len(terms)), [len(t) for t in terms])
    counts = np.bincount(letters * len(terms) + columns, minlength=27 * len(terms))
    return np.minimum(counts, 127).astype(np.int8).reshape(27, len(terms))


def variants(term: str, vocab: Sequence[str]) -> list[str]:
    """Index terms close in spelling to a query term (the term itself excluded), closest first.

    >>> variants("blinken", ["brinken", "blink", "lavrov", "blinken"])
    ['brinken']
    """
    if len(term) < 5 or not term.isalpha():
        return []
    limit = 1 if len(term) < 8 else 2
    if not isinstance(vocab, Vocabulary):
        return _closest(term, [v for v in vocab if v[:1] == term[:1] and abs(len(v) - len(term)) <= limit],
                        limit)
    found = vocab.found.get(term)
    if found is None:
        found = _closest(term, vocab.candidates(term, limit), limit)
        if len(vocab.found) > 100_000:  # bound the memo; queries rarely repeat that many terms
            vocab.found.clear()
        vocab.found[term] = found
    return list(found)


def _closest(term: str, candidates: Sequence[str], limit: int) -> list[str]:
    """The 5 candidates within `limit` edits of term (term excluded), by distance then alphabetically."""
    from rapidfuzz import process
    from rapidfuzz.distance import Levenshtein

    found = process.extract(term, candidates, scorer=Levenshtein.distance, score_cutoff=limit, limit=None)
    return [v for _, v in sorted((d, v) for v, d, _ in found if v != term)[:5]]


def expand(query_tokens: Sequence[str], retriever: Any) -> list[str]:
    vocab = getattr(retriever, "vocab_list", None)
    if not isinstance(vocab, Vocabulary):  # a freshly built retriever: index its terms once
        vocab = retriever.vocab_list = Vocabulary(retriever.vocab_dict)
    expanded = list(query_tokens)
    for term in query_tokens:
        expanded += variants(term, vocab)
    return expanded


def search(retriever: Any, query_tokens: Sequence[str], k: int) -> list[tuple[int, float]]:
    """(doc row, score) of the k best documents with a positive score, for a query's `tokens`."""
    query_tokens = [t for t in expand(query_tokens, retriever) if t in retriever.vocab_dict]
    if not query_tokens or k <= 0:
        return []
    scores = retriever.get_scores(query_tokens)
    return [(int(i), float(scores[i])) for i in top_rows(scores, k)]


def top_rows(scores: np.ndarray, k: int, stride: int = 32) -> np.ndarray:
    """Rows of the k highest positive scores, best first.

    Partitioning all of a 1M-chunk score array costs ~10-30 ms. The k-th best of every `stride`-th
    score is at most the true k-th best, so only the scores at or above it (~stride*k) are ranked.

    >>> top_rows(np.array([0.0, 3.0, 1.0, 2.0]), 2, stride=1).tolist()
    [1, 3]
    """
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    sample = scores[::stride]
    sample = sample[sample > 0]  # partitioning many equal zeros is slow (~4 ms for 31k)
    floor = np.partition(sample, len(sample) - k)[len(sample) - k] if len(sample) > k else 0.0
    rows = np.flatnonzero(scores >= floor) if floor > 0 else np.flatnonzero(scores > 0)
    if len(rows) > k:
        rows = rows[np.argpartition(-scores[rows], k - 1)[:k]]
    return rows[np.argsort(-scores[rows], kind="stable")]


def respell(text: str, retriever: Any) -> str | None:
    """The text with its capitalised words spelled as the index spells a close variant
    ("Blinken" -> "Brinken" when an article has it), or None when nothing changes: a dense
    embedding of a misspelled name is far from the correct one, so both spellings are searched."""
    vocab = getattr(retriever, "vocab_list", None) or sorted(retriever.vocab_dict)
    changed = False

    def swap(m: re.Match[str]) -> str:
        nonlocal changed
        word = m.group(0)
        if not word[:1].isupper() or len(word) < 5:
            return word
        found = variants(_stemmer().stemWord(word.lower()), vocab)
        if not found:
            return word
        changed = True
        return found[0][:1].upper() + found[0][1:]

    out = re.sub(r"[^\W\d_]+", swap, text)
    return out if changed else None

