"""Frozen dataclasses passed between stages.

Data flows one way: files -> Article -> Chunk -> vectors -> store;
question -> Hit -> prompt -> tokens -> Answer: AnswerSentences citing Citations by number;
topic -> Hit -> event sentences, each dated (When) -> Timeline of TimelineEvents with EventSources.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import date
from typing import Any

from qa.errors import QAError


@dataclass(frozen=True)
class Article:
    """One cleaned news article. `text` is what is stored and what citations point into."""

    id: str  # path relative to the articles folder, or a JSONL record's doc_id
    title: str
    text: str
    content_hash: str  # sha256 of title + text + metadata: changes when re-embedding is needed
    source: str | None = None  # site or publisher
    url: str | None = None
    published: str | None = None  # ISO date (YYYY-MM-DD or full ISO timestamp) when known
    path: str | None = None  # the file it came from, relative to the articles folder


@dataclass(frozen=True)
class Skipped:
    """A file (or record) that was not indexed, and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class Chunk:
    """A span of an article: `article.text[start:end] == text`."""

    id: str  # hash of article id + offsets + text: stable across re-indexing
    article_id: str
    start: int
    end: int
    text: str
    ordinal: int  # position of the chunk inside its article


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its article's metadata and scores."""

    chunk: Chunk
    title: str
    score: float  # the fused score used for ranking
    dense: float | None = None  # cosine similarity, when the dense search found it
    bm25: float | None = None  # BM25 score, when the lexical search found it
    published: str | None = None
    source: str | None = None
    url: str | None = None
    also: tuple[str, ...] = ()  # other articles of its near-duplicate group (syndicated copies)

    def to_json(self) -> dict[str, Any]:
        return {
            "article_id": self.chunk.article_id,
            "title": self.title,
            "chunk_id": self.chunk.id,
            "start": self.chunk.start,
            "end": self.chunk.end,
            "text": self.chunk.text,
            "score": round(self.score, 6),
            "dense": None if self.dense is None else round(self.dense, 6),
            "bm25": None if self.bm25 is None else round(self.bm25, 6),
            "published": self.published,
            "source": self.source,
            "url": self.url,
            "also": list(self.also),
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Hit:
        """The inverse of to_json (the chunk's ordinal is not in the JSON: it comes back as 0)."""
        chunk = Chunk(str(d["chunk_id"]), str(d["article_id"]), int(d["start"]), int(d["end"]), str(d["text"]), 0)
        return cls(chunk, str(d["title"]), float(d["score"]), _opt_float(d.get("dense")), _opt_float(d.get("bm25")),
                   _opt_str(d.get("published")), _opt_str(d.get("source")), _opt_str(d.get("url")),
                   tuple(str(x) for x in d.get("also") or ()))


@dataclass(frozen=True)
class Citation:
    """A numbered source the answer cites, with the passage sentence that supports it."""

    n: int
    article_id: str
    title: str
    chunk_id: str
    start: int  # span of the cited passage in article.text
    end: int
    snippet: str  # the passage sentence that best supports the answer sentence
    snippet_start: int  # span of that sentence in article.text, for highlighting
    snippet_end: int
    supported: bool
    support: float  # similarity between the answer sentence and `snippet`
    sentence: str  # the answer sentence the citation follows
    posthoc: bool = False  # added by the support check, not written by the model
    published: str | None = None
    url: str | None = None
    score: float = 0.0  # retrieval score of the cited passage
    source: str | None = None
    also: tuple[str, ...] = ()  # other outlets that carried the same story
    missing: tuple[str, ...] = ()  # what the sentence adds that the passage does not state
    on_topic: bool = False  # the supporting sentences are about what was asked, not only near it

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Citation:
        """The inverse of to_json; a field the JSON lacks or holds with the wrong type raises."""
        values = {f.name: d[f.name] for f in fields(cls) if f.name in d}
        for name in ("also", "missing"):
            values[name] = tuple(str(x) for x in values.get(name) or ())
        for f in fields(cls):  # a stored copy may have been edited: its types are checked here, once
            if f.name in values and not _JSON_TYPES.get(str(f.type), lambda _: True)(values[f.name]):
                raise TypeError(f"citation field {f.name} must be {f.type}, not {values[f.name]!r}")
        return cls(**values)


_JSON_TYPES: dict[str, Callable[[Any], bool]] = {
    "str": lambda v: isinstance(v, str),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "bool": lambda v: isinstance(v, bool),
    "float": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "str | None": lambda v: v is None or isinstance(v, str),
}


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True)
class Timings:
    retrieval_ms: float = 0.0
    ttft_ms: float | None = None  # None when the LLM was not called
    total_ms: float = 0.0
    prompt_tokens: int = 0
    answer_tokens: int = 0


@dataclass(frozen=True)
class AnswerSentence:
    """One sentence of an answer and the numbered sources it cites.

    The answer is kept as these, not as text with [n] markers, so that each face (the CLI's text, the
    JSON, the app's chat, Markdown) renders the citations its own way without parsing them back.
    """

    text: str  # as shown, without markers; a message of ours (the relevance gate's) may span lines
    cites: tuple[int, ...] = ()  # the `n` of the sources it cites, in the order they are shown
    quote: bool = False  # a refusal's verbatim quote of a source: a list item of its own, in quotation marks


