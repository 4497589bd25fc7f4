"""HTTP for `qa add` and `qa update`: one GET with a time limit, a size limit, robots.txt obeyed and
a user agent that says who is asking. Nothing here parses pages or feeds.

Every way a URL can fail becomes a `FetchError` whose message is the one line the summary shows,
so a caller fetching many URLs reports each failure and goes on with the rest.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import Message
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit
from urllib.robotparser import RobotFileParser

from qa.config import Settings

MAX_REDIRECTS = 5  # RFC 9309 asks robots.txt fetchers to follow at least five
READ_BLOCK = 64 * 1024
REDIRECTS = (301, 302, 303, 307, 308)
# click trackers that make one article look like many URLs (utm_* is matched by prefix)
TRACKING = frozenset({"fbclid", "gclid", "dclid", "mc_cid", "mc_eid", "igshid"})


class FetchError(Exception):
    """A URL that gave no usable content; the message is the reason, one line."""


class HTTPStatusError(FetchError):
    """The server answered with an error status (kept: robots.txt reads 4xx and 5xx differently)."""

    def __init__(self, code: int, reason: str):
        super().__init__(f"HTTP {code} {reason}".rstrip())
        self.code = code


@dataclass(frozen=True)
class Page:
    """What one URL answered: the bytes and how to read them."""

    url: str  # the URL asked for
    final_url: str  # where the content came from, after redirects
    body: bytes
    content_type: str  # the media type without parameters, lower case ("" when the server sent none)
    charset: str | None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects come back as HTTPError: each hop is checked against its own site's robots.txt."""

    def redirect_request(self, req: urllib.request.Request, fp: object, code: int, msg: str,
                         headers: Message, newurl: str) -> None:
        return None


def check_url(url: str) -> str:
    """`url` when it is an http(s) URL with a host, else a FetchError naming what is wrong.

    >>> check_url("https://example.org/a")
    'https://example.org/a'
    """
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https"):
        raise FetchError(f"not an http(s) URL: {url!r}")
    if not parts.hostname:
        raise FetchError(f"no host in the URL {url!r}")
    try:
        _ = parts.port
    except ValueError:
        raise FetchError(f"not a port number in the URL {url!r}") from None
    return url.strip()


