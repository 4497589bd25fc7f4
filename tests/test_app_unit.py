"""The chat app without models or a browser: HTML escaping, citation links, uploads, handlers."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from qa.answering.engine import Engine
from qa.config import Settings
from qa.errors import QAError
from qa.indexing.build import build_index
from qa.indexing.ingest import SUFFIXES
from qa.store import ArticleInfo
from qa.types import Answer, AnswerSentence, Article, Chunk, Citation, Hit, Timings, parse_history
from web.handlers import ChatApp, Models
from web.layout import build_ui
from web.render import cite_link, render_answer, render_article, render_library, render_sources
from web.server import Serving, launch_options, serving
from web.state import Exchange, chat_messages, history_of
from web.uploads import save_upload

from .fakes import HashEmbedder

XSS_SCRIPT = "<script>window.__pwned=1</script>"
XSS_IMG = '<img src=x onerror="window.__pwned=2">'


def _hit(article_id: str, title: str, text: str, start: int = 100, score: float = 0.03) -> Hit:
    chunk = Chunk(f"chunk-{article_id}", article_id, start, start + len(text), text, 0)
    return Hit(chunk, title, score, dense=0.61, published="2022-12-03", source="example.com")


def _citation(n: int, hit: Hit, sentence_at: tuple[int, int], supported: bool = True,
              posthoc: bool = False, sentence: str = "They met in Stockholm.") -> Citation:
    a, b = sentence_at
    c = hit.chunk
    return Citation(n=n, article_id=c.article_id, title=hit.title, chunk_id=c.id, start=c.start, end=c.end,
                    snippet=c.text[a:b], snippet_start=c.start + a, snippet_end=c.start + b,
                    supported=supported, support=0.8 if supported else 0.2, sentence=sentence,
                    posthoc=posthoc, published=hit.published, score=hit.score)


S = AnswerSentence


def _answer(sentences: Sequence[AnswerSentence], citations: Sequence[Citation], hits: Sequence[Hit],
            refused: bool = False) -> Answer:
    return Answer(tuple(sentences), tuple(citations), tuple(hits), refused, Timings(12.0, 900.0, 3100.0, 600, 20),
                  "q", "q", not refused, tuple(hits))


PASSAGE = "The talks were tense. Brinken and Lavrov met in Stockholm on December 2. Nothing was agreed."
STOCKHOLM = (22, 72)  # the middle sentence of PASSAGE


def _stockholm_answer() -> Answer:
    good = _hit("004.txt", "Biden urges Putin", PASSAGE)
    other = _hit("002.txt", "Another story", "Blinken visited Kyiv on Sunday. He met Zelensky.", start=0)
    return _answer([S("They met in Stockholm.", (1,)), S("Blinken was in Kyiv.", (2,))],
                   [_citation(1, good, STOCKHOLM), _citation(2, other, (0, 31), supported=False,
                                                             sentence="Blinken was in Kyiv.")],
                   [good, other])


# --- rendering ------------------------------------------------------------------------------------

def test_citation_markers_become_links() -> None:
    html = render_answer(_stockholm_answer(), 3)
    assert '<sup><a class="cite" href="#cite-3-1"' in html
    assert 'class="cite unsupported" href="#cite-3-2"' in html
    assert "[1]" not in html and "&#91;1&#93;" in html  # the visible label, not a Markdown reference
    assert html.startswith("They met in Stockholm ")


def test_two_sources_of_a_sentence_and_a_number_without_a_citation() -> None:
    base = _stockholm_answer()
    answer = _answer([S("Both.", (1, 2)), S("Nothing.", (7,))], base.citations, base.hits)
    html = render_answer(answer, 0)
    assert 'href="#cite-0-1"' in html and 'href="#cite-0-2"' in html
    assert "&#91;7&#93;" in html and "#cite-0-7" not in html  # no source 7: left as (escaped) text


def test_posthoc_citation_gets_a_link_after_its_sentence() -> None:
    hit = _hit("004.txt", "Biden urges Putin", PASSAGE)
    answer = _answer([S("They met in Stockholm.", (1,)), S("Nothing else.")],
                     [_citation(1, hit, STOCKHOLM, posthoc=True)], [hit])
    html = render_answer(answer, 0)
    assert re.search(r"Stockholm <sup><a class=\"cite posthoc\" href=\"#cite-0-1\"[^>]*>&#91;1&#93;</a></sup>\. ",
                     html)
    sources = render_sources(answer, 0)
    assert "post-hoc" in sources


def test_answer_text_is_escaped_and_markdown_links_neutralised() -> None:
    text = f"Look {XSS_SCRIPT} {XSS_IMG} [click](javascript:alert(1))"
    base = _stockholm_answer()
    html = render_answer(_answer([S(text, (1,))], base.citations, base.hits), 0)
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;" in html and "onerror=&quot;" in html
    assert "[click]" not in html and "&#91;click&#93;" in html


def test_titles_snippets_and_articles_are_escaped() -> None:
    evil = f"Title {XSS_SCRIPT} {XSS_IMG}"
    hit = _hit("evil.txt", evil, f"Evil {XSS_SCRIPT} passage. {XSS_IMG} here.", start=0)
    citation = _citation(1, hit, (0, 20))
    answer = _answer([S(f"An answer {XSS_SCRIPT}.", (1,))], [citation], [hit])
    article = Article("evil.txt", evil, f"Body {XSS_SCRIPT} and {XSS_IMG}.", "h", source=evil,
                      url="javascript:alert(1)", published="2022-12-03")
    infos = [ArticleInfo("evil.txt", evil, evil, None, None, 2, evil)]
    refused = _answer([S("The indexed articles do not cover this question.")], [], [hit], refused=True)
    rendered = [render_answer(answer, 0), render_sources(answer, 0, selected=1),
                render_article(article, (0, 10), (0, 4)), render_library(infos),
                render_sources(refused, 0), cite_link(0, 1, [citation])]
    for html in rendered:
        assert "<script" not in html, html
        assert "<img" not in html, html
        assert "&lt;script&gt;" in html or "&amp;lt;script" in html, html
    assert "javascript:" not in rendered[2]  # only http(s) links are rendered


def test_sources_panel_marks_the_supporting_sentence_and_flags_unsupported() -> None:
    html = render_sources(_stockholm_answer(), 0, selected=1)
    assert 'id="src-0-1"' in html and 'class="src-card selected"' in html
    assert '<mark class="cited">Brinken and Lavrov met in Stockholm on December 2.</mark>' in html
    assert "Biden urges Putin" in html and "2022-12-03" in html and "example.com" in html
    assert "retrieval score 0.030" in html
    assert 'class="src-card unsupported" id="src-0-2"' in html
    assert "not supported by this passage" in html
    assert 'href="#open-0-1"' in html


def test_article_viewer_highlights_the_cited_span() -> None:
    text = "Intro line.\n\n" + PASSAGE + "\n\nOutro."
    article = Article("004.txt", "Biden urges Putin", text, "h")
    ps = text.index(PASSAGE)
    html = render_article(article, (ps, ps + len(PASSAGE)), (ps + STOCKHOLM[0], ps + STOCKHOLM[1]))
    assert '<span class="passage">The talks were tense. <mark class="cited" id="cited-span">' \
           'Brinken and Lavrov met in Stockholm on December 2.</mark>' in html
    assert html.count("<mark") == 1


def test_refusal_renders_the_closest_articles_with_scores() -> None:
    hits = [_hit("a.txt", "Closest story", "Some text.", score=0.031),
            _hit("a.txt", "Closest story", "More text.", start=500, score=0.02),
            _hit("b.txt", "Second story", "Other text.", score=0.016)]
    answer = _answer([S("The indexed articles do not cover this question.\nThe closest articles were:")], [], hits,
                     refused=True)
    html = render_sources(answer, 2)
    assert "the articles do not cover this question" in html
    assert html.count('class="src-card closest"') == 2  # one card per article
    assert "Closest story" in html and "Second story" in html
    assert "retrieval score 0.031" in html and "similarity 0.61" in html
    assert 'href="#hit-2-0"' in html and 'href="#hit-2-2"' in html


def test_library_table_lists_articles() -> None:
    info = ArticleInfo("x.txt", "A title", None, "https://www.site.org/a", "2022-12-03T10:00:00", 7, None)
    html = render_library([info])
    assert "<td>A title</td><td>2022-12-03</td><td>site.org</td><td class='num'>7</td>" in html


# --- uploads --------------------------------------------------------------------------------------

def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.mark.parametrize(("name", "reason"), [
    ("../../etc/passwd", "folder"),
    ("..\\..\\evil.txt", "folder"),
    ("a..b.txt", "'..'"),
    ("evil\x00.txt", "NUL"),
    (".hidden.txt", "hidden"),
    ("notes.exe", ".exe is not an article format"),
    ("README", "no extension is not an article format"),
    ("", "empty"),
    ("x" * 300 + ".txt", "longer than"),
])
def test_upload_names_are_refused_with_a_reason(tmp_path: Path, name: str, reason: str) -> None:
    upload = tmp_path / "upload.bin"
    upload.write_text("Title\n\nBody of an article.")
    articles = tmp_path / "articles"
    articles.mkdir()
    before = _tree(tmp_path)
    ok, message = save_upload(upload, name, articles, 20.0, SUFFIXES)
    assert not ok and "refused" in message and reason in message
    assert _tree(tmp_path) == before  # nothing written anywhere


def test_too_large_upload_is_refused(tmp_path: Path) -> None:
    upload = tmp_path / "big.txt"
    upload.write_bytes(b"x" * (2 * 2**20))
    articles = tmp_path / "articles"
    ok, message = save_upload(upload, "big.txt", articles, 1.0, SUFFIXES)
    assert not ok and "over the 1 MB limit" in message
    assert not articles.exists()


def test_good_upload_is_saved_inside_the_folder(tmp_path: Path) -> None:
    upload = tmp_path / "tmp" / "Story One.TXT"
    upload.parent.mkdir()
    upload.write_text("Title\n\nBody.")
    articles = tmp_path / "articles"
    ok, message = save_upload(upload, upload.name, articles, 20.0, SUFFIXES)
    assert ok and "added" in message
    assert (articles / "Story One.TXT").read_text() == "Title\n\nBody."
    ok, message = save_upload(upload, upload.name, articles, 20.0, SUFFIXES)
    assert ok and "replaced" in message
    assert sorted(p.name for p in articles.iterdir()) == ["Story One.TXT"]  # no temporary file left


def test_upload_does_not_follow_a_symlink_out_of_the_folder(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("precious")
    articles = tmp_path / "articles"
    articles.mkdir()
    (articles / "link.txt").symlink_to(outside)
    upload = tmp_path / "up.txt"
    upload.write_text("new")
    ok, _ = save_upload(upload, "link.txt", articles, 20.0, SUFFIXES)
    assert ok and outside.read_text() == "precious"
    assert not (articles / "link.txt").is_symlink()


# --- small helpers ---------------------------------------------------------------------------------

def test_parse_history() -> None:
    turns = parse_history('[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yes"}]', "h")
    assert [(t.role, t.content) for t in turns] == [("user", "Hi"), ("assistant", "Yes")]
    for bad in ("{", '[{"role": "system", "content": "x"}]', '{"role": "user"}', '[{"role": "user", "content": 1}]'):
        with pytest.raises(QAError, match=r"^history_json "):
            parse_history(bad, "history_json")


def test_launch_options(capsys: pytest.CaptureFixture[str]) -> None:
    local = launch_options(Serving(auth="ann:s3:cret"), 20.0)
    assert local["auth"] == ("ann", "s3:cret") and local["share"] is False
    assert local["server_name"] == "127.0.0.1" and local["server_port"] == 7860
    assert local["max_file_size"] == "20480kb"
    assert "WARNING" not in capsys.readouterr().err
    launch_options(Serving(host="0.0.0.0"), 20.0)
    err = capsys.readouterr().err
    assert "WARNING" in err and "QA_AUTH=user:password" in err


def test_the_web_server_reads_its_own_settings_and_the_command_line_first() -> None:
    assert serving({}) == Serving("127.0.0.1", 7860, "")
    env = {"QA_HOST": "0.0.0.0", "QA_PORT": "8000", "QA_AUTH": "ann:pw"}
    assert serving(env) == Serving("0.0.0.0", 8000, "ann:pw")
    assert serving(env, host="127.0.0.1", port=7999) == Serving("127.0.0.1", 7999, "ann:pw")
    for bad, message in (({"QA_PORT": "x"}, "whole number"), ({"QA_PORT": "70000"}, "1..65535"),
                         ({"QA_AUTH": "nopassword"}, "user:password")):
        with pytest.raises(QAError, match=message):
            serving(bad)


def test_stopped_and_failed_exchanges_stay_out_of_the_history() -> None:
    answer = _stockholm_answer()
    convo = [Exchange("q1", answer.text, answer), Exchange("q2", error="boom"),
             Exchange("q3", text="partial")]
    assert [t.role for t in history_of(convo)] == ["user", "assistant"]
    messages = chat_messages(convo)
    assert [m["role"] for m in messages] == ["user", "assistant"] * 3
    assert "boom" in messages[3]["content"] and "(stopped)" in messages[5]["content"]


# --- the handlers over a real (fake-model) index --------------------------------------------------------

class _Generator:
    """Streams a fixed reply word by word."""

    n_ctx = 4096

    def __init__(self, reply: str):
        self.reply = reply

    def count(self, messages: Sequence[dict[str, str]]) -> int:
        return sum(len(m["content"].split()) + 4 for m in messages)

    def stream(self, messages: Sequence[dict[str, str]], max_tokens: int,
               temperature: float) -> Iterator[str]:
        for word in self.reply.split(" "):
            yield word + " "


@pytest.fixture
def chat_app(settings: Settings, fake_embedder: HashEmbedder) -> ChatApp:
    build_index(settings, embedder=fake_embedder)
    engine = Engine(settings, embedder=fake_embedder,
                    generator=_Generator("Brinken and Lavrov met in Stockholm on December 2 [1]."))
    chat = ChatApp(engine, settings)
    chat._build_embedder = fake_embedder
    return chat


def _run(chat: ChatApp, question: str, convo: list[Any]) -> list[tuple[Any, ...]]:
    return list(chat.respond(question, convo, 4, 0.1, 128, False))


def test_respond_streams_then_renders_citations(chat_app: ChatApp) -> None:
    steps = _run(chat_app, "Where did Blinken and Lavrov meet on December 2?", [])
    assert "Searching the articles" in steps[0][0][-1]["content"]
    assert any("▌" in s[0][-1]["content"] for s in steps[1:-1])  # tokens streamed
    messages, convo, _, sources, _, shown = steps[-1]
    assert messages[0] == {"role": "user", "content": "Where did Blinken and Lavrov meet on December 2?"}
    assert 'href="#cite-0-1"' in messages[1]["content"] and shown == 0
    assert convo[0].answer is not None and 'id="src-0-1"' in sources and "<mark" in sources
    # the next question gets the first exchange as history and index 1 in its links
    steps = _run(chat_app, "And on which day?", convo)
    assert 'href="#cite-1-' in steps[-1][0][-1]["content"]  # (which source: the support check decides)


def test_stop_closes_the_stream_at_once(settings: Settings, fake_embedder: HashEmbedder) -> None:
    closed: list[bool] = []

    class Endless(_Generator):
        def stream(self, messages: Sequence[dict[str, str]], max_tokens: int,
                   temperature: float) -> Iterator[str]:
            try:
                while True:
                    yield "word "
            finally:
                closed.append(True)  # llama's generation lock is released here

    build_index(settings, embedder=fake_embedder)
    chat = ChatApp(Engine(settings, embedder=fake_embedder, generator=Endless("")), settings)
    steps = chat.respond("Where did Blinken and Lavrov meet?", [], 4, 0.1, 128, False)
    for step in steps:
        if "word word" in step[0][-1]["content"]:
            break
    steps.close()  # what Gradio does when Stop cancels the event
    assert closed == [True]


class _SlowStart(_Generator):
    """Loads (and primes its opening) only once the test opens the gate, as the real LLM takes seconds."""

    def __init__(self, reply: str):
        super().__init__(reply)
        self.gate = threading.Event()
        self.primed = False
        self.loads = 0
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        self.gate.wait(30)

    def prime(self, messages: Sequence[dict[str, str]]) -> str:
        with self._lock:  # as LlamaGenerator's: the second caller finds it done
            if self.primed:
                return "held"
            self.gate.wait(30)
            self.loads += 1
            self.primed = True
            return "evaluated"


def test_a_question_during_the_warm_up_waits_with_a_status_then_answers(settings: Settings,
                                                                       fake_embedder: HashEmbedder) -> None:
    build_index(settings, embedder=fake_embedder)
    gen = _SlowStart("Brinken and Lavrov met in Stockholm on December 2 [1].")
    engine = Engine(settings, embedder=fake_embedder, generator=gen)
    models = Models(engine)
    chat = ChatApp(engine, settings, models)
    models.start()  # as web.server.serve does, once the page is up
    steps = _run_lazily(chat, "Where did Blinken and Lavrov meet on December 2?")
    assert "Loading the models" in next(steps)[0][-1]["content"]
    assert "Loading the language model" in next(steps)[0][-1]["content"]  # then it waits for the warm-up
    assert not models.loaded.is_set() and gen.loads == 0
    gen.gate.set()
    last = list(steps)[-1]
    assert 'href="#cite-0-1"' in last[0][-1]["content"]  # answered
    assert models.loaded.wait(10) and not models.error and gen.loads == 1  # one load, not two
    assert "Searching the articles" in next(_run_lazily(chat, "And where?"))[0][-1]["content"]


def _run_lazily(chat: ChatApp, question: str) -> Iterator[tuple[Any, ...]]:
    return chat.respond(question, [], 4, 0.1, 128, False)


def test_errors_become_chat_messages(chat_app: ChatApp) -> None:
    messages, convo, *_ = _run(chat_app, "   ", [])[-1]
    assert messages == [{"role": "assistant", "content": messages[0]["content"]}]
    assert "type a question in words" in messages[0]["content"] and "Traceback" not in messages[0]["content"]
    assert convo[0].error


def test_bridge_opens_the_cited_article_by_index_only(chat_app: ChatApp) -> None:
    convo = _run(chat_app, "Where did Blinken and Lavrov meet on December 2?", [])[-1][1]
    sources, shown, _, viewer = chat_app.on_bridge("open-0-1:1234", convo)
    assert shown == 0 and 'class="src-card selected"' in sources
    assert 'id="cited-span"' in viewer and "article-view" in viewer
    sources, _, _, viewer = chat_app.on_bridge("cite-0-1:99", convo)
    assert 'class="src-card selected"' in sources
    for bad in ("open-0-../../etc/passwd", "open-5-1", "cite-0-1; rm", "", "hit-0-999"):
        assert all(_is_skip(x) for x in chat_app.on_bridge(bad, convo)), bad
    assert "Pick a cited source" in chat_app.on_pick("9", convo, 0)


def _is_skip(value: Any) -> bool:
    return isinstance(value, dict) and value.get("__type__") == "update" and len(value) == 1


def test_upload_then_update_index(chat_app: ChatApp, tmp_path: Path) -> None:
    good = tmp_path / "up" / "zorvia.txt"
    good.parent.mkdir()
    good.write_text("Zorvian ministers meet\n\nZorvian ministers met in Quellbridge on 3 March to sign the "
                    "Amber Accord, a trade pact between the river towns.")
    bad = tmp_path / "up" / "tool.exe"
    bad.write_text("x")
    message, cleared = chat_app.on_upload([str(good), str(bad)])
    assert "Saved 1 of 2" in message and "tool.exe: refused" in message and cleared is None
    summary, status, library, _ = chat_app.run_build(False)
    assert "Added 1, updated 0, removed 0, unchanged 5" in summary
    assert "<b>6</b> articles" in status and "Zorvian ministers meet" in library


def test_only_ask_is_public(chat_app: ChatApp) -> None:
    demo = build_ui(chat_app)
    info = demo.get_api_info()
    assert list(info["named_endpoints"]) == ["/ask"]
    params = [p["parameter_name"] for p in info["named_endpoints"]["/ask"]["parameters"]]
    assert params == ["question", "history_json", "top_k", "temperature", "max_tokens",
                      "refuse_low_relevance"]
    assert not info.get("unnamed_endpoints")


def test_an_answer_no_citation_supports_carries_a_caveat() -> None:
    hit = _hit("004.txt", "Biden urges Putin", PASSAGE)
    grounded = render_answer(_stockholm_answer(), 0)  # one of its two citations is supported
    assert "ungrounded" not in grounded
    flagged = _answer([S("They met in Kyiv.", (1,))], [_citation(1, hit, STOCKHOLM, supported=False)], [hit])
    assert not flagged.grounded and flagged.to_json()["grounded"] is False
    assert '<span class="ungrounded">⚠ No cited passage clearly supports this answer' in render_answer(flagged, 0)
    uncited = _answer([S("They met in Kyiv.")], [], [hit])
    assert "ungrounded" in render_answer(uncited, 0)


def test_the_page_css_and_js_are_packaged_files() -> None:
    import tomllib
    from fnmatch import fnmatch

    import web
    from web import layout, server

    assert ".src-card" in server.CSS and "window.__qaCiteHook" in server.JS
    assert r"key.match(/^cite-(\d+)-(\d+)$/)" in server.JS  # JavaScript's escapes, not Python's
    assert "#viewer #cited-span" in layout.SCROLL_JS and "#viewer #cited-span" in layout.VIEWER_JS
    root = Path(web.__file__).parent
    patterns = tomllib.loads((root.parent / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    static = [f.name for f in (root / "static").iterdir()]
    assert static and all(any(fnmatch(f, p) for p in patterns["web.static"]) for f in static), static
