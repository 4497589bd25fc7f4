"""Story timelines: the dating rules, event sentences, merging the outlets' tellings, the order, the JSON,
and `qa timeline` on the sample articles plus a few dated ones (the hashing fake embedder: no model loads)."""

from __future__ import annotations

import json
import re
import shutil
from datetime import date
from pathlib import Path

import pytest

import qa.answering.engine
import qa.indexing.build
from qa.answering.timeline import chronological, event_of, in_range, is_event, merge, past_tense
from qa.answering.timeq import date_sentence, has_time_words
from qa.cli import main
from qa.store import Store
from qa.types import EventSource, Timeline, When

from .conftest import SEEDS
from .fakes import HashEmbedder

MON_6_DEC = date(2021, 12, 6)  # a Monday


def _when(text: str, published: date | None = MON_6_DEC) -> When | None:
    return date_sentence(text, published)


# --- dating ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "iso"), [
    ("They met in Stockholm on December 2, 2021.", "2021-12-02"),
    ("They met on 27 March 2022 in Geneva.", "2022-03-27"),
    ("They met on the 30th of June 2020.", "2020-06-30"),
    ("The report is dated 2021-11-30.", "2021-11-30"),
    ("They met on Dec. 2 in Stockholm.", "2021-12-02"),
])
def test_an_explicit_date_is_a_day(text: str, iso: str) -> None:
    when = _when(text)
    assert when is not None and (when.iso(), when.precision) == (iso, "day") and when.label() == iso


def test_a_month_and_day_take_the_year_nearest_the_publish_date() -> None:
    assert _when("They met on December 30.", date(2022, 1, 3)).iso() == "2021-12-30"  # type: ignore[union-attr]
    assert _when("Talks resume on January 4.", date(2021, 12, 28)).iso() == "2022-01-04"  # type: ignore[union-attr]
    assert _when("The invasion began on 24 February.", date(2022, 4, 26)).iso() == "2022-02-24"  # type: ignore[union-attr]
    # without a publish date there is no year to take: the sentence is undated, not guessed
    assert _when("They met on December 2.", None) is None


def test_months_and_years_keep_their_precision() -> None:
    month = _when("Talks began in January 2022 and stalled.")
    assert month is not None and (month.iso(), month.precision, month.label()) == ("2022-01", "month", "January 2022")
    assert (month.start, month.end) == (date(2022, 1, 1), date(2022, 1, 31))
    year = _when("In 2014, Moscow annexed Crimea.", None)  # a year needs no publish date
    assert year is not None and (year.iso(), year.precision, year.label()) == ("2014", "year", "2014")
    bare = _when("The agency will report by the end of April.", date(2025, 2, 7))
    assert bare is not None and (bare.iso(), bare.precision) == ("2025-04", "month")
    assert _when("Lumora collapsed in late 2023 after an audit.").iso() == "2023"  # type: ignore[union-attr]


def test_a_weekday_is_the_week_around_the_publish_date_never_a_day() -> None:
    # "on Tuesday" in an article of Monday 2021-12-06 may be 2021-11-30 or 2021-12-07: the text does not say
    for text in ("Biden and Putin will speak on Tuesday.", "Blinken said on Tuesday that talks failed."):
        when = _when(text)
        assert when is not None and when.precision == "week" and when.day == MON_6_DEC
        assert (when.start, when.end) == (date(2021, 11, 30), date(2021, 12, 12))
        assert when.iso() == "2021-12-06" and when.label() == "within a week of 2021-12-06"
    assert _when("Blinken spoke on Sunday.", None) is None  # no publish date: nothing to count from


def test_words_that_name_the_day_exactly() -> None:
    published = date(2025, 3, 11)  # a Tuesday
    assert _when("Workers walked out on Monday of last week.", published).iso() == "2025-03-03"  # type: ignore[union-attr]
    assert _when("The bridge gave way yesterday afternoon.", published).iso() == "2025-03-10"  # type: ignore[union-attr]
    last_week = _when("Queues formed on several days last week.", published)
    assert last_week is not None and last_week.precision == "week" and last_week.label() == "week of 2025-03-03"
    assert (last_week.start, last_week.end) == (date(2025, 3, 3), date(2025, 3, 9))
    next_month = _when("Talks will resume next month.", date(2021, 12, 20))
    assert next_month is not None and next_month.iso() == "2022-01" and next_month.precision == "month"


