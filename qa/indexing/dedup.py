"""Near-duplicate (syndicated) articles: MinHash over word shingles, grouped with LSH.

The same wire story appears on many sites with different boilerplate, headlines and
small edits. Articles whose cleaned texts have an estimated Jaccard similarity of
word 5-gram shingles above THRESHOLD land in one group (connected components), so
retrieval can return one passage per story and a citation can list the other outlets.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from qa.types import Article

THRESHOLD = 0.5  # a lightly edited copy scores ~0.6-0.9; two stories on one topic ~0.0-0.1
NUM_PERM = 128
SHINGLE = 5


def shingles(text: str, size: int = SHINGLE) -> set[bytes]:
    """Word n-grams of the lower-cased text (the whole text when it is shorter)."""
    words = re.findall(r"\w+", text.lower())
    if len(words) <= size:
        return {" ".join(words).encode()} if words else set()
    return {" ".join(words[i:i + size]).encode() for i in range(len(words) - size + 1)}


def group_articles(articles: Sequence[Article]) -> dict[str, str]:
    """article id -> group id (the smallest member id), for articles in groups of two or more."""
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM)
    hashes = {}
    for article in articles:
        grams = shingles(article.text)
        if not grams:
            continue
        m = MinHash(num_perm=NUM_PERM)
        m.update_batch(list(grams))
        hashes[article.id] = m
        lsh.insert(article.id, m)
    # LSH proposes candidates; the MinHash estimate confirms them
    pairs = [(a, b) for a, m in hashes.items() for b in lsh.query(m) if b != a and m.jaccard(hashes[b]) >= THRESHOLD]
    return components(list(hashes), pairs)


def components(ids: Sequence[str], pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """id -> group id (the smallest member id), for the connected groups of two or more of `ids` that
    `pairs` join; groups in the order of their first member in `ids`, members in `ids` order.

    >>> components(["d", "c", "b", "a", "e"], [("c", "a"), ("a", "b")])
    {'c': 'a', 'b': 'a', 'a': 'a'}
    """
    import numpy as np
    from scipy.sparse import coo_array
    from scipy.sparse.csgraph import connected_components

    index = {a: i for i, a in enumerate(ids)}
    edges = np.array([(index[a], index[b]) for a, b in pairs], dtype=np.int64).reshape(-1, 2)
    graph = coo_array((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(len(ids), len(ids)))
    _, labels = connected_components(graph, directed=False)  # an edge joins both ways, as a duplicate does
    groups: dict[int, list[str]] = {}
    for a, label in zip(ids, labels.tolist(), strict=True):  # ordered by first member, whatever scipy numbers them
        groups.setdefault(label, []).append(a)
    return {a: min(members) for members in groups.values() if len(members) > 1 for a in members}