def normalise_url(url: str) -> str:
    """The form a URL is saved and compared in: lower-case scheme and host, no default port, no
    fragment, no utm_* or click-tracking parameters (a feed's links carry them; the page is the same).

    >>> normalise_url("HTTPS://News.Example.org:443/a/b?id=7&utm_source=rss&utm_medium=feed#top")
    'https://news.example.org/a/b?id=7'
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:  # not a URL we can fetch: compared as written
        return url.strip()
    host = (parts.hostname or "").lower()
    if port and (scheme, port) not in (("http", 80), ("https", 443)):
        host = f"{host}:{port}"
    if parts.username:  # rare in feeds, but dropping it would change the page asked for
        host = f"{parts.username}{':' + parts.password if parts.password else ''}@{host}"
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if not k.lower().startswith("utm_") and k.lower() not in TRACKING]
    return urlunsplit((scheme, host, parts.path or "/", urlencode(query), ""))


def _reason(exc: BaseException, timeout: float) -> str:
    """The summary line for a network failure (urllib wraps most of them in URLError)."""
    inner = exc.reason if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError) \
        else exc
    if isinstance(inner, TimeoutError | socket.timeout):
        return f"timed out after {timeout:g} s (QA_FETCH_TIMEOUT)"
    if isinstance(inner, ConnectionRefusedError):
        return "unreachable: connection refused"
    if isinstance(inner, socket.gaierror):
        return "unreachable: the host name does not resolve"
    if isinstance(inner, ssl.SSLError):
        return f"TLS error: {inner.reason or inner}"
    if isinstance(inner, http.client.IncompleteRead | http.client.RemoteDisconnected | ConnectionResetError):
        return "the server closed the connection before the end of the page"
    if isinstance(inner, OSError):
        return f"unreachable: {inner.strerror or inner}"
    return f"{type(inner).__name__}: {inner}"


def _media_type(headers: Message) -> tuple[str, str | None]:
    return headers.get_content_type().lower() if headers.get("Content-Type") else "", headers.get_content_charset()


class Fetcher:
    """GETs with the limits of `settings`; robots.txt is read once per site for the Fetcher's lifetime."""

    def __init__(self, settings: Settings):
        self.timeout = settings.fetch_timeout
        self.max_bytes = int(settings.fetch_max_mb * 2**20)
        self.user_agent = settings.user_agent
        self._opener = urllib.request.build_opener(_NoRedirect)
        self._robots: dict[str, RobotFileParser | str] = {}  # per site: the rules, or why nothing may be fetched

    def get(self, url: str) -> Page:
        """The content at `url` after up to MAX_REDIRECTS redirects, all within one time limit."""
        deadline = time.monotonic() + self.timeout
        current = check_url(url)
        for _ in range(MAX_REDIRECTS + 1):
            self._check_robots(current, deadline)
            location, page = self._request(current, deadline)
            if page is not None:
                return Page(url, current, page.body, page.content_type, page.charset)
            current = check_url(urljoin(current, location))
        raise FetchError(f"more than {MAX_REDIRECTS} redirects")

    def _request(self, url: str, deadline: float) -> tuple[str, Page | None]:
        """One GET: (redirect location, None) or ("", the page). HTTP errors become FetchErrors."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FetchError(f"timed out after {self.timeout:g} s (QA_FETCH_TIMEOUT)")
        request = urllib.request.Request(url, headers={"User-Agent": self.user_agent, "Accept-Encoding": "identity"})
        try:
            with self._opener.open(request, timeout=remaining) as response:
                body = self._read(response, deadline)
                content_type, charset = _media_type(response.headers)
                return "", Page(url, url, body, content_type, charset)
        except urllib.error.HTTPError as exc:
            location = exc.headers.get("Location") if exc.headers else None
            if exc.code in REDIRECTS and location:
                return location, None
            raise HTTPStatusError(exc.code, str(exc.reason or "")) from None
        except FetchError:
            raise
        except (OSError, http.client.HTTPException, ValueError) as exc:  # URLError is an OSError
            raise FetchError(_reason(exc, self.timeout)) from None

    def _read(self, response: http.client.HTTPResponse, deadline: float) -> bytes:
        """The body, refused (never truncated) past the size limit or the deadline.

        The socket timeout bounds each wait for data; the deadline check bounds their sum, so a
        server that trickles bytes cannot hold a fetch much past the limit.
        """
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise FetchError(self._too_large(int(declared)))
        parts: list[bytes] = []
        size = 0
        while block := response.read(READ_BLOCK):
            size += len(block)
            if size > self.max_bytes:
                raise FetchError(self._too_large(size, at_least=True))
            if time.monotonic() > deadline:
                raise FetchError(f"timed out after {self.timeout:g} s (QA_FETCH_TIMEOUT)")
            parts.append(block)
        return b"".join(parts)

    def _too_large(self, size: int, at_least: bool = False) -> str:
        more = "over " if at_least else ""
        return (f"too large: {more}{size / 2**20:.1f} MB > {self.max_bytes / 2**20:g} MB limit "
                "(QA_FETCH_MAX_MB)")

    # --- robots.txt ---

    def _check_robots(self, url: str, deadline: float) -> None:
        parts = urlsplit(url)
        site = f"{parts.scheme.lower()}://{parts.netloc.lower()}"
        if site not in self._robots:
            self._robots[site] = self._read_robots(site, deadline)
        rules = self._robots[site]
        if isinstance(rules, str):
            raise FetchError(rules)
        if not rules.can_fetch(self.user_agent, url):
            raise FetchError(f"robots.txt of {site} disallows it for {self.user_agent.split('/')[0]}")

    def _read_robots(self, site: str, deadline: float) -> RobotFileParser | str:
        """The site's rules, as RFC 9309 reads a robots.txt: a 4xx (none there) allows everything, a 5xx
        disallows everything. A network failure is raised: the page itself would fail the same way."""
        rules = RobotFileParser(site + "/robots.txt")
        url = site + "/robots.txt"
        for _ in range(MAX_REDIRECTS + 1):
            try:
                location, page = self._request(url, deadline)
            except HTTPStatusError as exc:
                if exc.code < 500:
                    rules.allow_all = True
                    return rules
                return f"robots.txt of {site} answered {exc}: a site whose robots.txt fails is not crawled"
            if page is None:
                url = check_url(urljoin(url, location))
                continue
            rules.parse(page.body.decode("utf-8", errors="replace").splitlines())
            return rules
        rules.allow_all = True  # a redirect loop on robots.txt counts as "no robots.txt" (RFC 9309 2.3.1.2)
        return rules
