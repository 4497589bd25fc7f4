"""The browser chat app: `python app.py` (or `qa serve`) serves it on QA_HOST:QA_PORT.

Thin by design: the UI layout, HTML rendering helpers and upload checks live here; every
answer comes from `qa.answer.Engine` and every index build from `qa.build.build_index`.
Everything shown from an article (titles, passages, whole texts) or from the model is
HTML-escaped here, whatever Gradio sanitises after us.
"""

import html
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import gradio as gr

from qa import config
from qa.answer import UNGROUNDED, Done, Engine, Status, Token
from qa.cite import MARKER, parse_markers
from qa.config import Settings
from qa.console import ensure_index
from qa.errors import QAError
from qa.ingest import SUFFIXES
from qa.types import Answer, Article, BuildSummary, Citation, Hit, Turn, parse_history

log = logging.getLogger("qa.app")

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
EXAMPLES = [
    "Where did Blinken and Lavrov meet on December 2?",
    "How long does it now take for US military assistance to be sent after a request from Kyiv?",
    "Which two Americans detained in Russia did the US make a proposal to free?",
]
MAX_NAME = 200  # characters in an uploaded file name
LIBRARY_ROWS = 1000  # rows of the library table shown at once
STAGES = {"chunk": "Reading and chunking articles", "embed": "Embedding passages",
          "write": "Writing the index"}
BRIDGE = re.compile(r"^(cite|open|hit)-(\d{1,6})-(\d{1,6})(?::\d{1,20})?$")


# --- HTML rendering (pure functions: unit-tested without models) ---------------------------------

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


def _by_number(answer: Answer) -> dict[int, list[Citation]]:
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
    """The answer as a chat message: escaped, with [n] markers turned into citation links.
    Post-hoc citations (added by the support check) get a link after their sentence."""
    by_n = _by_number(answer)
    text = answer.text
    edits: list[tuple[int, int, str]] = []
    for m in MARKER.finditer(text):
        numbers = [n for n in parse_markers(m.group(0), max(by_n, default=0)) if n in by_n]
        if numbers:
            links = "".join(cite_link(k, n, by_n[n]) for n in numbers)
            edits.append((m.start(), m.end(), f"<sup>{links}</sup>"))
    for n, cites in by_n.items():
        for c in cites:
            if c.posthoc and c.sentence:
                at = text.find(c.sentence)
                if at >= 0:
                    end = at + len(c.sentence)
                    edits.append((end, end, f"<sup>{cite_link(k, n, [c])}</sup>"))
    out, pos = [], 0
    for start, end, piece in sorted(edits, key=lambda e: (e[0], e[1])):
        if start < pos:
            continue
        out += [esc_md(text[pos:start]), piece]
        pos = end
    out.append(esc_md(text[pos:]))
    if not answer.grounded:
        out.append(f'\n\n<span class="ungrounded">⚠ {esc(UNGROUNDED)}</span>')
    return "".join(out)


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
    by_n = _by_number(answer)
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


def render_error(message: str) -> str:
    return f'<div class="error-box">{esc(message)}</div>'


# --- uploads -------------------------------------------------------------------------------------

def check_upload(name: str, size: int, max_file_mb: float, suffixes: Sequence[str]) -> str | None:
    """Why an uploaded file name/size is refused, or None when it may be saved as is."""
    if "\x00" in name:
        return "the name contains a NUL character"
    if not name.strip():
        return "the name is empty"
    if "/" in name or "\\" in name:
        return "the name contains a folder (only a plain file name is accepted)"
    if ".." in name:
        return "the name contains '..'"
    if name.startswith("."):
        return "hidden files (a name starting with '.') are not accepted"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        return "the name contains control characters"
    if len(name) > MAX_NAME:
        return f"the name is longer than {MAX_NAME} characters"
    suffix = Path(name).suffix.lower()
    if suffix not in suffixes:
        return f"{suffix or 'no extension'} is not an article format; allowed: {', '.join(suffixes)}"
    if size > max_file_mb * 2**20:
        return f"{size / 2**20:.1f} MB is over the {max_file_mb:g} MB limit (QA_MAX_FILE_MB)"
    return None


