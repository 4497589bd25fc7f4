"""Text -> the (start, end) offsets of its sentences: the one sentence splitter.

Sentences come from blingfire (a compiled finite-state splitter, 10x faster than the pysbd it replaced,
which took a fifth of an index build), run per line so a headline-like line is never glued onto a sentence
(a line break always ends a sentence, as it did with pysbd), and
with one correction: a sentence that leaves a quotation open is joined to the next, so a quote stays
one sentence with its "he said". Both flows split with it: the index's chunks (qa.indexing.chunk),
and, when answering, the sentences picked for the prompt, the cited passages' sentences, the answer's
own sentences (qa.answering.cite) and a story's event sentences.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

_LINE = re.compile(r"[^\n]+")


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """(start, end) offsets of the sentences of text[start:end], whitespace excluded.

    >>> t = "Mr. Biden spoke. He left.\\n\\nNew paragraph."
    >>> [t[a:b] for a, b in sentence_spans(t)]
    ['Mr. Biden spoke.', 'He left.', 'New paragraph.']
    """
    return list(iter_sentence_spans(text, start, end))


def iter_sentence_spans(text: str, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int]]:
    """sentence_spans, one line at a time: a caller that needs the first few sentences does not pay
    for splitting the whole article."""
    end = len(text) if end is None else end
    for line in _LINE.finditer(text, start, end):
        if line.group().strip():
            yield from _line_spans(text, line.start(), line.group())


def _line_spans(text: str, offset: int, line: str) -> Iterator[tuple[int, int]]:
    import blingfire  # local import: keeps `import qa.sentences` cheap

    # blingfire's sentence ends are the cuts; the pieces between them cover the whole line, so no
    # character it skips (control characters, stray symbols) falls out of every sentence
    ends = [b for _, b in blingfire.text_to_sentences_and_offsets(line)[1] if 0 < b < len(line)]
    pieces: list[tuple[int, int]] = []
    for a, b in zip([0, *ends], [*ends, len(line)], strict=True):
        if pieces and _open_quote(line[pieces[-1][0]:pieces[-1][1]]):
            pieces[-1] = (pieces[-1][0], b)
        elif b > a:
            pieces.append((a, b))
    for a, b in pieces:
        piece = line[a:b]
        if piece.strip():
            yield offset + a + len(piece) - len(piece.lstrip()), offset + a + len(piece.rstrip())


def _open_quote(sentence: str) -> bool:
    """An odd number of straight double quotes, or more opening curly quotes than closing ones."""
    return sentence.count('"') % 2 == 1 or sentence.count("\u201c") > sentence.count("\u201d")
