"""The app's exports and its copy of the conversation in the browser, without a browser or models:
the Markdown the Copy and Download buttons take, and a conversation restored after a reload."""

from __future__ import annotations

from typing import Any

import gradio as gr

from qa.answering.export import conversation_markdown, to_markdown
from qa.config import Settings
from web.handlers import ChatApp
from web.layout import STORAGE_KEY, build_ui
from web.render import render_sources
from web.state import STORED_EXCHANGES, Exchange, chat_messages, restored, stored

from .test_app_unit import _stockholm_answer


def _convo() -> list[Exchange]:
    first, second = _stockholm_answer(), _stockholm_answer()
    return [Exchange("Where did they meet?", first.text, first), Exchange("Stopped one", text="partial"),
            Exchange("And again?", second.text, second)]


def _visible(update: Any) -> bool:
    return bool(update["visible"])


def test_exports_follow_the_shown_answer_and_the_conversation() -> None:
    convo = _convo()
    answer_md, convo_md, row, saved = ChatApp.exports(convo, 0)
    assert answer_md == to_markdown(convo[0].answer, "Where did they meet?")  # type: ignore[arg-type]
    # the whole conversation: its answered questions (a stopped one has no answer to export)
    assert convo_md == conversation_markdown([("Where did they meet?", convo[0].answer),  # type: ignore[list-item]
                                              ("And again?", convo[2].answer)])
    assert "Stopped one" not in convo_md and _visible(row) and len(saved) == 3
    assert ChatApp.exports(convo, 2)[0].startswith("## And again?")
    assert ChatApp.exports(convo, 1)[0] == ""  # the stopped exchange: nothing to copy


def test_new_chat_clears_the_exports_and_the_browser_copy() -> None:
    answer_md, convo_md, row, saved = ChatApp.exports([], -1)
    assert (answer_md, convo_md, saved) == ("", "", []) and not _visible(row)


def test_a_reload_restores_the_conversation_as_it_was(settings: Settings) -> None:
    convo = _convo()
    app = ChatApp(None, settings)  # type: ignore[arg-type]  # restoring reads no index
    chatbot, back, sources, pick, shown, answer_md, convo_md, row = app.restore(stored(convo))
    assert back == convo and shown == 2  # the latest answer's sources, as after answering it
    assert chatbot == chat_messages(convo) and 'href="#cite-2-1"' in chatbot[-1]["content"]
    assert sources == render_sources(convo[2].answer, 2) and 'id="src-2-1"' in sources
    assert [c[1] for c in pick["choices"]] == ["1", "2"]
    assert answer_md.startswith("## And again?") and convo_md.count("**Sources**") == 2 and _visible(row)


def test_an_unreadable_browser_copy_starts_a_new_chat(settings: Settings) -> None:
    for junk in (None, "text", [{"question": "q", "answer": {"answer": "x"}}], [{"no": "question"}], [3]):
        assert restored(junk) == []
    app = ChatApp(None, settings)  # type: ignore[arg-type]
    chatbot, convo, _, _, shown, answer_md, _, row = app.restore([{"question": 1, "answer": {"bad": 1}}])
    assert chatbot == [] and convo == [] and shown == -1 and answer_md == "" and not _visible(row)


def test_the_browser_copy_keeps_the_latest_exchanges() -> None:
    convo = [Exchange(f"q{i}", "partial") for i in range(STORED_EXCHANGES + 5)]
    assert stored(convo)[0]["question"] == "q5" and len(stored(convo)) == STORED_EXCHANGES


def test_the_page_has_the_export_buttons_and_keeps_the_conversation(settings: Settings) -> None:
    demo = build_ui(ChatApp(None, settings))  # type: ignore[arg-type]
    ids = {getattr(b, "elem_id", None) for b in demo.blocks.values()}
    assert {"copy-answer", "download-answer", "copy-conversation", "download-conversation"} <= ids
    kept = [b for b in demo.blocks.values() if isinstance(b, gr.BrowserState)]
    assert [b.storage_key for b in kept] == [STORAGE_KEY]
    assert list(demo.get_api_info()["named_endpoints"]) == ["/ask"]  # the new events stay private
