"""HTML for the chat app: answers with citation links, the sources panel, articles, the library, timelines.

Pure functions of the qa types (unit-tested without models or a browser). Everything shown from an
article (titles, passages, whole texts) or from the model is HTML-escaped here, whatever Gradio
sanitises after us.
"""

import html
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from qa.answering.engine import UNGROUNDED
from qa.types import PRECISIONS, AddSummary, Answer, Article, BuildSummary, Citation, Hit, Timeline, TimelineEvent

LIBRARY_ROWS = 1000  # rows of the library table shown at once


def esc(text: str | None) -> str:
    """HTML-escape text from an article or the model (quotes too: it also goes into attributes)."""
    return html.escape(text or "", quote=True)


def esc_md(text: str) -> str:
    """Escape for a chat message that Gradio renders as Markdown: HTML, and the brackets that
    would turn text from an article or the model into Markdown links or images."""
    return esc(text).replace("[", "&#91;").replace("]", "&#93;")


def safe_url(url: str | None) -> str | None:
    """Only http(s) links are ever rendered (no javascript: or data: URLs)."""
    if url and re.match(r"^https?://[^\s\"'<>]+$", url.strip(), re.IGNORECASE):
        return url.strip()
    return None


def _meta_line(published: str | None, source: str | None, url: str | None) -> list[str]:
    parts = []
    if published:
        parts.append(esc(published[:10]))
    link = safe_url(url)
    if link:
        label = source or re.sub(r"^https?://(www\.)?", "", link).split("/")[0]
        parts.append(f'<a href="{esc(link)}" target="_blank" rel="noopener noreferrer">{esc(label)}</a>')
    elif source:
        parts.append(esc(source))
    return parts


def highlight(text: str, spans: Sequence[tuple[int, int]], offset: int = 0, first_id: str = "") -> str:
    """`text` escaped, with the spans (offsets relative to `offset`) wrapped in <mark>."""
    out, pos = [], 0
    cleaned = sorted((max(0, a - offset), min(len(text), b - offset)) for a, b in spans)
    for i, (a, b) in enumerate(cleaned):
        if b <= a or a < pos:
            continue
        mark_id = f' id="{first_id}"' if first_id and i == 0 else ""
        out += [esc(text[pos:a]), f'<mark class="cited"{mark_id}>', esc(text[a:b]), "</mark>"]
        pos = b
    out.append(esc(text[pos:]))
    return "".join(out)


def by_number(answer: Answer) -> dict[int, list[Citation]]:
    found: dict[int, list[Citation]] = {}
    for c in answer.citations:
        found.setdefault(c.n, []).append(c)
    return found


def cite_link(k: int, n: int, citations: Sequence[Citation]) -> str:
    """A small numbered link to citation n of answer k; its tooltip shows the source."""
    first = citations[0]
    classes = ["cite"]
    note = ""
    if not any(c.supported for c in citations):
        classes.append("unsupported")
        note = " (not supported by this passage)"
    if all(c.posthoc for c in citations):
        classes.append("posthoc")
    tip = f"[{n}] {first.title}{note}: {first.snippet}"[:300]
    return (f'<a class="{" ".join(classes)}" href="#cite-{k}-{n}" data-n="{n}" '
            f'title="{esc_md(tip)}">&#91;{n}&#93;</a>')


def render_answer(answer: Answer, k: int) -> str:
    """The answer as a chat message: its sentences escaped, each source a sentence cites a citation link
    (flagged when unsupported or post-hoc); a number no citation has stays text."""
    by_n = by_number(answer)

    def link(n: int) -> str:
        return f"<sup>{cite_link(k, n, by_n[n])}</sup>" if n in by_n else esc_md(f"[{n}]")

    out = answer.render(link, esc_md)
    if not answer.grounded:
        out += f'\n\n<span class="ungrounded">⚠ {esc(UNGROUNDED)}</span>'
    return out


