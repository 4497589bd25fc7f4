"""Files and folders -> Article: txt, md, html, json/jsonl and pdf.

`load_articles` never raises for bad input: a file (or JSONL line) that cannot become an
article becomes a `Skipped` with a short reason and a logged warning, and the rest loads.
Publish dates and publishers are taken only where the file states them, never guessed.
"""

from __future__ import annotations

import codecs
import contextlib
import dataclasses
import functools
import hashlib
import io
import json
import logging
import os
import re
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from dateutil import parser as date_parser

from qa.indexing.clean import clean_text, clean_title, strip_repeated_title
from qa.types import Article, Skipped

logger = logging.getLogger(__name__)

SUFFIXES = (".txt", ".md", ".html", ".htm", ".json", ".jsonl", ".pdf")
SIDECAR = "metadata.jsonl"  # optional per-file metadata overrides in the articles folder
MB = 2**20
COLLECTIONS = (".json", ".jsonl")  # files of many articles
COLLECTION_MAX_BYTES = 4 * 2**30  # an archive export of a few GB is read whole into memory

_HEADLINE_MAX_WORDS = 25  # a longer first line is a lede, not a headline
_LEDE_TITLE_WORDS = 16  # a title cut from a lede keeps this many words


class _Unusable(Exception):
    """A file that cannot become an article; the message is the `Skipped.reason`."""


@dataclass(frozen=True)
class _Draft:
    """An article as a parser found it, before metadata overrides, cleaning and hashing."""

    id: str
    path: str
    text: str
    title: str
    source: str | None = None
    url: str | None = None
    published: str | None = None


@dataclass(frozen=True)
class _Meta:
    """One line of the sidecar: fields that override what the file says."""

    title: str | None = None
    url: str | None = None
    published: str | None = None
    source: str | None = None


# --------------------------------------------------------------------------- files


def _wanted(name: str) -> bool:
    """A supported, non-hidden file that is not the metadata sidecar."""
    return not name.startswith(".") and name != SIDECAR and Path(name).suffix.lower() in SUFFIXES


def iter_files(root: Path) -> list[Path]:
    """Every supported article file under `root`, recursively, sorted; hidden files and folders skipped."""
    found: list[Path] = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found.extend(Path(folder, name) for name in names if _wanted(name))
    return sorted(found)


def _expand(paths: Path | str | Sequence[Path]) -> list[Path]:
    """The files to load: folders are walked, files are taken as given (unsupported ones too, to report)."""
    items = [Path(paths)] if isinstance(paths, str | Path) else [Path(p) for p in paths]
    files: list[Path] = []
    for item in items:
        files.extend(iter_files(item) if item.is_dir() else [item])
    return files


def _relative(path: Path, root: Path) -> str:
    """The article id of a file: its path relative to `root`, with forward slashes."""
    try:
        return Path(os.path.abspath(path)).relative_to(os.path.abspath(root)).as_posix()
    except ValueError:
        return path.as_posix()


def _size(n: int) -> str:
    """A byte count for a message: MB for real files, bytes for tiny limits."""
    return f"{n / MB:.1f} MB" if n >= MB // 10 else f"{n:,} bytes"


def _read(path: Path, max_bytes: int) -> bytes:
    """The file's bytes, refusing missing, empty and oversized files before reading them."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise _Unusable(f"too large: {_size(size)} > {_size(max_bytes)} limit (set QA_MAX_FILE_MB)")
        data = path.read_bytes()
    except FileNotFoundError:
        raise _Unusable("file not found") from None
    except OSError as exc:
        raise _Unusable(f"unreadable: {exc.strerror or exc}") from None
    if not data.strip():
        raise _Unusable("empty file")
    return data


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def _decode(data: bytes) -> str:
    """Text from bytes: UTF-16/32 by BOM, else UTF-8, else cp1252, else latin-1 (never fails).

    cp1252 comes before any detector because scraped Western news that is not UTF-8 is
    almost always cp1252, and detectors guess wrongly on short texts (charset-normalizer
    reads "naïve" in cp1252 as cp1250 "naďve").
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding, errors="replace")
    if b"\x00" in data:
        raise _Unusable("binary file (contains NUL bytes)")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


