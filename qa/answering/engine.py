"""ask(question, history) -> a stream of events ending with the Answer.

The Engine holds what is expensive to load (the index, the embedder, the LLM), each
loaded on first use. It re-opens the index when a build switches CURRENT, so answers
move to the new generation right after the atomic swap and never see a half-built one.
"""

from __future__ import annotations

import re
import threading
import time
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date

from qa import store as store_mod
from qa import tuning
from qa.answering import prefix
from qa.answering.cite import attribute, nearby, split_claims, strip_markers
from qa.answering.conversation import resolve
from qa.answering.generate import Generator, llama_generator
from qa.answering.judge import Judge, confidence
from qa.answering.judge import opening as judge_opening
from qa.answering.prompt import (
    REFUSAL,
    build_prompt,
    clip_question,
    close_sources,
    opening,
    select_sentences,
    time_note,
    widen,
)
from qa.answering.query import Query, parse_query
from qa.answering.retrieve import Retrieval, retrieve, term_weights
from qa.answering.timeline import build_timeline
from qa.answering.timeq import parse_day
from qa.config import Settings
from qa.embed import Embedder, make_embedder
from qa.errors import QAError
from qa.models import llm_model_path
from qa.types import Answer, AnswerSentence, Citation, Hit, Timeline, Timings, Turn, render_sentences

# How a model says it cannot answer: the instructed sentence and its usual paraphrases.
REFUSAL_PATTERN = re.compile(
    r"\b(articles|sources|passages|context|text)\s+(do|does|did)\s*(not|n't)\s+(say|mention|provide|contain|"
    r"specify|state|include|answer|address|cover)|\bno information\b|\bnot (mentioned|specified|stated) in\b",
    re.IGNORECASE)


# The model answered, but the checks found no source stating it: refused, in words that do not claim
# the articles are silent.
UNVERIFIED = "The articles do not clearly state an answer: no source was found to say it."
UNGROUNDED = "No cited passage clearly supports this answer: check the sources before repeating it."
LOADING = "Loading the language model (first question only)…"


@dataclass(frozen=True)
class Token:
    text: str


@dataclass(frozen=True)
class Status:
    message: str


@dataclass(frozen=True)
class Done:
    answer: Answer


Event = Token | Status | Done


def clean_question(question: str) -> str:
    """Control characters out, whitespace collapsed; raises a friendly error when nothing is left."""
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in question or "")
    text = " ".join(text.split())
    if not any(ch.isalnum() for ch in text):
        raise QAError("type a question in words, for example: Where did Blinken and Lavrov meet?")
    return clip_question(text)


def _key(sentence: str) -> str:
    """What a sentence says, markers, case and punctuation aside."""
    return re.sub(r"\[[^\]]*\]|\W", "", sentence.lower())


def repeats(text: str) -> bool:
    """The last complete sentence says again what an earlier one said.

    >>> repeats("They met in Stockholm [1]. They met in Stockholm [1].")
    True
    >>> repeats("The U.S. and China met [1]. The U.S. agreed")
    False
    """
    keys = [_key(s) for s, _ in split_claims(text)]
    return len(keys) > 1 and bool(keys[-1]) and keys[-1] in keys[:-1]


def drop_repeats(text: str) -> str:
    """The answer without sentences that say again what an earlier one said (markers aside).

    >>> drop_repeats("The U.S. and China met [1]. The U.S. agreed to talks [2]. The U.S. and China met [1].")
    'The U.S. and China met [1]. The U.S. agreed to talks [2].'
    """
    seen: set[str] = set()
    kept = []
    for sentence, _ in split_claims(text):  # the answer's sentences as the citation check reads them
        key = _key(sentence)
        if key and key in seen:
            continue
        seen.add(key)
        kept.append(sentence.strip())
    return " ".join(kept)


def is_refusal(text: str) -> bool:
    return bool(REFUSAL_PATTERN.search(text)) or not strip_markers(text)


def with_as_of(sentences: Sequence[AnswerSentence], citations: Sequence[Citation]) -> list[AnswerSentence]:
    """A "latest" answer says as of when: the newest cited publish date, unless the text has its year.

    >>> c = Citation(1, "a", "t", "c", 0, 1, "s", 0, 1, True, 1.0, "s", published="2023-06-05")
    >>> render_sentences(with_as_of([AnswerSentence("Bruno Kessel is mayor.", (1,))], [c]))
    'Bruno Kessel is mayor [1]. (As of 2023-06-05.)'
    """
    dates = sorted(c.published[:10] for c in citations if c.published and c.supported)
    if not dates or dates[-1][:4] in render_sentences(sentences):
        return list(sentences)
    return [*sentences, AnswerSentence(f"(As of {dates[-1]}.)")]


def gate_message(hits: Sequence[Hit]) -> str:
    lines = ["The indexed articles do not cover this question."]
    if hits:
        lines.append("The closest articles were:")
        seen: dict[str, float] = {}
        for h in hits:
            seen.setdefault(h.title, h.dense if h.dense is not None else h.score)
        lines += [f"- {title} (similarity {score:.2f})" for title, score in seen.items()]
    return "\n".join(lines)


