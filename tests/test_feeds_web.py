"""The Library tab's feeds: the rendering, and the handlers against a news site on 127.0.0.1
(tests/newsserver.py), with the hashing fake embedder for the index builds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from qa.answering.engine import Engine
from qa.config import load
from qa.types import AddSummary, BuildSummary, FailedUrl, SavedArticle
from web.handlers import ChatApp
from web.render import render_add_summary, render_feeds

from .fakes import HashEmbedder, ScriptedGenerator
from .newsserver import NewsServer, news_server


@pytest.fixture
def site() -> Iterator[NewsServer]:
    with news_server() as server:
        yield server


def test_render_feeds_and_the_fetch_summary_escape_everything() -> None:
    assert "No feeds yet" in render_feeds([])
    html = render_feeds(["https://example.org/rss?a=1&b=<2>", "javascript:alert(1)"])
    assert "&lt;2&gt;" in html and 'href="javascript' not in html
    summary = AddSummary((SavedArticle("https://x.org/a", "a.md", "<b>Bold</b> title"),), ("https://x.org/b",),
                         (FailedUrl("https://x.org/c", "HTTP 404 <Not Found>"),), 1.25,
                         BuildSummary(1, 0, 0, 3, 4, (), 0.5, 4, 20, "gen-000002"))
    html = render_add_summary(summary)
    assert "1 new, 1 already saved, 1 failed" in html and "&lt;b&gt;Bold" in html
    assert "HTTP 404 &lt;Not Found&gt;" in html and "Added 1, updated 0" in html
    assert "Nothing new to index" in render_add_summary(AddSummary((), (), (), 0.1))


def test_library_feeds_add_fetch_now_remove(site: NewsServer, tmp_path: Path) -> None:
    settings = load({}, articles_dir=tmp_path / "articles", index_dir=tmp_path / "index",
                    cache_dir=tmp_path / "cache", fetch_timeout=0.5)
    app = ChatApp(Engine(settings, embedder=HashEmbedder(), generator=ScriptedGenerator([])), settings)
    app._build_embedder = HashEmbedder()
    listed, picker, message, box = app.on_feed_add(site.url("/feed.xml"))
    assert site.url("/feed.xml") in listed and picker["choices"] == [site.url("/feed.xml")]
    assert "Fetch now" in message and box == ""
    listed, _, message, _ = app.on_feed_add("not a url")
    assert "error-box" in message and site.url("/feed.xml") in listed
    steps: list[str] = []
    summary, status, library, _ = app.run_fetch(lambda value, desc="", unit="": steps.append(desc))
    assert "2 new, 0 already saved, 1 failed" in summary and "HTTP 404 Not Found" in summary
    assert "Added 2" in summary and "<b>2</b> articles" in status and "Council approves the new budget" in library
    assert steps[0] == "Fetching feeds and pages" and "Writing the index" in steps
    assert "0 new, 2 already saved, 1 failed" in app.run_fetch()[0]
    listed, picker, message = app.on_feed_remove(site.url("/feed.xml"))
    assert "No feeds yet" in listed and picker["choices"] == [] and "the articles it brought stay" in message
    assert "no feeds in" in app.run_fetch()[0]


def test_the_library_tab_has_the_feeds_panel(tmp_path: Path) -> None:
    from web.layout import build_ui

    settings = load({}, articles_dir=tmp_path / "articles", index_dir=tmp_path / "index")
    demo = build_ui(ChatApp(Engine(settings, embedder=HashEmbedder(), generator=ScriptedGenerator([])), settings))
    ids = {c.get("props", {}).get("elem_id") for c in demo.config["components"]}
    assert {"feeds-list", "feed-url", "feed-add", "feed-pick", "feed-remove", "fetch-now", "fetch-summary"} <= ids