# --------------------------------------------------------------------------- dates


_DEFAULTS = (datetime(2000, 1, 1), datetime(2001, 2, 2))  # two defaults expose a missing year/month/day


def iso_date(value: object, fuzzy: bool = False) -> str | None:
    """`YYYY-MM-DD` when `value` names a full date, else None: a date without a year is not guessed.

    >>> iso_date("March 27, 2022"), iso_date("Dec 2"), iso_date("2022-03-27T10:00:00Z")
    ('2022-03-27', None, '2022-03-27')
    """
    if not isinstance(value, str) or not any(ch.isdigit() for ch in value):
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # unknown time zone names ("ET") are harmless here
            first, second = (date_parser.parse(value, default=d, fuzzy=fuzzy) for d in _DEFAULTS)
    except (ValueError, OverflowError, TypeError):
        return None
    if first.date() != second.date():
        return None
    return first.date().isoformat()


_MONTH_OR_DAY = r"(?:\d|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|mon|tue|wed|thu|fri|sat|sun)"
# "Published: March 27, 2022", "Published on 27 March 2022 10:32", "Updated 2 hours ago"
_PUBLISHED_LINE = re.compile(
    rf"(?:first |last )?(?:published|posted|updated|modified)(?: on| at)?\s*:?\s*"
    rf"(?P<date>{_MONTH_OR_DAY}.{{0,60}})",
    re.IGNORECASE,
)
_AGO = re.compile(r"\d+ (?:second|minute|hour|day|week|month)s? ago", re.IGNORECASE)  # "Updated 2 hours ago"
# "WASHINGTON, Dec 2 (Reuters) - ", "KYIV, Ukraine, March 27, 2022 (AP) — ", "LONDON (Reuters) - "
_DATELINE = re.compile(
    r"[A-Z][A-Z.'-]+(?: [A-Z][A-Z.'-]+)*(?:, [A-Z][A-Za-z.' ]+?)?"
    r"(?:,? (?P<date>[A-Z][a-z]{2,8}\.? \d{1,2}(?:, \d{4})?|\d{1,2} [A-Z][a-z]{2,8}\.?(?: \d{4})?))?"
    r"(?: ?\((?P<agency>[A-Za-z][\w.&-]*(?: [\w.&-]+){0,2})\))? +[-–—]+ +"
)


@dataclass(frozen=True)
class _DateLine:
    published: str | None
    agency: str | None
    rest: str  # what remains of the line once the date is taken out ("" for a whole date line)


def _date_line(line: str) -> _DateLine | None:
    """The date (and agency) a "Published ..." line, a bare date line or a dateline gives, if it is one."""
    if match := _PUBLISHED_LINE.fullmatch(line):
        date = iso_date(match["date"], fuzzy=True)
        if date or _AGO.fullmatch(match["date"]):
            return _DateLine(date, None, "")
    if len(line.split()) <= 8 and (date := iso_date(line)):
        return _DateLine(date, None, "")
    match = _DATELINE.match(line)
    if match and (match["date"] or match["agency"]):
        return _DateLine(iso_date(match["date"] or ""), match["agency"], line[match.end() :])
    return None


def _take_date_lines(text: str) -> tuple[str | None, str | None, str]:
    """(published, agency, text without them): date lines are looked for in the first 3 lines only."""
    lines = text.split("\n")
    published: str | None = None
    agency: str | None = None
    seen = 0
    for i, line in enumerate(lines):
        if not line:
            continue
        seen += 1
        if seen > 3:
            break
        if found := _date_line(line):
            published = published or found.published
            agency = agency or found.agency
            lines[i] = found.rest
    return published, agency, "\n".join(lines)


# --------------------------------------------------------------------------- headlines


