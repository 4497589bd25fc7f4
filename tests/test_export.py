"""Answers out with their sources: qa.answering.export's Markdown, `qa ask --format markdown`, and the answer's
JSON read back (the app keeps the conversation in the browser with it). No models."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

import qa.answering.engine
from qa.answering.engine import UNGROUNDED, UNVERIFIED, Done, Event
from qa.answering.export import NEARBY, conversation_markdown, to_markdown
from qa.cli import main
from qa.config import Settings
from qa.indexing.build import build_index
from qa.types import Answer, AnswerSentence, Chunk, Citation, Hit, Timings, Turn

from .fakes import HashEmbedder, ScriptedGenerator

PASSAGE = "The talks were tense. Brinken and Lavrov met in Stockholm on December 2. Nothing was agreed."
STOCKHOLM = (22, 72)


def _hit(article_id: str = "004_76ac13b7a8ec9be8.txt", title: str = "Biden urges Putin", text: str = PASSAGE,
         url: str | None = "https://www.example.com/biden-putin") -> Hit:
    return Hit(Chunk(f"chunk-{article_id}", article_id, 100, 100 + len(text), text, 0), title, 0.03, dense=0.61,
               published="2021-12-03T08:00:00", source="Example News", url=url)


def _citation(n: int, hit: Hit, span: tuple[int, int], supported: bool = True, posthoc: bool = False,
              sentence: str = "They met in Stockholm.") -> Citation:
    c, (a, b) = hit.chunk, span
    return Citation(n, c.article_id, hit.title, c.id, c.start, c.end, c.text[a:b], c.start + a, c.start + b,
                    supported, 0.8, sentence, posthoc, hit.published, hit.url, hit.score, hit.source)


S = AnswerSentence


def _answer(sentences: Sequence[AnswerSentence], citations: Sequence[Citation], refused: bool = False,
            hits: Sequence[Hit] = ()) -> Answer:
    return Answer(tuple(sentences), tuple(citations), tuple(hits), refused, Timings(12.0, 900.0, 3100.0, 600, 20),
                  "q", "q", True, tuple(hits))


def test_an_answer_with_its_numbered_sources() -> None:
    hit = _hit()
    file_only = _hit("002.txt", "Kyiv visit", "Blinken visited Kyiv on Sunday.", url=None)
    md = to_markdown(_answer([S("They met in Stockholm.", (1,)), S("Blinken was in Kyiv.", (2,))],
                             [_citation(1, hit, STOCKHOLM), _citation(2, file_only, (0, 31))]),
                     "Where did Blinken and Lavrov meet on December 2?")
    assert md == (
        "## Where did Blinken and Lavrov meet on December 2?\n\n"
        "They met in Stockholm [1]. Blinken was in Kyiv [2].\n\n"
        "**Sources**\n\n"
        "- [1] **Biden urges Putin** · Example News · 2021-12-03 · <https://www.example.com/biden-putin>\n"
        "  > Brinken and Lavrov met in Stockholm on December 2.\n"
        "- [2] **Kyiv visit** · Example News · 2021-12-03 · file `002.txt`\n"
        "  > Blinken visited Kyiv on Sunday.\n")


def test_a_refusal_is_exported_as_a_refusal_with_the_nearby_quotes() -> None:
    hit = _hit()
    near = _citation(1, hit, STOCKHOLM, sentence="")
    sentences = [S(f"{UNVERIFIED} The passages closest to the question say:"), S(near.snippet, (1,), quote=True)]
    md = to_markdown(_answer(sentences, [near], refused=True))
    assert md.startswith(UNVERIFIED) and "**Sources**" not in md
    assert f"**{NEARBY}**" in md and "- “Brinken and Lavrov met in Stockholm on December 2.” [1]" in md
    assert "not supported" not in md  # a quoted passage is not a claim that failed its check


def test_a_gate_refusal_has_no_sources_section() -> None:
    md = to_markdown(_answer([S("The indexed articles do not cover this question.\nThe closest articles were:\n"
                               "- Biden urges Putin (similarity 0.41)")], [], refused=True))
    assert "do not cover" in md and "Sources" not in md and "Passages nearest" not in md
    assert "\n- Biden urges Putin (similarity 0.41)" in md  # the list stays a list


def test_unsupported_posthoc_and_ungrounded_are_said() -> None:
    hit = _hit()
    flagged = to_markdown(_answer([S("They met in Kyiv.", (1,))], [_citation(1, hit, STOCKHOLM, supported=False,
                                                                     sentence="They met in Kyiv.")]))
    assert f"> ⚠ {UNGROUNDED}" in flagged and "*(not supported by this passage)*" in flagged
    posthoc = to_markdown(_answer([S("They met in Stockholm.", (1,)), S("Nothing else.")],
                                  [_citation(1, hit, STOCKHOLM, posthoc=True)]))
    assert posthoc.splitlines()[0] == "They met in Stockholm [1]. Nothing else."  # as the app shows it
    assert "the model did not cite it" in posthoc and UNGROUNDED not in posthoc


def test_article_and_model_text_stays_text() -> None:
    evil = _hit(title="Title <script>x</script> [click](javascript:alert(1))",
                text="Evil *bold* <img src=x onerror=y> [a](b) passage.", url="javascript:alert(1)")
    md = to_markdown(_answer([S("An answer <b>with</b> [link](javascript:x).", (1,))], [_citation(1, evil, (0, 30))]),
                     "Why <script>?")
    assert not re.findall(r"(?<!\\)<(?!https://)", md), md  # every < escaped: no HTML gets through
    assert not re.search(r"(?<!\\)\]\(", md), md  # no "](" left unescaped: no link
    assert "\\[link\\](javascript:x) [1]." in md  # the marker kept, the link defused
    assert "file `004_76ac13b7a8ec9be8.txt`" in md  # a non-http URL is not a link: the file is named


def test_a_conversation_in_order_each_with_its_own_sources() -> None:
    hit = _hit()
    first = _answer([S("They met in Stockholm.", (1,))], [_citation(1, hit, STOCKHOLM)])
    second = _answer([S("On December 2.", (1,))], [_citation(1, hit, STOCKHOLM, sentence="On December 2.")])
    md = conversation_markdown([("Where did they meet?", first), ("When?", second)])
    assert md.startswith("# Conversation\n\n## Where did they meet?\n")
    assert md.index("## When?") > md.index("They met in Stockholm [1].")
    assert md.count("**Sources**") == 2 and "\n---\n" in md


# --- the answer's JSON read back ------------------------------------------------------------------------

def test_answer_json_reads_back() -> None:
    hit = _hit()
    answer = _answer([S("They met in Stockholm.", (1,))], [_citation(1, hit, STOCKHOLM, posthoc=True)], hits=[hit])
    stored = {**answer.to_json(), "question": answer.question, "sources": [h.to_json() for h in answer.sources]}
    assert Answer.from_json(stored) == answer
    bare = Answer.from_json(answer.to_json())  # the `qa ask --json` object alone: no sources
    assert bare.citations == answer.citations and bare.hits == answer.hits and bare.sources == ()
    assert bare.sentences == answer.sentences  # read back from the text with its markers


def test_the_json_keeps_the_text_with_markers_and_reads_back_its_sentences() -> None:
    hit = _hit()
    near = _citation(2, hit, STOCKHOLM, sentence="")
    refusal = _answer([S(f"{UNVERIFIED} The passages closest to the question say:"), S(near.snippet, (2,), quote=True)],
                      [near], refused=True)
    answered = _answer([S("They met in Stockholm.", (1, 2)), S("(As of 2021-12-03.)")],
                       [_citation(1, hit, STOCKHOLM), _citation(2, hit, STOCKHOLM)])
    gate = _answer([S("The indexed articles do not cover this question.\nThe closest articles were:\n"
                      "- Report [1] on talks (similarity 0.41)")], [], refused=True)  # a title, not a marker
    assert answered.to_json()["answer"] == "They met in Stockholm [1][2]. (As of 2021-12-03.)"
    assert refusal.to_json()["answer"].endswith(":\n- “Brinken and Lavrov met in Stockholm on December 2.” [2]")
    for answer in (refusal, answered, gate):
        assert Answer.from_json(answer.to_json()).sentences == answer.sentences


@pytest.mark.parametrize("damage", [{"title": 5}, {"supported": "yes"}, {"n": "1"}, {"score": "high"}])
def test_a_damaged_citation_is_refused(damage: dict[str, object]) -> None:
    citation = {**_citation(1, _hit(), STOCKHOLM).to_json(), **damage}
    with pytest.raises(TypeError):
        Citation.from_json(citation)


# --- qa ask --format markdown -------------------------------------------------------------------------

@pytest.fixture
def answers(settings: Settings, fake_embedder: HashEmbedder, monkeypatch: pytest.MonkeyPatch) -> list[Answer]:
    """`qa ask` answers with the fakes (the Engine the CLI builds gets the fake embedder and generator);
    the list receives each Answer it gives."""
    build_index(settings, embedder=fake_embedder)
    real = qa.answering.engine.Engine
    given: list[Answer] = []

    class FakeEngine(real):  # type: ignore[misc, valid-type]
        def __init__(self, s: Settings) -> None:
            generator = ScriptedGenerator(reply_fn=lambda _: "Brinken and Lavrov met in Stockholm on December 2 [1].")
            super().__init__(s.replace(gate_dense=0.0), fake_embedder, generator)

        def ask(self, question: str, history: Sequence[Turn] = (), settings: Settings | None = None
                ) -> Iterator[Event]:
            for event in super().ask(question, history, settings):
                if isinstance(event, Done):
                    given.append(event.answer)
                yield event

    monkeypatch.setattr(qa.answering.engine, "Engine", FakeEngine)
    return given


def test_qa_ask_format_markdown_prints_the_export(answers: list[Answer], settings: Settings,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    question = "Where did Blinken and Lavrov meet on December 2?"
    code = main(["ask", question, "--format", "markdown", "--index", str(settings.index_dir)])
    out = capsys.readouterr().out
    assert code == 0 and len(answers) == 1 and not answers[0].refused
    answer = answers[0]
    assert out == to_markdown(answer, question)
    assert "Stockholm on December 2 [1]." in out and "**Sources**" in out and "file `004_76ac13b7a8ec9be8.txt`" in out


def test_json_and_markdown_at_once_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["ask", "Where?", "--json", "--format", "markdown", "--index", str(tmp_path / "index")])
    err = capsys.readouterr().err
    assert code == 2 and "pick one" in err and "Traceback" not in err