def render_sentences(sentences: Sequence[AnswerSentence], marker: Callable[[int], str] = "[{}]".format,
                     text: Callable[[str], str] = str) -> str:
    """The sentences laid out as the answer's text, each source number shown by `marker` and the words by
    `text` (a face's escaping). The layout is decided here only: sentences joined by a space, a
    sentence's markers before its closing punctuation ("in Stockholm [1][2]."), a quote on a line of
    its own as `- “...” [n]`.

    >>> render_sentences([AnswerSentence("They met in Stockholm.", (1, 2)), AnswerSentence("Talks ended.")])
    'They met in Stockholm [1][2]. Talks ended.'
    >>> print(render_sentences([AnswerSentence("Nearby, they say:"), AnswerSentence("Talks ended.", (3,), True)]))
    Nearby, they say:
    - “Talks ended.” [3]
    """
    out: list[str] = []
    for i, s in enumerate(sentences):
        if i:
            out.append(text("\n" if s.quote else " "))
        shown = f"- “{s.text}”" if s.quote else s.text
        if not s.cites:
            out.append(text(shown))
            continue
        body = shown.rstrip()
        end = len(body.rstrip(".!?;:"))
        out += [text(f"{body[:end]} "), *(marker(n) for n in s.cites), text(body[end:])]
    return "".join(out)


