"""Text -> the (start, end) offsets of its sentences: the one sentence splitter.

Sentences come from pysbd (rule-based, handles "Mr.", "U.S.", quotes), run per paragraph so a
headline-like line is never glued onto a sentence. Both flows split with it: the index's chunks
(qa.indexing.chunk), and, when answering, the sentences picked for the prompt, the cited passages'
sentences, the answer's own sentences (qa.answering.cite) and a story's event sentences.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator

_PARAGRAPH = re.compile(r"[^\n]+(?:\n[^\n]+)*")  # runs of non-empty lines


@functools.cache
def _segmenter():  # type: ignore[no-untyped-def]
    import pysbd  # local import: keeps `import qa.sentences` cheap

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
