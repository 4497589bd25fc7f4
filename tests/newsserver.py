"""A small news site on 127.0.0.1 for the fetching tests: an RSS feed of three pages (one a 404), an
Atom feed, a robots.txt that disallows /private/, a page without article text, a slow page, a large
page and redirects. Every request is recorded with its user agent."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SLOW_SECONDS = 3.0  # the /slow page answers after this; tests set a shorter QA_FETCH_TIMEOUT


def article_html(title: str, paragraphs: list[str], date: str, site: str = "Harbour Gazette") -> bytes:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (f"<!doctype html><html><head><title>{title} | {site}</title>"
            f'<meta property="og:site_name" content="{site}">'
            f'<meta property="article:published_time" content="{date}T09:00:00Z"></head>'
            f'<body><nav><a href="/">Home</a> <a href="/world">World</a></nav>'
            f"<article><h1>{title}</h1>{body}</article><footer>Contact us</footer></body></html>").encode()


HARBOUR = article_html("Harbour reopens after the storm", [
    "The harbour of Port Ellis reopened on Tuesday after a storm closed it for three days, the port "
    "authority said in a statement.",
    "Fishing boats returned to their moorings in the morning, and the first ferry left for the islands at "
    "noon with about two hundred passengers on board.",
    '"We worked through the night to clear the channel," said harbour master Ana Silva, who added that '
    "damage to the main pier would take weeks to repair.",
], "2024-03-05")
BUDGET = article_html("Council approves the new budget", [
    "The city council of Port Ellis approved a budget of 48 million euros on Wednesday, after a debate "
    "that lasted until late in the evening.",
    "Most of the new spending goes to the repair of the main pier and to two new school buildings in the "
    "northern districts of the city.",
    "Opposition members voted against it, saying the plan raises the tax on small shops for the second "
    "year in a row.",
], "2024-03-06")
SECRET = article_html("A page robots.txt keeps out", [
    "This article sits under a path that the site's robots.txt disallows for every crawler, so a polite "
    "fetcher never reads it, however many feeds may link to it over the years to come.",
], "2024-03-07")
EMPTY = (b"<!doctype html><html><head><title>Subscribe</title></head><body><nav><a href='/'>Home</a></nav>"
         b"<div>Subscribe to read.</div></body></html>")

RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Harbour Gazette</title><link>{base}/</link>
<description>News from Port Ellis</description>
<item><title>Harbour reopens after the storm</title>
<link>{base}/news/harbour?utm_source=rss&amp;utm_medium=feed#comments</link>
<pubDate>Tue, 05 Mar 2024 09:00:00 +0000</pubDate></item>
<item><title>Council approves the new budget</title><link>/news/budget</link>
<pubDate>Wed, 06 Mar 2024 18:30:00 +0000</pubDate></item>
<item><title>A story that was taken down</title><link>{base}/news/gone</link>
<pubDate>Thu, 07 Mar 2024 08:00:00 +0000</pubDate></item>
</channel></rss>"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Harbour Gazette (Atom)</title>
<id>urn:harbour</id><updated>2024-03-06T18:30:00Z</updated>
<entry><title>Council approves the new budget</title><link href="{base}/news/budget"/>
<id>urn:budget</id><updated>2024-03-06T18:30:00Z</updated></entry>
<entry><title>Subscribe</title><link href="{base}/news/empty"/><id>urn:empty</id>
<updated>2024-03-07T10:00:00Z</updated></entry>
<entry><title>A page robots.txt keeps out</title><link href="{base}/private/secret"/><id>urn:secret</id>
<updated>2024-03-07T11:00:00Z</updated></entry>
</feed>"""


@dataclass(frozen=True)
class Route:
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    body: bytes = b""
    delay: float = 0.0
    location: str = ""


@dataclass
class NewsServer:
    base: str
    routes: dict[str, Route]
    requests: list[tuple[str, str]] = field(default_factory=list)  # (path, user agent)

    def url(self, path: str) -> str:
        return self.base + path

    def paths(self) -> list[str]:
        return [p for p, _ in self.requests]


def default_routes(base: str) -> dict[str, Route]:
    xml = "application/rss+xml"
    return {
        "/robots.txt": Route(content_type="text/plain", body=b"User-agent: *\nDisallow: /private/\n"),
        "/feed.xml": Route(content_type=xml, body=RSS.format(base=base).encode()),
        "/atom.xml": Route(content_type="application/atom+xml", body=ATOM.format(base=base).encode()),
        "/news/harbour": Route(body=HARBOUR),
        "/news/budget": Route(body=BUDGET),
        "/news/empty": Route(body=EMPTY),
        "/private/secret": Route(body=SECRET),
        "/slow": Route(body=HARBOUR, delay=SLOW_SECONDS),
        "/big": Route(body=b"<html><body><p>" + b"word " * 400_000 + b"</p></body></html>"),
        "/moved": Route(status=302, location="/news/harbour"),
        "/moved-private": Route(status=301, location="/private/secret"),
        "/not-a-feed.xml": Route(content_type="text/html", body=EMPTY),
        "/report.pdf": Route(content_type="application/pdf", body=b"%PDF-1.4 ..."),
    }


def _handler(server: NewsServer, stop: threading.Event) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            server.requests.append((path, self.headers.get("User-Agent", "")))
            route = server.routes.get(path, Route(status=404, body=b"<html><body>Not found</body></html>"))
            if route.delay and stop.wait(route.delay):
                return
            try:
                self.send_response(route.status)
                self.send_header("Content-Type", route.content_type)
                self.send_header("Content-Length", str(len(route.body)))
                if route.location:
                    self.send_header("Location", route.location)
                self.end_headers()
                self.wfile.write(route.body)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
                pass

        def log_message(self, format: str, *args: object) -> None:  # quiet test output
            pass

    return Handler


@contextmanager
def news_server(routes: dict[str, Route] | None = None) -> Iterator[NewsServer]:
    """The site on a free port of 127.0.0.1, for the duration of the block."""
    stop = threading.Event()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    httpd.daemon_threads = True  # a handler still sleeping on /slow must not hold the shutdown
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    server = NewsServer(base, {**default_routes(base), **(routes or {})})
    httpd.RequestHandlerClass = _handler(server, stop)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        stop.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