def test_no_time_words_mean_the_publish_date_marked_as_such() -> None:
    when = _when("Blinken warned Lavrov of severe consequences.")
    assert when is not None and when.precision == "published" and when.label() == "by 2021-12-06"
    assert when.end == MON_6_DEC and when.start == date.min  # on or before it
    assert _when("Blinken warned Lavrov of severe consequences.", None) is None  # nothing dates it


def test_the_first_time_expression_in_reading_order_wins() -> None:
    trial = _when("Hale went on trial on Monday accused of deceiving investors in 2022.", date(2025, 4, 7))
    assert trial is not None and trial.precision == "week" and trial.words == "Monday"
    assert _when("In 2014, when Moscow annexed Crimea on March 18, separatists rose.").iso() == "2014"  # type: ignore[union-attr]
    # the longer of two expressions that start at one word
    assert _when("They met on December 2, 2021.", None).words == "December 2, 2021"  # type: ignore[union-attr]


@pytest.mark.parametrize("text", [
    "Putin may 3 things differently.",  # "may" in lower case is a verb
    "The 2018 World Cup was a success.",  # a year that names an event, not a time
    "They met on February 30.",  # not a date
    "The march went ahead.",
])
def test_words_that_are_not_dates(text: str) -> None:
    when = _when(text)
    assert when is not None and when.precision == "published"


def test_has_time_words_even_where_they_cannot_be_dated() -> None:
    assert has_time_words("Blinken spoke on Sunday.") and has_time_words("They met on December 2.")
    assert not has_time_words("Blinken spoke at length.")


# --- event sentences --------------------------------------------------------------------------------

def test_event_sentences() -> None:
    assert past_tense("The union backed the deal.") and past_tense("Lavrov said it was over.")
    assert not past_tense("A hundred people need help.") and not past_tense("The United Nations meets.")
    assert is_event("The union will vote on the deal on Tuesday.")  # a dated plan
    assert is_event("Lavrov said the talks had been constructive.")
    assert not is_event("Prices remain high across the region.")  # nothing happens
    assert not is_event("Photo: Reuters.")  # too short
    assert not is_event("Interview: the investor who walked away from the company")  # a link line
    assert not is_event("“We walked out on Monday,” she said after the meeting.")  # someone's words


# --- merging, order, JSON ---------------------------------------------------------------------------

STOCKHOLM = ("US Secretary of State Antony Blinken met Russian Foreign Minister Sergei Lavrov in Stockholm "
             "on Thursday, on the sidelines of a meeting of European security ministers.")


def _source(article_id: str, text: str, published: str | None, start: int = 0) -> EventSource:
    when = date_sentence(text, date.fromisoformat(published) if published else None)
    assert when is not None
    return EventSource(article_id, f"Title of {article_id}", start, start + len(text), text, when, published,
                       f"Outlet {article_id}")


def test_copies_from_several_outlets_are_one_event_with_several_sources() -> None:
    wire = _source("wire.md", STOCKHOLM, "2021-12-02")
    copy = _source("coast.md", STOCKHOLM, "2021-12-03")  # a day later: its "Thursday" window overlaps
    edited = _source("ledger.md", STOCKHOLM.replace("a meeting of European security ministers", "an OSCE meeting"),
                     "2021-12-02")
    events = merge([copy, edited, wire], HashEmbedder())
    assert len(events) == 1
    assert [s.article_id for s in events[0].sources] == ["ledger.md", "wire.md", "coast.md"]  # oldest first
    assert events[0].when.precision == "week"