@dataclass(frozen=True)
class Answer:
    sentences: tuple[AnswerSentence, ...]
    citations: tuple[Citation, ...]
    hits: tuple[Hit, ...]
    refused: bool
    timings: Timings
    question: str = ""
    query: str = ""  # the retrieval query built from the conversation
    llm_called: bool = True
    sources: tuple[Hit, ...] = field(default=())  # the numbered sources given to the model

    @property
    def text(self) -> str:
        """The answer with its [n] markers: what `qa ask` prints, the JSON's "answer", the model's history."""
        return render_sentences(self.sentences)

    def render(self, marker: Callable[[int], str], text: Callable[[str], str] = str) -> str:
        """The answer as a face shows it: see render_sentences."""
        return render_sentences(self.sentences, marker, text)

    @property
    def grounded(self) -> bool:
        """A refusal, or an answer with at least one citation the support check confirmed: when this is
        False the reader is told that no cited passage clearly supports the answer."""
        return self.refused or any(c.supported for c in self.citations)

    def to_json(self) -> dict[str, Any]:
        return {
            "answer": self.text,
            "refused": self.refused,
            "grounded": self.grounded,
            "citations": [c.to_json() for c in self.citations],
            "hits": [h.to_json() for h in self.hits],
            "timings": asdict(self.timings),
            "query": self.query,
            "llm_called": self.llm_called,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Answer:
        """The inverse of to_json. A stored copy of an answer (the app keeps the conversation in the
        browser) may add what to_json leaves out: "question" (as resolved) and "sources" (the
        numbered sources the model was given, as hits), without which the sources panel shows the
        cited sentences only. The sentences are read back from the answer's text (the JSON keeps the
        text with its markers only)."""
        from qa.answering.cite import read_sentences  # here, not at the top: qa.answering.cite is built on these types

        timings = Timings(**{f.name: d["timings"][f.name] for f in fields(Timings) if f.name in d["timings"]})
        text = str(d["answer"])
        # without citations (the gate's message, a bare refusal) it is words only: a bracketed number
        # in it (in an article's title) is no marker
        sentences = read_sentences(text) if d["citations"] else (AnswerSentence(text),)
        return cls(sentences, tuple(Citation.from_json(c) for c in d["citations"]),
                   tuple(Hit.from_json(h) for h in d["hits"]), bool(d["refused"]), timings,
                   str(d.get("question", "")), str(d.get("query", "")), bool(d.get("llm_called", True)),
                   tuple(Hit.from_json(h) for h in d.get("sources") or ()))


@dataclass(frozen=True)
class Turn:
    role: str  # "user" or "assistant"
    content: str


def parse_history(text: str, name: str) -> list[Turn]:
    """`[{"role": "user"|"assistant", "content": str}, ...]` -> Turns. One parser for the CLI's
    --history file and the app's history_json, so both accept the same conversations; `name` is
    what the caller's user knows the JSON as, and the QAError names it.

    >>> parse_history('[{"role": "user", "content": "Hi"}]', "history_json")
    [Turn(role='user', content='Hi')]
    """
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise QAError(f"{name} is not JSON ({exc}): pass a list of {{role, content}}.") from None
    if not isinstance(data, list) or not all(
            isinstance(t, dict) and t.get("role") in ("user", "assistant")
            and isinstance(t.get("content"), str) for t in data):
        raise QAError(f'{name} must be a list of {{"role": "user"|"assistant", "content": str}} objects.')
    return [Turn(t["role"], t["content"]) for t in data]


@dataclass(frozen=True)
class BuildSummary:
    added: int
    updated: int
    removed: int
    unchanged: int
    embedded_chunks: int
    skipped: tuple[Skipped, ...]
    seconds: float
    articles: int = 0
    chunks: int = 0
    generation: str = ""

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["skipped"] = [asdict(s) for s in self.skipped]
        d["seconds"] = round(self.seconds, 3)
        return d


@dataclass(frozen=True)
class SavedArticle:
    """A page `qa add` saved into the articles folder."""

    url: str
    path: str  # relative to the articles folder
    title: str


@dataclass(frozen=True)
class FailedUrl:
    """A page or feed that was not saved, and why (one line)."""

    url: str
    reason: str


@dataclass(frozen=True)
class AddSummary:
    """What `qa add` / `qa update` did: pages saved, URLs already saved before, failures, and the index
    build that followed (None when nothing new was saved, or when indexing was not asked for)."""

    added: tuple[SavedArticle, ...]
    already: tuple[str, ...]
    failed: tuple[FailedUrl, ...]
    seconds: float
    index: BuildSummary | None = None
    index_error: str = ""  # why the index was not updated (another build running, ...)

    def to_json(self) -> dict[str, Any]:
        return {
            "added": [asdict(a) for a in self.added],
            "already": list(self.already),
            "failed": [asdict(f) for f in self.failed],
            "seconds": round(self.seconds, 3),
            "index": self.index.to_json() if self.index else None,
            "index_error": self.index_error or None,
        }


# Precisions of a When, finest first: the order breaks ties between events placed on the same day,
# and a merged event keeps the finest date any of its sources gives.
PRECISIONS = ("day", "week", "month", "year", "published")


@dataclass(frozen=True)
class When:
    """When an event happened, as precisely as its sentence and its article's publish date say
    (qa.answering.timeq.date_sentence has the rules).

    - "day": a date the text gives ("on December 2", "yesterday");
    - "week": a weekday ("on Tuesday"), placed at the publish date: the day lies within a week of it,
      before or after, and the text does not say which ("last week": that calendar week);
    - "month", "year": the text names only those ("in January 2022", "in 2014");
    - "published": no time words: on or before the article's publish date.
    """

    day: date  # where the event is placed: the day, the first day of its month, week or year, the publish date
    start: date  # the earliest and the latest day the words allow
    end: date
    precision: str
    words: str = ""  # the time words it was read from; "" when it is the publish date

    def iso(self) -> str:
        """The date at its precision: 2021-12-02, 2021-12, 2021; a week or a publish date as its day.

        >>> When(date(2021, 12, 1), date(2021, 12, 1), date(2021, 12, 31), "month").iso()
        '2021-12'
        """
        if self.precision == "month":
            return self.day.isoformat()[:7]
        if self.precision == "year":
            return str(self.day.year)
        return self.day.isoformat()

    def label(self) -> str:
        """The date as a reader sees it, its precision in words.

        >>> When(date(2021, 12, 6), date(2021, 11, 30), date(2021, 12, 12), "week", "on Tuesday").label()
        'within a week of 2021-12-06'
        """
        if self.precision == "week":
            if self.start == self.day:  # a calendar week ("last week")
                return f"week of {self.day.isoformat()}"
            return f"within a week of {self.day.isoformat()}"
        if self.precision == "month":
            return self.day.strftime("%B %Y")
        if self.precision == "published":
            return f"by {self.day.isoformat()}"
        return self.iso()

    @property
    def rank(self) -> int:
        return PRECISIONS.index(self.precision)


@dataclass(frozen=True)
class EventSource:
    """One article's sentence stating an event: `start`/`end` are its offsets in that article's text,
    as a Citation's snippet_start/snippet_end are, so the article viewer highlights it."""

    article_id: str
    title: str
    start: int
    end: int
    text: str  # the sentence as this outlet wrote it
    when: When  # as this article dates it (its own publish date resolves its weekdays)
    published: str | None = None
    source: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"article_id": self.article_id, "title": self.title, "start": self.start, "end": self.end}


@dataclass(frozen=True)
class TimelineEvent:
    """One dated event: one line of the timeline, with every outlet that stated it."""

    when: When  # the finest date its sources give
    text: str  # the sentence of the source that gives that date, whitespace collapsed
    sources: tuple[EventSource, ...]  # oldest publish date first

    def to_json(self) -> dict[str, Any]:
        return {"date": self.when.iso(), "precision": self.when.precision, "text": self.text,
                "citations": [s.to_json() for s in self.sources]}


@dataclass(frozen=True)
class Timeline:
    """The dated events of a story, oldest first (qa.answering.timeline)."""

    topic: str
    events: tuple[TimelineEvent, ...]
    undated: int = 0  # event sentences left out: no publish date and no time words to date them
    passages: int = 0  # the passages searched for event sentences

    def to_json(self) -> dict[str, Any]:
        return {"topic": self.topic, "events": [e.to_json() for e in self.events], "undated": self.undated}
