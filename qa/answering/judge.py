"""A second reading of an accepted answer: does the cited passage state it, as an answer to the question?

The lexical check in `qa.answering.support` cannot tell "the prosecution will call 14 witnesses" from an answer
to "how many witnesses did the defence call", nor which of two officials in one sentence holds the
asked role. The bundled LLM, asked as a fact checker over the cited sentences alone, separates these
better (measured in qa/tuning.py): once whether the passage says the claim, once whether it holds the
answer to the very question; its probability of "yes" against "no" decides, a forward pass each and
no sampling. It runs in a context of its own, so the answering context keeps its cached system prompt.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from qa.answering.generate import Message
from qa.answering.query import Query
from qa.sentences import sentence_spans
from qa.types import Citation, Hit

SYSTEM = "You are a careful fact checker."


class Judge(Protocol):
    def yes_probability(self, messages: Sequence[Message]) -> float: ...


def says(evidence: str, claim: str) -> list[Message]:
    """Entailment: does the passage say the claim?"""
    return [{"role": "system", "content": SYSTEM},
            {"role": "user", "content": f"Passage: {evidence}\n\nDoes the passage say that {claim.rstrip('.!? ')}? "
                                        "Reply with yes or no."}]


def answers(evidence: str, question: str) -> list[Message]:
    """Responsiveness: does the passage hold the answer to this very question?"""
    return [{"role": "system", "content": SYSTEM},
            {"role": "user", "content": f"Passage: {evidence}\n\nQuestion: {question}\n\nDoes the passage contain "
                                        "the answer to this exact question? Reply with yes or no."}]


def reading(judge: Judge, evidence: str, question: str, claim: str) -> float:
    """The weaker of the two readings: a claim the passage says that does not answer the question
    ("the prosecution will call 14 witnesses" for the defence's), or an answer to the question the
    passage does not say ("$40 million" where it says 40 days), both fail."""
    return min(judge.yes_probability(says(evidence, claim)), judge.yes_probability(answers(evidence, question)))


def evidence(citation: Citation, source: Hit) -> str:
    """The cited sentence with the sentence before and after it in its passage.

    Measured and not adopted: the headline before them. It names the story the sentences only refer
    to and so lifted correct answers (dev sets: answerable refused 26 -> 21 of 84), but let 3 more of the
    36 unanswerable questions through (2 -> 5); trust comes first."""
    text = source.chunk.text
    spans = sentence_spans(text) or [(0, len(text))]
    at = citation.snippet_start - source.chunk.start
    i = next((k for k, (a, b) in enumerate(spans) if a <= at < b), 0)
    return text[spans[max(i - 1, 0)][0]:spans[min(i + 1, len(spans) - 1)][1]]


def confidence(judge: Judge, query: Query, citations: Sequence[Citation], sources: Sequence[Hit],
               most: int = 2) -> float:
    """The judge's best P(yes) over the (at most `most`) best citations that state their sentence on
    topic; 0 when none does. Each reading costs a forward pass over ~100 tokens."""
    by_id = {h.chunk.id: h for h in sources}
    stating = sorted((c for c in citations if c.supported and c.on_topic and c.chunk_id in by_id),
                     key=lambda c: -c.support)[:most]
    return max((reading(judge, evidence(c, by_id[c.chunk_id]), query.text, c.sentence) for c in stating),
               default=0.0)
