"""News-aware behaviour on a small dated corpus written by the tests (fakes, fast)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from qa.answering.engine import Engine
from qa.answering.timeq import analyse, parse_day
from qa.config import Settings, load
from qa.errors import ConfigError
from qa.indexing.build import build_index
from qa.indexing.dedup import group_articles
from qa.store import Store, read_manifest
from qa.types import Article

from .fakes import HashEmbedder, ScriptedGenerator

STORY = ("Officials in the harbour town of Velmora confirmed on Tuesday that the old lighthouse will be "
         "restored with money from a regional heritage fund. The restoration is expected to take two years "
         "and will employ local craftsmen. The mayor said the lighthouse had guided ships for more than a "
         "century and deserved to be saved. Residents gathered at the pier to celebrate the decision, and "
         "the fishing cooperative promised to donate timber for the new stairs.")


def _md(path: Path, title: str, body: str, published: str | None = None, source: str | None = None) -> None:
    front = ["---", f"title: {title}"]
    front += [f"date: {published}"] if published else []
    front += [f"source: {source}"] if source else []
    path.write_text("\n".join([*front, "---", "", body]) + "\n", encoding="utf-8")


@pytest.fixture
def dated(tmp_path: Path) -> Settings:
    arts = tmp_path / "articles"
    arts.mkdir()
    _md(arts / "mayor-2019.md", "Alice Varga elected mayor of Velmora",
        "Alice Varga was elected mayor of Velmora on Sunday with 54 percent of the vote.", "2019-05-12", "Coast Daily")
    _md(arts / "mayor-2023.md", "Bruno Kessel becomes mayor of Velmora",
        "Bruno Kessel was sworn in as the new mayor of Velmora on Monday after winning the election.",
        "2023-06-05", "Harbour Herald")
    _md(arts / "bridge-2021-12.md", "Velmora bridge reopens",
        "The Velmora bridge reopened to traffic in December after repairs to its steel arches.",
        "2021-12-14", "Coast Daily")
    _md(arts / "storm-2023-06-01.md", "Storm floods Velmora harbour",
        "A storm flooded the Velmora harbour, damaging boats and the fish market.", "2023-06-01", "Harbour Herald")
    (arts / "undated.txt").write_text("Velmora festival announced\n\nVelmora will hold a music festival.\n")
    settings = load({}, articles_dir=arts, index_dir=tmp_path / "index", today="2023-06-14")
    build_index(settings, embedder=HashEmbedder())
    return settings.replace(gate_dense=0.0)


def _ids(engine: Engine, question: str, settings: Settings) -> list[str]:
    return [h.chunk.article_id for h in engine.search(question, settings=settings).hits]


def test_dates_and_publishers_are_stored_and_missing_ones_stay_missing(dated: Settings) -> None:
    infos = {a.id: a for a in Store.open(dated.index_dir).articles()}
    assert infos["mayor-2023.md"].published == "2023-06-05" and infos["mayor-2023.md"].source == "Harbour Herald"
    assert infos["undated.txt"].published is None


def test_sidecar_metadata_fills_plain_text_collections(tmp_path: Path) -> None:
    arts = tmp_path / "a"
    arts.mkdir()
    (arts / "x.txt").write_text("Headline X\n\nBody of x about Velmora.\n")
    (arts / "metadata.jsonl").write_text(json.dumps(
        {"path": "x.txt", "published": "2022-03-04", "source": "Wire", "url": "https://example.org/x"}) + "\n")
    settings = load({}, articles_dir=arts, index_dir=tmp_path / "i")
    build_index(settings, embedder=HashEmbedder())
    info = Store.open(settings.index_dir).articles()[0]
    assert (info.published, info.source, info.url) == ("2022-03-04", "Wire", "https://example.org/x")


def test_since_until_and_source_filters(dated: Settings) -> None:
    engine = Engine(dated, HashEmbedder(), ScriptedGenerator([]))
    ids = _ids(engine, "Velmora mayor", dated.replace(since="2023-01-01", top_k=5))
    assert ids and all(i in ("mayor-2023.md", "storm-2023-06-01.md") for i in ids)
    ids = _ids(engine, "Velmora mayor", dated.replace(until="2020", top_k=5))
    assert ids == ["mayor-2019.md"]
    ids = _ids(engine, "Velmora", dated.replace(source="coast daily", top_k=5))
    assert set(ids) == {"mayor-2019.md", "bridge-2021-12.md"}
    with pytest.raises(ConfigError, match="since must be a date"):
        _ids(engine, "Velmora", dated.replace(since="last tuesday"))


def test_month_phrase_restricts_and_relative_phrases_count_from_today(dated: Settings) -> None:
    engine = Engine(dated, HashEmbedder(), ScriptedGenerator([]))
    found = engine.search("What reopened in Velmora in December 2021?", settings=dated)
    assert found.range_applied and [h.chunk.article_id for h in found.hits] == ["bridge-2021-12.md"]
    found = engine.search("What happened in Velmora last week?", settings=dated)  # today = 2023-06-14
    assert found.range_applied and {h.chunk.article_id for h in found.hits} == {"mayor-2023.md"}
    found = engine.search("What happened in Velmora in March 2020?", settings=dated)
    assert not found.range_applied and found.hits  # nothing dated then: the phrase does not empty the results


def test_latest_puts_the_newest_article_first_and_tells_the_model(dated: Settings) -> None:
    gen = ScriptedGenerator(["As of 2023-06-05, Bruno Kessel is the mayor [1]."])
    engine = Engine(dated, HashEmbedder(), gen)
    answer = engine.answer("Who is the latest mayor of Velmora?")
    assert answer.sources[0].chunk.article_id == "mayor-2023.md"
    # every source newest first, the undated last, however the passages scored
    hits = engine.search("What is the latest on Velmora?", settings=dated.replace(top_k=5)).hits
    days = [h.published or "" for h in hits]
    assert days == sorted(days, reverse=True) and len(days) == 5
    user = gen.prompts[0][-1]["content"]
    assert "newest source is current" in user and "(2023-06-05; Harbour Herald)" in user
    assert answer.citations[0].published == "2023-06-05"


def test_what_happened_first_orders_sources_by_date(dated: Settings) -> None:
    gen = ScriptedGenerator(["First [1], then [2]."])
    answer = Engine(dated, HashEmbedder(), gen).answer("In Velmora, what happened first: the storm, the "
                                                        "bridge reopening or the mayor elections?")
    days = [h.published for h in answer.sources]
    dated_days = [d for d in days if d]
    assert dated_days == sorted(dated_days) and len(dated_days) >= 2
    assert "date order" in gen.prompts[0][-1]["content"]


def test_time_phrases() -> None:
    today = date(2023, 6, 14)  # a Wednesday
    assert analyse("What did Blinken say last week?", today).since == date(2023, 6, 5)
    assert analyse("What did Blinken say last week?", today).until == date(2023, 6, 11)
    assert analyse("news from the past 3 days", today).since == date(2023, 6, 11)
    assert analyse("Who won the 2018 FIFA World Cup?", today).has_range is False
    assert analyse("Who scored in 2022 Champions League final?", today).has_range is False
    assert analyse("Who resigned in 2021 and why?", today).until == date(2021, 12, 31)
    assert analyse("What happened in 2021?", today).until == date(2021, 12, 31)
    assert analyse("What is the most recent update?", today).recency
    assert parse_day("2021-12", "until") == date(2021, 12, 31)


def _article(i: str, text: str, source: str) -> Article:
    return Article(id=i, title="t", text=text, content_hash=i, source=source)


def test_syndicated_copies_group_and_different_stories_do_not() -> None:
    boiler_a = "Share this article. Follow us on social networks.\n\n"
    edited = STORY.replace("two years", "about two years").replace("Residents", "Many residents")
    other = ("Officials in the harbour town of Velmora said on Tuesday that the lighthouse will stay closed "
             "for now because the regional heritage fund rejected the application. The mayor promised to "
             "appeal and said the town would look for private donors to pay for the work.")
    groups = group_articles([_article("a", STORY, "Coast Daily"), _article("b", boiler_a + STORY, "Wire"),
                             _article("c", edited, "Harbour Herald"), _article("d", other, "Coast Daily")])
    assert groups["a"] == groups["b"] == groups["c"] == "a"
    assert "d" not in groups


def test_retrieval_returns_one_passage_per_group_and_cites_the_other_outlets(tmp_path: Path) -> None:
    arts = tmp_path / "articles"
    arts.mkdir()
    _md(arts / "a.md", "Velmora lighthouse to be restored", STORY, "2023-05-02", "Coast Daily")
    _md(arts / "b.md", "Lighthouse restoration approved", STORY + "\n\nAdvertisement", "2023-05-02", "Wire")
    _md(arts / "c.md", "Velmora saves its lighthouse",
        STORY.replace("two years", "about two years"), "2023-05-03", "Harbour Herald")
    _md(arts / "d.md", "Velmora bridge reopens", "The Velmora bridge reopened after repairs.", "2021-12-14")
    settings = load({}, articles_dir=arts, index_dir=tmp_path / "index")
    build_index(settings, embedder=HashEmbedder())
    assert read_manifest(settings.index_dir).duplicate_groups == 1
    gen = ScriptedGenerator(["The lighthouse will be restored with money from a regional heritage fund [1]."])
    answer = Engine(settings.replace(gate_dense=0.0), HashEmbedder(), gen).answer(
        "How will the Velmora lighthouse restoration be paid for?")
    lighthouse = [h for h in answer.hits if h.chunk.article_id in ("a.md", "b.md", "c.md")]
    assert len({h.chunk.article_id for h in lighthouse}) == 1
    cited = answer.citations[0]
    assert len(cited.also) == 2 and set(cited.also) <= {"Coast Daily", "Wire", "Harbour Herald"}
