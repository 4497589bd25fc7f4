"""Supported means stated: does a cited passage state what an answer sentence adds to the question?

An embedding cosine says two sentences are about the same thing; it cannot tell "70,000 tanks"
from "70,000 soldiers", and a sentence that repeats the question ("Angela Merkel was replaced by
Angela Merkel") is close to every passage about Merkel. So a claim is judged by what it *adds*
beyond the question:

- its new names and numbers must all be in the evidence (spelling variants count: "Brinken");
  a number's unit word too ("70,000 tanks" needs "tanks" beside the 70,000);
- enough of its other new content words must be there (`SUPPORT_NEW_MIN`);
- the question's words it repeats must be there as well (`SUPPORT_REPEATED_MIN` of them): the
  evidence that names the answer must also speak of what was asked ("foreign secretary Liz
  Truss" does not state who the defence secretary is);
- a claim that adds nothing to the question answers nothing and is not supported.

The evidence is a window of a passage sentence and its neighbours (a name in one sentence, the
role in the next) plus the passage's headline, chosen as the window that states most of the claim.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from qa import lexical, tuning

# Words that frame a claim without stating anything: "X said", "according to the article".
FRAME = frozenset(lexical.tokens(
    "said says say saying told tell stated state states according reported reports report article articles "
    "source sources passage text mentioned mention noted added also however yes answer question approximately "
    "roughly nearly almost estimated"))
NEGATION = re.compile(r"\b(not|no|never|none|nor|neither|without|n't|cannot|denied|denies|den(y|ies)|refused|"
                      r"rejected|ruled out)\b|n't\b", re.IGNORECASE)
YES_NO = re.compile(r"^\s*(is|are|was|were|do|does|did|will|would|can|could|has|have|had|should|shall|may)\b",
                    re.IGNORECASE)
_NUMBER = re.compile(r"\d[\d,.]*\d|\d")
_NAME = re.compile(r"\b[A-Z][\w'’-]*(?:\s+[A-Z][\w'’-]*)*")
_WORD = re.compile(r"[\w'’-]+")


@dataclass(frozen=True)
class Verdict:
    """How far the evidence states a claim: `stated` is the decision, the rest says why."""

    stated: bool
    score: float  # the weakest of: new facts present, new words covered, whole claim covered
    evidence: tuple[int, int]  # the window's first and last sentence (indices into the sentences given)
    missing: tuple[str, ...] = ()  # what the claim adds that the evidence does not state
    reason: str = ""


def content(text: str) -> set[str]:
    """Stemmed content words without the words that only frame a claim.

    >>> sorted(content("Blinken said they met in Stockholm."))
    ['blinken', 'met', 'stockholm']
    """
    return set(lexical.tokens(text)) - FRAME


def numbers(text: str) -> list[tuple[str, str]]:
    """(number, the word after it) pairs: the unit is part of the fact.

    >>> numbers("About 70,000 soldiers and 72 hours.")
    [('70000', 'soldier'), ('72', 'hour')]
    """
    out = []
    for m in _NUMBER.finditer(text):
        after = _WORD.findall(text[m.end():m.end() + 40])
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


def _present(word: str, vocab: set[str]) -> bool:
    return word in vocab or bool(lexical.variants(word, sorted(vocab)))


def _question_names(question: str) -> set[str]:
    """Every word of a name the question mentions, so "Antony Blinken" adds nothing to "Blinken"."""
    return names(question) | {w for w in lexical.tokens(question) if w in names(question.title())}


def judge(claim: str, question: str, sentences: Sequence[str], headline: str = "") -> Verdict:
    """Whether some window of `sentences` (with the headline) states what `claim` adds to `question`.

    >>> s = ["Russia has massed 70,000 soldiers near the border.", "Talks resume in Geneva."]
    >>> judge("The US has sent 70,000 tanks to Ukraine.", "How many tanks has the US sent?", s).stated
    False
    >>> judge("Russia massed 70,000 soldiers near the border.", "How many soldiers has Russia massed?", s).stated
    True
    >>> judge("Angela Merkel was replaced by Angela Merkel.", "Who replaced Angela Merkel?",
    ...       ["Angela Merkel met Olaf Scholz."]).reason
    'adds nothing to the question'
    """
    asked = content(question)
    words = content(claim)
    # a yes/no answer adds its polarity, so all of it must be stated; any other adds what was not asked
    new = set(words) if YES_NO.match(question) else words - asked - _question_names(question)
    if not new:
        return Verdict(False, 0.0, (0, 0), reason="adds nothing to the question")
    facts = (names(claim) & new) | {n for n, _ in numbers(claim)}
    units = {(n, u) for n, u in numbers(claim) if u}
    best = Verdict(False, -1.0, (0, 0))
    for lo in range(max(len(sentences), 1)):
        hi = min(lo + tuning.SUPPORT_WINDOW, len(sentences)) - 1 if sentences else 0
        window = " ".join([*sentences[lo:hi + 1], headline])
        verdict = _judge_window(claim, question, window, new, words & asked, facts, units, (lo, max(hi, lo)))
        if verdict.score > best.score:
            best = verdict
    return best


def _judge_window(claim: str, question: str, window: str, new: set[str], repeated: set[str], facts: set[str],
                  units: set[tuple[str, str]], span: tuple[int, int]) -> Verdict:
    vocab = set(lexical.tokens(window)) | {n for n, _ in numbers(window)}
    missing_facts = sorted(f for f in facts if not _present(f, vocab))
    missing_units = sorted(f"{n} {u}" for n, u in units if not _present(u, vocab))
    new_cover = sum(_present(w, vocab) for w in new) / len(new)
    # the question's words the claim repeats tie the answer to what was asked ("defence secretary")
    repeated_cover = sum(_present(w, vocab) for w in repeated) / len(repeated) if repeated else 1.0
    missing = tuple(missing_facts + missing_units + sorted(w for w in new if not _present(w, vocab)))
    if missing_facts or missing_units:
        return Verdict(False, 0.0, span, missing, "a name or number it adds is not in the passage")
    score = min(new_cover, repeated_cover)
    if YES_NO.match(question) and bool(NEGATION.search(claim)) != bool(NEGATION.search(window)):
        return Verdict(False, score * 0.5, span, missing, "the passage says the opposite")
    stated = new_cover >= tuning.SUPPORT_NEW_MIN and repeated_cover >= tuning.SUPPORT_REPEATED_MIN
    return Verdict(stated, score, span, missing, "" if stated else "the passage does not state what it adds")