def test_an_event_keeps_the_finest_date_any_outlet_gives() -> None:
    vague = _source("a.md", "Blinken met Lavrov in Stockholm on Thursday for talks.", "2021-12-03")
    exact = _source("b.md", "Blinken met Lavrov in Stockholm on December 2 for talks.", "2021-12-03")
    event = event_of([vague, exact])
    assert event.when.iso() == "2021-12-02" and event.when.precision == "day" and "December 2" in event.text


@pytest.mark.parametrize(("a", "b"), [
    ("About 1,200 containers were waiting on the quays on Monday.",
     "About 4,300 containers were waiting on the quays on Monday."),  # other figures: another moment
    ("The union said it would accept the offer on Monday.",
     "The union said it would not accept the offer on Monday."),  # the opposite
    ("Blinken met Lavrov in Stockholm on December 2 for talks.",
     "Blinken met Lavrov in Geneva on January 21 for talks."),  # dates that cannot be the same day
    ("Blinken warned Lavrov that Russia would face severe consequences.",
     "Lavrov said that Moscow wanted guarantees on NATO expansion."),  # two facts of one story
])
def test_different_events_stay_apart(a: str, b: str) -> None:
    events = merge([_source("x.md", a, "2021-12-06"), _source("y.md", b, "2021-12-06")], HashEmbedder())
    assert len(events) == 2


def test_one_article_is_one_source_of_an_event() -> None:
    text = "Blinken met Lavrov in Stockholm on December 2 for talks."
    events = merge([_source("a.md", text, "2021-12-03", 0), _source("a.md", text, "2021-12-03", 500)],
                   HashEmbedder())
    assert len(events) == 1 and [(s.article_id, s.start) for s in events[0].sources] == [("a.md", 0)]


def test_events_are_ordered_oldest_first_the_finer_date_first_on_one_day() -> None:
    texts = {
        "published": "Lavrov said the talks had been constructive.",
        "week": "Blinken said on Monday that the talks had been frank.",
        "day": "Biden and Putin spoke on December 6 by video link.",
        "month": "Russia moved troops to the border in December 2021.",
        "year": "In 2014, Moscow annexed Crimea from Ukraine.",
        "later": "The two ministers met in Geneva on January 21, 2022.",
    }
    events = [event_of([_source(f"{k}.md", t, "2021-12-06")]) for k, t in texts.items()]
    ordered = [e.sources[0].article_id for e in chronological(reversed(events))]
    assert ordered == ["year.md", "month.md", "day.md", "week.md", "published.md", "later.md"]


def test_json_shape() -> None:
    event = event_of([_source("wire.md", STOCKHOLM, "2021-12-02", 10),
                      _source("coast.md", STOCKHOLM, "2021-12-03", 12)])
    data = json.loads(json.dumps(Timeline("Blinken Lavrov", (event,), undated=3).to_json()))
    assert set(data) == {"topic", "events", "undated"} and data["topic"] == "Blinken Lavrov" and data["undated"] == 3
    (e,) = data["events"]
    assert set(e) == {"date", "precision", "text", "citations"}
    assert (e["date"], e["precision"], e["text"]) == ("2021-12-02", "week", STOCKHOLM)
    assert e["citations"] == [
        {"article_id": "wire.md", "title": "Title of wire.md", "start": 10, "end": 10 + len(STOCKHOLM)},
        {"article_id": "coast.md", "title": "Title of coast.md", "start": 12, "end": 12 + len(STOCKHOLM)},
    ]


def test_a_range_keeps_the_events_that_may_fall_in_it() -> None:
    december = When(date(2021, 12, 1), date(2021, 12, 1), date(2021, 12, 31), "month")
    assert in_range(december, date(2021, 12, 15), None) and in_range(december, None, date(2021, 12, 1))
    assert not in_range(december, date(2022, 1, 1), None) and not in_range(december, None, date(2021, 11, 30))
    published = When(date(2021, 12, 6), date.min, date(2021, 12, 6), "published")
    assert in_range(published, date(2021, 12, 1), date(2021, 12, 31))


# --- `qa timeline` on the sample articles plus a few dated ones -------------------------------------