def _passage(c: Citation, answer: Answer) -> tuple[str, int]:
    """The cited passage text and its offset in the article (the snippet alone as a fallback)."""
    for h in (*answer.sources, *answer.hits):
        if h.chunk.id == c.chunk_id:
            return h.chunk.text, h.chunk.start
    return c.snippet, c.snippet_start


def _score(hit: Hit | None, score: float) -> str:
    if hit is not None and hit.dense is not None:
        return f"retrieval score {score:.3f} · similarity {hit.dense:.2f}"
    return f"retrieval score {score:.3f}"


def render_source_card(k: int, n: int, citations: Sequence[Citation], answer: Answer,
                       selected: bool = False) -> str:
    """One cited source: title, date, site, score, the passage with its supporting sentence(s) marked,
    the claims it was cited for (flagged when not supported), and an "open article" link."""
    c = citations[0]
    hit = next((h for h in (*answer.sources, *answer.hits) if h.chunk.id == c.chunk_id), None)
    passage, offset = _passage(c, answer)
    spans = [(x.snippet_start, x.snippet_end) for x in citations if x.chunk_id == c.chunk_id]
    supported = any(x.supported for x in citations)
    classes = ["src-card"] + (["selected"] if selected else []) + ([] if supported else ["unsupported"])
    meta = [*_meta_line(c.published, hit.source if hit else None, c.url), esc(_score(hit, c.score))]
    if c.also:  # syndicated copies of the same story, grouped at index time
        meta.append("also carried by " + esc(", ".join(c.also)))
    flags = []
    if not supported:
        flags.append('<span class="flag bad">not supported by this passage</span>')
    if all(x.posthoc for x in citations):
        flags.append('<span class="flag posthoc">post-hoc: added by the support check, '
                     'the model did not cite it</span>')
    claims = []
    for x in citations:
        verdict = (f'<span class="ok">supported ({x.support:.2f})</span>' if x.supported else
                   f'<span class="bad">not supported by this passage ({x.support:.2f})</span>')
        label = " · post-hoc" if x.posthoc else ""
        claims.append(f"<li>“{esc(x.sentence)}” — {verdict}{label}</li>")
    return (f'<div class="{" ".join(classes)}" id="src-{k}-{n}">'
            f'<div class="src-head"><span class="src-n">[{n}]</span> {esc(c.title)}</div>'
            f'<div class="src-meta">{" · ".join(meta)}</div>'
            f'{"".join(flags)}'
            f'<blockquote class="src-passage">{highlight(passage, spans, offset)}</blockquote>'
            f'<ul class="src-claims">{"".join(claims)}</ul>'
            f'<a class="open-article" href="#open-{k}-{n}">open article ›</a>'
            "</div>")


def closest_articles(hits: Sequence[Hit]) -> list[tuple[int, Hit]]:
    """The best hit of each article, in rank order, with its index in `hits`."""
    seen: set[str] = set()
    out = []
    for i, h in enumerate(hits):
        if h.chunk.article_id not in seen:
            seen.add(h.chunk.article_id)
            out.append((i, h))
    return out


def render_closest(k: int, hits: Sequence[Hit]) -> str:
    cards = []
    for i, h in closest_articles(hits):
        excerpt = h.chunk.text if len(h.chunk.text) <= 400 else h.chunk.text[:400] + "…"
        meta = [*_meta_line(h.published, h.source, h.url), esc(_score(h, h.score))]
        cards.append(f'<div class="src-card closest" id="hit-{k}-{i}">'
                     f'<div class="src-head">{esc(h.title)}</div>'
                     f'<div class="src-meta">{" · ".join(meta)}</div>'
                     f'<blockquote class="src-passage">{esc(excerpt)}</blockquote>'
                     f'<a class="open-article" href="#hit-{k}-{i}">open article ›</a></div>')
    if not cards:
        return '<p class="muted">No article came close.</p>'
    return "".join(cards)