def honest_refusal(query: Query, sources: Sequence[Hit], checked: bool = False, read: Sequence[Citation] = (),
                   most: int = 2) -> tuple[list[AnswerSentence], list[Citation]]:
    """The plain refusal, then the sentences of the sources closest to the question, quoted and cited,
    so the reader sees what the articles do say nearby. `checked`: the model answered, but no source
    was found to state its answer, which is not the same as the articles not saying it. `read`: that
    answer's citations; a sentence the check found stating it, though not as an answer the judge confirmed,
    is quoted first: most often it holds the answer, and the reader judges it from the source's own words."""
    stated = sorted((c for c in read if c.supported), key=lambda c: -c.support)
    near: list[Citation] = []
    quoted: set[str] = set()  # two outlets print the same wire sentence: it is quoted once
    for c in [*(_as_quote(c) for c in stated), *nearby(query, sources, len(sources))]:
        key = " ".join(c.snippet.split())
        if len(near) < most and key not in quoted:
            near.append(c)
            quoted.add(key)
    head = UNVERIFIED if checked else REFUSAL
    if not near:
        return [AnswerSentence(head)], []
    # the heading is one line, as qa.answering.cite.read_sentences reads it back from the text
    lines = [AnswerSentence(f"{head} {'The passages closest to the question say' if checked else 'Nearby, they say'}:")]
    lines += [AnswerSentence(c.snippet, (c.n,), quote=True) for c in near]
    return lines, near


def _as_quote(citation: Citation) -> Citation:
    """A checked citation turned into a quote of its highlighted sentence: the source's words, so supported."""
    return replace(citation, sentence=citation.snippet.strip(), supported=True, support=1.0, posthoc=False,
                   missing=(), on_topic=False)


