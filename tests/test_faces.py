"""One answer, every face: `qa ask`'s text and JSON, the app's chat HTML, Markdown, the OpenAI reply, each
rendered from the answer's sentences (none parses [n] markers back), and the same after the JSON round
trip the app's browser storage makes. No models."""

from __future__ import annotations

import re

import pytest

from qa.answering.engine import REFUSAL
from qa.answering.export import to_markdown
from qa.cli import answer_lines
from qa.types import Answer, AnswerSentence, Citation, Timings
from web.openai_api import completion
from web.render import render_answer

S = AnswerSentence
PASSAGE = "The talks were tense. Brinken and Lavrov met in Stockholm on December 2. Nothing was agreed."


def _citation(n: int, span: tuple[int, int], posthoc: bool = False, sentence: str = "") -> Citation:
    a, b = span
    return Citation(n, f"{n:03}.txt", f"Story {n}", f"chunk-{n}", 100, 100 + len(PASSAGE), PASSAGE[a:b], 100 + a,
                    100 + b, True, 0.8, sentence, posthoc, "2021-12-03")


def _answer(sentences: list[AnswerSentence], citations: list[Citation], refused: bool = False) -> Answer:
    return Answer(tuple(sentences), tuple(citations), (), refused, Timings(12.0, 900.0, 3100.0, 600, 20))


MET = "They met in *Stockholm*."
# two sources on one sentence, an uncited one, and a post-hoc citation on a sentence cut short (no full stop)
ANSWERED = _answer(
    [S(MET, (1, 2)), S("Nothing was agreed."), S("Talks resume in May", (3,))],
    [_citation(1, (22, 72), sentence=MET), _citation(2, (22, 72), sentence=MET),
     _citation(3, (73, 92), posthoc=True, sentence="Talks resume in May")])
REFUSED = _answer([S(f"{REFUSAL} Nearby, they say:"), S(PASSAGE[22:72], (2,), quote=True)], [_citation(2, (22, 72))],
                  refused=True)
GATE = _answer([S("The indexed articles do not cover this question.\nThe closest articles were:\n"
                  "- Report [1] on <talks> (similarity 0.41)")], [], refused=True)


def _faces(answer: Answer) -> dict[str, str]:
    return {"text": answer_lines(answer)[0], "json": answer.to_json()["answer"],
            "openai": completion(answer, "id", 0)["choices"][0]["message"]["content"],
            "markdown": to_markdown(answer).split("\n\n**")[0].rstrip("\n"), "html": render_answer(answer, 4)}


def _link(n: int, cls: str = "cite") -> str:
    return f'<sup><a class="{cls}" href="#cite-4-{n}" data-n="{n}" title="[^"]*">&#91;{n}&#93;</a></sup>'


def test_an_answer_in_every_face() -> None:
    faces = _faces(ANSWERED)
    text = "They met in *Stockholm* [1][2]. Nothing was agreed. Talks resume in May [3]"
    assert faces["text"] == faces["json"] == faces["openai"] == text
    assert faces["markdown"] == r"They met in \*Stockholm\* [1][2]. Nothing was agreed. Talks resume in May [3]"
    assert re.fullmatch(re.escape("They met in *Stockholm* ") + _link(1) + _link(2)
                        + re.escape(". Nothing was agreed. Talks resume in May ") + _link(3, "cite posthoc"),
                        faces["html"]), faces["html"]


def test_a_refusal_and_a_gate_message_in_every_face() -> None:
    faces = _faces(REFUSED)
    quote = "Brinken and Lavrov met in Stockholm on December 2."
    assert faces["text"] == faces["json"] == faces["openai"] == f"{REFUSAL} Nearby, they say:\n- “{quote}” [2]"
    assert faces["markdown"] == f"{REFUSAL} Nearby, they say:\n- “{quote}” [2]"
    assert re.fullmatch(re.escape(f"{REFUSAL} Nearby, they say:\n- “{quote}” ") + _link(2), faces["html"])
    faces = _faces(GATE)  # an article's title is words: "[1]" in it is no citation
    assert faces["text"] == faces["json"] == faces["openai"] == GATE.sentences[0].text
    assert faces["markdown"].endswith(r"- Report \[1\] on \<talks\> (similarity 0.41)")
    assert faces["html"].endswith("- Report &#91;1&#93; on &lt;talks&gt; (similarity 0.41)")


@pytest.mark.parametrize("answer", [ANSWERED, REFUSED, GATE])
def test_every_face_is_the_same_after_the_json_round_trip(answer: Answer) -> None:
    back = Answer.from_json(answer.to_json())
    assert back.sentences == answer.sentences
    assert _faces(back) == _faces(answer)
