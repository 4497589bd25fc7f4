"""Article -> [Chunk]: sentence-aware chunks with exact character offsets.

Sentences come from qa.sentences (blingfire, run per line, so a chunk never glues a
headline-like line onto a sentence). Chunks are greedy packs of whole sentences up to
`words` words, neighbours sharing `overlap` sentences, so an answer sentence near a
boundary is whole in one chunk.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Iterator

from qa.sentences import sentence_spans
from qa.types import Article, Chunk


def chunk_id(article_id: str, start: int, end: int, text: str) -> str:
    """Deterministic: re-indexing the same article never duplicates a chunk."""
    digest = hashlib.sha256(f"{article_id}\x00{start}\x00{end}\x00{text}".encode())
    return digest.hexdigest()[:20]


def _packs(spans: list[tuple[int, int]], lengths: list[int], words: int, overlap: int
           ) -> Iterator[tuple[int, int]]:
    """Index ranges [i, j) of sentences: greedy up to `words`, `overlap` sentences shared."""
    i, n = 0, len(spans)
    while i < n:
        j, total = i, 0
        while j < n and (j == i or total + lengths[j] <= words):
            total += lengths[j]
            j += 1
        yield i, j
        if j >= n:
            return
        i = max(i + 1, j - overlap)


def chunk_article(article: Article, words: int = 80, overlap: int = 1) -> list[Chunk]:
    """Split an article into chunks; `article.text[c.start:c.end] == c.text` for each."""
    spans = sentence_spans(article.text)
    lengths = [len(article.text[a:b].split()) for a, b in spans]
    chunks = []
    for ordinal, (i, j) in enumerate(_packs(spans, lengths, words, overlap)):
        start, end = spans[i][0], spans[j - 1][1]
        text = article.text[start:end]
        chunks.append(Chunk(chunk_id(article.id, start, end, text), article.id, start, end, text, ordinal))
    return chunks


_WORD = re.compile(r"\S+")


def embed_text(title: str, chunk_text: str, words: int = 0) -> str:
    """What the embedder sees: the headline gives a passage its topic, then the chunk's first
    `words` words (0: all of it). The rest of the chunk is still found by BM25, which indexes every
    word; the embedder's time grows with the words it reads."""
    if words:
        ends = [m.end() for m in itertools.islice(_WORD.finditer(chunk_text), words)]
        chunk_text = chunk_text[:ends[-1]] if ends else chunk_text
    return f"{title}\n{chunk_text}" if title else chunk_text
