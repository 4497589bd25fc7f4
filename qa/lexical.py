"""BM25 over chunk texts (bm25s), with stemming and spelling-variant expansion.

Scraped news misspells names ("Brinken" for "Blinken"): exact-token BM25 misses
them. A query term of five letters or more also matches index terms one edit
away (two for long terms) that start with the same letter.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Sequence
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


def tokens(text: str) -> list[str]:
    """Lower-cased, stop words removed, stemmed.

    >>> tokens("Where did the ministers meet?")
    ['minist', 'meet']
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
    retriever = bm25s.BM25.load(path, mmap=False, show_progress=False)
    retriever.vocab_list = sorted(retriever.vocab_dict)  # for spelling-variant look-ups
    return retriever


def variants(term: str, vocab: Sequence[str]) -> list[str]:
    """Index terms close in spelling to a query term (the term itself excluded).

    >>> variants("blinken", ["brinken", "blink", "lavrov", "blinken"])
    ['brinken']
    """
    if len(term) < 5 or not term.isalpha():
        return []
    from rapidfuzz import process
    from rapidfuzz.distance import Levenshtein

    limit = 1 if len(term) < 8 else 2
    found = process.extract(term, vocab, scorer=Levenshtein.distance, score_cutoff=limit, limit=5)
    return [v for v, _, _ in found if v != term and v[:1] == term[:1] and abs(len(v) - len(term)) <= limit]


def expand(query_tokens: Sequence[str], retriever: Any) -> list[str]:
    vocab = getattr(retriever, "vocab_list", None) or sorted(retriever.vocab_dict)
    expanded = list(query_tokens)
    for term in query_tokens:
        expanded += variants(term, vocab)
    return expanded


def search(retriever: Any, query: str, k: int) -> list[tuple[int, float]]:
    """(doc row, score) of the k best documents with a positive score."""
    query_tokens = [t for t in expand(tokens(query), retriever) if t in retriever.vocab_dict]
    if not query_tokens or k <= 0:
        return []
    scores = retriever.get_scores(query_tokens)
    k = min(k, len(scores))
    top = np.argpartition(-scores, k - 1)[:k]
    top = top[np.argsort(-scores[top])]
    return [(int(i), float(scores[i])) for i in top if scores[i] > 0]
