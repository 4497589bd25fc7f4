"""The app's event handlers over one Engine, and the models loading in the background.

Plain methods that return Gradio values: tested without a browser. Every answer comes from
`qa.answering.engine.Engine` and every index build from `qa.indexing.build.build_index`.
"""

import logging
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import gradio as gr

from qa.answering.engine import Done, Engine, Status, Token
from qa.answering.export import conversation_markdown, to_markdown
from qa.config import Settings
from qa.errors import QAError
from qa.indexing.ingest import SUFFIXES
from qa.types import Timeline, TimelineEvent, parse_history
from web.render import (
    esc,
    esc_md,
    events_between,
    render_add_summary,
    render_article,
    render_error,
    render_feeds,
    render_library,
    render_sources,
    render_summary,
    render_timeline,
    timeline_frame,
    timeline_limits,
)
from web.state import DRAFT, Exchange, chat_messages, citation_of, cited_choices, history_of, restored, stored
from web.uploads import save_upload

log = logging.getLogger("qa.app")  # the name the app has always logged under

STAGES = {"fetch": "Fetching feeds and pages", "chunk": "Reading and chunking articles",
          "embed": "Embedding passages", "write": "Writing the index"}
BRIDGE = re.compile(r"^(cite|open|hit)-(\d{1,6})-(\d{1,6})(?::\d{1,20})?$")
TIMELINE_BRIDGE = re.compile(r"^tl-(\d{1,6})-(\d{1,4})(?::\d{1,20})?$")  # event i, its source j


