"""The page: its tabs, components and events (built, not launched). The public API is /ask only."""

from typing import Any

import gradio as gr

from web.assets import asset
from web.handlers import ChatApp
from web.render import precision_colours, render_sources, render_timeline, timeline_frame

EXAMPLES = [
    "Where did Blinken and Lavrov meet on December 2?",
    "How long does it now take for US military assistance to be sent after a request from Kyiv?",
    "Which two Americans detained in Russia did the US make a proposal to free?",
]
# After a bridge click and after the article picker: scroll the selected card or the cited span into view.
SCROLL_JS = asset("scroll.js")
STORAGE_KEY = "news-qa-conversation"  # the browser's localStorage key of the conversation
VIEWER_JS = asset("viewer.js")
TIMELINE_JS = asset("timeline.js")  # after a click on an event or a brush on the plot: the marked sentence


def build_ui(app: ChatApp) -> gr.Blocks:
    """The layout and its events (not launched). The public API is /ask only."""
    s = app.settings
    private: dict[str, Any] = {"api_visibility": "private"}
    with gr.Blocks(title="Ask your news archive") as demo:
        convo = gr.State([])
        # the browser's copy of the conversation, so that it survives a reload (encrypted with a key made
        # at each start: a restarted server starts a new chat)
        saved = gr.BrowserState([], storage_key=STORAGE_KEY)
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
                        # the answer is the one whose sources the panel shows (the latest, or the one clicked)
                        with gr.Row(visible=False, elem_id="export-row") as export_row:
                            copy_answer = gr.Button("Copy answer as Markdown", size="sm", elem_id="copy-answer")
                            download_answer = gr.Button("Download answer", size="sm", elem_id="download-answer")
                            copy_convo = gr.Button("Copy conversation as Markdown", size="sm",
                                                   elem_id="copy-conversation")
                            download_convo = gr.Button("Download conversation", size="sm",
                                                       elem_id="download-conversation")
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
                # what the Copy and Download buttons take, kept in the page (qa.answering.export makes it)
                answer_md = gr.Textbox(elem_id="answer-md", visible="hidden", show_label=False)
                convo_md = gr.Textbox(elem_id="conversation-md", visible="hidden", show_label=False)
            with gr.Tab("Timeline", id="timeline-tab"):
                timeline = timeline_tab()
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
                with gr.Accordion("Feeds", open=True, elem_id="feeds-panel"):
                    feeds_list = gr.HTML(elem_id="feeds-list")
                    with gr.Row():
                        feed_url = gr.Textbox(label="Feed URL (RSS or Atom)", elem_id="feed-url", scale=4,
                                              placeholder="https://example.org/rss.xml")
                        feed_add_btn = gr.Button("Add feed", elem_id="feed-add", scale=1)
                    with gr.Row():
                        feed_pick = gr.Dropdown(choices=[], label="Feed", elem_id="feed-pick", scale=4,
                                                interactive=True)
                        feed_remove_btn = gr.Button("Remove feed", elem_id="feed-remove", scale=1)
                    feed_msg = gr.HTML(elem_id="feed-msg")
                    fetch_btn = gr.Button("Fetch now", variant="primary", elem_id="fetch-now")
                    fetch_summary = gr.HTML(elem_id="fetch-summary")
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
        cleared = new_btn.click(app.new_chat, None, [chatbot, convo, question, sources, pick, shown, viewer],
                                cancels=[submit, click], **private)
        # change, not input: the click listener sets the hidden box's value from JavaScript
        bridged = bridge.change(app.on_bridge, [bridge, convo], [sources, shown, pick, viewer],
                                show_progress="hidden", **private)
        bridged.then(None, [bridge], None, js=SCROLL_JS, **private)
        # after each of these the exports and the browser's copy follow the conversation (New chat clears both)
        export_outputs = [answer_md, convo_md, export_row, saved]
        for done in (submit, click, cleared, bridged):
            done.then(app.exports, [convo, shown], export_outputs, show_progress="hidden", **private)
        demo.load(app.restore, [saved], [chatbot, convo, sources, pick, shown, answer_md, convo_md, export_row],
                  show_progress="hidden", **private)
        copy_answer.click(None, [answer_md], None, js="(md) => window.__qaCopy(md, 'copy-answer')", **private)
        copy_convo.click(None, [convo_md], None, js="(md) => window.__qaCopy(md, 'copy-conversation')",
                         **private)
        download_answer.click(None, [answer_md], None, js="(md) => window.__qaDownload(md, 'answer.md')",
                              **private)
        download_convo.click(None, [convo_md], None,
                             js="(md) => window.__qaDownload(md, 'conversation.md')", **private)
        for event in (open_btn.click, pick.input):
            event(app.on_pick, [pick, convo, shown], [viewer], **private).then(None, js=VIEWER_JS, **private)

        timeline_events(app, timeline)

        library_outputs = [status, library, library_pick]
        uploads.upload(app.on_upload, [uploads], [upload_msg, uploads], **private)
        build: dict[str, Any] = {"concurrency_id": "build", "concurrency_limit": 1, **private}
        update_btn.click(app.update_index, None, [summary, *library_outputs], **build)
        rebuild_btn.click(app.rebuild_index, None, [summary, *library_outputs], **build)
        # a fetch ends with an index build: it queues with the index buttons, never beside them
        fetch_btn.click(app.fetch_now, None, [fetch_summary, *library_outputs], **build)
        feeds_outputs = [feeds_list, feed_pick, feed_msg]
        for event in (feed_add_btn.click, feed_url.submit):
            event(app.on_feed_add, [feed_url], [*feeds_outputs, feed_url], **private)
        feed_remove_btn.click(app.on_feed_remove, [feed_pick], feeds_outputs, **private)
        library_pick.input(app.on_library_pick, [library_pick], [library_viewer], **private)
        library_tab.select(app.refresh_library, None, library_outputs, **private)
        demo.load(app.refresh_library, None, library_outputs, **private)
        library_tab.select(app.feeds_view, None, feeds_outputs, **private)
        demo.load(app.feeds_view, None, feeds_outputs, **private)

        def ask(question: str, history_json: str = "[]", top_k: int = s.top_k,
                temperature: float = s.temperature, max_tokens: int = s.max_tokens,
                refuse_low_relevance: bool = s.gate) -> dict[str, Any]:
            """Answer a question from the indexed articles, with citations (the JSON of `qa ask --json`)."""
            return app.ask(question, history_json, top_k, temperature, max_tokens, refuse_low_relevance)

        gr.api(ask, api_name="ask", concurrency_id="chat", concurrency_limit=1)
    return demo