class Engine:
    """Answers questions over the index of `settings.index_dir`."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None,
                 generator: Generator | None = None, judge: Judge | None = None):
        self.settings = settings
        self._embedder, self._generator = embedder, generator
        # a generator given without a judge judges too when it can (the test fakes do)
        self._judge = judge or (generator if hasattr(generator, "yes_probability") else None)
        self._store: store_mod.Store | None = None
        self._lock = threading.RLock()

    @property
    def embedder(self) -> Embedder:
        with self._lock:  # two first questions at once must not load two models
            if self._embedder is None:
                self._embedder = make_embedder(self.settings)
            return self._embedder

    @property
    def generator(self) -> Generator:
        with self._lock:
            if self._generator is None:
                s = self.settings
                self._generator = llama_generator(llm_model_path(s), s.n_ctx, s.n_threads, prefix.folder(s),
                                                  s.speculate)
            return self._generator

    @property
    def judge(self) -> Judge:
        """The bundled LLM in a small context of its own: judging must not evict the answering
        context's cached system prompt."""
        with self._lock:
            if self._judge is None:
                s = self.settings
                self._judge = llama_generator(llm_model_path(s), tuning.JUDGE_CTX, s.n_threads, prefix.folder(s))
            return self._judge

    def warm_up(self) -> None:
        """Load the models and put the prompts' opening in the LLM's context: the first answer starts as
        fast as the rest. The judge comes last: an answer is written before it is needed."""
        _warm(self.embedder)
        _warm(self.generator)
        self.prime()
        if self.settings.judge:  # its context too: the first answer must not wait for it
            _warm(self.judge)
            self.prime_judge()

    def prime(self) -> None:
        """The opening every prompt shares (the system prompt and the user message's constant start) put
        in the LLM's context: restored from the state an earlier process saved, or evaluated and saved."""
        prime = getattr(self.generator, "prime", None)
        if prime is not None:
            prime(opening())

    def prime_judge(self) -> None:
        """The judge's worked examples put in its context, restored or evaluated and saved as `prime` does:
        about 540 tokens, 7 s to evaluate on 2 cores, that neither the app's first answer nor a `qa ask`
        should pay. Cheap when they are already there."""
        prime = getattr(self.judge, "prime", None)
        if prime is not None:
            prime(judge_opening())

    def store(self) -> store_mod.Store:
        """The live generation; re-opened when a build has switched CURRENT."""
        manifest = store_mod.read_manifest(self.settings.index_dir)
        with self._lock:
            if self._store is None or self._store.manifest.generation != manifest.generation:
                # compare with the embedder in use, so questions are embedded like the index was
                store_mod.check_compatible(manifest, self.embedder.name, self.settings)
                self._store = store_mod.Store(self.settings.index_dir / manifest.generation, manifest)
            return self._store

    def search(self, question: str, history: Sequence[Turn] = (), settings: Settings | None = None
               ) -> Retrieval:
        settings = settings or self.settings
        return retrieve(self.query(question, history, settings), self.store(), self.embedder, settings)

    def query(self, question: str, history: Sequence[Turn], settings: Settings) -> Query:
        """The question as typed, cleaned, a follow-up's pronoun resolved, and parsed once for every stage."""
        return parse_query(self.resolve(clean_question(question), history, settings), history, _today(settings))

    def resolve(self, question: str, history: Sequence[Turn], settings: Settings) -> str:
        """A follow-up's pronoun replaced by the person it refers to; the articles the earlier turn
        retrieves tell whether that person is "he" or "she"."""
        def passages(text: str) -> str:
            found = retrieve(parse_query(text, (), _today(settings)), self.store(), self.embedder, settings)
            return " ".join(h.chunk.text for h in found.hits)

        return resolve(question, history, passages)

    def ask(self, question: str, history: Sequence[Turn] = (), settings: Settings | None = None
            ) -> Iterator[Event]:
        """Stream the answer: Status and Token events, then one Done with the Answer."""
        settings = settings or self.settings
        started = time.perf_counter()
        store = self.store()
        found = retrieve(self.query(question, history, settings), store, self.embedder, settings)
        query = found.query  # with its vector, for sentence selection
        if not found.hits or (settings.gate and not found.relevant):
            timings = Timings(retrieval_ms=found.ms, total_ms=_ms(started))
            yield Done(Answer((AnswerSentence(gate_message(found.hits)),), (), found.hits, True, timings, query.text,
                              query.search_text, llm_called=False))
            return
        generator = self.generator
        # a generator without an opening to prime (the fakes, replayed answers) counts as primed
        primed = getattr(generator, "primed", True)
        if not (primed and getattr(generator, "loaded", True)):
            yield Status(LOADING)
        if not primed:  # a fresh process (`qa ask`), or a question while the app warms up: it waits here
            self.prime()
        today = _today(settings)
        hits, texts = evidence(found, store, self.embedder, settings)
        prompt = build_prompt(query.text, hits, history, generator, settings.max_tokens,
                              settings.history_turns, texts, time_note(query.time, found.range_applied, today))
        pieces: list[str] = []
        ttft = None
        stream = generator.stream(prompt.messages, settings.max_tokens, settings.temperature)
        try:
            for piece in stream:
                ttft = ttft if ttft is not None else _ms(started)
                pieces.append(piece)
                yield Token(piece)
                if piece.rstrip().endswith((".", "]")) and repeats("".join(pieces)):
                    break  # a small model that starts repeating itself has nothing more to say
        finally:
            stream.close()  # frees the model for the next question, also when the reader stops this one
        text = drop_repeats("".join(pieces))
        refused = said_so = is_refusal(text)
        sentences: list[AnswerSentence] = []
        citations: list[Citation] = []
        if not refused:
            sentences, citations = attribute(text, query, prompt.sources, term_weights(store))
            # not an answer unless a source states something it says, in sentences about what was asked
            refused = not any(c.supported and c.on_topic for c in citations)
            if not refused and settings.judge:
                yield Status("Checking the answer against the sources…")
                if not getattr(self.judge, "primed", True):  # as the generator's: not re-tokenised every answer
                    self.prime_judge()
                refused = confidence(self.judge, query, citations, prompt.sources,
                                     enough=tuning.JUDGE_MIN) < tuning.JUDGE_MIN
            if query.time.recency and not refused:
                sentences = with_as_of(sentences, citations)
        if refused:  # say so plainly, and what the articles do say nearby
            sentences, citations = honest_refusal(query, prompt.sources, not said_so, citations)
        timings = Timings(found.ms, ttft, _ms(started), prompt.tokens, len(pieces))  # one piece per token
        yield Done(Answer(tuple(sentences), tuple(citations), found.hits, refused, timings, query.text,
                          query.search_text, True, prompt.sources))

    def timeline(self, topic: str, settings: Settings | None = None,
                 passages: int = tuning.TIMELINE_PASSAGES) -> Timeline:
        """The dated events of a story, oldest first, each cited (qa.answering.timeline); no LLM."""
        settings = settings or self.settings
        return build_timeline(topic, self.store(), self.embedder, settings, _today(settings), passages)

    def answer(self, question: str, history: Sequence[Turn] = (), settings: Settings | None = None) -> Answer:
        for event in self.ask(question, history, settings):
            if isinstance(event, Done):
                return event.answer
        raise AssertionError("ask() ended without an answer")


def evidence(found: Retrieval, store: store_mod.Store, embedder: Embedder, settings: Settings
             ) -> tuple[list[Hit], list[str]]:
    """What the prompt shows: the passages kept and, for each, its best-matching sentences (or the whole
    passage when `settings.passage_words` is 0). eval/evidence_reach.py measures how often it holds the answer."""
    if settings.passage_words > 0:  # sentences are picked from passages grown where news puts the answer
        passages = widen(found.hits, lambda a: _article_text(store, a), settings.lead_sentences,
                         settings.follow_sentence)
    else:  # whole passages stay whole
        passages = list(found.hits)
    selected = select_sentences(found.query, passages, embedder, settings.passage_words)
    return close_sources(passages, selected, settings.source_ratio)


def _warm(part: object) -> None:
    warm = getattr(part, "warm_up", None)
    if warm is not None:
        warm()


def _today(settings: Settings) -> date:
    """The date relative time words ("last week") count from: the setting, else the clock's."""
    return parse_day(settings.today, "today") or date.today()


def _article_text(store: store_mod.Store, article_id: str) -> str:
    article = store.article(article_id)
    return article.text if article else ""


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
