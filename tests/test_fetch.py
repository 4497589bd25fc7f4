"""Fetching pages and feeds against a real HTTP server on 127.0.0.1 (tests/newsserver.py): limits,
robots.txt, the user agent, feed parsing, the saved Markdown and its round trip through ingest."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from qa.config import Settings, load
from qa.errors import ConfigError, QAError
from qa.indexing import add as add_module
from qa.indexing import pages
from qa.indexing.add import LEDGER, add, known_urls
from qa.indexing.feeds import FEEDS_FILE, add_feed, parse_feed, read_feeds, remove_feed
from qa.indexing.fetch import Fetcher, FetchError, Page, normalise_url
from qa.indexing.ingest import iter_files, load_articles
from qa.indexing.pages import Hints, PageArticle, extract_article, save_article, slug, to_markdown

from .newsserver import HARBOUR, NewsServer, Route, news_server

TIMEOUT = 0.5  # seconds: the /slow page takes 3


@pytest.fixture
def site() -> Iterator[NewsServer]:
    with news_server() as server:
        yield server


@pytest.fixture
def fetch_settings(tmp_path: Path) -> Settings:
    return load({}, articles_dir=tmp_path / "articles", index_dir=tmp_path / "index",
                fetch_timeout=TIMEOUT, fetch_max_mb=1.0)


def _saved(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


# --------------------------------------------------------------------------- settings and URLs


def test_fetch_settings_come_from_the_environment_and_are_checked() -> None:
    s = load({"QA_FETCH_TIMEOUT": "7", "QA_FETCH_MAX_MB": "2.5", "QA_USER_AGENT": "my-archive/1"})
    assert (s.fetch_timeout, s.fetch_max_mb, s.user_agent) == (7.0, 2.5, "my-archive/1")
    with pytest.raises(ConfigError, match="fetch_timeout must be greater than 0"):
        load({"QA_FETCH_TIMEOUT": "0"})
    with pytest.raises(ConfigError, match="user_agent"):
        load({"QA_USER_AGENT": "two\nlines"})


@pytest.mark.parametrize(("url", "expected"), [
    ("http://Example.ORG:80/a?utm_source=rss&id=3#frag", "http://example.org/a?id=3"),
    ("https://example.org", "https://example.org/"),
    ("https://example.org:8443/x?fbclid=1&UTM_Campaign=y", "https://example.org:8443/x"),
    ("https://example.org/Case/Path?b=2&a=1", "https://example.org/Case/Path?b=2&a=1"),
])
def test_normalise_url_drops_fragments_and_trackers_only(url: str, expected: str) -> None:
    assert normalise_url(url) == expected


# --------------------------------------------------------------------------- HTTP


def test_fetcher_sends_its_user_agent_and_reads_robots_once(site: NewsServer, fetch_settings: Settings) -> None:
    fetcher = Fetcher(fetch_settings)
    page = fetcher.get(site.url("/news/harbour"))
    fetcher.get(site.url("/news/budget"))
    assert page.body == HARBOUR and page.content_type == "text/html" and page.charset == "utf-8"
    assert site.paths() == ["/robots.txt", "/news/harbour", "/news/budget"]
    assert {agent for _, agent in site.requests} == {fetch_settings.user_agent}


@pytest.mark.parametrize(("path", "reason"), [
    ("/news/gone", "HTTP 404 Not Found"),
    ("/private/secret", "robots.txt of http://127.0.0.1:"),
    ("/moved-private", "disallows it for news-qa"),  # a redirect into a disallowed path
    ("/slow", f"timed out after {TIMEOUT:g} s"),
    ("/big", "too large"),
])
def test_fetch_failures_name_the_reason(site: NewsServer, fetch_settings: Settings, path: str, reason: str) -> None:
    with pytest.raises(FetchError, match=reason.replace("(", r"\(")):
        Fetcher(fetch_settings).get(site.url(path))
    assert "/private/secret" not in site.paths()  # robots.txt is obeyed: never even requested


def test_redirects_are_followed(site: NewsServer, fetch_settings: Settings) -> None:
    page = Fetcher(fetch_settings).get(site.url("/moved"))
    assert page.final_url == site.url("/news/harbour") and page.url == site.url("/moved")


def test_an_unreachable_host_is_one_reason(fetch_settings: Settings) -> None:
    with news_server() as gone:
        url = gone.url("/feed.xml")
    with pytest.raises(FetchError, match="unreachable"):
        Fetcher(fetch_settings).get(url)


@pytest.mark.parametrize(("status", "allowed"), [(404, True), (403, True), (503, False)])
def test_robots_txt_errors_follow_rfc_9309(fetch_settings: Settings, status: int, allowed: bool) -> None:
    with news_server({"/robots.txt": Route(status=status)}) as site:
        fetcher = Fetcher(fetch_settings)
        if allowed:
            assert fetcher.get(site.url("/news/harbour")).body == HARBOUR
        else:
            with pytest.raises(FetchError, match=r"robots.txt .* answered HTTP 503"):
                fetcher.get(site.url("/news/harbour"))


def test_robots_txt_rules_for_our_agent_are_obeyed(fetch_settings: Settings) -> None:
    robots = Route(content_type="text/plain", body=b"User-agent: news-qa\nDisallow: /news/\n\nUser-agent: *\n"
                                                   b"Disallow:\n")
    with news_server({"/robots.txt": robots}) as site, pytest.raises(FetchError, match="disallows"):
        Fetcher(fetch_settings).get(site.url("/news/harbour"))
    other = fetch_settings.replace(user_agent="someone-else/2")
    with news_server({"/robots.txt": robots}) as site:
        assert Fetcher(other).get(site.url("/news/harbour")).body == HARBOUR


# --------------------------------------------------------------------------- feeds


def test_rss_and_atom_feeds_give_their_entries(site: NewsServer, fetch_settings: Settings) -> None:
    fetcher = Fetcher(fetch_settings)
    rss = parse_feed(fetcher.get(site.url("/feed.xml")).body, site.url("/feed.xml"))
    assert rss.title == "Harbour Gazette"
    assert [(e.url.removeprefix(site.base), e.title, e.published) for e in rss.entries] == [
        ("/news/harbour?utm_source=rss&utm_medium=feed#comments", "Harbour reopens after the storm", "2024-03-05"),
        ("/news/budget", "Council approves the new budget", "2024-03-06"),  # a relative link, resolved
        ("/news/gone", "A story that was taken down", "2024-03-07"),
    ]
    atom = parse_feed(fetcher.get(site.url("/atom.xml")).body, site.url("/atom.xml"))
    assert atom.title == "Harbour Gazette (Atom)" and len(atom.entries) == 3
    assert atom.entries[0].published == "2024-03-06"


def test_an_html_page_is_not_a_feed() -> None:
    with pytest.raises(FetchError, match="not an RSS or Atom feed"):
        parse_feed(b"<html><body><p>Hello</p></body></html>", "http://127.0.0.1/x")


def test_the_feeds_file_add_list_remove(tmp_path: Path) -> None:
    folder = tmp_path / "articles"
    assert read_feeds(folder) == []
    assert add_feed(folder, "HTTP://Example.org/rss.xml?utm_source=x") == ("http://example.org/rss.xml", True)
    assert add_feed(folder, "http://example.org/rss.xml") == ("http://example.org/rss.xml", False)
    add_feed(folder, "https://other.example/atom")
    assert read_feeds(folder) == ["http://example.org/rss.xml", "https://other.example/atom"]
    assert remove_feed(folder, "1") == "http://example.org/rss.xml"
    assert remove_feed(folder, "https://other.example/atom#x") == "https://other.example/atom"
    assert read_feeds(folder) == []
    assert (folder / FEEDS_FILE).read_text().startswith("# Feeds")  # the comment stays
    with pytest.raises(QAError, match="not one of the 0 feeds"):
        remove_feed(folder, "https://nowhere.example/")
    with pytest.raises(QAError, match="not an http"):
        add_feed(folder, "file:///etc/passwd")
    assert list(iter_files(folder)) == []  # the feeds file is never indexed


# --------------------------------------------------------------------------- pages


def _page(body: bytes, url: str = "http://127.0.0.1/news/harbour", content_type: str = "text/html") -> Page:
    return Page(url, url, body, content_type, "utf-8")


def test_extraction_takes_text_from_the_page_and_metadata_from_the_feed_when_given() -> None:
    page_only = extract_article(_page(HARBOUR))
    assert page_only.title == "Harbour reopens after the storm" and page_only.published == "2024-03-05"
    assert page_only.source == "Harbour Gazette" and "harbour master Ana Silva" in page_only.text
    assert "Home" not in page_only.text and "Contact us" not in page_only.text
    assert not page_only.text.startswith("Harbour reopens")  # the headline is not repeated in the body
    hinted = extract_article(_page(HARBOUR), Hints("Harbour open again", "2024-03-04", "The Feed"))
    assert (hinted.title, hinted.published, hinted.source) == ("Harbour open again", "2024-03-04", "Harbour Gazette")
    bare = HARBOUR.replace(b'<meta property="og:site_name" content="Harbour Gazette">', b"")
    assert extract_article(_page(bare), Hints(source="The Feed")).source == "The Feed"


@pytest.mark.parametrize(("body", "content_type", "reason"), [
    (b"<html><body><nav>Home</nav><div>Subscribe to read.</div></body></html>", "text/html", "no article text"),
    (b"%PDF-1.4", "application/pdf", "not an HTML page"),
])
def test_pages_without_article_text_are_refused(body: bytes, content_type: str, reason: str) -> None:
    with pytest.raises(FetchError, match=reason):
        extract_article(_page(body, content_type=content_type))


def test_saved_markdown_round_trips_into_the_indexed_article(tmp_path: Path) -> None:
    title = 'Mayor: "We will rebuild" — the pier, the port & more'
    article = PageArticle("https://news.example/a?id=1", title, "First paragraph of the story, long enough.\n\n"
                          "Second paragraph: with a colon and *stars*.", "2024-03-05", "Gazette: Port Ellis")
    path = save_article(article, tmp_path)
    assert path.name == "mayor-we-will-rebuild-the-pier-the-port-more.md"
    other = replace(article, url="https://other.example/b", text="Another outlet's story under the same headline.")
    assert save_article(other, tmp_path).name == "mayor-we-will-rebuild-the-pier-the-port-more-2.md"
    [_, loaded], skipped = load_articles(tmp_path, tmp_path)
    assert not skipped and loaded.id == path.name
    assert (loaded.title, loaded.published, loaded.source, loaded.url) == (
        title, "2024-03-05", "Gazette: Port Ellis", "https://news.example/a?id=1")
    assert loaded.text.startswith("First paragraph of the story") and "Second paragraph" in loaded.text
    assert _saved(tmp_path) == ["mayor-we-will-rebuild-the-pier-the-port-more-2.md", path.name]


def test_a_failed_write_leaves_nothing_in_the_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    article = PageArticle("https://news.example/a", "A title", "Some text.", None, None)

    def full_disk(self: Path, *args: object, **kwargs: object) -> None:
        self.open("w").write(to_markdown(article)[:10])  # half the file, then the disk is full
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_text", full_disk)
    with pytest.raises(FetchError, match="No space left on device"):
        save_article(article, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_slug() -> None:
    assert slug("   ") == "article" and slug("Ünïcödé Straße") == "unicode-strae"
    assert len(slug("word " * 100)) <= pages.SLUG_CHARS


# --------------------------------------------------------------------------- add


def test_add_feed_saves_new_entries_reports_failures_and_skips_saved_urls(
        site: NewsServer, fetch_settings: Settings) -> None:
    first = add(fetch_settings, feeds=[site.url("/feed.xml")])
    folder = fetch_settings.articles_dir
    assert [a.path for a in first.added] == ["harbour-reopens-after-the-storm.md", "council-approves-the-new-budget.md"]
    assert first.added[0].url == site.url("/news/harbour")  # utm_* and the fragment dropped
    assert [(f.url, f.reason) for f in first.failed] == [(site.url("/news/gone"), "HTTP 404 Not Found")]
    assert _saved(folder) == ["council-approves-the-new-budget.md", "harbour-reopens-after-the-storm.md"]
    requests = len(site.requests)
    again = add(fetch_settings, feeds=[site.url("/feed.xml")], urls=[site.url("/moved")])
    assert again.added == () and [f.url for f in again.failed] == [site.url("/news/gone")]
    assert again.already == (site.url("/moved"), site.url("/news/harbour"), site.url("/news/budget"))
    # only the feed, the redirecting link (not known by that URL until it lands on a saved page) and the
    # broken page are requested again
    assert site.paths()[requests:] == ["/robots.txt", "/moved", "/news/harbour", "/feed.xml", "/news/gone"]
    assert _saved(folder) == ["council-approves-the-new-budget.md", "harbour-reopens-after-the-storm.md"]
    requests = len(site.requests)
    assert add(fetch_settings, urls=[site.url("/moved")]).already == (site.url("/moved"),)
    assert site.paths()[requests:] == []  # the redirect was remembered


def test_a_deleted_article_is_not_fetched_again_but_a_front_matter_url_counts(
        site: NewsServer, fetch_settings: Settings) -> None:
    folder = fetch_settings.articles_dir
    add(fetch_settings, urls=[site.url("/news/harbour")])
    (folder / "harbour-reopens-after-the-storm.md").unlink()
    (folder / "mine.md").write_text(f'---\ntitle: "Mine"\nurl: {site.url("/news/budget")}\n---\n\nMy notes.\n')
    result = add(fetch_settings, urls=[site.url("/news/harbour"), site.url("/news/budget#top")])
    assert result.added == () and result.already == (site.url("/news/harbour"), site.url("/news/budget"))
    ledger = [json.loads(line) for line in (folder / LEDGER).read_text().splitlines()]
    assert [r["path"] for r in ledger] == ["harbour-reopens-after-the-storm.md"]
    assert known_urls(folder) == {site.url("/news/harbour"), site.url("/news/budget")}


def test_an_unreachable_feed_is_one_line_and_the_rest_continue(site: NewsServer, fetch_settings: Settings) -> None:
    with news_server() as gone:
        dead = gone.url("/feed.xml")
    result = add(fetch_settings, feeds=[dead, site.url("/not-a-feed.xml"), site.url("/atom.xml")],
                 urls=[site.url("/slow")])
    reasons = {f.url: f.reason for f in result.failed}
    assert reasons == {
        site.url("/slow"): f"timed out after {TIMEOUT:g} s (QA_FETCH_TIMEOUT)",
        dead: "unreachable: connection refused",
        site.url("/not-a-feed.xml"): "not an RSS or Atom feed (served as text/html)",
        site.url("/news/empty"): "no article text on the page (3 words of main text)",
        site.url("/private/secret"): f"robots.txt of {site.base} disallows it for news-qa",
    }
    assert [a.title for a in result.added] == ["Council approves the new budget"]


def test_progress_counts_feeds_and_their_entries(site: NewsServer, fetch_settings: Settings) -> None:
    seen: list[tuple[int, int]] = []
    add(fetch_settings, feeds=[site.url("/feed.xml")], progress=lambda stage, done, total: seen.append((done, total)))
    assert seen == [(0, 1), (1, 4), (2, 4), (3, 4), (4, 4)]


def test_two_fetching_runs_on_one_folder_do_not_overlap(fetch_settings: Settings) -> None:
    with add_module.fetch_lock(fetch_settings.articles_dir), pytest.raises(QAError, match="another `qa add`"):
        add(fetch_settings, urls=["http://127.0.0.1:9/x"])
