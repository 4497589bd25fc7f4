"""A fetched page -> its article (trafilatura) -> a Markdown file the user owns, in the articles folder.

The file has front matter that `qa.indexing.ingest` reads back (title, date, source, url), is named from
its headline, and appears whole or not at all: it is written beside its place under a hidden
temporary name, then linked into place, so a crash or a full disk never leaves half an article.
"""

from __future__ import annotations

import errno
import json
import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from qa.indexing.clean import strip_repeated_title
from qa.indexing.fetch import FetchError, Page
from qa.indexing.ingest import extract_html

MIN_WORDS = 25  # a page whose main text is shorter is a stub, a paywall or an index page, not an article
SLUG_CHARS = 80  # file names stay readable in a folder listing
HTML_TYPES = ("", "text/html", "application/xhtml+xml")  # "": a server that does not say


@dataclass(frozen=True)
class Hints:
    """What a feed entry says about the page: preferred over the page's guesses when given."""

    title: str | None = None
    published: str | None = None
    source: str | None = None  # the feed's title: the publisher, when the page names none


@dataclass(frozen=True)
class PageArticle:
    """An article as it will be saved: the text and the four front-matter fields."""

    url: str
    title: str
    text: str
    published: str | None
    source: str | None


def _decode(page: Page) -> str:
    """The page's text in its declared charset, else UTF-8 (undecodable bytes replaced)."""
    for encoding in (page.charset, "utf-8"):
        if encoding:
            try:
                return page.body.decode(encoding)
            except (LookupError, UnicodeDecodeError):
                continue
    return page.body.decode("utf-8", errors="replace")


def _one_line(value: str | None) -> str | None:
    return " ".join(value.split()) or None if value else None


def _publisher(sitename: str | None, host: str, hints: Hints) -> str:
    """The page's site name, else the feed's title, else the host: trafilatura falls back to the
    host name by itself, which says less than the feed's own name for its publisher."""
    if sitename and sitename.lower() != host:
        return sitename
    return hints.source or host


def extract_article(page: Page, hints: Hints | None = None) -> PageArticle:
    """The main text and metadata of an HTML page; FetchError when it holds no article text."""
    hints = hints or Hints()
    if page.content_type not in HTML_TYPES:
        raise FetchError(f"not an HTML page ({page.content_type})")
    found = extract_html(_decode(page), url=page.final_url)
    text = found.text if found else ""
    words = len(text.split())
    if found is None or words < MIN_WORDS:
        raise FetchError(f"no article text on the page ({words} words of main text)")
    title = _one_line(hints.title) or _one_line(found.title) or _one_line(text.split("\n", 1)[0])
    assert title is not None  # the text has words, so its first line has some
    host = (urlsplit(page.final_url).hostname or "").lower()
    return PageArticle(
        url=page.final_url,
        title=title,
        text=strip_repeated_title(title, text),
        published=hints.published or found.published,
        source=_publisher(_one_line(found.source), host, hints),
    )


# --------------------------------------------------------------------------- the file


def slug(title: str) -> str:
    """A file name stem from a headline: ASCII words joined by hyphens, cut at a word.

    >>> slug("Harbour “reopens” after the storm: 3 days, €2m in damage")
    'harbour-reopens-after-the-storm-3-days-2m-in-damage'
    """
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_title.lower())
    stem = ""
    for word in words:
        if len(stem) + len(word) + 1 > SLUG_CHARS:
            break
        stem = f"{stem}-{word}" if stem else word
    return stem or "article"


def to_markdown(article: PageArticle) -> str:
    """Front matter (values as JSON strings, which YAML also reads) and the text.

    >>> print(to_markdown(PageArticle("https://x.org/a", 'He said "no"', "Body.", "2024-03-05", "X")))
    ---
    title: "He said \\"no\\""
    date: 2024-03-05
    source: "X"
    url: "https://x.org/a"
    ---
    <BLANKLINE>
    Body.
    <BLANKLINE>
    """
    fields = [("title", json.dumps(article.title, ensure_ascii=False))]
    if article.published:
        fields.append(("date", article.published))
    if article.source:
        fields.append(("source", json.dumps(article.source, ensure_ascii=False)))
    fields.append(("url", json.dumps(article.url, ensure_ascii=False)))
    head = "".join(f"{key}: {value}\n" for key, value in fields)
    return f"---\n{head}---\n\n{article.text.strip()}\n"


def _place(tmp: Path, target: Path) -> bool:
    """Put the written file at `target` unless a file is there already; True when placed."""
    try:
        os.link(tmp, target)  # atomic, and never replaces a file (another article, the user's own)
        return True
    except FileExistsError:
        return False
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
    if target.exists():  # a file system without hard links: check, then rename (still atomic)
        return False
    os.replace(tmp, target)
    return True


def save_article(article: PageArticle, folder: Path) -> Path:
    """Write the article as `<slug>.md` in `folder` (`-2`, `-3`... when the name is taken), whole or not at all."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".fetch-{os.getpid()}-{id(article):x}.tmp"  # hidden: ingest never reads it
    try:
        tmp.write_text(to_markdown(article), encoding="utf-8")
        stem = slug(article.title)
        for n in range(1, 1000):
            target = folder / (f"{stem}.md" if n == 1 else f"{stem}-{n}.md")
            if _place(tmp, target):
                return target
        raise FetchError(f"no free file name for {stem}.md in {folder}")
    except OSError as exc:
        raise FetchError(f"could not save the article in {folder}: {exc.strerror or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)
