"""The conversation as the app keeps it (in a gr.State, and a copy in the browser's storage) and
shows it (in the Chatbot)."""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from qa.types import Answer, Citation, Turn
from web.render import by_number, esc_md, render_answer


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
    by_n = by_number(answer)
    return [(f"[{n}] {cs[0].title}", str(n)) for n, cs in sorted(by_n.items())]



# The browser's copy keeps the latest exchanges only: localStorage holds about 5 MB per site, and an
# answer with its passages takes 5-15 KB.
STORED_EXCHANGES = 50


def stored(convo: Sequence[Exchange]) -> list[dict[str, Any]]:
    """The conversation as JSON for the browser's storage: each answer as `qa ask --json` prints it,
    plus the resolved question and the sources the model was given (the sources panel shows them)."""
    out = []
    for ex in convo[-STORED_EXCHANGES:]:
        answer = None
        if ex.answer is not None:
            answer = {**ex.answer.to_json(), "question": ex.answer.question,
                      "sources": [h.to_json() for h in ex.answer.sources]}
        out.append({"question": ex.question, "text": ex.text, "error": ex.error, "answer": answer})
    return out


def restored(data: Any) -> list[Exchange]:
    """The conversation back from the browser's storage; anything unreadable gives an empty one
    (the page then starts a new chat rather than failing)."""
    if not isinstance(data, list):
        return []
    try:
        return [Exchange(str(d["question"]), str(d.get("text", "")),
                         Answer.from_json(d["answer"]) if d.get("answer") is not None else None,
                         str(d.get("error", ""))) for d in data]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        logging.getLogger("qa.app").warning("the stored conversation is unreadable (%s): starting afresh", exc)
        return []
