"""The conversation as the app keeps it (in a gr.State) and shows it (in the Chatbot)."""

from collections.abc import Sequence
from dataclasses import dataclass

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

