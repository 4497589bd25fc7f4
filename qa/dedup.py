"""Near-duplicate (syndicated) articles: MinHash over word shingles, grouped with LSH.

The same wire story appears on many sites with different boilerplate, headlines and
small edits. Articles whose cleaned texts have an estimated Jaccard similarity of
word 5-gram shingles above THRESHOLD land in one group (connected components), so
retrieval can return one passage per story and a citation can list the other outlets.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

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
    parent = {a: a for a in hashes}

    def root(a: str) -> str:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for a, m in hashes.items():
        for b in lsh.query(m):
            # LSH proposes candidates; the MinHash estimate confirms them
            if b != a and m.jaccard(hashes[b]) >= THRESHOLD:
                ra, rb = root(a), root(b)
                parent[max(ra, rb)] = min(ra, rb)
    groups: dict[str, list[str]] = {}
    for a in hashes:
        groups.setdefault(root(a), []).append(a)
    return {a: min(members) for members in groups.values() if len(members) > 1 for a in members}
