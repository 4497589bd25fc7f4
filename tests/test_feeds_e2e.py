"""The Library tab's feeds as a user drives them: `python app.py` with the real bundled models, Debian's
Chromium, and a news site on 127.0.0.1 (tests/newsserver.py) serving a feed of three pages, one a 404.

Slow (the build after "Fetch now" embeds with the real model) and a browser test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page

from .live import App, Corpus, copy_seed_articles, qa_index, running_app
from .newsserver import NewsServer, news_server

pytestmark = [pytest.mark.slow, pytest.mark.browser]

BUILD_MS = 300_000


@pytest.fixture(scope="module")
def site() -> Iterator[NewsServer]:
    with news_server() as server:
        yield server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    base = tmp_path_factory.mktemp("feeds-app")
    corpus = Corpus(copy_seed_articles(base / "articles"), base / "index")
    qa_index(corpus)
    with running_app(corpus, base / "app.log", QA_FETCH_TIMEOUT="2") as app:
        yield app


def _fetch_now(page: Page, expected: str) -> str:
    """Click Fetch now and wait for a summary holding `expected` (or an error)."""
    page.click("#fetch-now")
    page.wait_for_selector(f"#fetch-summary .fetch-summary:has-text('{expected}'), #fetch-summary .error-box",
                           timeout=BUILD_MS)
    return str(page.inner_text("#fetch-summary"))


def test_add_a_feed_fetch_now_and_again(page: Page, site: NewsServer, server: App) -> None:
    page.get_by_role("tab", name="Library").click()
    page.wait_for_selector("#feeds-list:has-text('No feeds yet')")
    page.fill("#feed-url textarea", site.url("/feed.xml"))
    page.click("#feed-add")
    page.wait_for_selector(f"#feeds-list:has-text('{site.url('/feed.xml')}')")
    assert (server.articles / "feeds.list").read_text().strip().endswith(site.url("/feed.xml"))

    summary = _fetch_now(page, "2 new")
    assert "2 new, 0 already saved, 1 failed" in summary, summary
    assert "HTTP 404 Not Found" in summary and "Added 2" in summary
    page.wait_for_selector("#library:has-text('Council approves the new budget')")
    assert (server.articles / "harbour-reopens-after-the-storm.md").exists()

    again = _fetch_now(page, "0 new")
    assert "0 new, 2 already saved, 1 failed" in again and "Nothing new to index" in again, again
