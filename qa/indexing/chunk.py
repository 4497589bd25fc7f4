"""Article -> [Chunk]: sentence-aware chunks with exact character offsets.

Sentences come from pysbd (rule-based, handles "Mr.", "U.S.", quotes), run per
paragraph so a chunk never glues a headline-like line onto a sentence. Chunks are
greedy packs of whole sentences up to `words` words, neighbours sharing
`overlap` sentences, so an answer sentence near a boundary is whole in one chunk.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterator

from qa.types import Article, Chunk

_PARAGRAPH = re.compile(r"[^\n]+(?:\n[^\n]+)*")  # runs of non-empty lines


@functools.cache
def _segmenter():  # type: ignore[no-untyped-def]
    import pysbd  # local import: keeps `import qa.indexing.chunk` cheap

    return pysbd.Segmenter(language="en", clean=False)


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """(start, end) offsets of the sentences of text[start:end], whitespace excluded.

    >>> t = "Mr. Biden spoke. He left.\\n\\nNew paragraph."
    >>> [t[a:b] for a, b in sentence_spans(t)]
    ['Mr. Biden spoke.', 'He left.', 'New paragraph.']
    """
    return list(iter_sentence_spans(text, start, end))


def iter_sentence_spans(text: str, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int]]:
    """sentence_spans, one paragraph at a time: a caller that needs the first few sentences
    does not pay for segmenting the whole article (pysbd: ~5 ms per 1,000 characters)."""
    end = len(text) if end is None else end
    for para in _PARAGRAPH.finditer(text, start, end):
        cursor = para.start()
        for sentence in _segmenter().segment(para.group()):
            piece = sentence.strip()
            if not piece:
                continue
            # pysbd's own char_span is unreliable on repeated text: locate it ourselves
            found = text.find(piece, cursor, para.end())
            if found < 0:
                continue
            yield found, found + len(piece)
            cursor = found + len(piece)
        if cursor < para.end() and text[cursor:para.end()].strip():  # text pysbd dropped
            rest = text[cursor:para.end()]
            lead = len(rest) - len(rest.lstrip())
            yield cursor + lead, cursor + len(rest.rstrip())


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


def embed_text(title: str, chunk_text: str) -> str:
    """What the embedder sees: the headline gives a passage its topic."""
    return f"{title}\n{chunk_text}" if title else chunk_text
