"""Citation markers -> Citation objects, a support check, and highlight spans.

Each answer sentence is compared with the sentences of the passages it cites: the best
matching passage sentence is the snippet to highlight, and its similarity decides
whether the citation supports the claim. Similarity is the larger of the embedding
cosine and the share of the claim's content words found in the passage sentence
(a lexical check catches names and numbers that a small embedder blurs). A sentence
the model left uncited gets a post-hoc citation when one passage clearly supports it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from qa import lexical
from qa.chunk import sentence_spans
from qa.embed import Embedder
from qa.types import Citation, Hit

MARKER = re.compile(r"\[\s*(\d+(?:\s*(?:[-–,]|and)\s*\d+)*)\s*\]")
SUPPORT_MIN = 0.5  # claim/passage-sentence similarity under which a citation is flagged
NAMES_MIN = 0.5  # share of the claim's names and numbers the cited passage must contain
POSTHOC_MIN = 0.62  # stricter: attributing an uncited sentence must not invent support
# A cited passage that only loosely supports the sentence (under CLEAR_SUPPORT) gives way to an
# uncited one that supports it by MISCOUNT_MARGIN more: the model cited [2] for words it took from [1].
CLEAR_SUPPORT = 0.7
MISCOUNT_MARGIN = 0.2
SHORT_CLAIM = 6  # words: "Stockholm [1]." is judged together with the question
MAX_RANGE = 20  # "[1-1000000]" is noise, not a citation


def parse_markers(text: str, n_sources: int) -> list[int]:
    """Source numbers in the markers of `text`, in order, deduplicated, out-of-range dropped.

    >>> parse_markers("A [1]. B [2, 3][3] C [1-2] D [7]", 3)
    [1, 2, 3]
    """
    found: list[int] = []
    for match in MARKER.finditer(text):
        for part in re.split(r"\s*(?:,|and)\s*", match.group(1)):
            ends = [int(x) for x in re.split(r"\s*[-–]\s*", part) if x.strip().isdigit()]
            if not ends:
                continue
            lo, hi = min(ends[0], ends[-1]), max(ends[0], ends[-1])
            numbers = range(lo, hi + 1) if hi - lo <= MAX_RANGE else (lo, hi)
            found += [n for n in numbers if 1 <= n <= n_sources and n not in found]
    return found


def strip_markers(text: str) -> str:
    return re.sub(r"\s+([.,;:!?])", r"\1", MARKER.sub("", text)).strip()


def split_claims(answer: str) -> list[tuple[str, list[str]]]:
    """(sentence with its markers, [marker strings]) pairs. Markers that open a sentence
    ("... power. [1] Then ...") belong to the sentence before them."""
    pieces = [answer[a:b] for a, b in sentence_spans(answer)]
    claims: list[tuple[str, list[str]]] = []
    for piece in pieces:
        lead = re.match(r"^(\s*(?:\[[^\]]*\]\s*)+)", piece)
        if lead and claims and MARKER.search(lead.group(1)):
            prev, marks = claims[-1]
            claims[-1] = (prev + " " + lead.group(1).strip(), [*marks, lead.group(1)])
            piece = piece[lead.end():]
        if strip_markers(piece):
            claims.append((piece, [m.group(0) for m in MARKER.finditer(piece)]))
        elif claims and piece.strip():  # a sentence that is only markers
            prev, marks = claims[-1]
            claims[-1] = (prev + " " + piece.strip(), [*marks, piece])
    return claims


def lexical_support(claim: str, passage_sentence: str) -> float:
    """Share of the claim's content words (stemmed) that the passage sentence contains."""
    words = set(lexical.tokens(claim))
    if not words:
        return 0.0
    return len(words & set(lexical.tokens(passage_sentence))) / len(words)


_NAME_OR_NUMBER = re.compile(r"\b(?:\d[\d,.]*\d|\d|[A-Z][\w'’-]+)")


def names(text: str) -> set[str]:
    """Capitalised words and numbers: the facts a small embedder blurs ("Stockholm" vs "Kyiv").

    >>> sorted(names("They met in Stockholm on December 2."))
    ['2', 'december', 'stockholm']
    """
    found = {m.group(0).lower().rstrip(".,") for m in _NAME_OR_NUMBER.finditer(text)}
    return {w for w in found if w and not lexical.is_stopword(w)}


def names_support(claim: str, passage: str) -> float:
    """Share of the claim's names and numbers found in the passage (spelling variants count)."""
    wanted = names(claim)
    if not wanted:
        return 1.0
    low = passage.lower()
    words = set(re.findall(r"[\w'’-]+", low)) | set(re.findall(r"\d[\d,.]*\d", low))  # "70,000" whole too
    vocab = sorted(words)
    hits = sum(1 for w in wanted if w in words or lexical.variants(w, vocab))
    return hits / len(wanted)