def render_sources(answer: Answer | None, k: int, selected: int | None = None) -> str:
    """The sources panel for answer k: a card per cited source, or the closest articles of a refusal."""
    if answer is None:
        return ('<div class="sources-empty">Sources of the latest answer appear here. '
                "Click a citation such as <b>[1]</b> in an answer to see its passage.</div>")
    t = answer.timings
    timing = f"retrieval {t.retrieval_ms:.0f} ms"
    if t.ttft_ms is not None:
        timing += f" · first token {t.ttft_ms / 1000:.1f} s"
    timing += f" · total {t.total_ms / 1000:.1f} s"
    head = f'<div class="sources-head">Answer {k + 1} · {esc(timing)}</div>'
    if not answer.citations:
        why = ("No answer: the articles do not cover this question." if answer.refused else
               "The answer cites no source: check it against the closest articles.")
        return (f'{head}<div class="refused">{why} The closest articles were:</div>'
                f"{render_closest(k, answer.hits)}")
    if answer.refused:  # the passages quoted as what the articles say nearby
        head += '<div class="refused">No answer: no source states it. The passages closest to the question:</div>'
    by_n = by_number(answer)
    cards = [render_source_card(k, n, by_n[n], answer, selected == n) for n in sorted(by_n)]
    return head + "".join(cards)


def render_article(article: Article, passage: tuple[int, int] | None = None,
                   snippet: tuple[int, int] | None = None, note: str = "") -> str:
    """The whole cleaned article, the cited passage shaded and its supporting sentence marked."""
    text = article.text
    meta = " · ".join([*_meta_line(article.published, article.source, article.url), esc(article.id)])
    if snippet and passage and passage[0] <= snippet[0] <= snippet[1] <= passage[1] <= len(text):
        ps, pe = passage
        body = (esc(text[:ps]) + '<span class="passage">'
                + highlight(text[ps:pe], [snippet], ps, first_id="cited-span") + "</span>" + esc(text[pe:]))
    elif snippet:
        body = highlight(text, [snippet], first_id="cited-span")
    else:
        body = esc(text)
    note_html = f'<div class="viewer-note">{esc(note)}</div>' if note else ""
    return (f'<div class="article-view"><div class="article-title">{esc(article.title)}</div>'
            f'<div class="src-meta">{meta}</div>{note_html}<div class="article-text">{body}</div></div>')


def render_library(infos: Sequence[Any]) -> str:
    """The indexed articles as an HTML table (every cell escaped)."""
    if not infos:
        return '<p class="muted">The index holds no article yet: upload some, then update the index.</p>'
    rows = []
    for a in infos[:LIBRARY_ROWS]:
        link = safe_url(a.url)
        site = esc(a.source or (re.sub(r"^https?://(www\.)?", "", link).split("/")[0] if link else ""))
        group = esc(a.group_id) if a.group_id and a.group_id != a.id else ("lead" if a.group_id else "")
        rows.append(f"<tr><td>{esc(a.title)}</td><td>{esc((a.published or '')[:10])}</td><td>{site}</td>"
                    f"<td class='num'>{a.chunks}</td><td class='muted'>{group}</td>"
                    f"<td class='muted'>{esc(a.id)}</td></tr>")
    more = (f'<p class="muted">Showing the first {LIBRARY_ROWS} of {len(infos)} articles.</p>'
            if len(infos) > LIBRARY_ROWS else "")
    return ('<table class="library"><thead><tr><th>Title</th><th>Date</th><th>Site</th><th>Chunks</th>'
            '<th title="near-duplicate (syndicated) copy of">Copy of</th>'
            f"<th>File</th></tr></thead><tbody>{''.join(rows)}</tbody></table>{more}")


