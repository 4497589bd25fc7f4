"""A follow-up's pronouns resolved to the person the conversation is about.

"Who is he going to call about it?" after a turn about Blinken and Griner must be asked as
"Who is Blinken going to call about it?": retrieval, the model and the support check then all
see the name. The person is one the recent turns named, singled out by how the articles
themselves refer to them ("he", "she", "Mr", "Ms": counted in the retrieved text, never guessed
from a first name). When the conversation leaves it open, the question stays as it is and the
model reads the conversation. A follow-up's "its" ("Who is its chief executive?") is resolved the same
way to a company, party or place the recent turns named: one the articles never call "he" or "she".
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Sequence

from qa import lexical
from qa.answering.cite import strip_markers
from qa.sentences import sentence_spans
from qa.types import Turn

PRONOUN = re.compile(r"\b(he|him|his|she|her|hers)\b", re.IGNORECASE)
ITS = re.compile(r"\bits\b", re.IGNORECASE)  # "it" alone is as often the event or the thing asked about
FEMININE = {"she", "her", "hers"}
# Capitalised runs that are not people: sentence openers, days, months, and words of questions.
_OPENERS = ("The A An In On At Of For And But Or If What Who Whom Whose Which Where When Why How Is Are Was "
            "Were Did Do Does Will Would Can Could Has Have Had He She It They We I You His Her Their Its This "
            "That These Those According After Before During By From To With As Since Mr Mrs Ms Dr")
NOT_NAMES = frozenset(_OPENERS.split()) | set(calendar.month_name[1:]) | set(calendar.day_name)
_RUN = re.compile(r"\b[A-Z][a-z'’-]+(?:\s+[A-Z][a-z'’-]+)*")


def people(text: str) -> list[str]:
    """Capitalised name runs, first mention first, without the words that open questions.

    >>> people("Who met Antony Blinken in Stockholm on Thursday?")
    ['Antony Blinken', 'Stockholm']
    """
    found: list[str] = []
    for m in _RUN.finditer(strip_markers(text)):  # an earlier answer's text comes with its [n] markers
        words = [w for w in m.group(0).split() if w not in NOT_NAMES]
        name = " ".join(words)
        if name and name not in found and not any(name in f for f in found):
            found.append(name)
    return found


def _mention(name: str) -> re.Pattern[str]:
    """A name as the articles repeat it: its last word ("Okafor" for "Mayor Helen Okafor")."""
    return re.compile(rf"\b{re.escape(name.split()[-1])}\b")


def _gender_counts(name: str, text: str) -> tuple[int, int]:
    """How the articles refer to `name`: (he, she) counts of "Mr/Ms Name" and of the pronouns after a
    mention in its sentence, or opening the next one."""
    last = re.escape(name.split()[-1])
    he = 3 * len(re.findall(rf"\bMr\.?\s+{last}\b", text))
    she = 3 * len(re.findall(rf"\b(?:Ms|Mrs|Miss)\.?\s+{last}\b", text))
    for m in _mention(name).finditer(text):
        window = text[m.end():m.end() + 400]
        rest, *after = [window[a:b] for a, b in sentence_spans(window)[:2]] or [window]
        # the mention's own sentence, and the next one when it opens with a pronoun ("She said ...")
        opening = PRONOUN.match(after[0]) if after else None
        words = {w.lower() for w in PRONOUN.findall(rest)} | ({opening.group(0).lower()} if opening else set())
        she += bool(words & FEMININE)
        he += bool(words - FEMININE)
    return he, she


def _exchanges(history: Sequence[Turn], last: int = 2) -> list[tuple[str, str]]:
    """The last user turns with the answer that followed each, newest first."""
    pairs: list[tuple[str, str]] = []
    for turn in history:
        if turn.role == "user":
            pairs.append((turn.content, ""))
        elif turn.role == "assistant" and pairs:
            pairs[-1] = (pairs[-1][0], turn.content)
    return pairs[::-1][:last]


def antecedent(pronoun: str, history: Sequence[Turn], corpus: Callable[[str], str] = lambda _: "",
               question: str = "") -> str | None:
    """The person a pronoun of the follow-up refers to, or None when the conversation leaves it open.

    Candidates come from the last two exchanges, newest first; in a "who" exchange the person the
    answer named comes first. The articles' own "he"/"she" (and "Mr"/"Ms") must single one out.
    When several fit, the one whose sentences in the articles share most of the follow-up's own words
    ("When did he resign?": the manager who resigned) is taken, if one shares more than the others;
    without any such evidence, only a lone name given by the latest "who" answer is taken.

    >>> h = [Turn("user", "Who negotiated for the union?"), Turn("assistant", "Maria Lopez did [1].")]
    >>> antecedent("she", h)
    'Maria Lopez'
    >>> two = [Turn("user", "Who are the mayor and her deputy?"), Turn("assistant", "Ann Ek and Bo Lind.")]
    >>> antecedent("he", two, lambda _: "Ann Ek said she would stay. Bo Lind said he would go.")
    'Bo Lind'
    >>> antecedent("he", two) is None  # nothing says which of the two is "he"
    True
    >>> text = "Ann Ek said she would stay. Bo Lind said he would go. Cy Berg said he had resigned."
    >>> three = [Turn("user", "Who spoke?"), Turn("assistant", "Ann Ek, Bo Lind and Cy Berg.")]
    >>> antecedent("he", three, lambda _: text, "When did he resign?")
    'Cy Berg'
    """
    exchanges = _exchanges(history)
    candidates = _candidates(exchanges, r"who(m|se)?")
    if not candidates:
        return None
    text = corpus(" ".join(f"{a} {b}" for a, b in exchanges))
    feminine = pronoun.lower() in FEMININE
    counts = {c: _gender_counts(c, text) for c in candidates}
    matching = [c for c in candidates if (counts[c][1] > counts[c][0] if feminine else counts[c][0] > counts[c][1])]
    if len(matching) == 1:
        return matching[0]
    # several fit the pronoun (or nothing tells): the one the follow-up's own words are written about
    told = any(sum(v) for v in counts.values())  # the articles call some candidate "he" or "she"
    pool = matching or ([] if told else candidates)
    implied = _implied(question, pool, text, {c: counts[c][1 if feminine else 0] for c in pool})
    if implied:
        return implied
    if matching or told:
        return None  # several fit, or the evidence points elsewhere: leave the pronoun to the model
    asked, answered = exchanges[0]
    named = [p for p in people(answered) if p not in people(asked)]
    return named[0] if re.match(r"\s*who(m|se)?\b", asked, re.IGNORECASE) and len(named) == 1 else None


def _candidates(exchanges: Sequence[tuple[str, str]], answer_first: str) -> list[str]:
    """The names of the exchanges, newest first; in one whose question opens with `answer_first` (a regex:
    "who" for a person, "which/what" for a company) the names its answer added come first."""
    candidates: list[str] = []
    for asked, answered in exchanges:
        in_answer = [p for p in people(answered) if p not in people(asked)]
        first = re.match(rf"\s*(?:{answer_first})\b", asked, re.IGNORECASE)
        candidates += [c for c in (in_answer + people(asked) if first else people(asked) + in_answer)
                       if c not in candidates]
    return candidates


def thing(history: Sequence[Turn], corpus: Callable[[str], str] = lambda _: "", question: str = "") -> str | None:
    """What a follow-up's "its" refers to: a name of the last two exchanges that the articles do not refer
    to as "he" or "she" in most of its mentions (a company's chief executive is "he" now and then), the
    answer's first; of several, the one the follow-up's own words are written about (as for a person).

    >>> h = [Turn("user", "Which company developed the drug?"), Turn("assistant", "Caldera Therapeutics [1].")]
    >>> thing(h, lambda _: "Caldera Therapeutics ran the trial. Its chief executive, Ann Ek, said she was glad.")
    'Caldera Therapeutics'
    """
    exchanges = _exchanges(history)
    candidates = _candidates(exchanges, r"who|which|what")
    text = corpus(" ".join(f"{a} {b}" for a, b in exchanges))

    def mentions(name: str) -> int:
        return len(_mention(name).findall(text))

    # named by the articles too (when they are known), and not as a person
    things = [c for c in candidates if (mentions(c) or not text) and sum(_gender_counts(c, text)) <= mentions(c) / 2]
    if len(things) <= 1:
        return things[0] if things else None
    answered = " ".join(b for _, b in exchanges)
    return _implied(question, things, text, {}) or (things[0] if things[0] in answered else None)


def _implied(question: str, candidates: Sequence[str], text: str, evidence: dict[str, int]) -> str | None:
    """The candidate whose sentences in `text` share most of the question's content words, when one
    shares more than every other; on a tie, the one the articles refer to by the pronoun more often
    (`evidence`: "his side" makes a team "he" once, its manager's own "he" and "Mr" count more)."""
    asked = set(lexical.tokens(PRONOUN.sub(" ", question)))
    if not asked or len(candidates) < 2:
        return None
    sentences = [(text[a:b], set(lexical.tokens(text[a:b]))) for a, b in sentence_spans(text)]

    def shared(name: str) -> int:
        mention = _mention(name)
        return max((len(asked & words) for s, words in sentences if mention.search(s)), default=0)

    ranked = sorted(((shared(c), evidence.get(c, 0), c) for c in candidates), reverse=True)
    return ranked[0][2] if ranked[0][0] > 0 and ranked[0][:2] > ranked[1][:2] else None


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
    m = PRONOUN.search(question) or ITS.search(question)
    if not m or not history:
        return question
    word = m.group(0).lower()
    if word == "its":
        name, possessive = thing(history, corpus, question), True
    else:
        name = antecedent(word, history, corpus, question)
        following = re.match(r"\s+([a-z]+)", question[m.end():])
        possessive = word in ("his", "hers") or (word == "her" and following is not None
                                                 and not lexical.is_stopword(following.group(1)))
    if not name or name.lower() in question.lower():
        return question
    replacement = (f"{name}'" if name.endswith("s") else f"{name}'s") if possessive else name
    return question[:m.start()] + replacement + question[m.end():]
