"""A story's timeline: its dated events across the archive, oldest first, each cited to its sentence.

topic -> passages (qa.answering.retrieve, many more than an answer uses, under --since/--until) -> their
sentences (qa.sentences.sentence_spans, the one splitter) -> event sentences -> each dated by its own
time words and its article's publish date (qa.answering.timeq.date_sentence) -> the same event told by several
outlets merged into one line with several sources -> ordered, oldest first.

An event sentence
- is about the topic: it holds, with its article's headline, at least TIMELINE_TOPIC_MIN of the
  topic's IDF-weighted words (a story's later sentences say "the strike", its headline names it);
- states something happening: a verb in the past tense (regular "-ed" or irregular "met", "said")
  or a time expression ("on Tuesday", "in 2014": a dated plan counts too);
- is a whole sentence of at least TIMELINE_MIN_WORDS words, ending as sentences end (bylines, photo
  credits, headlines and link lines are not events), and not a direct quote (someone's words: news
  states the event itself in a sentence of its own).
A sentence that cannot be dated (an article without a publish date, and no date in the text) is
left out and counted. Syndicated copies, which retrieval folds into one article per story, give
their own citations where they carry the sentence word for word.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from qa import lexical, tuning
from qa.answering import support
from qa.answering.query import Query, parse_query
from qa.answering.retrieve import idf_coverage, retrieve
from qa.answering.timeq import date_sentence, has_time_words, parse_day, published_day
from qa.config import Settings
from qa.embed import Embedder
from qa.errors import QAError
from qa.sentences import sentence_spans
from qa.store import Store
from qa.types import Article, EventSource, Hit, Timeline, TimelineEvent, When

# Past-tense forms that differ from their base ("met", "said"; not "put", which may be present)
PAST_IRREGULAR = frozenset(form for form, base in support.IRREGULAR.items() if form != base)
# Words ending in "ed" that are not past tenses
NOT_PAST = frozenset({"hundred", "indeed", "need", "speed", "seed", "feed", "breed", "bleed", "proceed", "exceed",
                      "succeed", "embed"})
_LOWER_WORD = re.compile(r"\b[a-z]+\b")  # lower case only: "United" and "Red" open names
_ENDS_SENTENCE = re.compile(r"[.!?][\"'”’»)]*$")  # headlines and link lines ("Interview: ...") end bare
_QUOTES = ('"', "“", "‘", "'", "«", "„")


@dataclass(frozen=True)
class _Sentence:
    """A sentence of an article: article.text[start:end]."""

    article: Article
    start: int
    end: int

    @property
    def text(self) -> str:
        return self.article.text[self.start:self.end]


def clean_topic(topic: str) -> str:
    """The topic with its whitespace collapsed; a QAError when it holds no word.

    >>> clean_topic("  port\\n strike ")
    'port strike'
    """
    text = " ".join((topic or "").split())
    if not any(ch.isalnum() for ch in text):
        raise QAError('type a topic in words, for example: qa timeline "port strike"')
    return text[:200]


def past_tense(text: str) -> bool:
    """A verb in the past tense (or a past participle, as in "has met").

    >>> past_tense("Blinken met Lavrov."), past_tense("Workers walked out."), past_tense("Talks resume.")
    (True, True, False)
    """
    return any(w in PAST_IRREGULAR or (len(w) > 4 and w.endswith("ed") and w not in NOT_PAST)
               for w in _LOWER_WORD.findall(text))


def is_event(text: str) -> bool:
    """States something happening: past tense or a time expression, in a whole sentence of some length
    that is not a direct quote (someone's words: news states the event in a sentence of its own).

    >>> is_event("The union will vote on Tuesday."), is_event("Photo: Harbour Gazette."), is_event("Prices are high.")
    (True, False, False)
    >>> is_event('"We walked out on Monday," she said.'), is_event("Interview: the investor who walked away")
    (False, False)
    """
    text = text.strip()
    return (len(text.split()) >= tuning.TIMELINE_MIN_WORDS and not text.startswith(_QUOTES)
            and bool(_ENDS_SENTENCE.search(text)) and (past_tense(text) or has_time_words(text)))


def topic_words(query: Query) -> list[str]:
    """The topic's search words without its time phrase ("in December 2021" narrows, it is not the story)."""
    text = query.text.replace(query.time.label, " ") if query.time.label else query.text
    return lexical.tokens(text) or list(query.tokens)


def topic_hits(query: Query, store: Store, embedder: Embedder, settings: Settings, passages: int) -> list[Hit]:
    """The topic's passages across the archive: retrieval as for an answer (the --since/--until/--source
    filters, the topic's own time words), but `passages` of them, any number from one article."""
    wide = settings.replace(top_k=passages, candidates=passages, per_article=passages)
    return list(retrieve(query, store, embedder, wide).hits)


def hit_sentences(hits: Sequence[Hit], articles: dict[str, Article]) -> list[_Sentence]:
    """The sentences of the passages, once each (neighbouring passages share a sentence)."""
    seen: set[tuple[str, int]] = set()
    out = []
    for hit in hits:
        article = articles.get(hit.chunk.article_id)
        if article is None:
            continue
        for start, end in sentence_spans(article.text, hit.chunk.start, hit.chunk.end):
            if (article.id, start) not in seen:
                seen.add((article.id, start))
                out.append(_Sentence(article, start, end))
    return out


def copies(sentences: Sequence[_Sentence], store: Store) -> list[_Sentence]:
    """The same sentences in the syndicated copies of their articles, where a copy has them word for word."""
    groups = {i.id: i.group_id for i in store.infos({s.article.id for s in sentences}).values() if i.group_id}
    members: dict[str, list[Article]] = {}
    for group in set(groups.values()):
        found = (store.article(m.id) for m in store.group_members(group))
        members[group] = [a for a in found if a is not None]
    out = []
    for s in sentences:
        for copy in members.get(groups.get(s.article.id, ""), []):
            at = copy.text.find(s.text) if copy.id != s.article.id else -1
            if at >= 0:
                out.append(_Sentence(copy, at, at + len(s.text)))
    return out


def event_source(s: _Sentence) -> EventSource | None:
    """The sentence dated as its article dates it, or None when nothing dates it."""
    when = date_sentence(s.text, published_day(s.article.published))
    if when is None:
        return None
    return EventSource(s.article.id, s.article.title, s.start, s.end, s.text, when, s.article.published,
                       s.article.source)


def figures(text: str) -> frozenset[str]:
    """Numbers of three digits or more (counts, sums, years): two tellings of one event agree on them.

    >>> sorted(figures("About 1,200 workers walked out on March 3, 2025."))
    ['1200', '2025']
    """
    return frozenset(n for n, _ in support.numbers(text) if len(n.replace(".", "")) >= 3)


def overlap(a: When, b: When) -> bool:
    return a.start <= b.end and b.start <= a.end


def same_event(a: EventSource, b: EventSource, words: tuple[set[str], set[str]], cosine: float) -> bool:
    """Two near-identical tellings of one event: dates that can be the same day, the same polarity and
    figures, and most content words shared (or fewer, when the embedder finds them near-identical)."""
    if not overlap(a.when, b.when) or figures(a.text) != figures(b.text):
        return False
    if bool(support.NEGATION.search(a.text)) != bool(support.NEGATION.search(b.text)):
        return False
    shared = len(words[0] & words[1]) / max(len(words[0] | words[1]), 1)
    return shared >= tuning.MERGE_SHARED or (cosine >= tuning.MERGE_COSINE and shared >= tuning.MERGE_COSINE_SHARED)


def merge(sources: Sequence[EventSource], embedder: Embedder) -> list[TimelineEvent]:
    """Group the tellings of each event (greedily, oldest dates first, each against a group's first)."""
    if not sources:
        return []
    vectors = embedder.embed([s.text for s in sources])
    words = [support.content(s.text) for s in sources]
    groups: list[list[int]] = []
    for i in sorted(range(len(sources)), key=lambda i: (sources[i].when.day, sources[i].when.rank)):
        group = next((g for g in groups if same_event(sources[i], sources[g[0]], (words[i], words[g[0]]),
                                                      float(vectors[i] @ vectors[g[0]]))), None)
        if group is None:
            groups.append([i])
        else:
            group.append(i)
    return [event_of([sources[i] for i in g]) for g in groups]


def event_of(tellings: Sequence[EventSource]) -> TimelineEvent:
    """One event: the finest date a telling gives (the tightest bound among publish dates), that
    telling's sentence, and one source per article, oldest publish date first."""
    best = min(tellings, key=lambda s: (s.when.rank, s.when.day))
    by_article: dict[str, EventSource] = {}
    for s in sorted(tellings, key=lambda s: (s.published or "9999", s.article_id, s.start)):
        by_article.setdefault(s.article_id, s)
    return TimelineEvent(best.when, " ".join(best.text.split()), tuple(by_article.values()))


def in_range(when: When, since: date | None, until: date | None) -> bool:
    """The event may have happened within [since, until]."""
    return (since is None or when.end >= since) and (until is None or when.start <= until)


def chronological(events: Iterable[TimelineEvent]) -> list[TimelineEvent]:
    """Oldest first; on one day the finer date first, then the earlier report."""
    return sorted(events, key=lambda e: (e.when.day, e.when.rank, e.sources[0].published or "", e.text))


def build_timeline(topic: str, store: Store, embedder: Embedder, settings: Settings, today: date,
                   passages: int = tuning.TIMELINE_PASSAGES) -> Timeline:
    """The dated events of `topic` in the index, oldest first, each with its sources.
    `today`: the date a topic's own relative time words ("last month") count from."""
    topic = clean_topic(topic)
    query = parse_query(topic, (), today)
    hits = topic_hits(query, store, embedder, settings, passages)
    articles = {a.id: a for a in (store.article(i) for i in dict.fromkeys(h.chunk.article_id for h in hits)) if a}
    words = topic_words(query)
    found = [s for s in hit_sentences(hits, articles)
             if is_event(s.text) and idf_coverage(words, f"{s.text} {s.article.title}", store)
             >= tuning.TIMELINE_TOPIC_MIN]
    found = list({(s.article.id, s.start): s for s in found + copies(found, store)}.values())
    sources = [(s, event_source(s)) for s in found]
    dated = [e for _, e in sources if e is not None]
    undated = {" ".join(s.text.split()) for s, e in sources if e is None}  # a copy is not another event
    since, until = parse_day(settings.since, "since"), parse_day(settings.until, "until")
    events = [e for e in merge(dated, embedder) if in_range(e.when, since, until)]
    return Timeline(topic, tuple(chronological(events)), len(undated), len(hits))
