"""Pages and feeds in: URLs -> fetch -> article -> a Markdown file -> the index.

`add` runs `qa add URL...` and `qa add --feed URL`, `update` runs `qa update` (every feed of the
feeds file), and `index_added` indexes what they saved with the usual incremental build.

A URL already saved is not fetched again. The ledger `.fetched.jsonl` in the articles folder lists
every URL saved, and keeps it when the user deletes the article, so that a feed does not bring a
deleted article back. The `url` in a Markdown article's front matter counts as saved too, for
articles saved before the ledger existed or copied in from elsewhere.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from qa.config import Settings
from qa.errors import QAError
from qa.indexing.feeds import FeedEntry, parse_feed, read_feeds
from qa.indexing.fetch import Fetcher, FetchError, check_url, normalise_url
from qa.indexing.ingest import iter_files, read_front_matter
from qa.indexing.lock import hold
from qa.indexing.pages import Hints, extract_article, save_article
from qa.types import AddSummary, FailedUrl, SavedArticle

if TYPE_CHECKING:  # qa.embed imports numpy: not needed to fetch
    from qa.embed import Embedder

log = logging.getLogger(__name__)

LEDGER = ".fetched.jsonl"  # hidden: ingest skips hidden files
LOCK = ".fetch.lock"

Progress = Callable[[str, int, int], None]  # ("fetch", done, total): the total grows as feeds are read


def _no_progress(stage: str, done: int, total: int) -> None:
    pass


def fetch_lock(articles_dir: Path) -> contextlib.AbstractContextManager[None]:
    """One fetching run per articles folder: two would fetch the same new entries and save them twice."""
    return hold(articles_dir / LOCK, lambda _holder: QAError(
        f"another `qa add` or `qa update` is fetching into {articles_dir}: wait for it to finish, then run the "
        "command again."))


def known_urls(articles_dir: Path) -> set[str]:
    """Normalised URLs already saved: the ledger's, and those in Markdown articles' front matter."""
    known: set[str] = set()
    with contextlib.suppress(FileNotFoundError):
        for line in (articles_dir / LEDGER).read_text(encoding="utf-8", errors="replace").splitlines():
            with contextlib.suppress(ValueError, AttributeError, TypeError):
                record = json.loads(line)
                known.update(normalise_url(record[k]) for k in ("url", "final_url") if record.get(k))
    for path in iter_files(articles_dir) if articles_dir.is_dir() else []:
        if path.suffix.lower() == ".md" and (url := read_front_matter(path).get("url")):
            known.add(normalise_url(url))
    return known


def _record(articles_dir: Path, url: str, final_url: str, path: str | None) -> None:
    """Append one line to the ledger (a line this short is appended whole)."""
    line = json.dumps({"url": url, "final_url": final_url, "path": path,
                       "saved_at": datetime.now(UTC).isoformat(timespec="seconds")}, ensure_ascii=False)
    with (articles_dir / LEDGER).open("a", encoding="utf-8") as f:
        f.write(line + "\n")


class _Run:
    """One fetching run: what is known, what was saved, skipped and failed, and the progress count."""

    def __init__(self, settings: Settings, fetcher: Fetcher, progress: Progress):
        self.folder = settings.articles_dir
        self.fetcher, self.progress = fetcher, progress
        self.known = known_urls(self.folder)
        self.tried: set[str] = set()
        self.added: list[SavedArticle] = []
        self.already: list[str] = []
        self.failed: list[FailedUrl] = []
        self.done = self.total = 0

    def _step(self) -> None:
        self.done += 1
        self.progress("fetch", self.done, self.total)

    def page(self, url: str, hints: Hints | None = None) -> None:
        """Fetch, extract and save one page, unless its URL is already saved; a failure is recorded."""
        try:
            key = normalise_url(check_url(url))
        except FetchError as exc:
            self.failed.append(FailedUrl(url, str(exc)))
            return self._step()
        if key in self.known:
            if key not in self.already:  # two feeds linking one page: one line
                self.already.append(key)
            return self._step()
        if key in self.tried:  # failed earlier in this run (two feeds link it): listed once, fetched once
            return self._step()
        self.tried.add(key)
        try:
            page = self.fetcher.get(key)
            final = normalise_url(page.final_url)
            if final in self.known:  # a redirect to a page saved before: same article, another link
                _record(self.folder, key, final, None)  # remembered: the link is not fetched next time
                self.already.append(key)
                self.known.add(key)
                return self._step()
            path = save_article(extract_article(page, hints), self.folder)
        except FetchError as exc:
            self.failed.append(FailedUrl(key, str(exc)))
            return self._step()
        rel = path.relative_to(self.folder).as_posix()
        _record(self.folder, key, final, rel)
        self.known.update((key, final))
        self.added.append(SavedArticle(key, rel, _title_of(path)))
        self._step()

    def feed(self, url: str) -> None:
        """Read one feed and fetch its entries; an unreachable or broken feed is one failure."""
        try:
            page = self.fetcher.get(check_url(url))
            feed = parse_feed(page.body, page.final_url, page.content_type)
        except FetchError as exc:
            self.failed.append(FailedUrl(url, str(exc)))
            return self._step()
        self.total += len(feed.entries)
        self._step()
        for entry in feed.entries:
            self.page(entry.url, _hints(entry, feed.title))

    def summary(self, started: float) -> AddSummary:
        return AddSummary(tuple(self.added), tuple(self.already), tuple(self.failed), time.monotonic() - started)


def _hints(entry: FeedEntry, feed_title: str | None) -> Hints:
    return Hints(title=entry.title, published=entry.published, source=feed_title)


def _title_of(path: Path) -> str:
    return read_front_matter(path).get("title", path.stem)


def add(settings: Settings, urls: Iterable[str] = (), feeds: Iterable[str] = (), *,
        fetcher: Fetcher | None = None, progress: Progress = _no_progress) -> AddSummary:
    """Save the pages at `urls` and the new entries of `feeds` into the articles folder (not indexed)."""
    started = time.monotonic()
    urls, feeds = list(urls), list(feeds)
    with fetch_lock(settings.articles_dir):
        run = _Run(settings, fetcher or Fetcher(settings), progress)
        run.total = len(urls) + len(feeds)
        progress("fetch", 0, run.total)
        for url in urls:
            run.page(url)
        for feed in feeds:
            run.feed(feed)
    for failure in run.failed:
        log.info("not saved %s: %s", failure.url, failure.reason)
    return run.summary(started)


def update(settings: Settings, *, fetcher: Fetcher | None = None, progress: Progress = _no_progress) -> AddSummary:
    """`add` for every feed of the feeds file."""
    feeds = read_feeds(settings.articles_dir)
    if not feeds:
        raise QAError(f"no feeds in {settings.articles_dir}: add one with `qa feeds add URL`.")
    return add(settings, feeds=feeds, fetcher=fetcher, progress=progress)


def index_added(summary: AddSummary, settings: Settings, *, embedder: Embedder | None = None,
                progress: Callable[[str, int, int], None] = _no_progress, lock_wait: float = 0.0) -> AddSummary:
    """The summary with the incremental build of what was saved; nothing new, nothing built.

    The saved articles stay saved when the build cannot run (another build holds the lock): the
    summary says why, and `qa index` picks them up later.
    """
    if not summary.added:
        return summary
    from qa.indexing.build import build_index  # numpy, FAISS and the embedder: only when there is something to index

    try:
        built = build_index(settings, progress=progress, embedder=embedder, lock_wait=lock_wait)
    except QAError as exc:
        return replace(summary, index_error=f"{exc} The new articles are saved; `qa index` indexes them.")
    return replace(summary, index=built)