def save_upload(source: Path, name: str, articles_dir: Path, max_file_mb: float,
                suffixes: Sequence[str] | None = None) -> tuple[bool, str]:
    """Copy an uploaded file into the articles folder under its checked name: (saved?, message)."""
    suffixes = tuple(suffixes or SUFFIXES)
    try:
        size = source.stat().st_size
    except OSError as exc:
        return False, f"{name}: cannot read the upload ({exc.strerror})"
    reason = check_upload(name, size, max_file_mb, suffixes)
    if reason:
        return False, f"{name}: refused, {reason}"
    folder = articles_dir.resolve()
    target = folder / name
    if target.parent != folder:  # belt and braces: never write outside the folder
        return False, f"{name}: refused, it would land outside {articles_dir}"
    existed = target.exists()
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".upload-{os.getpid()}-{threading.get_ident()}.tmp"
    try:
        with source.open("rb") as src, tmp.open("wb") as out:
            while block := src.read(1 << 20):
                out.write(block)
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        return False, f"{name}: could not be saved ({exc.strerror})"
    return True, f"{name}: {'replaced' if existed else 'added'} ({size / 1024:.1f} KB)"


# --- conversation state --------------------------------------------------------------------------

@dataclass(frozen=True)
class Exchange:
    """One question and what came back: an Answer, an error, or a stopped partial answer."""

    question: str
    text: str = ""
    answer: Answer | None = None
    error: str = ""


def history_of(convo: Sequence[Exchange]) -> list[Turn]:
    """Completed exchanges as Turns for the Engine (errors and stopped answers left out)."""
    turns: list[Turn] = []
    for ex in convo:
        if ex.answer is not None:
            turns += [Turn("user", ex.question), Turn("assistant", ex.answer.text)]
    return turns


def message_of(ex: Exchange, k: int) -> str:
    if ex.answer is not None:
        return render_answer(ex.answer, k)
    if ex.error:
        return f'<span class="chat-error">{esc_md(ex.error)}</span>'
    if ex.text:
        return esc_md(ex.text) + " <em>(stopped)</em>"
    return "<em>(stopped)</em>"


# The model's words stream in as a draft: the answer shown at the end is the one checked against the sources.
DRAFT = '<span class="draft">Draft, checked against the sources when complete:</span> '


def chat_messages(convo: Sequence[Exchange], pending: str | None = None) -> list[dict[str, str]]:
    """The Chatbot value (messages format). `pending` replaces the last assistant message."""
    messages: list[dict[str, str]] = []
    for k, ex in enumerate(convo):
        if ex.question:
            messages.append({"role": "user", "content": esc_md(ex.question)})
        last = k == len(convo) - 1
        messages.append({"role": "assistant",
                         "content": pending if last and pending is not None else message_of(ex, k)})
    return messages


def citation_of(convo: Sequence[Exchange], k: int, n: int) -> Citation | None:
    if 0 <= k < len(convo) and convo[k].answer is not None:
        return next((c for c in convo[k].answer.citations if c.n == n), None)
    return None


def cited_choices(answer: Answer | None) -> list[tuple[str, str]]:
    """Dropdown choices for the article viewer: one per cited source number."""
    if answer is None:
        return []
    by_n = _by_number(answer)
    return [(f"[{n}] {cs[0].title}", str(n)) for n, cs in sorted(by_n.items())]


# --- the app -------------------------------------------------------------------------------------