def _title_from_lede(line: str) -> str:
    """A title for a text without a headline: its first words."""
    words = line.split()
    if len(words) <= _LEDE_TITLE_WORDS:
        return line
    return " ".join(words[:_LEDE_TITLE_WORDS]).rstrip(",;:") + "..."


def _split_headline(text: str) -> tuple[str, str]:
    """(headline, body): the first line when it is headline-shaped, else a title cut from the lede.

    Scraped files sometimes lose their headline (corpus file 001 starts with a photo credit),
    and a 40-word lede must stay in the body rather than become the title.
    """
    first, _, rest = text.strip().partition("\n")
    if len(first.split()) <= _HEADLINE_MAX_WORDS:
        return first, rest.strip() or first
    return _title_from_lede(first), text


def _titled(text: str, title: str | None) -> tuple[str, str]:
    """(title, cleaned body): the given title, or else the headline split off the text.

    Splitting here, before the sidecar may replace the title, keeps a file's own headline
    out of its body whichever title wins.
    """
    text = clean_text(text)
    if title and clean_title(title):
        return title, text
    return _split_headline(text)


def _plain_draft(
    text: str,
    rel: str,
    title: str | None = None,
    source: str | None = None,
    url: str | None = None,
    published: str | None = None,
) -> _Draft:
    """A draft from plain text whose first lines may carry a date line (txt, md, pdf).

    Metadata the file states elsewhere (front matter, PDF info) wins over the date line.
    """
    found_date, agency, body = _take_date_lines(clean_text(text))
    title, body = _titled(body, title)
    return _Draft(rel, rel, body, title, source or agency, url, published or found_date)


# --------------------------------------------------------------------------- formats


def _parse_txt(text: str, rel: str) -> list[_Draft | Skipped]:
    """Plain text: the headline is the first line, the body the rest."""
    return [_plain_draft(text, rel)]


_FRONT_MATTER = re.compile(r"---[ \t]*\n(?P<meta>.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|$)", re.DOTALL)
_KEY_VALUE = re.compile(r"(?P<key>[A-Za-z_][\w-]*)\s*:\s*(?P<value>.*)")
_H1 = re.compile(r"^#[ \t]+(?P<title>.+?)(?:[ \t]+#+)?[ \t]*$", re.MULTILINE)

# Light markdown stripping: (pattern, replacement), applied in order.
_MARKDOWN: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"<!--.*?-->", re.DOTALL), ""),  # HTML comments
    (re.compile(r"!\[[^\]\n]*\]\([^)\n]*\)"), ""),  # images
    (re.compile(r"\[([^\]\n]+)\]\([^)\n]*\)"), r"\1"),  # [text](url) -> text
    (re.compile(r"\[([^\]\n]+)\]\[[^\]\n]*\]"), r"\1"),  # [text][ref] -> text
    (re.compile(r"^ {0,3}\[[^\]\n]+\]:\s*\S+.*$", re.MULTILINE), ""),  # [ref]: url definitions
    (re.compile(r"^ {0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$", re.MULTILINE), r"\1"),  # heading markers
    # horizontal rules and setext underlines
    (re.compile(r"^ {0,3}(?:[-*_][ \t]*){3,}$|^ {0,3}=+[ \t]*$", re.MULTILINE), ""),
    (re.compile(r"^ {0,3}>[ \t]?", re.MULTILINE), ""),  # blockquote markers
    (re.compile(r"^[ \t]*[-*+][ \t]+(?=\S)", re.MULTILINE), ""),  # bullet markers
    (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), r"\2"),  # **bold**, __bold__
    (re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])"), r"\1"),  # *italic*
    (re.compile(r"(?<![\w_])_(?=\S)([^_\n]+?)(?<=\S)_(?![\w_])"), r"\1"),  # _italic_
    (re.compile(r"~~(.+?)~~"), r"\1"),  # ~~strike~~
    (re.compile(r"`+([^`\n]+)`+"), r"\1"),  # `code`
]