class Models:
    """Loads the embedder, the LLM (its prompts' opening restored or evaluated) and the judge in a background
    thread, so the page is up at once; a question asked meanwhile waits for them in Engine.ask, with a status."""

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

    @staticmethod
    def _reporter(progress: Callable[..., Any] | None) -> Callable[[str, int, int], None]:
        """A qa progress callback (stage, done, total) that feeds the Gradio bar."""
        def report(stage: str, done: int, total: int) -> None:
            if progress is not None and stage in STAGES:
                progress((done, total) if total else None, desc=STAGES[stage], unit="items")

        return report

    def build_embedder(self) -> Any:
        """The embedder of builds (made on first use): builds run beside answers, with their own."""
        from qa.embed import make_embedder

        if self._build_embedder is None:
            self._build_embedder = make_embedder(self.settings)
        return self._build_embedder

    def run_build(self, rebuild: bool, progress: Callable[..., Any] | None = None) -> tuple[Any, ...]:
        """build_index with its progress fed to the Gradio bar; the summary (or error) as HTML."""
        from qa.indexing.build import build_index

        def build() -> str:
            summary = build_index(self.settings, rebuild=rebuild, progress=self._reporter(progress),
                                  embedder=self.build_embedder())
            return render_summary(summary, rebuild)

        return self._report(build, "building the index", "the build")

    def _report(self, work: Callable[[], str], doing: str, failed: str) -> tuple[Any, ...]:
        """`work`'s HTML summary, or its error as one line (never a traceback in the page); then the
        library, which a build or a fetch has changed."""
        try:
            message = work()
        except QAError as exc:
            message = render_error(str(exc))
        except Exception as exc:
            log.exception("%s failed", doing)
            message = render_error(f"{failed} failed ({type(exc).__name__}: {exc})")
        return (message, *self.refresh_library())

    def update_index(self, progress: Any = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008 (Gradio's idiom)
        return self.run_build(False, progress)

    def rebuild_index(self, progress: Any = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008
        return self.run_build(True, progress)

    # --- feeds ---

    def feeds_view(self, message: str = "") -> tuple[Any, ...]:
        """The feeds list, the remove picker's choices, and a message."""
        from qa.indexing.feeds import read_feeds

        try:
            feeds = read_feeds(self.settings.articles_dir)
        except QAError as exc:
            return render_error(str(exc)), gr.update(choices=[], value=None), message
        return render_feeds(feeds), gr.update(choices=feeds, value=None), message

    def on_feed_add(self, url: str) -> tuple[Any, ...]:
        """Add a feed to the feeds file. Returns (feeds list, remove picker, message, URL box)."""
        from qa.indexing.feeds import add_feed

        try:
            feed, new = add_feed(self.settings.articles_dir, url or "")
        except QAError as exc:
            return (*self.feeds_view(render_error(str(exc))), gr.skip())
        note = f"Added {feed}." if new else f"{feed} is already in the list."
        return (*self.feeds_view(f"<div>{esc(note)} Click <b>Fetch now</b> to fetch it.</div>"), "")

    def on_feed_remove(self, url: str | None) -> tuple[Any, ...]:
        """Remove the picked feed (the articles it brought stay). Returns (feeds list, picker, message)."""
        from qa.indexing.feeds import remove_feed

        if not url:
            return self.feeds_view(render_error("Pick a feed to remove first."))
        try:
            removed = remove_feed(self.settings.articles_dir, url)
        except QAError as exc:
            return self.feeds_view(render_error(str(exc)))
        return self.feeds_view(f"<div>Removed {esc(removed)}; the articles it brought stay.</div>")

    def run_fetch(self, progress: Callable[..., Any] | None = None) -> tuple[Any, ...]:
        """`qa update`: every feed's new entries saved, then indexed; the summary and the library."""
        from qa.indexing.add import index_added, update

        report = self._reporter(progress)

        def fetch() -> str:
            summary = update(self.settings, progress=report)
            if summary.added:
                summary = index_added(summary, self.settings, embedder=self.build_embedder(), progress=report)
            return render_add_summary(summary)

        return self._report(fetch, "fetching the feeds", "fetching")

    def fetch_now(self, progress: Any = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008 (Gradio's idiom)
        return self.run_fetch(progress)

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

    # --- export, and the browser's copy of the conversation ---

    @staticmethod
    def exports(convo: list[Exchange], shown: int) -> tuple[str, str, Any, list[dict[str, Any]]]:
        """After an answer, a citation click, New chat or a reload: the Markdown of the answer whose
        sources are shown and of the whole conversation (the Copy and Download buttons read them in
        the browser), the export buttons shown when there is something to export, and the
        conversation for the browser's storage."""
        convo = list(convo or [])
        k = int(shown) if shown is not None else -1
        current = convo[k] if 0 <= k < len(convo) else None
        answer_md = to_markdown(current.answer, current.question) if current and current.answer else ""
        answered = [(ex.question, ex.answer) for ex in convo if ex.answer is not None]
        convo_md = conversation_markdown(answered) if answered else ""
        return answer_md, convo_md, gr.update(visible=bool(answered)), stored(convo)

    def restore(self, data: Any) -> tuple[Any, ...]:
        """On page load: the conversation kept in the browser's storage, shown again with the sources of
        its latest answer. Returns (chatbot, convo, sources, cited picker, shown, answer Markdown,
        conversation Markdown, export buttons)."""
        convo = restored(data)
        k = max((i for i, ex in enumerate(convo) if ex.answer is not None), default=-1)
        answer = convo[k].answer if k >= 0 else None
        answer_md, convo_md, row, _ = self.exports(convo, k)
        return (chat_messages(convo), convo, render_sources(answer, max(k, 0)),
                gr.update(choices=cited_choices(answer), value=None), k, answer_md, convo_md, row)

    # --- timeline ---

    def show_timeline(self, topic: str, since: str, until: str) -> tuple[Any, ...]:
        """The story's dated events (qa.answering.timeline) for the Timeline tab.
        Returns (timeline state, the list, the plot's rows, the viewer)."""
        try:
            asked = self.settings.replace(since=(since or "").strip(), until=(until or "").strip())
            self.models.created.wait()  # the embedder: a timeline never needs the LLM
            if self.models.error:
                raise QAError(self.models.error)
            timeline = self.engine.timeline(topic or "", asked)
        except QAError as exc:
            return None, render_error(str(exc)), timeline_frame(None), ""
        except Exception as exc:  # never a traceback in the page
            log.exception("the timeline failed")
            return None, render_error(f"the timeline failed ({type(exc).__name__}: {exc})"), timeline_frame(None), ""
        return timeline, render_timeline(timeline), timeline_frame(timeline), ""

    def timeline_axes(self, timeline: Timeline | None) -> Any:
        """The plot's axes for the timeline just shown, padded so that every dot lies inside the plot,
        where a drag across it starts (render.timeline_limits). Sent after the rows, in an event of its
        own: Gradio 6's plot drops the rows when new rows and new limits arrive in one update."""
        x_lim, y_lim = timeline_limits(timeline)
        return gr.update(x_lim=x_lim, y_lim=y_lim)

    def open_event(self, event: TimelineEvent, j: int) -> str:
        """Source j of an event: its article, the event's sentence marked and scrolled to."""
        s = event.sources[j]
        note = f"{s.when.label()}, as this article dates it: the event's sentence is marked."
        return self.open_article(s.article_id, None, (s.start, s.end), note)

    def on_timeline_bridge(self, key: str, timeline: Timeline | None) -> tuple[Any, Any]:
        """A click on an event's sentence or on one of its outlets ("tl-i-j", indexes into the timeline
        the page shows: never a path or an offset from the client). Returns (the list, the viewer)."""
        m = TIMELINE_BRIDGE.match(key or "")
        if not m or timeline is None:
            return gr.skip(), gr.skip()
        i, j = int(m.group(1)), int(m.group(2))
        if i >= len(timeline.events) or j >= len(timeline.events[i].sources):
            return gr.skip(), gr.skip()
        return render_timeline(timeline, (i,)), self.open_event(timeline.events[i], j)

    def on_timeline_select(self, timeline: Timeline | None, evt: gr.SelectData) -> tuple[Any, Any]:
        """Dots brushed on the plot (Gradio's plots report a dragged stretch of the time axis, not a
        click on one dot): those events marked in the list and the first one's article opened."""
        span = evt.index if isinstance(evt.index, list | tuple) else None
        if timeline is None or span is None or len(span) != 2:
            return gr.skip(), gr.skip()
        try:
            chosen = events_between(timeline, float(span[0]), float(span[1]))
        except (TypeError, ValueError):
            return gr.skip(), gr.skip()
        if not chosen:
            return render_timeline(timeline), gr.skip()
        return render_timeline(timeline, chosen), self.open_event(timeline.events[chosen[0]], 0)

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