CSS = """
.src-card { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 8px 10px;
            margin: 0 0 8px 0; background: var(--background-fill-primary); scroll-margin: 12px; }
.src-card.selected { border: 2px solid var(--color-accent); box-shadow: 0 0 0 3px var(--color-accent-soft); }
.src-card.unsupported { border-left: 4px solid #d9534f; }
.src-head { font-weight: 600; }
.src-n { color: var(--color-accent); }
.src-meta { font-size: 0.85em; color: var(--body-text-color-subdued); margin: 2px 0 4px; }
.src-passage { margin: 4px 0; padding: 4px 8px; border-left: 3px solid var(--border-color-primary);
               font-size: 0.92em; white-space: pre-wrap; }
.src-claims { font-size: 0.85em; margin: 4px 0 4px 16px; }
mark.cited, .src-passage mark { background: #ffe066; color: #222; padding: 0 1px; }
.flag { display: inline-block; font-size: 0.8em; border-radius: 4px; padding: 0 6px; margin-right: 6px; }
.flag.bad, .bad { color: #b52b27; }
.flag.bad { background: #fbe3e2; }
.flag.posthoc { background: #e6eefc; color: #2a4d8f; }
.ok { color: #2f7d32; }
.open-article { font-size: 0.85em; }
a.cite { text-decoration: none; font-weight: 600; padding: 0 1px; cursor: pointer; color: var(--color-accent); }
a.cite.unsupported { color: #b52b27; text-decoration: underline wavy #b52b27; }
a.cite.posthoc { font-style: italic; }
.sources-head { font-size: 0.85em; color: var(--body-text-color-subdued); margin-bottom: 6px; }
.refused { margin: 4px 0 8px; font-weight: 600; }
.muted { color: var(--body-text-color-subdued); }
.article-view .article-title { font-size: 1.1em; font-weight: 700; }
.article-text { white-space: pre-wrap; max-height: 480px; overflow-y: auto; line-height: 1.5;
                border: 1px solid var(--border-color-primary); border-radius: 6px; padding: 8px; }
.article-text .passage { background: var(--color-accent-soft); }
.viewer-note { font-size: 0.85em; margin: 4px 0; }
table.library { width: 100%; border-collapse: collapse; font-size: 0.9em; }
table.library th, table.library td { text-align: left; padding: 4px 6px;
                                     border-bottom: 1px solid var(--border-color-primary); }
table.library td.num { text-align: right; }
.error-box { color: #b52b27; }
.chat-error { color: #b52b27; }
.ungrounded { color: #b52b27; font-size: 0.9em; }
.draft { color: #777; font-size: 0.85em; font-style: italic; }
"""

# A delegated click listener: a citation link [n], an "open article" link or a closest-article
# link writes its key into the hidden bridge textbox, whose change event renders the panel.
JS = """
() => {
  if (window.__qaCiteHook) return;
  window.__qaCiteHook = true;
  document.addEventListener('click', (ev) => {
    const a = ev.target && ev.target.closest &&
      ev.target.closest('a[href^="#cite-"], a[href^="#open-"], a[href^="#hit-"]');
    if (!a) return;
    ev.preventDefault();
    ev.stopPropagation();
    const key = a.getAttribute('href').slice(1);
    const m = key.match(/^cite-(\\d+)-(\\d+)$/);
    const card = m && document.getElementById('src-' + m[1] + '-' + m[2]);
    if (card) {
      document.querySelectorAll('.src-card.selected').forEach((c) => c.classList.remove('selected'));
      card.classList.add('selected');
      card.scrollIntoView({block: 'nearest'});
    }
    const box = document.querySelector('#cite-bridge textarea, #cite-bridge input');
    if (!box) return;
    box.value = key + ':' + Date.now();
    box.dispatchEvent(new Event('input', {bubbles: true}));
  }, true);
}
"""

SCROLL_JS = """
(key) => {
  setTimeout(() => {
    const target = (key || '').startsWith('cite-')
      ? document.querySelector('#sources .src-card.selected')
      : document.querySelector('#viewer #cited-span') || document.querySelector('#viewer .article-view');
    if (target) target.scrollIntoView({block: 'center'});
  }, 50);
  return [];
}
"""

VIEWER_JS = """
() => {
  setTimeout(() => {
    const target = document.querySelector('#viewer #cited-span') ||
      document.querySelector('#viewer .article-view');
    if (target) target.scrollIntoView({block: 'center'});
  }, 50);
  return [];
}
"""


