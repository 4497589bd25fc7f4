"""Citation markers -> Citation objects, a support check, and highlight spans.

The [n] markers are parsed here only: in the model's answer (`attribute`, which returns the
answer as AnswerSentences, each with the numbers it cites) and in an answer read back from its
JSON text (`read_sentences`). Every face renders the sentences; none parses markers again.

Each answer sentence is checked against the passages it cites by `qa.answering.support.judge`: a
citation supports its sentence only when the passage states what the sentence adds to the
question (its names, numbers with their units, and content words). The sentence of the
stating window that shares most of the claim's words is the snippet to highlight. A sentence
the model cited wrongly or left uncited gets a post-hoc citation when another source states it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from qa.answering import support
from qa.answering.query import Query
from qa.answering.support import Verdict
from qa.sentences import sentence_spans
from qa.types import AnswerSentence, Citation, Hit

MARKER = re.compile(r"\[\s*(\d+(?:\s*(?:[-–,]|and)\s*\d+)*)\s*\]")
MAX_RANGE = 20  # "[1-1000000]" is noise, not a citation
# An answer read back from its text keeps every number its markers name: they were checked when it was made.
_ANY_SOURCE = 1_000_000
Weight = Callable[[str], float]


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


@dataclass(frozen=True)
class _Passage:
    n: int
    hit: Hit
    spans: list[tuple[int, int]]  # sentence spans inside hit.chunk.text
    sentences: list[str]


def _passages(sources: Sequence[Hit]) -> list[_Passage]:
    out = []
    for n, hit in enumerate(sources, 1):
        spans = sentence_spans(hit.chunk.text) or [(0, len(hit.chunk.text))]
        out.append(_Passage(n, hit, spans, [hit.chunk.text[a:b] for a, b in spans]))
    return out


def _highlight(claim: str, p: _Passage, verdict: Verdict) -> tuple[int, int]:
    """The sentence of the evidence window that shares most of the claim's words."""
    words = support.content(claim)
    lo, hi = verdict.evidence
    lo, hi = min(lo, len(p.spans) - 1), min(hi, len(p.spans) - 1)
    best = max(range(lo, hi + 1), key=lambda i: len(words & support.content(p.sentences[i])))
    return p.spans[best]


def _cite(p: _Passage, span: tuple[int, int], sentence: str, supported: bool, support: float,
          posthoc: bool = False, missing: tuple[str, ...] = (), on_topic: bool = False) -> Citation:
    """Passage p cited for `sentence`, its sentence at `span` (offsets in the passage) highlighted."""
    a, b = span
    c = p.hit.chunk
    return Citation(n=p.n, article_id=c.article_id, title=p.hit.title, chunk_id=c.id, start=c.start, end=c.end,
                    snippet=c.text[a:b], snippet_start=c.start + a, snippet_end=c.start + b,
                    supported=supported, support=support, sentence=sentence, posthoc=posthoc,
                    published=p.hit.published, url=p.hit.url, score=p.hit.score, source=p.hit.source,
                    also=p.hit.also, missing=missing, on_topic=on_topic)


def _citation(p: _Passage, sentence: str, query: Query, posthoc: bool, weight: Weight) -> Citation:
    verdict = support.judge(sentence, query, p.sentences, p.hit.title, weight)
    return _cite(p, _highlight(sentence, p, verdict), sentence, verdict.stated, round(max(verdict.score, 0.0), 4),
                 posthoc, verdict.missing, verdict.on_topic)


def attribute(answer: str, query: Query, sources: Sequence[Hit], weight: Weight = lambda _: 1.0
              ) -> tuple[list[AnswerSentence], list[Citation]]:
    """Check every citation of the answer; returns its sentences, each with the numbers it cites after
    the check, and the citations. A sentence keeps only the cited sources that state it when at least
    one does (a small model over-cites). When none does, an uncited source that states it replaces
    them post hoc (a small model also miscounts its sources); failing that they stay, flagged
    unsupported. An uncited sentence gets a post-hoc citation the same way. `weight` is a question
    word's weight (its IDF). Without sources nothing is cited."""
    claims = split_claims(answer)
    if not claims or not sources:
        return [AnswerSentence(strip_markers(s)) for s, _ in claims], []
    passages = _passages(sources)
    citations: list[Citation] = []
    sentences: list[AnswerSentence] = []
    for sentence, marks in ((strip_markers(s), m) for s, m in claims):
        numbers = parse_markers(" ".join(marks), len(sources))
        cited = [_citation(passages[n - 1], sentence, query, False, weight) for n in numbers]
        kept = [c for c in cited if c.supported]
        if not kept:
            others = [_citation(p, sentence, query, True, weight) for p in passages if p.n not in numbers]
            stating = sorted((c for c in others if c.supported), key=lambda c: -c.support)
            # a wrong number is replaced, a two-part answer checked part by part, else shown flagged
            kept = stating[:1] or _by_parts(sentence, query, numbers, passages, weight) or cited
        citations += kept
        sentences.append(AnswerSentence(sentence, tuple(dict.fromkeys(c.n for c in kept))))
    return sentences, citations