def _front_matter(text: str) -> tuple[dict[str, str], str]:
    """Simple `key: value` lines between leading `---` lines (no YAML dependency), and the rest."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    meta: dict[str, str] = {}
    for line in match["meta"].splitlines():
        if kv := _KEY_VALUE.fullmatch(line.strip()):
            meta[kv["key"].lower()] = _scalar(kv["value"])
    return meta, text[match.end() :]


def read_front_matter(path: Path, head_bytes: int = 8192) -> dict[str, str]:
    """The front matter of a Markdown file, read from its first bytes only ({} when it has none)."""
    try:
        with path.open("rb") as f:
            head = f.read(head_bytes)
    except OSError:
        return {}
    return _front_matter(head.decode("utf-8", errors="replace").lstrip("\ufeff"))[0]


def _scalar(value: str) -> str:
    r"""A front-matter value: a double-quoted one read as JSON (so `qa add`'s titles round-trip with
    their quotes and colons), a single-quoted one with '' as a quote, else the text without stray quotes.

    >>> _scalar(r'"He said \"no\""'), _scalar("'It''s'"), _scalar("Plain: text")
    ('He said "no"', "It's", 'Plain: text')
    """
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        with contextlib.suppress(ValueError):
            loaded = json.loads(value)
            if isinstance(loaded, str):
                return loaded.strip()
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1].replace("''", "'").strip()
    return value.strip("'\"").strip()


def _strip_markdown(text: str) -> str:
    """Markdown reduced to its words: no heading marks, emphasis, link targets or images."""
    for pattern, replacement in _MARKDOWN:
        text = pattern.sub(replacement, text)
    return text


def _parse_md(text: str, rel: str) -> list[_Draft | Skipped]:
    """Markdown: title from front matter, else the first `# heading`, else the first line."""
    meta, body = _front_matter(text)
    title = meta.get("title") or None
    if not title and (h1 := _H1.search(body)):
        title = h1["title"]
        body = body[: h1.start()] + body[h1.end() :]
    title = _strip_markdown(title) if title else None
    published = iso_date(meta.get("published") or meta.get("date"))
    source = meta.get("source") or meta.get("site") or None
    return [
        _plain_draft(
            _strip_markdown(body), rel, title, source=source, url=meta.get("url"), published=published
        )
    ]


class _TextExtractor(HTMLParser):
    """Fallback HTML -> text with the stdlib: drops script/style content, breaks lines at blocks."""

    _SKIP = frozenset({"script", "style", "noscript", "template", "svg", "iframe", "object"})
    _BLOCK = re.compile(
        r"p|div|br|hr|li|[uo]l|d[dt]|h[1-6]|tr|table|section|article|main|aside|header|footer|nav|form"
        r"|blockquote|pre|figcaption"
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title: list[str] = []
        self._skipping = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._tag(tag, opening=True)

    def handle_endtag(self, tag: str) -> None:
        self._tag(tag, opening=False)

    def _tag(self, tag: str, opening: bool) -> None:
        if tag in self._SKIP:
            self._skipping = max(0, self._skipping + (1 if opening else -1))
        elif tag == "title":
            self._in_title = opening
        elif self._BLOCK.fullmatch(tag):
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title.append(data)
        elif not self._skipping:
            self.parts.append(data)


def _html_fallback(html: str) -> tuple[str, str]:
    """(title, text) of a page by stripping tags: scripts and styles go, navigation and footers stay."""
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    return "".join(extractor.title), "".join(extractor.parts)


@dataclass(frozen=True)
class HtmlArticle:
    """What trafilatura finds in an HTML page: the main text and the metadata the page states."""

    text: str  # one blank line between paragraphs, as the other formats; "" when there is no main text
    title: str | None
    published: str | None  # YYYY-MM-DD from meta tags, JSON-LD or <time>: a date in the text is not taken
    source: str | None  # the site name
    url: str | None  # the canonical URL the page states, else the `url` given


def extract_html(html: str, url: str | None = None) -> HtmlArticle | None:
    """The main text and metadata of an HTML page by trafilatura; None when it finds nothing.

    Used for article files (`.html`) and for fetched pages (`qa add`). Offline: trafilatura parses the
    string it is given and hands htmldate the parsed tree (htmldate downloads only when given a URL
    string), so `url` only names the page. Reader comments are left out and precision is favoured:
    in a news archive, navigation, footers and "read more" lists are noise in every answer.
    """
    import trafilatura  # imported on first use: it is slow to import and `qa status` never needs it

    doc = trafilatura.bare_extraction(
        html,
        url=url,
        with_metadata=True,
        include_comments=False,
        favor_precision=True,
        # the page's metadata only, no guess from its text; a new dict each call, as trafilatura writes into it
        date_extraction_params={"extensive_search": False, "original_date": True},
    )
    if doc is None:
        return None
    text = (doc.text or "").strip()
    return HtmlArticle(
        text=text.replace("\n", "\n\n"),  # trafilatura puts one paragraph per line
        title=doc.title or None,
        published=iso_date(doc.date),
        source=doc.sitename or None,
        url=doc.url or None,
    )


def _parse_html(html: str, rel: str) -> list[_Draft | Skipped]:
    """HTML: main text and metadata by trafilatura, a tag-stripping fallback when it finds no text."""
    found = extract_html(html)
    title, text = (found.title, found.text) if found else (None, "")
    if not text:
        # trafilatura finds no main text in a page whose only words are boilerplate to it (a footer, a
        # navigation bar), and lxml drops what is nested more than 256 elements deep; a file put in the
        # articles folder is there to be read, so its words are kept rather than the file skipped (`qa add`
        # has no such fallback: there, a page without main text is a paywall or an index page)
        fallback_title, text = _html_fallback(html)
        title = title or fallback_title
    if not text.strip():
        raise _Unusable("no text extracted")
    title, text = _titled(text, title)
    return [
        _Draft(
            id=rel,
            path=rel,
            text=text,
            title=title,
            source=found.source if found else None,
            url=found.url if found else None,
            published=found.published if found else None,
        )
    ]


def _first_str(record: dict[str, object], *keys: str) -> str | None:
    """The first of `keys` whose value is a non-blank string."""
    for key in keys:
        value = record.get(key)
        if isinstance(value, str) and value.strip():
            return value
    return None


def _record(record: object, rel: str, fallback_id: str, where: str) -> _Draft | Skipped:
    """One JSON object as a draft: `text`/`body`/`content`, optional title, url, dates, source, doc_id."""
    if not isinstance(record, dict):
        return Skipped(rel, f"{where}: not a JSON object")
    text = _first_str(record, "text", "body", "content")
    if text is None:
        return Skipped(rel, f"{where}: no text")
    doc_id = record.get("doc_id")
    title, text = _titled(text, _first_str(record, "title", "headline"))
    return _Draft(
        id=str(doc_id) if doc_id not in (None, "") else fallback_id,
        path=rel,
        text=text,
        title=title,
        source=_first_str(record, "source", "site"),
        url=_first_str(record, "url"),
        published=iso_date(_first_str(record, "published", "date")),
    )


def _parse_json(text: str, rel: str) -> list[_Draft | Skipped]:
    """One JSON object, or a list of them (ids `doc_id`, else `path#index`)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _Unusable(f"invalid JSON: {exc}") from None
    if isinstance(data, list):
        return [_record(item, rel, f"{rel}#{i}", f"record {i}") for i, item in enumerate(data)]
    if isinstance(data, dict):
        return [_record(data, rel, rel, "record")]
    raise _Unusable("JSON is neither an object nor a list of objects")


