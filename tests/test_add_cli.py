"""`qa add`, `qa feeds` and `qa update` end to end, against a news site on
127.0.0.1 (tests/newsserver.py). Indexes are built with the hashing fake embedder: no model loads."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

import qa.indexing.build
from qa import store
from qa.cli import main

from .fakes import HashEmbedder
from .newsserver import NewsServer, news_server


@pytest.fixture
def site() -> Iterator[NewsServer]:
    with news_server() as server:
        yield server


@pytest.fixture
def folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """An empty articles folder and index, the fake embedder for every build, a short fetch timeout."""
    monkeypatch.setattr(qa.indexing.build, "make_embedder", lambda settings: HashEmbedder())
    monkeypatch.setenv("QA_FETCH_TIMEOUT", "0.5")
    for name in ("QA_ARTICLES_DIR", "QA_INDEX_DIR"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "articles", tmp_path / "index"


def _qa(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_add_feed_saves_and_indexes_two_reports_the_third_then_adds_nothing(
        site: NewsServer, folders: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    articles, index = folders
    where = ["--articles", str(articles), "--index", str(index)]
    code, out, err = _qa(capsys, "add", "--feed", site.url("/feed.xml"), *where, "--json")
    assert code == 0, err
    first = json.loads(out)
    assert [a["path"] for a in first["added"]] == ["harbour-reopens-after-the-storm.md",
                                                   "council-approves-the-new-budget.md"]
    assert first["failed"] == [{"url": site.url("/news/gone"), "reason": "HTTP 404 Not Found"}]
    assert first["already"] == [] and first["index"]["added"] == 2 and first["index"]["articles"] == 2
    live = store.Store.open(index)
    indexed = {a.id: a for a in live.articles()}
    assert indexed["council-approves-the-new-budget.md"].published == "2024-03-06"
    assert indexed["council-approves-the-new-budget.md"].source == "Harbour Gazette"
    assert indexed["harbour-reopens-after-the-storm.md"].url == site.url("/news/harbour")

    code, out, err = _qa(capsys, "add", "--feed", site.url("/feed.xml"), *where)
    assert code == 0, err
    assert out.splitlines()[-1].startswith("0 new, 2 already saved, 1 failed")
    assert f"failed   {site.url('/news/gone')}: HTTP 404 Not Found" in out
    assert store.read_manifest(index).generation == first["index"]["generation"]  # nothing rebuilt


def test_add_urls_prints_one_line_each(site: NewsServer, folders: tuple[Path, Path],
                                       capsys: pytest.CaptureFixture[str]) -> None:
    articles, index = folders
    code, out, err = _qa(capsys, "add", site.url("/news/budget"), site.url("/news/empty"),
                         site.url("/private/secret"), site.url("/slow"), "--articles", str(articles),
                         "--index", str(index), "--no-index")
    assert code == 0, err
    assert out.splitlines() == [
        "added    Council approves the new budget  (council-approves-the-new-budget.md)",
        f"failed   {site.url('/news/empty')}: no article text on the page (3 words of main text)",
        f"failed   {site.url('/private/secret')}: robots.txt of {site.base} disallows it for news-qa",
        f"failed   {site.url('/slow')}: timed out after 0.5 s (QA_FETCH_TIMEOUT)",
        out.splitlines()[-1],
    ]
    assert out.splitlines()[-1].startswith("1 new, 0 already saved, 3 failed")
    assert not index.exists()  # --no-index


def test_feeds_add_list_remove_and_update(site: NewsServer, folders: tuple[Path, Path],
                                          capsys: pytest.CaptureFixture[str]) -> None:
    articles, index = folders
    where = ["--articles", str(articles), "--index", str(index)]
    code, _, err = _qa(capsys, "update", *where)
    assert code == 2 and "no feeds in" in err and "qa feeds add URL" in err
    assert _qa(capsys, "feeds", "add", site.url("/feed.xml"), *where)[1] == f"added: {site.url('/feed.xml')}\n"
    assert _qa(capsys, "feeds", "add", site.url("/atom.xml#x"), *where)[0] == 0
    assert "already in the list" in _qa(capsys, "feeds", "add", site.url("/feed.xml"), *where)[1]
    assert _qa(capsys, "feeds", "list", *where)[1].split() == ["1", site.url("/feed.xml"), "2", site.url("/atom.xml")]
    code, out, err = _qa(capsys, "update", *where, "--json")
    assert code == 0, err
    result = json.loads(out)
    assert sorted(a["path"] for a in result["added"]) == ["council-approves-the-new-budget.md",
                                                          "harbour-reopens-after-the-storm.md"]
    assert result["already"] == [site.url("/news/budget")]  # the Atom feed links the RSS feed's page too
    assert {f["url"] for f in result["failed"]} == {site.url(p) for p in ("/news/gone", "/news/empty",
                                                                          "/private/secret")}
    assert result["index"]["articles"] == 2
    again = json.loads(_qa(capsys, "update", *where, "--json")[1])
    assert again["added"] == [] and again["index"] is None
    assert again["already"] == [site.url("/news/harbour"), site.url("/news/budget")]  # each page once
    assert json.loads(_qa(capsys, "feeds", "remove", "1", *where, "--json")[1])["feeds"] == [site.url("/atom.xml")]
    code, _, err = _qa(capsys, "feeds", "remove", "https://nowhere.example/", *where)
    assert code == 2 and "is not one of the 1 feeds" in err
    assert _qa(capsys, "add", *where)[2].startswith("error: nothing to add")


def test_saved_articles_stay_when_the_index_is_busy(site: NewsServer, folders: tuple[Path, Path],
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    articles, index = folders
    with qa.indexing.build.build_lock(index):
        code, out, err = _qa(capsys, "add", site.url("/news/budget"), "--articles", str(articles),
                             "--index", str(index))
    assert code == 2 and "the index was not updated" in err and "`qa index` indexes them" in err
    assert "added    Council approves the new budget" in out
    assert (articles / "council-approves-the-new-budget.md").exists()
