"""A second reading of an accepted answer: does the cited passage hold the answer to the question asked?

The lexical check in `qa.answering.support` cannot tell "the prosecution will call 14 witnesses" from an answer
to "how many witnesses did the defence call", nor which of two officials in one sentence holds the
asked role. The bundled LLM, asked as a fact checker whether the cited sentences contain the answer to
this very question, separates these better (measured in qa/tuning.py): its probability of "yes" against
"no" decides, one forward pass per citation and no sampling. A 1.5B model reads a yes/no question far
more reliably after worked examples, so the reading opens with eight (self-written, about no indexed
story) that show what does not count: another party's figure, another unit, a question the passage leaves
open. They are a constant prefix, evaluated once and saved like the answering prompt's opening. The judge
runs in a context of its own, so the answering context keeps its cached system prompt.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from qa.answering.generate import Message
from qa.answering.query import Query
from qa.sentences import sentence_spans
from qa.types import Citation, Hit

SYSTEM = ("You are a careful fact checker. You read a passage from a news article and reply yes or no. "
          "Other words for the same thing count; a different person, number, place, date or thing does not.")


_TRIAL = "The prosecution said it would call 12 witnesses. The trial is expected to last six weeks."
_BUDGET = ("The city appointed a new finance director last week. Her deputy, Maria Costa, will lead the "
           "review of the budget.")
_BRIDGE = ("The old bridge, built in 1870, was closed after the flood. Engineers said a new bridge could take "
           "two years to build.")
_STORM = "Officials said about 300 homes lost power when the storm reached the coast on Monday."
_TROOPS = "Russia has massed about 70,000 soldiers near the border, according to Western officials."
PASSAGE = "Passage: "  # every reading's message starts so: the examples and it are the constant opening


def _says(passage: str, claim: str) -> str:
    return f"{PASSAGE}{passage}\n\nDoes the passage say that {claim}? Reply with yes or no."


def _ask(passage: str, question: str) -> str:
    return (f"{PASSAGE}{passage}\n\nQuestion: {question}\n\nDoes the passage contain the answer to this exact "
            "question? Reply with yes or no.")


def _shot(message: str, reply: str) -> list[Message]:
    return [{"role": "user", "content": message}, {"role": "assistant", "content": reply}]


# Examples of both kinds of reading, what a passage says and what it answers: with those of the first
# kind the model lets fewer unanswerable questions through (qa/tuning.py, JUDGE_MIN).
EXAMPLES: tuple[Message, ...] = (
    *_shot(_says(_BUDGET, "Maria Costa will lead the city's budget review"), "yes"),
    *_shot(_ask(_TRIAL, "How many witnesses did the defence call?"), "no"),
    *_shot(_says(_TROOPS, "the United States sent 70,000 tanks"), "no"),
    *_shot(_says(_STORM, "the storm cut power to 300 homes on Monday"), "yes"),
    *_shot(_says(_TRIAL, "the defence called 12 witnesses"), "no"),
    *_shot(_ask(_BUDGET, "Who will lead the budget review?"), "yes"),
    *_shot(_ask(_BRIDGE, "How much will the new bridge cost?"), "no"),
    *_shot(_ask(_STORM, "How many homes lost power in the storm?"), "yes"),
)


class Judge(Protocol):
    def yes_probability(self, messages: Sequence[Message]) -> float: ...


def opening() -> list[Message]:
    """What every reading starts with: the system prompt, the examples, and the reading's first words
    (llama.cpp keeps them evaluated; qa.answering.prefix saves them for the next process)."""
    return [{"role": "system", "content": SYSTEM}, *EXAMPLES, {"role": "user", "content": PASSAGE}]


def answers(evidence: str, question: str) -> list[Message]:
    """Does the passage hold the answer to this very question? After the examples."""
    return [{"role": "system", "content": SYSTEM}, *EXAMPLES, {"role": "user", "content": _ask(evidence, question)}]


def evidence(citation: Citation, source: Hit) -> str:
    """The cited sentence with the sentence before and after it in its passage.

    Measured and not adopted: the headline before them. It names the story the sentences only refer
    to and so lifted correct answers (dev sets: answerable refused 26 -> 21 of 84), but let 3 more of the
    36 unanswerable questions through (2 -> 5); trust comes first."""
    text, (lo, hi) = _window(citation, source)
    return text[lo:hi]


def _window(citation: Citation, source: Hit) -> tuple[str, tuple[int, int]]:
    """The passage's text and the character span of the cited sentence with its neighbours."""
    text = source.chunk.text
    spans = sentence_spans(text) or [(0, len(text))]
    at = citation.snippet_start - source.chunk.start
    i = next((k for k, (a, b) in enumerate(spans) if a <= at < b), 0)
    return text, (spans[max(i - 1, 0)][0], spans[min(i + 1, len(spans) - 1)][1])


def together(citations: Sequence[Citation], sources: Sequence[Hit]) -> str:
    """The windows of several citations as one passage, in source order, overlapping windows of one passage
    merged: a two-part answer ("Brenner is foreign minister, Varga defence minister") is stated by two
    windows together and by neither alone. Empty when they are all one window."""
    order = {h.chunk.id: i for i, h in enumerate(sources)}
    spans: dict[str, list[tuple[int, int]]] = {}
    for c in sorted(citations, key=lambda c: order[c.chunk_id]):
        spans.setdefault(c.chunk_id, []).append(_window(c, sources[order[c.chunk_id]])[1])
    parts: list[str] = []
    for chunk_id, found in spans.items():
        merged: list[list[int]] = []
        for a, b in sorted(found):
            if merged and a <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        parts += [sources[order[chunk_id]].chunk.text[a:b] for a, b in merged]
    return "\n".join(parts) if len(parts) > 1 else ""


def confidence(judge: Judge, query: Query, citations: Sequence[Citation], sources: Sequence[Hit],
               most: int = 2, enough: float = 1.0) -> float:
    """The judge's best P(yes) over the (at most `most`) best citations that state their sentence on
    topic, each read alone and, when they state different parts of the answer from different windows, read
    together; 0 when none states.
    Each reading costs a forward pass over the ~120 tokens after the examples, so the readings stop at the
    first that reaches `enough`: a caller that needs only to know whether the best reaches a threshold gets
    the same decision for fewer passes."""
    by_id = {h.chunk.id: h for h in sources}
    stating = sorted((c for c in citations if c.supported and c.on_topic and c.chunk_id in by_id),
                     key=lambda c: -c.support)[:most]
    texts = [evidence(c, by_id[c.chunk_id]) for c in stating]
    # read together only what states different parts of the answer: two sources stating the same
    # sentence are two chances for one reading, not a passage that answers more
    parts = len({c.sentence for c in stating}) > 1
    best = 0.0
    for text in [*texts, together(stating, sources) if parts else ""]:
        if text:
            best = max(best, judge.yes_probability(answers(text, query.text)))
        if best >= enough:
            break
    return best