@dataclass(frozen=True)
class _Passage:
    n: int
    hit: Hit
    spans: list[tuple[int, int]]  # sentence spans inside hit.chunk.text
    vectors: np.ndarray
    title_vector: np.ndarray


def _passages(sources: Sequence[Hit], embedder: Embedder) -> list[_Passage]:
    spans = [sentence_spans(h.chunk.text) or [(0, len(h.chunk.text))] for h in sources]
    texts = [h.chunk.text[a:b] for h, ss in zip(sources, spans, strict=True) for a, b in ss]
    vectors = embedder.embed([*texts, *(h.title for h in sources)])
    titles = vectors[len(texts):]
    out, i = [], 0
    for n, (hit, ss) in enumerate(zip(sources, spans, strict=True), 1):
        out.append(_Passage(n, hit, ss, vectors[i:i + len(ss)], titles[n - 1]))
        i += len(ss)
    return out


def _best(claim: str, claim_vec: np.ndarray, p: _Passage) -> tuple[float, tuple[int, int]]:
    """Support of the claim by the passage: its best sentence, or the headline the prompt showed
    with it (a claim restating the headline is supported; the best sentence is still what is
    highlighted)."""
    cos = p.vectors @ claim_vec
    lex = np.array([lexical_support(claim, p.hit.chunk.text[a:b]) for a, b in p.spans])
    scores = np.maximum(cos, lex)
    i = int(np.argmax(scores))
    headline = max(float(p.title_vector @ claim_vec), lexical_support(claim, p.hit.title))
    return max(float(scores[i]), headline), p.spans[i]


def _citation(n: int, p: _Passage, sentence: str, score: float, span: tuple[int, int], posthoc: bool,
              claim: str = "") -> Citation:
    c = p.hit.chunk
    grounded = names_support(claim or sentence, f"{p.hit.title} {c.text}") >= NAMES_MIN
    return Citation(n=n, article_id=c.article_id, title=p.hit.title, chunk_id=c.id, start=c.start, end=c.end,
                    snippet=c.text[span[0]:span[1]], snippet_start=c.start + span[0],
                    snippet_end=c.start + span[1], supported=score >= SUPPORT_MIN and grounded,
                    support=round(score, 4),
                    sentence=sentence, posthoc=posthoc, published=p.hit.published, url=p.hit.url,
                    score=p.hit.score, source=p.hit.source, also=p.hit.also)


def _with_markers(sentence: str, numbers: Sequence[int]) -> str:
    """'They met in Stockholm.' + [3] -> 'They met in Stockholm [3].'"""
    if not numbers:
        return sentence
    marks = "".join(f"[{n}]" for n in numbers)
    body = sentence.rstrip()
    end = len(body.rstrip(".!?;:"))
    return f"{body[:end]} {marks}{body[end:]}"


def attribute(answer: str, question: str, sources: Sequence[Hit], embedder: Embedder
              ) -> tuple[str, list[Citation]]:
    """Check every citation of the answer; returns the answer with its markers normalised and the
    citations. A sentence keeps only the sources that support it when at least one does (a small
    model over-cites). When none does, a source that clearly supports the sentence replaces them
    post hoc (a small model also miscounts its sources); failing that they stay, flagged
    unsupported. An uncited sentence gets a post-hoc citation the same way."""
    claims = split_claims(answer)
    if not claims or not sources:
        return answer, []
    passages = _passages(sources, embedder)
    plain = [strip_markers(s) for s, _ in claims]
    judged = [s if len(s.split()) >= SHORT_CLAIM else f"{question} {s}" for s in plain]
    vectors = embedder.embed(judged)
    citations: list[Citation] = []
    sentences: list[str] = []
    for (_, marks), sentence, claim, vec in zip(claims, plain, judged, vectors, strict=True):
        cited = [_citation(n, passages[n - 1], sentence, *_best(claim, vec, passages[n - 1]), False, claim)
                 for n in parse_markers(" ".join(marks), len(sources))]
        kept = [c for c in cited if c.supported]
        cited_best = max((c.support for c in kept), default=0.0)
        if cited_best < CLEAR_SUPPORT:  # nothing cited clearly supports the sentence
            candidates = [_citation(p.n, p, sentence, *_best(claim, vec, p), True, claim) for p in passages]
            best = max(candidates, key=lambda c: c.support)
            found = (best.supported and best.support >= max(POSTHOC_MIN, cited_best + MISCOUNT_MARGIN)
                     and best.n not in {c.n for c in cited})
            kept = [best] if found else kept or cited  # a wrong number is replaced, else shown flagged
        citations += kept
        sentences.append(_with_markers(sentence, [c.n for c in kept]))
    return " ".join(sentences), citations
