"""The Timeline tab as a user drives it: `python app.py` (the real bundled models) on the sample articles
plus the dated ones of test_timeline.py, and Debian's Chromium driven by Playwright.

Slow (the index and the timeline embed with the real model) and a browser test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page

from .live import App, Corpus, copy_seed_articles, qa_index, running_app
from .test_timeline import write_dated_articles

pytestmark = [pytest.mark.slow, pytest.mark.browser]

TIMELINE_MS = 300_000  # the first timeline loads the embedder while the LLM loads beside it on 2 cores


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    base = tmp_path_factory.mktemp("timeline-app")
    articles = copy_seed_articles(base / "articles")
    write_dated_articles(articles)
    corpus = Corpus(articles, base / "index")
    qa_index(corpus)
    with running_app(corpus, base / "app.log") as app:
        yield app


def _show(page: Page, topic: str) -> int:
    """Type a story in the Timeline tab, show it, wait for its events; returns how many there are."""
    page.get_by_role("tab", name="Timeline").click()
    page.locator("#timeline-topic").locator("textarea, input").first.fill(topic)
    page.click("#timeline-btn")
    page.wait_for_selector("#timeline-list .tl-event, #timeline-list .error-box", timeout=TIMELINE_MS)
    assert not page.locator("#timeline-list .error-box").count(), page.inner_text("#timeline-list")
    return page.locator("#timeline-list .tl-event").count()


def test_the_timeline_lists_plots_and_opens_each_source(page: Page) -> None:
    n = _show(page, "Blinken Lavrov")
    assert n >= 5
    assert "oldest first" in page.inner_text("#timeline-list .tl-head")
    # the plot draws one dot per event on a time axis (Vega renders SVG in Gradio's native plots; the
    # legend's symbols are role-legend-symbol, the data's role-mark)
    dots = page.locator("#timeline-plot svg g.mark-symbol.role-mark path")
    dots.first.wait_for(state="attached")
    assert dots.count() == n
    # the event two outlets carried: one line, two sources
    stockholm = page.locator("#timeline-list .tl-event", has_text="met Russian Foreign Minister Sergei Lavrov")
    assert stockholm.count() == 1
    sources = stockholm.locator("a.tl-src")
    assert sources.count() == 2 and "Northern Wire" in sources.nth(0).inner_text()
    # a click on the sentence opens its first source, the sentence marked and scrolled into view
    stockholm.locator("a.tl-text").click()
    cited = page.locator("#timeline-viewer mark#cited-span")
    cited.wait_for(state="visible")
    assert "Stockholm" in cited.inner_text()
    assert "Blinken and Lavrov meet in Stockholm" in page.inner_text("#timeline-viewer .article-title")
    page.wait_for_selector("#timeline-list .tl-event.selected")
    page.wait_for_function("""() => {  // scrolled into view, inside the article box and the page
        const m = document.querySelector('#timeline-viewer mark#cited-span').getBoundingClientRect();
        const box = document.querySelector('#timeline-viewer .article-text').getBoundingClientRect();
        return m.top >= Math.max(0, box.top) && m.top <= Math.min(window.innerHeight, box.bottom); }""",
                           timeout=10_000)
    # the second outlet's link opens the copy, the same sentence marked there
    sources.nth(1).click()
    page.wait_for_selector("#timeline-viewer .article-title:has-text('US and Russian ministers hold tense talks')")
    assert "Stockholm" in page.inner_text("#timeline-viewer mark#cited-span")


DOTS = "#timeline-plot svg g.mark-symbol.role-mark path"


def _plot_drawn(page: Page, n: int) -> None:
    """Wait until the plot draws the n events inside its frame: the axes, padded so that no dot sits on
    an edge, arrive just after the rows and redraw the plot."""
    page.wait_for_function("""([selector, n]) => {
        const dots = Array.from(document.querySelectorAll(selector));
        const frame = document.querySelector('#timeline-plot svg g.role-frame > g > path.background');
        if (dots.length !== n || !frame) return false;
        const f = frame.getBoundingClientRect();
        return dots.every((d) => { const r = d.getBoundingClientRect(), x = r.left + r.width / 2;
            return x > f.left + 8 && x < f.right - 8; }); }""", arg=[DOTS, n], timeout=30_000)


def _clickable_dots(page: Page) -> list[tuple[int, int]]:
    """(index among the plot's dots, index of its event in the list) of each dot that is on top at its
    centre: dots of events on the same day with as many outlets are drawn over each other, and a click
    reaches the one on top. Each dot carries its row, and the row its event's index ("n")."""
    pairs = page.evaluate("""(selector) => Array.from(document.querySelectorAll(selector)).map((p, k) => {
        const r = p.getBoundingClientRect();
        const top = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
        return top === p && p.__data__ && p.__data__.datum ? [k, p.__data__.datum.n] : null; })
        .filter((pair) => pair !== null)""", DOTS)
    return [(int(k), int(i)) for k, i in pairs]


def _drag_across(page: Page) -> None:
    """A mouse drag over every dot. Gradio's plots report a dragged stretch of the time axis (a brush),
    from a drag that starts inside the plot: here beside the first dot, which the padded axis keeps off
    the plot's edge."""
    box = page.locator("#timeline-plot svg g.mark-symbol.role-mark").first.bounding_box()
    assert box is not None
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] - 8, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2, y, steps=8)
    page.mouse.move(box["x"] + box["width"] + 8, y, steps=8)
    page.mouse.up()