class Models:
    """Loads the embedder and the LLM in a background thread so the page is up at once."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.created = threading.Event()  # engine.embedder / engine.generator exist (not loaded)
        self.loaded = threading.Event()
        self.error = ""

    def start(self) -> None:
        threading.Thread(target=self._warm_up, name="qa-warm-up", daemon=True).start()

    def _warm_up(self) -> None:
        started = time.monotonic()
        try:
            _ = self.engine.embedder, self.engine.generator  # created here, loaded by warm_up below
            self.created.set()
            try:
                self.engine.store()
            except QAError as exc:
                print(f"news-qa: {exc}", file=sys.stderr)
            self.engine.warm_up()  # loads both models and caches the system prompt in llama.cpp
            print(f"news-qa: models loaded in {time.monotonic() - started:.1f} s", flush=True)
        except QAError as exc:
            self.error = str(exc)
            print(f"news-qa: cannot load the models: {exc}", file=sys.stderr)
        except Exception as exc:  # a broken model file must not kill the app silently
            log.exception("loading the models failed")
            self.error = f"loading the models failed ({type(exc).__name__}: {exc})"
        finally:
            self.created.set()
            self.loaded.set()


class ChatApp:
    """The app's event handlers, over one Engine (plain methods: tested without a browser)."""

    def __init__(self, engine: Engine, settings: Settings, models: Models | None = None):
        self.engine, self.settings = engine, settings
        if models is None:  # models already there (tests, or a caller that loaded them)
            models = Models(engine)
            models.created.set()
            models.loaded.set()
        self.models = models
        self.suffixes = SUFFIXES
        self._build_embedder: Any = None  # builds get their own: they run beside answers

    # --- library and status ---

    def status_html(self) -> str:
        try:
            m = self.engine.store().manifest
        except QAError as exc:
            return render_error(str(exc))
        s = self.settings
        llm = Path(s.llm_model).name if s.llm_model else "Qwen2.5-Coder-1.5B-Instruct Q4_K_M (bundled)"
        state = "loaded" if self.models.loaded.is_set() else "loading…"
        if self.models.error:
            state = f"error: {self.models.error}"
        return (f'<div class="index-status"><b>{m.articles}</b> articles, <b>{m.chunks}</b> chunks, '
                f"<b>{m.duplicate_groups}</b> groups of near-duplicate articles · {esc(m.generation)} "
                f"built {esc(m.built_at)}<br>Embedding model {esc(m.embed_model)} · "
                f"FAISS {esc(m.faiss_type)} · LLM {esc(llm)} ({esc(state)})</div>")

    def refresh_library(self) -> tuple[str, str, Any]:
        """Index status, the library table and the viewer's article choices."""
        try:
            infos = self.engine.store().articles()
        except QAError as exc:
            return self.status_html(), render_error(str(exc)), gr.update(choices=[], value=None)
        choices = [(f"{a.title} ({a.id})", a.id) for a in infos[:5000]]
        return self.status_html(), render_library(infos), gr.update(choices=choices, value=None)

    def on_upload(self, files: list[str] | None) -> tuple[Any, Any]:
        if not files:
            return gr.skip(), gr.skip()
        lines, saved = [], 0
        for f in files:
            path = Path(f)
            ok, message = save_upload(path, path.name, self.settings.articles_dir, self.settings.max_file_mb,
                                      self.suffixes)
            saved += ok
            lines.append(f'<li class="{"ok" if ok else "bad"}">{esc(message)}</li>')
        hint = " Click <b>Update index</b> to index them." if saved else ""
        head = f"Saved {saved} of {len(files)} files into the articles folder.{hint}"
        return f"<div>{head}<ul>{''.join(lines)}</ul></div>", None

    def run_build(self, rebuild: bool, progress: Callable[..., Any] | None = None) -> tuple[Any, ...]:
        """build_index with its progress fed to the Gradio bar; the summary (or error) as HTML."""
        from qa.build import build_index
        from qa.embed import make_embedder

        def report(stage: str, done: int, total: int) -> None:
            if progress is not None and stage in STAGES:
                progress((done, total) if total else None, desc=STAGES[stage], unit="items")

        try:
            if self._build_embedder is None:
                self._build_embedder = make_embedder(self.settings)
            summary = build_index(self.settings, rebuild=rebuild, progress=report,
                                  embedder=self._build_embedder)
            message = render_summary(summary, rebuild)
        except QAError as exc:
            message = render_error(str(exc))
        except Exception as exc:
            log.exception("building the index failed")
            message = render_error(f"the build failed ({type(exc).__name__}: {exc})")
        return (message, *self.refresh_library())

    def update_index(self, progress: Any = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008 (Gradio's idiom)
        return self.run_build(False, progress)

    def rebuild_index(self, progress: Any = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008
        return self.run_build(True, progress)

    # --- chat ---

    def respond(self, question: str, convo: list[Exchange], top_k: float, temperature: float,
                max_tokens: float, gate: bool) -> Iterator[tuple[Any, ...]]:
        """Stream one answer. Yields (chatbot, convo, question box, sources, cited picker, shown)."""
        convo = list(convo or [])
        k = len(convo)
        current = Exchange((question or "").strip())
        waiting = ("<em>Searching the articles…</em>" if self.models.loaded.is_set()
                   else "<em>Loading the models (first start)…</em>")
        yield (chat_messages([*convo, current], waiting), [*convo, current], "",
               '<div class="sources-empty">Waiting for the answer…</div>',
               gr.update(choices=[], value=None), k)
        pieces: list[str] = []
        events = None
        try:
            self.models.created.wait()
            if self.models.error:
                raise QAError(self.models.error)
            asked = self.settings.replace(top_k=int(top_k), temperature=float(temperature),
                                          max_tokens=int(max_tokens), gate=bool(gate))
            events = self.engine.ask(question or "", history_of(convo), asked)
            for event in events:
                if isinstance(event, Done):
                    current = replace(current, text=event.answer.text, answer=event.answer)
                    final = [*convo, current]
                    yield (chat_messages(final), final, gr.skip(), render_sources(event.answer, k),
                           gr.update(choices=cited_choices(event.answer), value=None), k)
                    return
                if isinstance(event, Token):
                    pieces.append(event.text)
                    current = replace(current, text="".join(pieces))
                    shown = DRAFT + esc_md(current.text) + " ▌"
                elif isinstance(event, Status):
                    shown = f"<em>{esc_md(event.message)}</em>"
                else:
                    continue
                yield (chat_messages([*convo, current], shown), [*convo, current], gr.skip(), gr.skip(),
                       gr.skip(), gr.skip())
        except QAError as exc:
            current = replace(current, error=str(exc))
        except Exception as exc:  # never a traceback in the chat
            log.exception("answering failed")
            current = replace(current, error=f"Something went wrong ({type(exc).__name__}: {exc}).")
        finally:
            if events is not None:
                events.close()  # Stop closes this generator: release the LLM at once
        final = [*convo, current]
        yield (chat_messages(final), final, gr.skip(), render_sources(None, k),
               gr.update(choices=[], value=None), k)

    @staticmethod
    def new_chat() -> tuple[Any, ...]:
        return [], [], "", render_sources(None, 0), gr.update(choices=[], value=None), -1, ""

    def on_bridge(self, key: str, convo: list[Exchange]) -> tuple[Any, ...]:
        """A click on a citation link ("cite-k-n"), an "open article" link ("open-k-n") or a closest
        article of a refusal ("hit-k-i"). Returns (sources, shown, cited picker, viewer)."""
        m = BRIDGE.match(key or "")
        if not m or not 0 <= int(m.group(2)) < len(convo) or convo[int(m.group(2))].answer is None:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        kind, k, n = m.group(1), int(m.group(2)), int(m.group(3))
        answer = convo[k].answer
        assert answer is not None
        if kind == "hit":
            if n >= len(answer.hits):
                return gr.skip(), gr.skip(), gr.skip(), gr.skip()
            c = answer.hits[n].chunk
            return (render_sources(answer, k), k, gr.update(choices=cited_choices(answer), value=None),
                    self.open_article(c.article_id, (c.start, c.end), None))
        panel = render_sources(answer, k, selected=n)
        picker = gr.update(choices=cited_choices(answer), value=str(n))
        viewer = self.open_citation(convo, k, n) if kind == "open" else gr.skip()
        return panel, k, picker, viewer

    def open_citation(self, convo: list[Exchange], k: int, n: int) -> str:
        c = citation_of(convo, k, n)
        if c is None:
            return render_error("Pick a cited source first.")
        note = f"Source [{n}] of answer {k + 1}: the passage is shaded, the supporting sentence marked."
        if not any(x.supported for x in convo[k].answer.citations if x.n == n):  # type: ignore[union-attr]
            note += " This passage does not support the claim it was cited for."
        return self.open_article(c.article_id, (c.start, c.end), (c.snippet_start, c.snippet_end), note)

    def open_article(self, article_id: str, passage: tuple[int, int] | None,
                     snippet: tuple[int, int] | None, note: str = "") -> str:
        """An indexed article by id (looked up in the index: never a path from the client)."""
        try:
            article = self.engine.store().article(article_id)
        except QAError as exc:
            return render_error(str(exc))
        if article is None:
            return render_error("That article is not in the index any more (a rebuild removed it).")
        return render_article(article, passage, snippet or passage, note)

    def on_pick(self, choice: str | None, convo: list[Exchange], shown: int) -> Any:
        if not choice or not str(choice).isdigit():
            return gr.skip()
        return self.open_citation(convo, int(shown), int(choice))

    def on_library_pick(self, article_id: str | None) -> Any:
        return self.open_article(article_id, None, None) if article_id else gr.skip()

    # --- the API ---

    def ask(self, question: str, history_json: str, top_k: int, temperature: float, max_tokens: int,
            refuse_low_relevance: bool) -> dict[str, Any]:
        """The /ask endpoint: the same JSON as `qa ask --json`; a QAError becomes a gr.Error."""
        try:
            history = parse_history(history_json or "[]", "history_json")
            asked = self.settings.replace(top_k=int(top_k), temperature=float(temperature),
                                          max_tokens=int(max_tokens), gate=bool(refuse_low_relevance))
            self.models.created.wait()
            if self.models.error:
                raise QAError(self.models.error)
            return self.engine.answer(question, history, asked).to_json()
        except QAError as exc:
            raise gr.Error(str(exc)) from None


def build_ui(app: ChatApp) -> gr.Blocks:
    """The layout and its events (not launched). The public API is /ask only."""
    s = app.settings
    private: dict[str, Any] = {"api_visibility": "private"}
    with gr.Blocks(title="Ask your news archive") as demo:
        convo = gr.State([])
        shown = gr.State(-1)  # the answer whose sources the panel shows
        gr.Markdown("## Ask your news archive\nAnswers come only from the indexed articles, "
                    "with numbered citations you can open and check.")
        with gr.Tabs():
            with gr.Tab("Chat", id="chat-tab"):
                with gr.Row():
                    with gr.Column(scale=3):
                        chatbot = gr.Chatbot(elem_id="chat", height=560, show_label=False,
                                             feedback_options=None, buttons=["copy"],
                                             placeholder="Ask a question about the articles in the library.")
                        with gr.Row():
                            question = gr.Textbox(elem_id="question", show_label=False, scale=5, lines=1,
                                                  max_lines=4, placeholder="Ask a question… (Enter sends)")
                            ask_btn = gr.Button("Ask", variant="primary", scale=1, elem_id="ask-btn")
                            stop_btn = gr.Button("Stop", variant="stop", scale=1, elem_id="stop-btn")
                        new_btn = gr.Button("New chat", size="sm", elem_id="new-chat")
                        gr.Examples(EXAMPLES, inputs=[question], label="Examples from the sample articles")
                        with gr.Accordion("Settings", open=False, elem_id="settings"):
                            top_k = gr.Slider(1, 12, value=s.top_k, step=1,
                                              label="Number of passages (top_k)", elem_id="top-k")
                            temperature = gr.Slider(0.0, 1.5, value=s.temperature, step=0.05,
                                                    label="Temperature", elem_id="temperature")
                            max_tokens = gr.Slider(32, 1024, value=s.max_tokens, step=16,
                                                   label="Max answer tokens", elem_id="max-tokens")
                            gate = gr.Checkbox(value=s.gate, label="Refuse when relevance is low",
                                               elem_id="gate")
                    with gr.Column(scale=2):
                        gr.Markdown("### Sources")
                        sources = gr.HTML(render_sources(None, 0), elem_id="sources", max_height=560)
                        with gr.Row():
                            pick = gr.Dropdown(choices=[], label="Cited article", scale=3,
                                               elem_id="article-pick", interactive=True)
                            open_btn = gr.Button("Open article", size="sm", scale=1, elem_id="open-article")
                        viewer = gr.HTML("", elem_id="viewer")
                bridge = gr.Textbox(elem_id="cite-bridge", visible="hidden", show_label=False)
            with gr.Tab("Library", id="library-tab") as library_tab:
                status = gr.HTML(elem_id="index-status")
                with gr.Row():
                    with gr.Column(scale=2):
                        uploads = gr.File(file_count="multiple", type="filepath", elem_id="upload",
                                          label=f"Upload articles ({', '.join(app.suffixes)}; "
                                                f"up to {s.max_file_mb:g} MB each)")
                        upload_msg = gr.HTML(elem_id="upload-msg")
                    with gr.Column(scale=1):
                        update_btn = gr.Button("Update index", variant="primary", elem_id="update-index")
                        rebuild_btn = gr.Button("Rebuild index", elem_id="rebuild-index")
                        summary = gr.HTML(elem_id="build-summary")
                library_pick = gr.Dropdown(choices=[], label="View an article", elem_id="library-pick",
                                           interactive=True, filterable=True)
                library_viewer = gr.HTML(elem_id="library-viewer")
                library = gr.HTML(elem_id="library")

        chat_inputs = [question, convo, top_k, temperature, max_tokens, gate]
        chat_outputs = [chatbot, convo, question, sources, pick, shown]
        chat: dict[str, Any] = {"concurrency_id": "chat", "concurrency_limit": 1, "show_progress": "hidden",
                                **private}
        submit = question.submit(app.respond, chat_inputs, chat_outputs, **chat)
        click = ask_btn.click(app.respond, chat_inputs, chat_outputs, **chat)
        stop_btn.click(None, None, None, cancels=[submit, click], **private)
        new_btn.click(app.new_chat, None, [chatbot, convo, question, sources, pick, shown, viewer],
                      cancels=[submit, click], **private)
        # change, not input: the click listener sets the hidden box's value from JavaScript
        bridge.change(app.on_bridge, [bridge, convo], [sources, shown, pick, viewer], show_progress="hidden",
                      **private).then(None, [bridge], None, js=SCROLL_JS, **private)
        for event in (open_btn.click, pick.input):
            event(app.on_pick, [pick, convo, shown], [viewer], **private).then(None, js=VIEWER_JS, **private)

        library_outputs = [status, library, library_pick]
        uploads.upload(app.on_upload, [uploads], [upload_msg, uploads], **private)
        build: dict[str, Any] = {"concurrency_id": "build", "concurrency_limit": 1, **private}
        update_btn.click(app.update_index, None, [summary, *library_outputs], **build)
        rebuild_btn.click(app.rebuild_index, None, [summary, *library_outputs], **build)
        library_pick.input(app.on_library_pick, [library_pick], [library_viewer], **private)
        library_tab.select(app.refresh_library, None, library_outputs, **private)
        demo.load(app.refresh_library, None, library_outputs, **private)

        def ask(question: str, history_json: str = "[]", top_k: int = s.top_k,
                temperature: float = s.temperature, max_tokens: int = s.max_tokens,
                refuse_low_relevance: bool = s.gate) -> dict[str, Any]:
            """Answer a question from the indexed articles, with citations (the JSON of `qa ask --json`)."""
            return app.ask(question, history_json, top_k, temperature, max_tokens, refuse_low_relevance)

        gr.api(ask, api_name="ask", concurrency_id="chat", concurrency_limit=1)
    return demo


# --- start-up ------------------------------------------------------------------------------------

def launch_options(settings: Settings) -> dict[str, Any]:
    """Host, port, auth and sharing for `launch()`; warns about an open host without a password."""
    auth = None
    if settings.auth:
        user, _, password = settings.auth.partition(":")
        auth = (user, password)
    if settings.host not in LOCAL_HOSTS and auth is None:
        print(f"news-qa: WARNING: serving on {settings.host} without a password: anyone who can reach "
              "this machine can read your articles and use the app. Set QA_AUTH=user:password.",
              file=sys.stderr, flush=True)
    return {"server_name": settings.host, "server_port": settings.port, "share": False, "auth": auth,
            "max_file_size": f"{max(1, int(settings.max_file_mb * 1024))}kb"}


def serve(settings: Settings) -> None:
    """Index the articles when needed, then serve the chat app (blocks until interrupted)."""
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    ensure_index(settings)
    engine = Engine(settings)
    models = Models(engine)
    demo = build_ui(ChatApp(engine, settings, models))
    options = launch_options(settings)
    try:
        demo.queue(default_concurrency_limit=1).launch(css=CSS, js=JS, ssr_mode=False, footer_links=["api"],
                                                       show_error=True, prevent_thread_lock=True, **options)
    except OSError as exc:  # the port is taken
        raise QAError(f"cannot serve on {settings.host}:{settings.port} ({exc}): stop the other server "
                      "or pick another port with QA_PORT / --port.") from None
    models.start()  # after the server is up: loading torch and the LLM must not delay the page
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    print(f"news-qa: ready on http://{host}:{settings.port} (models load in the background)", flush=True)
    demo.block_thread()


if __name__ == "__main__":
    try:
        serve(config.load())
    except QAError as exc:
        print(f"news-qa: {exc}", file=sys.stderr)
        sys.exit(2)