def render_summary(summary: BuildSummary, rebuild: bool) -> str:
    kind = "Rebuilt" if rebuild else "Updated"
    lines = [f"<b>{kind} the index</b> in {summary.seconds:.1f} s: {summary.articles} articles, "
             f"{summary.chunks} chunks ({esc(summary.generation)}).",
             f"Added {summary.added}, updated {summary.updated}, removed {summary.removed}, "
             f"unchanged {summary.unchanged}; embedded {summary.embedded_chunks} passages; "
             f"skipped {len(summary.skipped)}."]
    skipped = "".join(f"<li>{esc(s.path)}: {esc(s.reason)}</li>" for s in summary.skipped)
    return ('<div class="build-summary">' + "<br>".join(lines)
            + (f"<ul>{skipped}</ul>" if skipped else "") + "</div>")


def render_feeds(feeds: Sequence[str]) -> str:
    """The user's feeds, numbered as `qa feeds list` numbers them (links only for http(s) URLs)."""
    if not feeds:
        return ('<p class="muted">No feeds yet: paste an RSS or Atom URL below and click <b>Add feed</b>, '
                "or run <code>qa feeds add URL</code>.</p>")
    items = []
    for url in feeds:
        link = safe_url(url)
        shown = f'<a href="{esc(link)}" target="_blank" rel="noopener noreferrer">{esc(url)}</a>' if link else esc(url)
        items.append(f"<li>{shown}</li>")
    return f'<ol class="feeds">{"".join(items)}</ol>'


def render_add_summary(summary: AddSummary) -> str:
    """What a fetch did: new articles, already saved, each failure with its reason, then the index build."""
    head = (f"<b>Fetched</b> in {summary.seconds:.1f} s: {len(summary.added)} new, "
            f"{len(summary.already)} already saved, {len(summary.failed)} failed.")
    added = "".join(f'<li class="ok">{esc(a.title)} <span class="muted">({esc(a.path)})</span></li>'
                    for a in summary.added)
    failed = "".join(f'<li class="bad">{esc(f.url)}: {esc(f.reason)}</li>' for f in summary.failed)
    lists = "".join(f"<ul>{items}</ul>" for items in (added, failed) if items)
    if summary.index is not None:
        index = render_summary(summary.index, False)
    elif summary.index_error:
        index = render_error(summary.index_error)
    else:
        index = '<div class="muted">Nothing new to index.</div>'
    return f'<div class="fetch-summary">{head}{lists}</div>{index}'


def render_error(message: str) -> str:
    return f'<div class="error-box">{esc(message)}</div>'



# --- timelines ---------------------------------------------------------------------------------------

# What each precision of a date means, for the legend under a timeline.
PRECISION_NOTES = {
    "day": "the day the sentence names",
    "week": "a weekday or a week the sentence names, counted from the publish date",
    "month": "the month the sentence names",
    "year": "the year the sentence names",
    "published": "no date in the sentence: on or before the article's publish date",
}
# One colour per precision on the plot, fainter as the date gets vaguer.
PRECISION_COLOURS = {"day": "#1f5fbf", "week": "#4c8fe0", "month": "#8a6fd1", "year": "#b07cc6",
                     "published": "#9a9a9a"}
# "n" is the event's place in the timeline: a click on a dot sends it to the bridge (static/app.js)
PLOT_COLUMNS = ("date", "outlets", "precision", "when", "event", "n")


def _sources_line(i: int, event: TimelineEvent) -> str:
    """A link per outlet that states the event: each opens its article with the sentence marked."""
    links = []
    for j, s in enumerate(event.sources):
        name = s.source or s.article_id
        day = f" {s.published[:10]}" if s.published else ""
        links.append(f'<a class="tl-src" href="#tl-{i}-{j}" title="{esc(s.title)}">{esc(name)}{esc(day)}</a>')
    return " · ".join(links)


