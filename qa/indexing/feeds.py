"""The user's feeds, and RSS or Atom bytes -> the entries to fetch (feedparser).

The feeds file is plain text in the articles folder, one feed URL a line (`#` starts a comment),
so the user can read and edit it; its suffix is not an article format, so it is never indexed.
"""

from __future__ import annotations

import io
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from qa.errors import QAError
from qa.indexing.fetch import FetchError, check_url, normalise_url
from qa.indexing.ingest import iso_date

log = logging.getLogger(__name__)

FEEDS_FILE = "feeds.list"


@dataclass(frozen=True)
class FeedEntry:
    """One item of a feed: the page to fetch and what the feed says about it."""

    url: str
    title: str | None = None
    published: str | None = None  # YYYY-MM-DD when the feed gives a full date


@dataclass(frozen=True)
class Feed:
    url: str
    title: str | None
    entries: tuple[FeedEntry, ...]


# --------------------------------------------------------------------------- the feeds file


def feeds_path(articles_dir: Path) -> Path:
    return articles_dir / FEEDS_FILE


def read_feeds(articles_dir: Path) -> list[str]:
    """The feed URLs of the feeds file, in its order (none when there is no file)."""
    path = feeds_path(articles_dir)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        raise QAError(f"cannot read the feeds file {path} ({exc}): fix or delete it.") from None
    return [line.split("#", 1)[0].strip() for line in text.splitlines() if line.split("#", 1)[0].strip()]


def _checked_feed_url(url: str) -> str:
    try:
        return normalise_url(check_url(url))
    except FetchError as exc:
        raise QAError(f"{exc}: a feed is added by its http(s) URL, such as https://example.org/rss.xml") from None


def _write_lines(path: Path, lines: list[str]) -> None:
    """Replace the file atomically: a crash leaves the old list or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    os.replace(tmp, path)


def add_feed(articles_dir: Path, url: str) -> tuple[str, bool]:
    """(the normalised URL, whether it was new); a feed already in the file is not added twice."""
    feed = _checked_feed_url(url)
    if feed in read_feeds(articles_dir):
        return feed, False
    path = feeds_path(articles_dir)
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else [
        "# Feeds that `qa update` fetches: one RSS or Atom URL a line."]
    _write_lines(path, [*lines, feed])
    return feed, True


def remove_feed(articles_dir: Path, which: str) -> str:
    """Remove a feed given by its URL or its number in `qa feeds list`; returns the URL removed."""
    feeds = read_feeds(articles_dir)
    if which.strip().isdigit() and 1 <= int(which) <= len(feeds):
        target = feeds[int(which) - 1]
    else:
        target = normalise_url(which.strip())
        if target not in feeds:
            raise QAError(f"{which!r} is not one of the {len(feeds)} feeds: `qa feeds list` shows their "
                          "URLs and numbers.")
    path = feeds_path(articles_dir)
    kept = [line for line in path.read_text(encoding="utf-8").splitlines()
            if line.split("#", 1)[0].strip() != target]
    _write_lines(path, kept)
    return target


# --------------------------------------------------------------------------- parsing


def _entry_date(entry: Any) -> str | None:
    """The entry's date as the feed wrote it (its own time zone's day), else feedparser's UTC one."""
    for key in ("published", "updated"):
        if date := iso_date(entry.get(key)):
            return date
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    return time.strftime("%Y-%m-%d", parsed) if parsed else None


def _entry(entry: Any, feed_url: str) -> FeedEntry | None:
    link = (entry.get("link") or "").strip()
    if not link:
        log.warning("an entry of %s has no link: %r", feed_url, entry.get("title"))
        return None
    title = " ".join((entry.get("title") or "").split()) or None
    return FeedEntry(urljoin(feed_url, link), title, _entry_date(entry))


def parse_feed(body: bytes, url: str, content_type: str = "") -> Feed:
    """The entries of an RSS or Atom document; FetchError when the bytes are not a feed.

    The bytes are handed over in a BytesIO: given a string, feedparser would fetch URLs and read
    files itself, outside our limits.
    """
    import feedparser  # imported on first use, like trafilatura: only `qa add --feed` needs it

    headers = {"content-location": url, **({"content-type": content_type} if content_type else {})}
    parsed = feedparser.parse(io.BytesIO(body), response_headers=headers)
    if not parsed.get("version") and not parsed.entries:
        # the served type says most (an HTML page where a feed was expected); else the parser's complaint
        why = f"served as {content_type}" if content_type else str(parsed.get("bozo_exception") or "").strip()[:120]
        raise FetchError("not an RSS or Atom feed" + (f" ({why})" if why else ""))
    entries = tuple(e for e in (_entry(item, url) for item in parsed.entries) if e is not None)
    title = " ".join((parsed.feed.get("title") or "").split()) or None
    return Feed(url, title, entries)
