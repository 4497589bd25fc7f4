"""ingest -> clean -> chunk -> embed -> store: incremental, crash-safe, with progress.

Unchanged articles (same content hash as in the live generation) keep their chunks;
every vector comes from the embedding cache when its text was embedded before, so
an unchanged corpus embeds nothing and a build killed mid-way resumes where it stopped.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from qa import store
from qa.config import Settings
from qa.embed import Embedder, make_embedder
from qa.errors import IndexBusy, IndexMissing, QAError
from qa.indexing import ingest
from qa.indexing.chunk import chunk_article, embed_text
from qa.indexing.dedup import group_articles
from qa.indexing.lock import hold
from qa.types import Article, BuildSummary, Chunk, Skipped

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]  # (stage, done, total)
EMBED_BATCH = 256  # vectors checkpointed to the cache after each batch


def _no_progress(stage: str, done: int, total: int) -> None:
    pass


class Runner(Protocol):
    """Where a build's per-article work runs: in this process (`LocalRunner`) or as Ray Data tasks
    across a cluster (qa.indexing.ray_build). The driver keeps everything that decides ids and order
    (the plan, duplicates, the cache, the generation), so the index does not depend on the runner."""

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> Iterable[Any]:
        """fn over items, results in the items' order (reading files, chunking articles)."""
        ...

    def embed(self, pairs: Sequence[tuple[str, str]], embedder: Embedder) -> Iterator[tuple[list[str], np.ndarray]]:
        """Vectors of (key, text) pairs, (keys, vectors) a batch at a time, batches in any order:
        the driver checkpoints each batch to the cache as it arrives."""
        ...


class LocalRunner:
    """The single-machine build: the built-in map, and the embedder of this process, batch by batch."""

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> Iterable[Any]:
        return map(fn, items)

    def embed(self, pairs: Sequence[tuple[str, str]], embedder: Embedder) -> Iterator[tuple[list[str], np.ndarray]]:
        for i in range(0, len(pairs), EMBED_BATCH):
            batch = pairs[i:i + EMBED_BATCH]
            yield [k for k, _ in batch], embedder.embed([t for _, t in batch])


def build_lock(index_dir: Path, wait: float = 0.0) -> contextlib.AbstractContextManager[None]:
    """One build at a time per index, waiting up to `wait` seconds for another build to finish."""
    return hold(index_dir / ".lock", lambda holder: IndexBusy(
        f"{index_dir} is being built by {holder}: wait for that build to finish, then run the command again."), wait)


def embed_key(model: str, text: str) -> str:
    return hashlib.sha256(f"{model}\x00{text}".encode()).hexdigest()


@dataclass(frozen=True)
class _Plan:
    articles: list[Article]
    chunks: list[Chunk]
    texts: list[str]  # what is embedded, one per chunk
    added: int
    updated: int
    removed: int
    unchanged: int


def _previous(settings: Settings, rebuild: bool, model: str) -> dict[str, tuple[Article, list[Chunk]]]:
    """Articles and chunks of the live generation, when it is usable for an incremental build."""
    if rebuild:
        return {}
    try:
        manifest = store.read_manifest(settings.index_dir)
        store.check_compatible(manifest, model, settings)
        live = store.Store.open(settings.index_dir)
        return {a.id: (a, [c for c, _ in pairs]) for a, pairs in live.content()}
    except IndexMissing:
        return {}
    except QAError as exc:
        log.warning("starting from scratch: %s", exc)
        return {}


def _plan(articles: list[Article], previous: dict[str, tuple[Article, list[Chunk]]],
          settings: Settings, progress: Progress, runner: Runner) -> _Plan:
    def unchanged(article: Article) -> bool:
        old = previous.get(article.id)
        return old is not None and old[0].content_hash == article.content_hash

    chunker = functools.partial(chunk_article, words=settings.chunk_words, overlap=settings.chunk_overlap)
    chunked = iter(runner.map(chunker, [a for a in articles if not unchanged(a)]))
    chunks: list[Chunk] = []
    texts: list[str] = []
    added = updated = 0
    for i, article in enumerate(articles):
        if unchanged(article):
            article_chunks = previous[article.id][1]
        else:
            added += article.id not in previous
            updated += article.id in previous
            article_chunks = next(chunked)
        chunks += article_chunks
        texts += [embed_text(article.title, c.text, settings.embed_words) for c in article_chunks]
        progress("chunk", i + 1, len(articles))
    removed = len(set(previous) - {a.id for a in articles})
    return _Plan(articles, chunks, texts, added, updated, removed, len(articles) - added - updated)