def render_timeline(timeline: Timeline | None, selected: Sequence[int] = ()) -> str:
    """The events, oldest first, one line each: the date at its precision, the sentence (a link that
    opens its first source, the sentence marked), and a link per outlet that states it. `selected`
    events are marked (picked on the plot or clicked)."""
    if timeline is None:
        return ('<div class="muted">Type a story in a few words (for example <b>port strike</b>) to see its dated '
                "events across the articles, oldest first, each with its sources.</div>")
    left = (f" · {timeline.undated} event sentences without any date left out (undated articles)"
            if timeline.undated else "")
    head = (f'<div class="tl-head">{len(timeline.events)} dated events about “{esc(timeline.topic)}”, '
            f"oldest first{esc(left)}</div>")
    if not timeline.events:
        return head + '<p class="muted">No dated event found: try other words, or a wider date range.</p>'
    items = []
    for i, e in enumerate(timeline.events):
        classes = "tl-event selected" if i in selected else "tl-event"
        items.append(f'<li class="{classes}" id="tl-ev-{i}" data-precision="{esc(e.when.precision)}">'
                     f'<span class="tl-when" title="{esc(PRECISION_NOTES[e.when.precision])}">'
                     f"{esc(e.when.label())}</span> "
                     f'<a class="tl-text" href="#tl-{i}-0">{esc(e.text)}</a> '
                     f'<span class="tl-sources">{_sources_line(i, e)}</span></li>')
    legend = " · ".join(f"<b>{esc(p)}</b>: {esc(n)}" for p, n in PRECISION_NOTES.items())
    return f'{head}<ol class="timeline">{"".join(items)}</ol><div class="tl-legend muted">{legend}</div>'


def timeline_frame(timeline: Timeline | None) -> Any:
    """The events as the plot's rows (a pandas DataFrame): x the day each is placed at, y the number of
    outlets that state it, coloured by the date's precision; the tooltip shows the date and the sentence;
    n, the event's index in the timeline, is not shown but travels with each dot for a click on it."""
    import pandas as pd  # local: only the app's timeline plot needs it

    events = timeline.events if timeline else ()
    return pd.DataFrame({
        "date": pd.to_datetime(pd.Series([e.when.day.isoformat() for e in events], dtype="object")),
        "outlets": pd.Series([len(e.sources) for e in events], dtype="int64"),
        "precision": pd.Series([e.when.precision for e in events], dtype="object"),
        "when": pd.Series([e.when.label() for e in events], dtype="object"),
        "event": pd.Series([e.text if len(e.text) <= 140 else e.text[:140] + "…" for e in events],
                           dtype="object"),
        "n": pd.Series(range(len(events)), dtype="int64"),
    }, columns=list(PLOT_COLUMNS))


def timeline_limits(timeline: Timeline | None) -> tuple[list[float] | None, list[float] | None]:
    """The plot's axes (x in seconds since 1970, as Gradio takes a time axis's limits; y in outlets),
    padded so that no dot sits on the plot's edge: Gradio's plot fits the axes to the data, which puts
    the first and last events on the left and right borders, half clipped, where a drag that starts
    beside them begins outside the plot and is ignored (a brush starts only inside it). None: fit."""
    if timeline is None or not timeline.events:
        return None, None
    days = [plot_seconds(e.when.day) for e in timeline.events]
    low, high = min(days), max(days)
    pad = max((high - low) * 0.04, 2 * 86400.0)
    return [low - pad, high + pad], [0.0, max(len(e.sources) for e in timeline.events) + 1.0]


def events_between(timeline: Timeline, low: float, high: float) -> list[int]:
    """The events a brush on the plot covers: `low` and `high` are its ends on the time axis, in seconds
    since 1970 (UTC), as the plot reports them."""
    low, high = min(low, high), max(low, high)
    return [i for i, e in enumerate(timeline.events) if low <= plot_seconds(e.when.day) <= high]


def plot_seconds(day: date) -> float:
    """Where a day sits on the plot's time axis: its midnight (UTC), in seconds since 1970, the unit in
    which Gradio takes a time axis's limits and reports a brush."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


def precision_colours() -> dict[str, str]:
    return {p: PRECISION_COLOURS[p] for p in PRECISIONS}