WARNED = ("Blinken warned Lavrov that Russia would face severe consequences if it invaded Ukraine, "
          "a State Department official said.")
SPOKE = ("The two ministers spoke for about 40 minutes. Lavrov said after the meeting that Moscow wanted "
         "guarantees that NATO would not expand further east.")
# name: (title, date, source, paragraphs)
DATED: dict[str, tuple[str, str, str, tuple[str, ...]]] = {
    "wire-stockholm-1202.md": ("Blinken and Lavrov meet in Stockholm as tensions over Ukraine rise", "2021-12-02",
                               "Northern Wire", (STOCKHOLM, WARNED, SPOKE)),
    # a syndicated copy: another outlet, headline and day; the same text
    "coast-stockholm-1203.md": ("US and Russian ministers hold tense talks in Sweden", "2021-12-03", "Coast Herald",
                                (STOCKHOLM, WARNED, SPOKE, "Share this article")),
    "ledger-video-call-1208.md": ("Biden warns Putin of sanctions in two-hour video call", "2021-12-08",
                                  "Daily Ledger", (
        "Joe Biden and Vladimir Putin held a two-hour video call on December 7, 2021, in which Biden warned of "
        "strong economic measures if Russia escalated its build-up near Ukraine.",
        "Blinken said on Wednesday that the call had been direct and candid, and that Washington had laid out the "
        "costs of an invasion to Lavrov as well.",
        "The call followed the meeting between Blinken and Lavrov in Stockholm last week.")),
    "post-geneva-0121.md": ("Blinken and Lavrov hold talks in Geneva", "2022-01-21", "Capital Post", (
        "Antony Blinken and Sergei Lavrov met in Geneva on January 21 for talks that lasted about 90 minutes.",
        "Lavrov said the talks had been constructive, while Blinken said the United States would give Moscow "
        "written answers next week.",
        "The two ministers last met in Stockholm in December 2021.")),
}


def write_dated_articles(folder: Path) -> None:
    """The four dated articles, as Markdown with front matter (title, date, source)."""
    for name, (title, published, source, paragraphs) in DATED.items():
        body = "\n\n".join(paragraphs)
        (folder / name).write_text(f"---\ntitle: {title}\ndate: {published}\nsource: {source}\n---\n\n{body}\n",
                                   encoding="utf-8")


