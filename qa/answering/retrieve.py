"""Hybrid retrieval: dense (FAISS) + BM25, fused by reciprocal rank, diversified, gated.

The relevance gate answers "the articles do not cover this" without calling the LLM
when both signals are weak: the best cosine similarity is low AND no passage holds
the question's rare words (IDF-weighted term coverage). Thresholds were calibrated
on the answerable and unanswerable questions of ../shared/eval (see README).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date

import numpy as np

from qa import lexical
from qa.answering.query import Query
from qa.answering.timeq import TimeIntent, parse_day, published_day
from qa.config import Settings
from qa.embed import Embedder
from qa.store import ArticleInfo, Store
from qa.types import Chunk, Hit

RRF_K = 60  # the usual reciprocal-rank-fusion constant; flat enough that both lists count


@dataclass(frozen=True)
class Retrieval:
    query: Query  # what was searched, with the search text's vector
    hits: tuple[Hit, ...]  # the top_k passages, best first
    relevant: bool  # the gate's verdict
    best_dense: float
    best_coverage: float
    ms: float
    range_applied: bool = False  # the question's time phrase narrowed the articles


def rrf(rankings: Sequence[Sequence[int]], k: int = RRF_K) -> dict[int, float]:
    """Reciprocal rank fusion of ranked lists of row ids.

    >>> sorted(rrf([[1, 2], [2, 3]]).items(), key=lambda kv: -kv[1])[0][0]
    2
    """
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, row in enumerate(ranking):
            fused[row] = fused.get(row, 0.0) + 1.0 / (k + rank + 1)
    return fused


def diversify(rows: Sequence[int], article_of: Callable[[int], str], per_article: int, k: int) -> list[int]:
    """The first k rows with at most `per_article` from one article (others fill in after).

    >>> diversify([1, 2, 3, 4], lambda r: "a" if r < 4 else "b", 1, 2)
    [1, 4]
    """
    taken: list[int] = []
    counts: dict[str, int] = {}
    for row in rows:
        article = article_of(row)
        if counts.get(article, 0) < per_article:
            taken.append(row)
            counts[article] = counts.get(article, 0) + 1
        if len(taken) == k:
            return taken
    return taken + [r for r in rows if r not in taken][: k - len(taken)]


def term_weights(store: Store) -> Callable[[str], float]:
    """A stemmed term's inverse document frequency in the index (BM25's idf): a name or a rare word
    weighs more than "said" or "year". Terms the index lacks weigh most."""
    bm25 = store.bm25
    indptr = bm25.scores["indptr"]
    n_docs = max(int(bm25.scores["num_docs"]), 1)

    def idf(term: str) -> float:
        tid = bm25.vocab_dict.get(term)
        df = int(indptr[tid + 1] - indptr[tid]) if tid is not None and tid + 1 < len(indptr) else 0
        return math.log(1 + (n_docs - df + 0.5) / (df + 0.5))

    return idf


def idf_coverage(query_tokens: Sequence[str], passage: str, store: Store) -> float:
    """Share of the question's IDF mass whose terms (or spelling variants) occur in the passage."""
    idf = term_weights(store)
    present = set(lexical.tokens(passage))
    vocab = getattr(store.bm25, "vocab_list", None) or []
    total = got = 0.0
    for term in dict.fromkeys(query_tokens):
        weight = idf(term)
        total += weight
        if term in present or any(v in present for v in lexical.variants(term, vocab)):
            got += weight
    return got / total if total else 0.0


def settings_filter(settings: Settings) -> Callable[[ArticleInfo], bool] | None:
    """The user's hard filters (--since, --until, --source); undated articles fail a date filter."""
    since, until = parse_day(settings.since, "since"), parse_day(settings.until, "until")
    source = settings.source.strip().lower()
    if not (since or until or source):
        return None

    def keep(info: ArticleInfo) -> bool:
        day = published_day(info.published)
        if (since or until) and day is None:
            return False
        if day and ((since and day < since) or (until and day > until)):
            return False
        where = " ".join(x for x in (info.source, info.url, info.id) if x).lower()
        return not source or source in where

    return keep


def in_range(info: ArticleInfo, intent: TimeIntent) -> bool:
    day = published_day(info.published)
    return day is not None and (intent.since is None or day >= intent.since) and (
        intent.until is None or day <= intent.until)


def one_per_group(rows: Sequence[int], article_of: Callable[[int], str], group_of: Callable[[str], str]
                  ) -> list[int]:
    """Syndicated copies: keep the passages of the best-ranked article of each group only."""
    chosen: dict[str, str] = {}
    out = []
    for row in rows:
        article = article_of(row)
        if chosen.setdefault(group_of(article), article) == article:
            out.append(row)
    return out