def _parse_jsonl(text: str, rel: str) -> list[_Draft | Skipped]:
    """One JSON object a line (ids `doc_id`, else `path#lineno`); a broken line skips only itself."""
    return [line if isinstance(line, Skipped) else _record(line[1], rel, f"{rel}#{line[0]}", f"line {line[0]}")
            for line in _json_lines(text, rel)]


def _json_lines(text: str, rel: str) -> Iterator[tuple[int, Any] | Skipped]:
    """Each non-blank line's number and parsed JSON; a line that does not parse is a Skipped naming it."""
    for lineno, line in enumerate(text.split("\n"), start=1):  # not splitlines(): JSON may hold U+2028
        if not line.strip():
            continue
        try:
            yield lineno, json.loads(line)
        except json.JSONDecodeError as exc:
            yield Skipped(rel, f"invalid JSON on line {lineno}: {exc}")


def _parse_pdf(data: bytes, rel: str) -> list[_Draft | Skipped]:
    """PDF: the text of all pages; title from the document info, else the first line."""
    if b"%PDF-" not in data[:1024]:
        raise _Unusable("not a PDF: no %PDF- header")
    from pypdf import PdfReader  # imported on first use, like trafilatura
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise _Unusable("encrypted PDF")
        text = "\n\n".join(page.extract_text() or "" for page in reader.pages)
        title = reader.metadata.title if reader.metadata else None
    except PdfReadError as exc:
        raise _Unusable(f"unreadable PDF: {exc}") from None
    if not text.strip():
        raise _Unusable("no text extracted (a scanned PDF?)")
    return [_plain_draft(text, rel, title if isinstance(title, str) and title.strip() else None)]


