"""Supported means stated: does a cited passage state what an answer sentence adds to the question?

An embedding cosine says two sentences are about the same thing; it cannot tell "70,000 tanks"
from "70,000 soldiers", and a sentence that repeats the question ("Angela Merkel was replaced by
Angela Merkel") is close to every passage about Merkel. So a claim is judged by what it *adds*
beyond the question:

- its new names and numbers must all be in the evidence (spelling variants count: "Brinken"; and
  "U.S." is "US");
  a number's unit word too ("70,000 tanks" needs "tanks" beside the 70,000);
- enough of its other new content words must be there (`SUPPORT_NEW_MIN`);
- the question's words it repeats must be there as well (`SUPPORT_REPEATED_MIN` of them): the
  evidence that names the answer must also speak of what was asked ("foreign secretary Liz
  Truss" does not state who the defence secretary is);
- a claim that adds nothing to the question answers nothing and is not supported;
- a claim that answers "how many containers" with a count of vessels is stated, but not about what was
  asked (`on_topic` false): no answer rests on it.

The question's own names and numbers are not something a claim adds: "the September 2024 election" need
not be repeated by a passage that says "yesterday's election".

The evidence is a window of a passage sentence and its neighbours (a name in one sentence, the
role in the next) plus the passage's headline, chosen as the window that states most of the claim.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from qa import lexical, tuning
from qa.answering import answertype

if TYPE_CHECKING:  # qa.answering.query parses with this module
    from qa.answering.query import Query

# Words that frame a claim without stating anything: "X said", "according to the article".
FRAME = frozenset(lexical.tokens(
    "said says say saying told tell stated state states according reported reports report article articles "
    "source sources passage text mentioned mention noted added also however yes answer question approximately "
    "roughly nearly almost about around estimated where when who whom whose what which why how did does do were has "
    "have had would can could"))
# English irregular verb forms -> base form, so "met" states "meet" and "won" states "win" (a stemmer
# leaves them apart). General English morphology, not a list drawn from any corpus.
_IRREGULAR_TABLE = """
arise arose arisen; be was were been; bear bore born; beat beat beaten; become became; begin began begun;
bet bet; bid bid; bind bound; bite bit bitten; bleed bled; blow blew blown; break broke broken; bring brought;
build built; burn burnt; buy bought; catch caught; choose chose chosen; come came; cost cost; creep crept;
cut cut; deal dealt; dig dug; do did done; draw drew drawn; drink drank drunk; drive drove driven; eat ate eaten;
fall fell fallen; feed fed; feel felt; fight fought; find found; flee fled; fly flew flown; forbid forbade;
forget forgot forgotten; forgive forgave forgiven; freeze froze frozen; get got gotten; give gave given;
go went gone; grow grew grown; hang hung; have had; hear heard; hide hid hidden; hit hit; hold held; hurt hurt;
keep kept; know knew known; lay laid; lead led; leave left; lend lent; let let; lie lay lain; lose lost;
make made; mean meant; meet met; pay paid; put put; quit quit; read read; ride rode ridden; ring rang rung;
rise rose risen; run ran; say said; see saw seen; seek sought; sell sold; send sent; set set; shake shook shaken;
shoot shot; show showed shown; shut shut; sing sang sung; sink sank sunk; sit sat; sleep slept; slide slid;
speak spoke spoken; spend spent; split split; spread spread; stand stood; steal stole stolen; stick stuck;
strike struck stricken; swear swore sworn; sweep swept; swim swam swum; take took taken; teach taught;
tear tore torn; tell told; think thought; throw threw thrown; understand understood; wake woke woken;
wear wore worn; win won; withdraw withdrew withdrawn; write wrote written"""
IRREGULAR = {form: forms.split()[0] for forms in _IRREGULAR_TABLE.replace("\n", " ").split(";")
             for form in forms.split()[1:]}
# lower case only: "Rose" and "Won" may be names
_IRREGULAR_WORD = re.compile(r"\b(" + "|".join(sorted(IRREGULAR, key=len, reverse=True)) + r")\b")
NEGATION = re.compile(r"\b(not|no|never|none|nor|neither|without|n't|cannot|denied|denies|den(y|ies)|refused|"
                      r"rejected|ruled out)\b|n't\b", re.IGNORECASE)
_NUMBER = re.compile(r"\d[\d,.]*\d|\d")
_ORDINAL = re.compile(r"^(?:st|nd|rd|th|s)\b")  # what follows a number's digits in "1st", "112th", "1990s"
_NAME = re.compile(r"\b[A-Z][\w'’-]*(?:\s+[A-Z][\w'’-]*)*")
_WORD = re.compile(r"[\w'’-]+")
# "U.S.", "U.K.": the tokenizer keeps words of two letters or more, so these leave no token to match "US"
_DOTTED = re.compile(r"\b(?:[A-Za-z]\.){2,}")


@dataclass(frozen=True)
class Verdict:
    """How far the evidence states a claim: `stated` is the decision, the rest says why."""

    stated: bool
    score: float  # the weakest of: new facts present, new words covered, whole claim covered
    evidence: tuple[int, int]  # the window's first and last sentence (indices into the sentences given)
    missing: tuple[str, ...] = ()  # what the claim adds that the evidence does not state
    reason: str = ""
    on_topic: bool = False  # the window is about what was asked (most of the question's weight is in it)


def base_forms(text: str) -> str:
    """Irregular verb forms replaced by their base form.

    >>> base_forms("They met and won.")
    'They meet and win.'
    """
    return _IRREGULAR_WORD.sub(lambda m: IRREGULAR[m.group(0)], text)


def content(text: str) -> set[str]:
    """Stemmed content words (irregular verbs in their base form) without the words that only frame a claim.

    >>> sorted(content("Blinken said they met in Stockholm."))
    ['blinken', 'meet', 'stockholm']
    """
    return set(lexical.tokens(base_forms(text))) - FRAME


def numbers(text: str) -> list[tuple[str, str]]:
    """(number, the word after it) pairs: the unit is part of the fact.

    >>> numbers("About 70,000 soldiers and 72 hours.")
    [('70000', 'soldier'), ('72', 'hour')]
    >>> numbers("He scored in the 112th minute.")
    [('112', 'minut')]
    """
    out = []
    for m in _NUMBER.finditer(text):
        rest = _ORDINAL.sub("", text[m.end():m.end() + 40])  # "112th minute": the unit is "minute"
        after = _WORD.findall(rest)
        unit = next((w for w in after if not lexical.is_stopword(w.lower())), "")
        stem = lexical.tokens(unit)
        out.append((m.group(0).replace(",", "").rstrip("."), stem[0] if stem and not unit[:1].isdigit() else ""))
    return out


def names(text: str) -> set[str]:
    """Stemmed words of capitalised word runs that do not open a sentence, nor are stop words.

    >>> sorted(names("Then Antony Blinken met Sergei Lavrov in Stockholm."))
    ['antoni', 'blinken', 'lavrov', 'sergei', 'stockholm']
    """
    found: set[str] = set()
    for m in _NAME.finditer(text):
        words = m.group(0).split()
        opens = m.start() == 0 or re.search(r"[.!?:\"“]\s*$", text[:m.start()])
        if opens and len(words) == 1:
            continue  # "Then" at a sentence start is not a name; "Antony Blinken" there still is
        found |= {w for w in lexical.tokens(" ".join(words)) if w not in FRAME}
    return found


@dataclass(frozen=True)
class _Claim:
    """A claim parsed once against its query, then tried against every window."""

    text: str
    yes_no: bool
    new: frozenset[str]  # what it adds to the question
    repeated: frozenset[str]  # the question's words it repeats
    facts: frozenset[str]  # its new names, and its numbers
    units: frozenset[tuple[str, str]]  # (number, unit) pairs
    asked: tuple[tuple[str, float], ...]  # the question's content words and their weights
    acronyms: tuple[tuple[re.Pattern[str], frozenset[str]], ...]  # "U.S." stands for "united", "state"


def _acronyms(*texts: str) -> tuple[tuple[re.Pattern[str], frozenset[str]], ...]:
    """Multi-word names with the pattern of their initials: "United States" is also "US" or "U.S."."""
    out = []
    for m in _NAME.finditer(" ".join(texts)):
        words = m.group(0).split()
        if len(words) > 1:
            initials = r"\.?".join(w[0] for w in words)
            out.append((re.compile(rf"\b{initials}\b\.?"), frozenset(lexical.tokens(m.group(0)))))
    return tuple(out)


def parse(claim: str, query: Query, weight: Callable[[str], float] = lambda _: 1.0) -> _Claim:
    words = content(claim)
    # a yes/no answer adds its polarity, so all of it must be stated; any other adds what was not asked
    # nor typed in the question ("latest", "met"), which `content` drops or maps
    new = set(words) if query.yes_no else words - query.asked - set(query.tokens)
    # a number the question gives ("the September 2024 election") is not one the claim adds
    given = frozenset() if query.yes_no else query.numbers
    added = [(n, u) for n, u in numbers(claim) if n not in given]
    return _Claim(claim, query.yes_no, frozenset(new), frozenset(words & query.asked),
                  frozenset((names(claim) & new) | {n for n, _ in added}),
                  frozenset((n, u) for n, u in added if u),
                  tuple((w, weight(w)) for w in sorted(query.asked)),
                  # the claim's and the question's names, found as one text, as the support thresholds were
                  # measured: a claim without a full stop joins its last name to a question's first
                  _acronyms(claim, query.text))


def judge(claim: str, query: Query, sentences: Sequence[str], headline: str = "",
          weight: Callable[[str], float] = lambda _: 1.0) -> Verdict:
    """Whether some window of `sentences` (with the headline) states what `claim` adds to the question.
    `weight` gives a question word's weight (its IDF in the index: rare words decide what was asked).

    >>> from qa.answering.query import parse_query
    >>> s = ["Russia has massed 70,000 soldiers near the border.", "Talks resume in Geneva."]
    >>> judge("The US has sent 70,000 tanks to Ukraine.", parse_query("How many tanks has the US sent?"), s).stated
    False
    >>> judge("Russia massed 70,000 soldiers near the border.", parse_query("How many soldiers has Russia massed?"),
    ...       s).stated
    True
    >>> judge("Angela Merkel was replaced by Angela Merkel.", parse_query("Who replaced Angela Merkel?"),
    ...       ["Angela Merkel met Olaf Scholz."]).reason
    'adds nothing to the question'
    >>> judge("No, the United States is not seeking regime change.",
    ...       parse_query("Is the United States seeking regime change?"),
    ...       ["The U.S. is not seeking regime change in Russia, Blinken said."]).stated
    True
    """
    parsed = parse(claim, query, weight)
    if not parsed.new:
        return Verdict(False, 0.0, (0, 0), reason="adds nothing to the question")
    best = Verdict(False, -1.0, (0, 0))
    for lo in range(max(len(sentences), 1)):
        hi = max(min(lo + tuning.SUPPORT_WINDOW, len(sentences)) - 1, lo)
        verdict = _judge_window(parsed, " ".join([*sentences[lo:hi + 1], headline]), (lo, hi))
        if verdict.score > best.score:
            best = verdict
    if query.counted and not answertype.counts(claim, query.counted):
        # "How many containers?" is not answered by "three vessels", however well a passage states it
        return replace(best, on_topic=False, reason=best.reason or "it does not count what was asked")
    return best


def _judge_window(c: _Claim, window: str, span: tuple[int, int]) -> Verdict:
    vocab = set(lexical.tokens(base_forms(window))) | {n for n, _ in numbers(window)}
    vocab |= {m.group(0).replace(".", "").lower() for m in _DOTTED.finditer(window)}
    for pattern, stems in c.acronyms:
        if pattern.search(window):
            vocab |= stems
    ordered = sorted(vocab)  # once per window: every word not found is looked up for spelling variants

    def present(word: str) -> bool:
        return word in vocab or bool(lexical.variants(word, ordered))

    def share(words: Iterable[str]) -> float:
        words = list(words)
        return sum(present(w) for w in words) / len(words) if words else 1.0

    missing_facts = sorted(f for f in c.facts if not present(f))
    missing_units = sorted(f"{n} {u}" for n, u in c.units if not present(u))
    missing = tuple(missing_facts + missing_units + sorted(w for w in c.new if not present(w)))
    if missing_facts or missing_units:
        return Verdict(False, 0.0, span, missing, "a name or number it adds is not in the passage")
    new_cover = share(c.new)
    # the question's words the claim repeats tie the answer to what was asked ("defence secretary")
    repeated_cover = share(c.repeated)
    # and the window must be about what was asked: most of the question's weight ("died", not "soldiers")
    total = sum(w for _, w in c.asked)
    asked_cover = sum(w for t, w in c.asked if present(t)) / total if total else 1.0
    score = min(new_cover, repeated_cover)
    on_topic = asked_cover >= tuning.SUPPORT_ASKED_MIN
    if c.yes_no and bool(NEGATION.search(c.text)) != bool(NEGATION.search(window)):
        return Verdict(False, score * 0.5, span, missing, "the passage says the opposite", on_topic)
    stated = new_cover >= tuning.SUPPORT_NEW_MIN and repeated_cover >= tuning.SUPPORT_REPEATED_MIN
    # among windows that state the claim, prefer one about what was asked
    return Verdict(stated, score + 0.01 * on_topic, span, missing,
                   "" if stated else "the passage does not state what it adds", on_topic)