# Where an answer joins two statements: "Glen Marsh managed Rovers, while Marcus Hill managed Eastgate".
_JOINS = re.compile(r"\s*;\s*|,\s+(?:and|while|whereas|but)\s+")


def clauses(sentence: str) -> list[str]:
    """The statements a sentence joins, each of at least three words (a list's last item is not one).

    >>> clauses("Lukas Brenner is foreign minister, and Anna Varga is defence minister.")
    ['Lukas Brenner is foreign minister.', 'Anna Varga is defence minister.']
    >>> clauses("They sent food, water, and tents.")
    ['They sent food, water, and tents.']
    """
    parts = [p.strip().rstrip(".") for p in _JOINS.split(sentence)]
    if len(parts) < 2 or any(len(p.split()) < 3 for p in parts):
        return [sentence]
    return [f"{p}." for p in parts]


def _by_parts(sentence: str, query: Query, numbers: Sequence[int], passages: Sequence[_Passage], weight: Weight
              ) -> list[Citation]:
    """The answer to a two-part question ("Who are the foreign and defence ministers?") joins what two
    sentences, often of two sources, state apart: each part must be stated by a source, the cited ones
    first; none is kept unless every part is."""
    parts = clauses(sentence)
    if len(parts) < 2:
        return []
    kept: list[Citation] = []
    for part in parts:
        readings = [_citation(p, part, query, p.n not in numbers, weight)
                    for p in sorted(passages, key=lambda p: p.n not in numbers)]  # stable: cited first
        stating = [c for c in readings if c.supported]
        if not stating:
            return []
        kept.append(max(stating, key=lambda c: (not c.posthoc, c.support)))
    return kept


def read_sentences(text: str) -> tuple[AnswerSentence, ...]:
    """An answer's sentences read back from its text, as qa.types.render_sentences wrote it (the JSON
    of an answer, which the app keeps in the browser, holds only the text with its markers).

    >>> [(s.text, s.cites) for s in read_sentences("They met in Stockholm [1][2]. Talks ended.")]
    [('They met in Stockholm.', (1, 2)), ('Talks ended.', ())]
    >>> read_sentences("The articles do not say. Nearby, they say:\\n- “Talks ended.” [3]")[1]
    AnswerSentence(text='Talks ended.', cites=(3,), quote=True)
    """
    if not MARKER.search(text):  # a refusal or a gate message cites nothing: its text stays as it is
        return (AnswerSentence(text),) if text else ()
    head, *lines = text.split("\n")
    quotes = [_quote(line) for line in lines]
    if lines and not MARKER.search(head) and all(quotes):  # a refusal with the passages nearest the question
        return (AnswerSentence(head), *(q for q in quotes if q))
    return tuple(AnswerSentence(strip_markers(s), tuple(parse_markers(" ".join(marks), _ANY_SOURCE)))
                 for s, marks in split_claims(text))


def _quote(line: str) -> AnswerSentence | None:
    """`- “...” [n]`, a refusal's quote of a source, else None."""
    close = line.rfind("”")
    if not line.startswith("- “") or close < 0 or MARKER.sub("", line[close + 1:]).strip():
        return None
    numbers = parse_markers(line[close + 1:], _ANY_SOURCE)
    return AnswerSentence(line[3:close], tuple(numbers), quote=True) if numbers else None


def nearby(query: Query, sources: Sequence[Hit], most: int = 2) -> list[Citation]:
    """The sentence of each source that shares most of the question's words, best sources first:
    what the articles say closest to a question they do not answer. Each is quoted verbatim, so
    its citation is supported."""
    found = []
    for p in _passages(sources):
        shared = [len(query.content & support.content(s)) for s in p.sentences]
        i = max(range(len(shared)), key=lambda j: shared[j])
        if shared[i]:
            found.append((shared[i], _cite(p, p.spans[i], p.sentences[i].strip(), True, 1.0)))
    found.sort(key=lambda x: -x[0])  # stable: among equals the better-ranked source first
    return [c for _, c in found[:most]]