_TEXT_PARSERS: dict[str, Callable[[str, str], list[_Draft | Skipped]]] = {
    ".txt": _parse_txt,
    ".md": _parse_md,
    ".html": _parse_html,
    ".htm": _parse_html,
    ".json": _parse_json,
    ".jsonl": _parse_jsonl,
}


def _parse_file(path: Path, rel: str, max_bytes: int) -> list[_Draft | Skipped]:
    """Drafts (and skipped records) of one file; every failure becomes a Skipped, none escapes."""
    suffix = path.suffix.lower()
    try:
        if not path.exists():
            raise _Unusable("file not found")
        if suffix not in SUFFIXES:
            raise _Unusable(f"unsupported type ({suffix or 'no suffix'})")
        # a collection holds many articles: QA_MAX_FILE_MB is then a limit on each record
        data = _read(path, COLLECTION_MAX_BYTES if suffix in COLLECTIONS else max_bytes)
        if suffix == ".pdf":
            return _parse_pdf(data, rel)
        text = _decode(data)
        if not text.strip():
            raise _Unusable("empty file")
        found = _TEXT_PARSERS[suffix](text, rel)
        if suffix in COLLECTIONS:
            found = [Skipped(f"{rel}:{d.id}", f"record too large: {_size(len(d.text.encode()))} > "
                             f"{_size(max_bytes)} limit (set QA_MAX_FILE_MB)")
                     if isinstance(d, _Draft) and len(d.text.encode()) > max_bytes else d for d in found]
        return found
    except _Unusable as exc:
        return [Skipped(rel, str(exc))]
    except RecursionError:
        return [Skipped(rel, "too deeply nested to parse")]
    except Exception as exc:  # a parser bug or a hostile file must not stop the other files
        return [Skipped(rel, f"could not parse: {type(exc).__name__}: {exc}")]


# --------------------------------------------------------------------------- sidecar


def _read_sidecar(root: Path) -> tuple[dict[str, _Meta], list[Skipped]]:
    """`root/metadata.jsonl`: per-file title/url/published/source overrides, keyed by article id."""
    path = root / SIDECAR
    if not path.is_file():
        return {}, []
    try:
        text = _decode(_read(path, 20 * MB))
    except _Unusable as exc:
        return {}, [Skipped(SIDECAR, str(exc))]
    metas: dict[str, _Meta] = {}
    problems: list[Skipped] = []
    for line in _json_lines(text, SIDECAR):
        if isinstance(line, Skipped):
            problems.append(line)
            continue
        lineno, entry = line
        key = entry.get("path") if isinstance(entry, dict) else None
        if not isinstance(key, str) or not key.strip():
            problems.append(Skipped(SIDECAR, f'line {lineno}: no "path"'))
            continue
        metas[key.strip().replace("\\", "/").removeprefix("./")] = _Meta(
            title=_first_str(entry, "title"),
            url=_first_str(entry, "url"),
            published=iso_date(_first_str(entry, "published", "date")),
            source=_first_str(entry, "source", "site"),
        )
    return metas, problems


