"""What kind of answer a factoid question wants, and whether a sentence holds one.

Embedding similarity favours the sentence that repeats the question's words ("the US is not
seeking regime change") over the one that answers it ("Speaking in Jerusalem, Blinken told
reporters ..."). Classic factoid QA checks the expected answer type: a "where" question wants a
place, "when" a date, "how many" a number, "who" a name, "what did X say" a quote. The type
only counts when the sentence has it beyond what the question already names.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from qa import lexical
from qa.answering.timeq import MONTH, WEEKDAY

if TYPE_CHECKING:  # qa.answering.query parses with this module
    from qa.answering.query import Query

_NUMBER_WORDS = r"(one|two|three|four|five|six|seven|eight|nine|ten|dozen|hundred|thousand|million|billion|half)"

# question pattern -> how the answer looks in a sentence (a group named "name" is checked against the question)
_TYPES: list[tuple[re.Pattern[str], re.Pattern[str]]] = [
    (re.compile(r"^\s*where\b|\bin which (city|country|town|place)\b", re.I),
     re.compile(r"\b(in|at|to|from|near|outside)\s+(the\s+)?(?P<name>[A-Z][\w’'-]+)")),
    (re.compile(r"^\s*when\b|\bwhat (date|day|month|year|time)\b|\bon which (date|day)\b", re.I),
     re.compile(rf"\b(?P<name>{MONTH}|{WEEKDAY}|(19|20)\d\d|yesterday|today|last (week|month|year))\b")),
    (re.compile(r"\bhow (many|much|long|far|old)\b|\bwhat (percentage|percent|share|number|amount)\b", re.I),
     re.compile(rf"(?P<name>\d[\d,.]*|\b{_NUMBER_WORDS}\b)", re.I)),
    (re.compile(r"^\s*(who(m|se)?|which)\b|\bwhich \w+", re.I),  # "which <noun>" asks for a name
     re.compile(r"(?<=[\w,;:] )(?P<name>[A-Z][\w’'-]+(\s+[A-Z][\w’'-]+)*)")),  # a name, not a sentence start
    (re.compile(r"\bwhat did .+ (say|said|tell|told|call|warn)\b|\bwhat (was|were) .+ (words|remarks)\b", re.I),
     # a quote, in matching marks (a ’ inside “...” is an apostrophe); it may repeat the question's words
     re.compile(r"“[^”]{8,}”|\"[^\"]{8,}\"|‘[^‘’]{8,}’")),
]


def expected(question: str) -> re.Pattern[str] | None:
    """The pattern of the answer a question expects, when it is a factoid question.

    >>> expected("Where did they meet?") is not None, expected("Why did they meet?") is None
    (True, True)
    >>> expected("Who visited Kyiv? How long did he say it takes?") is expected("How long?")
    True
    """
    last = re.split(r"(?<=\?)\s+", question.strip())[-1]  # a follow-up's query starts with the earlier question
    for asks, looks in _TYPES:
        if asks.search(last):
            return looks
    return None


def words(text: str) -> frozenset[str]:
    """The words of a text as typed, lower-cased: what an answer's name is checked against."""
    return frozenset(re.findall(r"\w+", text.lower()))


def has_answer(query: Query, sentence: str) -> bool:
    """The sentence holds an answer of the type the query expects that it does not already name.

    >>> from qa.answering.query import parse_query
    >>> q = parse_query("Where was Blinken speaking when he said the US was not seeking regime change in Russia?")
    >>> has_answer(q, "Speaking in Jerusalem on Sunday, Blinken told reporters.")
    True
    >>> has_answer(q, "The US is not seeking regime change in Russia, Blinken said.")
    False
    >>> has_answer(parse_query("Which senator accused Biden?"), "Senator Rand Paul accused President Joe Biden.")
    True
    >>> has_answer(parse_query("Which senator accused Biden?"), "It was not said by President Joe Biden.")
    False
    >>> q = parse_query("What did Lavrov say Russia would do if new sanctions came?")
    >>> has_answer(q, "“If new’sanctions from hell’ come, we will respond,” he said.")
    True
    >>> has_answer(q, "Lavrov said the US threatened new sanctions.")
    False
    """
    if query.answer_type is None:
        return False
    return any("name" not in m.groupdict() or not query.named & words(m.group("name"))
               for m in query.answer_type.finditer(sentence))


_HOW_MANY = re.compile(r"\bhow many\s+([\w'’-]+)(?:\s+([\w'’-]+))?", re.I)
_NUMERAL = re.compile(rf"\d[\d,.]*|\b({_NUMBER_WORDS[1:-1]}|eleven|twelve|dozens|hundreds|thousands|several|few)\b",
                      re.I)


def counted(question: str) -> frozenset[str]:
    """What a "how many" question counts: the stems of the (at most two) words after "how many", one of
    which is the noun ("How many Russian soldiers" counts soldiers); empty for any other question.

    >>> sorted(counted("How many Russian soldiers did officials say Russia massed?"))
    ['russian', 'soldier']
    >>> counted("How much did it cost?")
    frozenset()
    """
    m = _HOW_MANY.search(question)
    return frozenset(lexical.tokens(" ".join(g for g in m.groups() if g))) if m else frozenset()


def counts(claim: str, nouns: frozenset[str]) -> bool:
    """The claim gives a number of what was counted: a numeral with one of `nouns` in the next few words.

    >>> counts("Russia has massed about 70,000 soldiers near the border.", frozenset({"russian", "soldier"}))
    True
    >>> counts("Meridian Line diverted three vessels to Saltmere.", frozenset({"contain"}))
    False
    >>> counts("Lumora said it had 2.1 million active users.", frozenset({"activ", "user"}))
    True
    """
    return any(nouns & set(lexical.tokens(claim[m.end():m.end() + 40])[:4]) for m in _NUMERAL.finditer(claim))