def by_recency(rows: Sequence[int], fused: dict[int, float], day_of: Callable[[int], date | None]
               ) -> list[int]:
    """Newer passages move up: the fused score is raised by up to half for the newest date."""
    days = sorted({d for r in rows if (d := day_of(r)) is not None})
    if len(days) < 2:
        return list(rows)
    position = {d: i / (len(days) - 1) for i, d in enumerate(days)}
    boost = {r: fused[r] * (1 + 0.5 * position.get(day_of(r), 0.0)) for r in rows}  # type: ignore[arg-type]
    return sorted(rows, key=lambda r: -boost[r])


def dense_search(texts: Sequence[str], store: Store, embedder: Embedder, n: int
                 ) -> tuple[dict[int, float], np.ndarray]:
    """Best cosine of each chunk over the query texts and their respelled forms, and the vectors of
    `texts` (respelled forms aside), which later stages reuse rather than embed the texts again."""
    texts = list(texts)
    vectors = embedder.embed(texts + [t for t in (lexical.respell(x, store.bm25) for x in texts) if t])
    dense: dict[int, float] = {}
    for vector in vectors:
        for row, score in store.dense(vector, n):
            dense[row] = max(score, dense.get(row, -1.0))
    return dense, vectors[:len(texts)]


def retrieve(query: Query, store: Store, embedder: Embedder, settings: Settings) -> Retrieval:
    """The top_k passages for a query, and whether any is relevant."""
    started = time.perf_counter()
    intent = query.time
    keep = settings_filter(settings)
    n = settings.candidates * (4 if keep or intent.has_range else 1)  # filters drop candidates
    # a passage's cosine is its best over the question alone and in its conversation
    texts = [query.text] if query.search_text == query.text else [query.text, query.search_text]
    dense, vectors = dense_search(texts, store, embedder, n)
    lex = dict(lexical.search(store.bm25, query.search_tokens, n))
    chunks = store.chunks(sorted(set(dense) | set(lex)))
    infos = store.infos(c.article_id for c in chunks.values())
    info_of: Callable[[int], ArticleInfo] = lambda r: infos[chunks[r].article_id]  # noqa: E731
    allowed = {r for r in chunks if keep is None or keep(info_of(r))}
    in_window = {r for r in allowed if intent.has_range and in_range(info_of(r), intent)}
    range_applied = bool(in_window)  # a time phrase narrows only when some article is in the window
    allowed = in_window or allowed
    dense_rank = [r for r in sorted(dense, key=lambda r: -dense[r]) if r in allowed]
    lex_rank = [r for r in sorted(lex, key=lambda r: -lex[r]) if r in allowed]
    fused = rrf([dense_rank, lex_rank])
    ranked = sorted(fused, key=lambda r: -fused[r])
    ranked = one_per_group(ranked, lambda r: chunks[r].article_id, lambda a: infos[a].group_id or a)
    if intent.recency:
        ranked = by_recency(ranked, fused, lambda r: published_day(info_of(r).published))
    top = diversify(ranked, lambda r: chunks[r].article_id, settings.per_article, settings.top_k)
    if intent.chronological:
        top.sort(key=lambda r: (published_day(info_of(r).published) or date.max, chunks[r].start))
    elif intent.recency:  # the newest source first: a small model leans on source [1]
        top.sort(key=lambda r: published_day(info_of(r).published) or date.min, reverse=True)
    hits = tuple(_hit(chunks[r], info_of(r), fused[r], dense.get(r), lex.get(r), store) for r in top)
    best_dense = max((dense[r] for r in dense_rank), default=0.0)
    best_cov = max((idf_coverage(query.tokens, chunks[r].text + " " + info_of(r).title, store)
                    for r in ranked[:10]), default=0.0)
    relevant = bool(hits) and (best_dense >= settings.gate_dense or best_cov >= settings.gate_lexical)
    query = replace(query, embedding=vectors[-1])  # texts end with the search text
    return Retrieval(query, hits, relevant, best_dense, best_cov, (time.perf_counter() - started) * 1000,
                     range_applied)


def _hit(chunk: Chunk, info: ArticleInfo, score: float, dense: float | None, bm25: float | None,
         store: Store) -> Hit:
    also: tuple[str, ...] = ()
    if info.group_id:
        also = tuple(m.source or m.id for m in store.group_members(info.group_id) if m.id != info.id)
    return Hit(chunk=chunk, title=info.title, score=score, dense=dense, bm25=bm25,
               published=info.published, source=info.source, url=info.url, also=also)