@pytest.fixture
def corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The sample articles and the dated ones, indexed with the fake embedder; the `--index` flag."""
    articles = tmp_path / "articles"
    shutil.copytree(SEEDS, articles)
    write_dated_articles(articles)
    monkeypatch.setattr(qa.indexing.build, "make_embedder", lambda settings: HashEmbedder())
    monkeypatch.setattr(qa.answering.engine, "make_embedder", lambda settings: HashEmbedder())
    for name in ("QA_ARTICLES_DIR", "QA_INDEX_DIR", "QA_SINCE", "QA_UNTIL", "QA_SOURCE"):
        monkeypatch.delenv(name, raising=False)
    where = ["--articles", str(articles), "--index", str(tmp_path / "index")]
    assert main(["index", *where, "--json"]) == 0
    return where[2:]


def _start_day(iso: str) -> str:
    """The first day a JSON date may be: 2021 -> 2021-01-01, 2021-12 -> 2021-12-01."""
    return iso + "-01-01"[len(iso) - 4:] if len(iso) < 10 else iso


def _timeline(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, object]:
    capsys.readouterr()
    assert main(["timeline", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def test_qa_timeline_on_the_sample_and_dated_articles(corpus: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    data = _timeline(capsys, "Blinken Lavrov", *corpus)
    events = data["events"]
    assert isinstance(events, list) and len(events) >= 5
    days = [_start_day(e["date"]) for e in events]
    assert days == sorted(days)  # oldest first
    store = Store.open(Path(corpus[1]))
    for e in events:  # each cited, to the very sentence of its article
        assert e["citations"]
        for c in e["citations"]:
            article = store.article(c["article_id"])
            assert article is not None and c["title"] == article.title
        stated = [" ".join(store.article(c["article_id"]).text[c["start"]:c["end"]].split())  # type: ignore[union-attr]
                  for c in e["citations"]]
        assert e["text"] in stated
    by_text = {e["text"]: e for e in events}
    stockholm = by_text[STOCKHOLM]  # told by two outlets: one line, two sources, the older first
    assert [c["article_id"] for c in stockholm["citations"]] == ["wire-stockholm-1202.md", "coast-stockholm-1203.md"]
    assert (stockholm["date"], stockholm["precision"]) == ("2021-12-02", "week")
    geneva = next(e for e in events if e["text"].startswith("Antony Blinken and Sergei Lavrov met in Geneva"))
    assert (geneva["date"], geneva["precision"]) == ("2022-01-21", "day")
    assert {"date": "2021-12", "precision": "month"}.items() <= next(
        e for e in events if e["text"] == "The two ministers last met in Stockholm in December 2021.").items()
    # the sample articles have no publish date: their event sentences without a dated year are counted, not shown
    assert isinstance(data["undated"], int) and data["undated"] > 0
    assert not any(c["article_id"] in {p.name for p in SEEDS.iterdir()} for e in events for c in e["citations"])


def test_qa_timeline_since_until_and_text(corpus: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    data = _timeline(capsys, "Blinken Lavrov", *corpus, "--since", "2022-01-01")
    assert data["events"] and all(e["date"] >= "2022" for e in data["events"])  # type: ignore[union-attr]
    data = _timeline(capsys, "Blinken Lavrov", *corpus, "--until", "2021-12-31")
    assert data["events"] and all(e["date"] < "2022" for e in data["events"])  # type: ignore[union-attr]
    assert main(["timeline", "Blinken Lavrov", *corpus]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("Blinken Lavrov: ") and "dated events, oldest first" in lines[0]
    assert "event sentences without any date left out" in lines[0]
    assert any(re.match(r"2022-01-21 +Antony Blinken and Sergei Lavrov met in Geneva", line) for line in lines)
    assert any("[2] US and Russian ministers hold tense talks in Sweden (coast-stockholm-1203.md, 2021-12-03, "
               "Coast Herald; characters 0-" in line for line in lines)


def test_qa_timeline_errors_name_the_fix(corpus: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["timeline", "  ?! ", *corpus]) == 2
    assert 'type a topic in words, for example: qa timeline "port strike"' in capsys.readouterr().err
    assert main(["timeline", "Blinken", *corpus, "--since", "December"]) == 2
    assert "since must be a date like 2021-12-31" in capsys.readouterr().err
    assert main(["timeline", "Blinken", *corpus, "--passages", "0"]) == 2
    assert "--passages must be at least 1" in capsys.readouterr().err


def test_a_topic_the_archive_does_not_cover_has_no_events(corpus: list[str], capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    data = _timeline(capsys, "volcanic eruption Iceland", *corpus)
    assert data["events"] == []


@pytest.mark.slow
def test_timeline_with_the_real_embedder(tmp_path: Path) -> None:
    """The same story with the bundled MiniLM: the outlets' copies still merge, the order holds."""
    from qa.answering.engine import Engine
    from qa.config import load
    from qa.indexing.build import build_index

    articles = tmp_path / "articles"
    shutil.copytree(SEEDS, articles)
    write_dated_articles(articles)
    settings = load({}, articles_dir=articles, index_dir=tmp_path / "index", cache_dir=tmp_path / "cache")
    build_index(settings)
    timeline = Engine(settings).timeline("Blinken Lavrov")
    days = [e.when.day for e in timeline.events]
    assert days == sorted(days) and timeline.undated > 0
    stockholm = next(e for e in timeline.events if e.text == STOCKHOLM)
    assert [s.article_id for s in stockholm.sources] == ["wire-stockholm-1202.md", "coast-stockholm-1203.md"]
    assert any(e.when.iso() == "2022-01-21" and e.when.precision == "day" for e in timeline.events)