def _nothing_changed(plan: _Plan, previous: dict[str, tuple[Article, list[Chunk]]]) -> bool:
    """Same articles, field for field (a moved folder changes their paths): writing a generation
    again would only cost time (duplicate grouping and BM25 are most of an unchanged re-index)."""
    return (bool(previous) and plan.added == plan.updated == plan.removed == 0
            and all(previous[a.id][0] == a for a in plan.articles))


def _embed_all(texts: Sequence[str], keys: Sequence[str], embedder: Embedder,
               cache: store.EmbeddingCache, progress: Progress, runner: Runner) -> tuple[np.ndarray, int]:
    """Vectors for every text: cached ones reused, the rest embedded and checkpointed by batch."""
    found = cache.get(keys)
    missing = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in found}.items())
    progress("embed", 0, len(missing))
    done = 0
    for batch_keys, vectors in runner.embed(missing, embedder):
        cache.put(batch_keys, vectors)
        found.update(zip(batch_keys, np.asarray(vectors, dtype=np.float32), strict=True))
        done += len(batch_keys)
        progress("embed", done, len(missing))
    dim = embedder.dim
    matrix = np.stack([found[k] for k in keys]) if keys else np.zeros((0, dim), dtype=np.float32)
    return matrix.astype(np.float32), len(missing)


def _nothing_to_index(articles_dir: Path, skipped: Sequence[Skipped]) -> QAError:
    if not skipped:
        return QAError(f"no article files in {articles_dir}: put articles there ({', '.join(ingest.SUFFIXES)}); "
                       "the previous index, if any, is unchanged.")
    reasons = "; ".join(f"{s.path}: {s.reason}" for s in skipped[:5]) + ("; ..." if len(skipped) > 5 else "")
    return QAError(f"no article in {articles_dir} could be indexed ({len(skipped)} skipped: {reasons}): fix or "
                   "replace those files; the previous index, if any, is unchanged.")


def build_index(settings: Settings, rebuild: bool = False, progress: Progress = _no_progress,
                embedder: Embedder | None = None, lock_wait: float = 0.0,
                runner: Runner | None = None) -> BuildSummary:
    """Build (or update) the index of `settings.articles_dir` in `settings.index_dir`.

    `runner` runs the reading, cleaning, chunking and embedding (default: this process); this
    process always holds the lock, plans, fills the cache and writes the generation.
    """
    started = time.monotonic()
    runner = runner or LocalRunner()
    index_dir, articles_dir = settings.index_dir, settings.articles_dir
    if not articles_dir.is_dir():
        raise QAError(f"articles folder {articles_dir} does not exist: create it and put articles in "
                      "it, or point QA_ARTICLES_DIR / --articles at your folder.")
    with build_lock(index_dir, lock_wait):
        for name in store.remove_leftovers(index_dir):
            log.info("removed leftover %s", name)
        articles, skipped = ingest.load_articles(articles_dir, articles_dir,
                                                 int(settings.max_file_mb * 2**20), runner.map)
        for _ in skipped:  # ingest has logged each with its reason
            progress("skip", 0, 0)
        if not articles:  # nothing to index: say why, and leave the live generation as it is
            raise _nothing_to_index(articles_dir, skipped)
        embedder = embedder or make_embedder(settings)
        model = embedder.name  # the embedder actually in use: its vectors are what the index holds
        previous = _previous(settings, rebuild, model)
        plan = _plan(articles, previous, settings, progress, runner)
        if _nothing_changed(plan, previous):  # the live generation, which opened cleanly, is this index
            progress("write", 1, 1)
            return BuildSummary(0, 0, 0, plan.unchanged, 0, tuple(skipped), time.monotonic() - started,
                                len(plan.articles), len(plan.chunks), store.read_manifest(index_dir).generation)
        keys = [embed_key(model, t) for t in plan.texts]
        cache = store.EmbeddingCache(index_dir / "embeddings.sqlite", embedder.dim)
        try:
            vectors, embedded = _embed_all(plan.texts, keys, embedder, cache, progress, runner)
            progress("write", 0, 1)
            groups = group_articles(plan.articles)
            manifest = store.write_generation(
                index_dir, plan.articles, plan.chunks, keys, vectors,
                {"embed_model": model, "dim": int(vectors.shape[1]) if len(vectors) else embedder.dim,
                 "chunk_words": settings.chunk_words, "chunk_overlap": settings.chunk_overlap,
                 "embed_words": settings.embed_words,
                 "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
                 "duplicate_groups": len(set(groups.values()))}, groups)
            cache.keep_only(keys)
        finally:
            cache.close()
        store.remove_leftovers(index_dir)
        progress("write", 1, 1)
    return BuildSummary(plan.added, plan.updated, plan.removed, plan.unchanged, embedded, tuple(skipped),
                        time.monotonic() - started, len(plan.articles), len(plan.chunks),
                        manifest.generation)