def _override(draft: _Draft, meta: _Meta | None) -> _Draft:
    """The draft with the sidecar's non-empty fields in place of the file's."""
    if meta is None:
        return draft
    changes = {k: v for k, v in dataclasses.asdict(meta).items() if v is not None}
    return dataclasses.replace(draft, **changes)


# --------------------------------------------------------------------------- articles


def content_hash(title: str, text: str, source: str | None, url: str | None, published: str | None) -> str:
    """sha256 over everything that is indexed: a change in any of it means re-embedding."""
    payload = json.dumps([title, text, source, url, published], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _finish(draft: _Draft) -> Article | Skipped:
    """The cleaned, hashed Article of a draft, or why there is none."""
    title = clean_title(draft.title)
    text = clean_text(draft.text)
    text = strip_repeated_title(title, text) or text
    if not text:
        return Skipped(draft.path, "no text after cleaning")
    title = title or _title_from_lede(text.partition("\n")[0])
    source = (draft.source or "").strip() or None
    url = (draft.url or "").strip() or None
    return Article(
        id=draft.id,
        title=title,
        text=text,
        content_hash=content_hash(title, text, source, url, draft.published),
        source=source,
        url=url,
        published=draft.published,
        path=draft.path,
    )


def _warn(skipped: Skipped) -> Skipped:
    logger.warning("skipped %s: %s", skipped.path, skipped.reason)
    return skipped


def _duplicate(article: Article, by_hash: dict[str, str], by_id: dict[str, str]) -> Skipped | None:
    """Why `article` repeats one already loaded (same content, or same id), if it does."""
    path = article.path or article.id
    if article.content_hash in by_hash:
        return Skipped(path, f"duplicate of {by_hash[article.content_hash]}")
    if article.id in by_id:
        return Skipped(path, f"duplicate id {article.id!r} (also in {by_id[article.id]})")
    return None


Results = list[Article | Skipped]  # one file's articles and skipped records, in file order
Mapper = Callable[[Callable[[Path], Results], Sequence[Path]], Iterable[Results]]


def read_file(path: Path, root: Path, max_bytes: int, metas: dict[str, _Meta]) -> Results:
    """One file's articles, parsed, overridden by the sidecar, cleaned and hashed (or why not): the
    part of loading that needs no other file, so a cluster can run it file by file."""
    return [item if isinstance(item, Skipped) else _finish(_override(item, metas.get(item.id)))
            for item in _parse_file(path, _relative(path, root), max_bytes)]


def load_articles(
    paths: Path | Sequence[Path], root: Path, max_bytes: int = 20 * MB, mapper: Mapper = map
) -> tuple[list[Article], list[Skipped]]:
    """Articles from a folder (walked with `iter_files`) or a list of files, and what was skipped, in order.

    Ids are paths relative to `root` (or a JSON record's `doc_id`). An article whose content
    hash equals one loaded earlier in the same call is skipped as "duplicate of <id>".
    `mapper` runs `read_file` over the files and returns the results in the files' order (the
    built-in map here; a Ray cluster in qa.indexing.ray_build).
    """
    metas, skipped = _read_sidecar(Path(root))
    for problem in skipped:
        _warn(problem)
    articles: list[Article] = []
    by_hash: dict[str, str] = {}
    by_id: dict[str, str] = {}
    read = functools.partial(read_file, root=Path(root), max_bytes=max_bytes, metas=metas)
    for results in mapper(read, _expand(paths)):
        for result in results:
            if isinstance(result, Article):
                result = _duplicate(result, by_hash, by_id) or result
            if isinstance(result, Skipped):
                skipped.append(_warn(result))
                continue
            articles.append(result)
            by_hash[result.content_hash] = result.id
            by_id[result.id] = result.path or result.id
    return articles, skipped
