"""The question, parsed once: every stage that needs its words, type or time reads them from a Query.

Retrieval, sentence selection, the support check and the refusal's nearby quotes each used to
re-tokenise the question text. `parse_query` does it once, from the cleaned question with a
follow-up's pronoun already resolved. Two texts stay apart, because the stages use them apart:
`text` is the question asked (the support check, the judge, the prompt), `search_text` is what
retrieval searches, the previous user question before it (retrieval and sentence selection).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from qa import lexical
from qa.answering import answertype, support
from qa.answering.timeq import RECENCY, TimeIntent, analyse
from qa.types import Turn

YES_NO = re.compile(r"^\s*(is|are|was|were|do|does|did|will|would|can|could|has|have|had|should|shall|may)\b",
                    re.IGNORECASE)


@dataclass(frozen=True)
class Query:
    text: str  # the question asked: cleaned, a follow-up's pronoun resolved
    search_text: str  # what retrieval searches: see conversation_query
    tokens: tuple[str, ...]  # lexical.tokens(text), in order: the gate's IDF coverage sums over them
    search_tokens: tuple[str, ...]  # lexical.tokens(search_text): BM25, and a sentence's word overlap
    content: frozenset[str]  # support.content(text): the words a refusal's nearby quotes share
    # the content words without its time words ("latest", "currently"): they choose among articles
    # (retrieval's job), no passage states them, so the support check does not ask for them
    asked: frozenset[str]
    yes_no: bool  # "Is ...?", "Did ...?": an answer adds its polarity
    # the answer type sentence selection looks for, and the words it must add beyond; both of the
    # search text, whose last question is the one asked (qa.answering.answertype)
    answer_type: re.Pattern[str] | None
    named: frozenset[str]
    counted: frozenset[str]  # what a "how many" question counts (answertype.counted); else empty
    numbers: frozenset[str]  # the numbers the question gives (support.numbers): a claim repeating them adds nothing
    time: TimeIntent  # of the question asked, not of the earlier one retrieval also searches
    # search_text's vector: retrieval embeds it anyway and sets it (qa.answering.retrieve), sentence selection reuses it
    embedding: np.ndarray | None = field(default=None, compare=False, repr=False)


def conversation_query(question: str, history: Sequence[Turn] = ()) -> str:
    """The question, preceded by the previous user question when there is one, so a follow-up
    like "How long did he say it takes?" keeps its subject. No LLM rewrite: measured unnecessary
    on the seed conversations, and it would cost a second of prompt processing.

    >>> conversation_query("How long?", [Turn("user", "Who visited Kyiv?"), Turn("assistant", "X")])
    'Who visited Kyiv? How long?'
    """
    previous = [t.content.strip() for t in history if t.role == "user" and t.content.strip()]
    return f"{previous[-1]} {question.strip()}" if previous else question.strip()


def parse_query(question: str, history: Sequence[Turn] = (), today: date | None = None) -> Query:
    """The question (cleaned, and resolved when a follow-up: qa.answering.conversation) in its conversation, parsed.
    `today`: the date relative time words ("last week") count from.

    >>> q = parse_query("How long did he say it takes?", [Turn("user", "Who visited Kyiv?")])
    >>> q.search_text
    'Who visited Kyiv? How long did he say it takes?'
    >>> q = parse_query("What is the latest on the talks?")
    >>> sorted(q.content), sorted(q.asked), q.time.recency
    (['latest', 'talk'], ['talk'], True)
    """
    search_text = conversation_query(question, history)
    return Query(
        text=question, search_text=search_text,
        tokens=tuple(lexical.tokens(question)), search_tokens=tuple(lexical.tokens(search_text)),
        content=frozenset(support.content(question)),
        asked=frozenset(support.content(RECENCY.sub(" ", question))),
        yes_no=bool(YES_NO.match(question)),
        answer_type=answertype.expected(search_text), named=answertype.words(search_text),
        counted=answertype.counted(question), numbers=frozenset(n for n, _ in support.numbers(question)),
        time=analyse(question, today or date.today()))
