"""The Timeline tab without a browser: its rendering (escaped), the plot's rows, and the handlers over an
index of the sample articles plus the dated ones of test_timeline.py (the hashing fake embedder)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import gradio as gr
import pytest

from qa.answering.engine import Engine
from qa.config import Settings
from qa.indexing.build import build_index
from qa.types import EventSource, Timeline, TimelineEvent, When
from web.handlers import ChatApp
from web.layout import build_ui
from web.render import events_between, render_timeline, timeline_frame, timeline_limits

from .fakes import HashEmbedder, ScriptedGenerator
from .test_timeline import STOCKHOLM, write_dated_articles

XSS = '<img src=x onerror="window.__pwned=1">'


def _event(day: date, text: str, *outlets: str, precision: str = "day") -> TimelineEvent:
    when = When(day, day, day, precision)
    sources = tuple(EventSource(f"{o}.md", f"{o} title {XSS}", 10 * k, 10 * k + len(text), text, when,
                                day.isoformat(), o) for k, o in enumerate(outlets))
    return TimelineEvent(when, text, sources)


def _timeline() -> Timeline:
    return Timeline(f"talks {XSS}", (
        _event(date(2021, 12, 2), f"They met in Stockholm {XSS}.", "Wire", "Coast"),
        _event(date(2022, 1, 21), "They met in Geneva.", "Post"),
    ), undated=4)


def test_the_timeline_list_is_escaped_and_links_each_source() -> None:
    html = render_timeline(_timeline(), selected=[1])
    assert "<img" not in html and "&lt;img" in html
    assert html.count('class="tl-event"') == 1 and html.count('class="tl-event selected"') == 1
    assert 'href="#tl-0-0"' in html and 'href="#tl-0-1"' in html and 'href="#tl-1-0"' in html
    assert ">Coast 2021-12-02</a>" in html and "2 dated events about" in html and "4 event sentences" in html
    assert "on or before the article's publish date" in html.replace("&#x27;", "'")  # the legend says what "by" means
    assert "Type a story" in render_timeline(None)
    assert "No dated event found" in render_timeline(Timeline("nothing", ()))


def test_the_plot_rows_and_the_brush() -> None:
    timeline = _timeline()
    frame = timeline_frame(timeline)
    assert list(frame.columns) == ["date", "outlets", "precision", "when", "event", "n"]
    assert frame["outlets"].tolist() == [2, 1] and frame["when"].tolist() == ["2021-12-02", "2022-01-21"]
    assert frame["n"].tolist() == [0, 1]  # each dot's event, for a click on it (static/app.js)
    for value in (frame, timeline_frame(None)):  # what Gradio sends to the page, empty or not
        data = gr.ScatterPlot(x="date", y="outlets").postprocess(value)
        assert data is not None and data.datatypes["date"] == "temporal"
    midnight = datetime(2021, 12, 2, tzinfo=UTC).timestamp()
    assert events_between(timeline, midnight - 3600, midnight + 3600) == [0]
    assert events_between(timeline, midnight + 86400 * 365, midnight) == [0, 1]  # either direction
    assert events_between(timeline, 0, 10) == []
    # the axes padded: no dot on the plot's edge, where a drag beside it would start outside the plot
    x_lim, y_lim = timeline_limits(timeline)
    geneva = datetime(2022, 1, 21, tzinfo=UTC).timestamp()
    assert x_lim is not None and x_lim[0] < midnight - 86400 and x_lim[1] > geneva + 86400
    assert y_lim == [0, 3]  # two outlets at most
    one_day = timeline_limits(Timeline("one", timeline.events[:1]))[0]
    assert one_day is not None and one_day[0] < midnight < one_day[1]
    assert timeline_limits(None) == (None, None) and timeline_limits(Timeline("nothing", ())) == (None, None)


@pytest.fixture
def app(settings: Settings, fake_embedder: HashEmbedder) -> ChatApp:
    write_dated_articles(settings.articles_dir)
    build_index(settings, embedder=fake_embedder)
    return ChatApp(Engine(settings, embedder=fake_embedder, generator=ScriptedGenerator([])), settings)


def _is_skip(value: Any) -> bool:
    return isinstance(value, dict) and value.get("__type__") == "update" and len(value) == 1


def test_show_timeline_then_open_an_event(app: ChatApp) -> None:
    timeline, listing, frame, viewer = app.show_timeline("Blinken Lavrov", "", "")
    assert isinstance(timeline, Timeline) and len(frame) == len(timeline.events) >= 5 and viewer == ""
    axes = app.timeline_axes(timeline)  # sent after the rows, never with them (Gradio 6 drops the rows)
    assert set(axes) == {"__type__", "x_lim", "y_lim"} and axes["x_lim"][0] < frame["date"].min().timestamp()
    assert app.timeline_axes(None) == {"__type__": "update", "x_lim": None, "y_lim": None}
    i = next(k for k, e in enumerate(timeline.events) if e.text == STOCKHOLM)
    assert f'href="#tl-{i}-1"' in listing  # the copy's outlet
    listing, viewer = app.on_timeline_bridge(f"tl-{i}-1:1700000000", timeline)
    assert f'id="tl-ev-{i}"' in listing and 'class="tl-event selected"' in listing
    assert 'id="cited-span"' in viewer and "US and Russian ministers hold tense talks in Sweden" in viewer
    assert f'<mark class="cited" id="cited-span">{STOCKHOLM}</mark>' in viewer
    for bad in ("tl-99-0", f"tl-{i}-9", "tl-0-0; rm", "cite-0-1", "", "tl--1-0"):
        assert all(_is_skip(x) for x in app.on_timeline_bridge(bad, timeline)), bad
    assert all(_is_skip(x) for x in app.on_timeline_bridge("tl-0-0", None))


def test_a_brush_on_the_plot_opens_the_events_it_covers(app: ChatApp) -> None:
    timeline, *_ = app.show_timeline("Blinken Lavrov", "", "")
    geneva = datetime(2022, 1, 21, tzinfo=UTC).timestamp()
    brush = gr.SelectData(None, {"index": [geneva - 86400, geneva + 3600], "value": [geneva - 86400, geneva]})
    listing, viewer = app.on_timeline_select(timeline, brush)
    picked = [i for i, e in enumerate(timeline.events) if e.when.day == date(2022, 1, 21)]
    assert picked and all(f'class="tl-event selected" id="tl-ev-{i}"' in listing for i in picked)
    assert "Blinken and Lavrov hold talks in Geneva" in viewer and 'id="cited-span"' in viewer
    empty = gr.SelectData(None, {"index": [0, 10], "value": [0, 10]})
    listing, viewer = app.on_timeline_select(timeline, empty)
    assert "selected" not in listing and _is_skip(viewer)
    assert all(_is_skip(x) for x in app.on_timeline_select(None, brush))


def test_timeline_errors_are_shown_not_raised(app: ChatApp) -> None:
    timeline, listing, frame, _ = app.show_timeline("  ", "", "")
    assert timeline is None and "error-box" in listing and "type a topic in words" in listing and len(frame) == 0
    timeline, listing, _, _ = app.show_timeline("Blinken", "last Tuesday", "")
    assert timeline is None and "since must be a date like 2021-12-31" in listing
    timeline, listing, _, _ = app.show_timeline("Blinken Lavrov", "2022-01-01", "2022-01-31")
    assert timeline is not None and timeline.events
    assert all(e.when.end >= date(2022, 1, 1) for e in timeline.events)


def test_the_page_has_the_timeline_tab_and_keeps_ask_the_only_api(app: ChatApp, tmp_path: Path) -> None:
    from web import layout, server

    demo = build_ui(app)
    ids = {c.get("props", {}).get("elem_id") for c in demo.config["components"]}
    assert {"timeline-topic", "timeline-since", "timeline-until", "timeline-btn", "timeline-plot", "timeline-list",
            "timeline-viewer", "timeline-bridge"} <= ids
    assert list(demo.get_api_info()["named_endpoints"]) == ["/ask"]
    assert "a[href^=\"#tl-\"]" in server.JS and "#timeline-bridge" in server.JS
    assert "#timeline-plot g.mark-symbol.role-mark path" in server.JS  # a click on a dot, to the bridge
    assert "#timeline-viewer #cited-span" in layout.TIMELINE_JS and ".tl-event" in server.CSS
