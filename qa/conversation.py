"""A follow-up's pronouns resolved to the person the conversation is about.

"Who is he going to call about it?" after a turn about Blinken and Griner must be asked as
"Who is Blinken going to call about it?": retrieval, the model and the support check then all
see the name. The person is the one the earlier turn was about: the name a "who" question's
answer gave, else the first name of the earlier question, else of its answer. When the earlier
turn names several people, the pronoun's gender picks the one the articles themselves call
"he" or "she" (counted in the text given, never guessed from the first name).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Sequence

from qa import lexical
from qa.types import Turn

PRONOUN = re.compile(r"\b(he|him|his|she|her|hers)\b", re.IGNORECASE)
FEMININE = {"she", "her", "hers"}
# Capitalised runs that are not people: sentence openers, days, months, and words of questions.
_OPENERS = ("The A An In On At Of For And But Or If What Who Whom Whose Which Where When Why How Is Are Was "
            "Were Did Do Does Will Would Can Could Has Have Had He She It They We I You His Her Their Its This "
            "That These Those According After Before During Mr Mrs Ms Dr")
NOT_NAMES = frozenset(_OPENERS.split()) | set(calendar.month_name[1:]) | set(calendar.day_name)
_RUN = re.compile(r"\b[A-Z][a-z'’-]+(?:\s+[A-Z][a-z'’-]+)*")
_MARKERS = re.compile(r"\[[\d,\s\-–]+\]")


def people(text: str) -> list[str]:
    """Capitalised name runs, first mention first, without the words that open questions.

    >>> people("Who met Antony Blinken in Stockholm on Thursday?")
    ['Antony Blinken', 'Stockholm']
    """
    found: list[str] = []
    for m in _RUN.finditer(_MARKERS.sub("", text)):
        words = [w for w in m.group(0).split() if w not in NOT_NAMES]
        name = " ".join(words)
        if name and name not in found and not any(name in f for f in found):
            found.append(name)
    return found


def _gender_counts(name: str, text: str) -> tuple[int, int]:
    """How often the sentence after a mention of `name` says he/his/him vs she/her."""
    last = name.split()[-1]
    he = she = 0
    for m in re.finditer(re.escape(last), text):
        after = text[m.end():m.end() + 200]
        words = {w.lower() for w in PRONOUN.findall(after)}
        she += bool(words & FEMININE)
        he += bool(words - FEMININE)
    return he, she


def antecedent(pronoun: str, history: Sequence[Turn], corpus: Callable[[str], str] = lambda _: "") -> str | None:
    """The person a pronoun of the follow-up refers to, from the last user turn and its answer.

    >>> h = [Turn("user", "Who negotiated for the union?"), Turn("assistant", "Maria Lopez did [1].")]
    >>> antecedent("she", h)
    'Maria Lopez'
    """
    users = [t.content for t in history if t.role == "user"]
    answers = [t.content for t in history if t.role == "assistant"]
    if not users:
        return None
    asked, answered = users[-1], answers[-1] if answers else ""
    in_answer = [p for p in people(answered) if p not in people(asked)]
    if re.match(r"\s*who(m|se)?\b", asked, re.IGNORECASE):
        candidates = in_answer + people(asked)  # the answer named the person the turn was about
    else:
        candidates = people(asked) + in_answer
    if len(candidates) > 1:  # let the articles' own pronouns choose between several people
        feminine = pronoun.lower() in FEMININE
        text = corpus(asked + " " + answered)
        scored = [(c, _gender_counts(c, text)) for c in candidates]
        matching = [c for c, (he, she) in scored if (she > he if feminine else he > she)]
        candidates = matching or candidates
    return candidates[0] if candidates else None


def resolve(question: str, history: Sequence[Turn], corpus: Callable[[str], str] = lambda _: "") -> str:
    """The follow-up with its first personal pronoun replaced by the person it refers to.

    >>> h = [Turn("user", "Who made a surprise visit to Kyiv with Lloyd Austin?"),
    ...      Turn("assistant", "Antony Blinken made a surprise visit to Kyiv with Lloyd Austin [1].")]
    >>> resolve("How long did he say US military aid takes?", h)
    'How long did Antony Blinken say US military aid takes?'
    >>> resolve("What did her union demand?", [Turn("user", "Who led the talks?"), Turn("assistant", "Ann Lee.")])
    "What did Ann Lee's union demand?"
    >>> resolve("Where did they meet?", [])
    'Where did they meet?'
    """
    m = PRONOUN.search(question)
    if not m or not history:
        return question
    name = antecedent(m.group(0), history, corpus)
    if not name or name.lower() in question.lower():
        return question
    word = m.group(0).lower()
    following = re.match(r"\s+([a-z]+)", question[m.end():])
    possessive = word in ("his", "hers") or (word == "her" and following is not None
                                             and not lexical.is_stopword(following.group(1)))
    replacement = f"{name}'s" if possessive else name
    return question[:m.start()] + replacement + question[m.end():]