def test_a_drag_across_the_plot_opens_the_events_it_covers(page: Page) -> None:
    n = _show(page, "Blinken Lavrov")
    _plot_drawn(page, n)
    _drag_across(page)
    page.wait_for_selector("#timeline-list .tl-event.selected", timeout=30_000)
    assert page.locator("#timeline-list .tl-event.selected").count() == n  # the whole axis: every event
    page.locator("#timeline-viewer mark#cited-span").wait_for(state="visible")
    first = page.inner_text("#timeline-list .tl-event.selected >> nth=0")
    assert page.inner_text("#timeline-viewer mark#cited-span") in first


def test_a_click_on_a_dot_opens_its_event(page: Page) -> None:
    n = _show(page, "Blinken Lavrov")
    _plot_drawn(page, n)
    dots = _clickable_dots(page)
    assert len(dots) >= 2

    def opens(k: int, i: int) -> None:
        dot = page.locator(DOTS).nth(k).bounding_box()  # by the mouse: after a drag the brush lies over it
        assert dot is not None
        page.mouse.click(dot["x"] + dot["width"] / 2, dot["y"] + dot["height"] / 2)
        page.wait_for_function("""(i) => { const s = document.querySelectorAll('#timeline-list .tl-event.selected');
            return s.length === 1 && s[0].id === 'tl-ev-' + i; }""", arg=i, timeout=30_000)
        page.locator("#timeline-viewer mark#cited-span").wait_for(state="visible")
        page.wait_for_function("""(i) => { const m = document.querySelector('#timeline-viewer mark#cited-span');
            const line = document.querySelector('#tl-ev-' + i + ' a.tl-text');
            return m && line && line.innerText.includes(m.innerText.trim()); }""", arg=i, timeout=30_000)
        # the page then scrolls to the marked sentence (static/timeline.js): the plot moves with it
        page.wait_for_function("""() => { const m = document.querySelector('#timeline-viewer mark#cited-span');
            const top = m.getBoundingClientRect().top; return top >= 0 && top <= window.innerHeight; }""",
                               timeout=10_000)
        page.wait_for_timeout(300)  # the scroll runs 50 ms after the article arrives
        page.locator("#timeline-plot").scroll_into_view_if_needed()

    first_k, first_i = dots[0]
    opens(first_k, first_i)
    # after a drag marks every event, a click on one dot (inside the brush) marks that one alone
    _drag_across(page)
    page.wait_for_function(f"() => document.querySelectorAll('#timeline-list .tl-event.selected').length === {n}",
                           timeout=30_000)
    last_k, last_i = dots[-1]
    opens(last_k, last_i)
    page.wait_for_timeout(1500)  # nothing from the brush comes after: the one event stays marked alone
    assert page.locator("#timeline-list .tl-event.selected").count() == 1


def test_a_date_range_narrows_the_timeline_and_a_bad_one_says_why(page: Page) -> None:
    everything = _show(page, "Blinken Lavrov")
    page.locator("#timeline-since").locator("textarea, input").first.fill("2022-01-01")
    page.click("#timeline-btn")
    page.wait_for_function(f"""() => document.querySelectorAll('#timeline-list .tl-event').length > 0 &&
        document.querySelectorAll('#timeline-list .tl-event').length < {everything}""", timeout=TIMELINE_MS)
    assert "Geneva" in page.inner_text("#timeline-list")
    assert "Stockholm on Thursday" not in page.inner_text("#timeline-list")
    page.locator("#timeline-since").locator("textarea, input").first.fill("last Tuesday")
    page.click("#timeline-btn")
    page.wait_for_selector("#timeline-list .error-box:has-text('since must be a date')", timeout=TIMELINE_MS)