def timeline_tab() -> dict[str, Any]:
    """The Timeline tab's components: a topic and a date range, a plot of the events on a time axis, the
    list of events (each line opens its sentence in its article) and the article viewer."""
    with gr.Row():
        topic = gr.Textbox(label="Story", elem_id="timeline-topic", scale=4, lines=1, max_lines=1,
                           placeholder="a story in a few words, e.g. port strike (Enter shows it)")
        since = gr.Textbox(label="Since", elem_id="timeline-since", scale=1, placeholder="2021-12-01")
        until = gr.Textbox(label="Until", elem_id="timeline-until", scale=1, placeholder="2022-03-31")
        button = gr.Button("Show timeline", variant="primary", elem_id="timeline-btn", scale=1)
    plot = gr.ScatterPlot(timeline_frame(None), x="date", y="outlets", color="precision",
                          color_map=precision_colours(), tooltip=["when", "event"], x_title="date",
                          y_title="outlets stating it", height=260, elem_id="timeline-plot",
                          label="Events on a time axis: drag across dots to mark them, or click a dot to open it")
    with gr.Row():
        with gr.Column(scale=3):
            listing = gr.HTML(render_timeline(None), elem_id="timeline-list", max_height=640)
        with gr.Column(scale=2):
            viewer = gr.HTML("", elem_id="timeline-viewer")
    bridge = gr.Textbox(elem_id="timeline-bridge", visible="hidden", show_label=False)
    return {"topic": topic, "since": since, "until": until, "button": button, "plot": plot, "list": listing,
            "viewer": viewer, "bridge": bridge, "state": gr.State(None)}


def timeline_events(app: ChatApp, t: dict[str, Any]) -> None:
    """Show a timeline; a click on an event or on a dot of the plot (through the hidden bridge, as
    citations do) or a brush on the plot (its select event) opens its sentence in its article."""
    private: dict[str, Any] = {"api_visibility": "private"}
    show = [t["topic"], t["since"], t["until"]]
    for event in (t["button"].click, t["topic"].submit):
        shown = event(app.show_timeline, show, [t["state"], t["list"], t["plot"], t["viewer"]],
                      concurrency_id="timeline", **private)
        shown.then(app.timeline_axes, [t["state"]], [t["plot"]], show_progress="hidden", **private)
    # change, not input: the click listener (static/app.js) sets the hidden box's value from JavaScript
    t["bridge"].change(app.on_timeline_bridge, [t["bridge"], t["state"]], [t["list"], t["viewer"]],
                       show_progress="hidden", **private).then(None, js=TIMELINE_JS, **private)
    t["plot"].select(app.on_timeline_select, [t["state"]], [t["list"], t["viewer"]], show_progress="hidden",
                     **private).then(None, js=TIMELINE_JS, **private)
