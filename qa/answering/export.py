"""An answer, or a whole conversation, as Markdown with its numbered sources.

One function for every face: `qa ask --format markdown` prints `to_markdown`, and the app's
"Copy as Markdown" and "Download" buttons use `to_markdown` and `conversation_markdown`. The
answer is rendered from its sentences and the sources from its citations (neither is re-parsed
from the text), and a refusal is exported as what it is: the refusal and the passages nearest the
question, under a heading that says they do not answer it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from qa.answering.engine import UNGROUNDED
from qa.types import Answer, Citation

# Backslash-escaped so that text from an article or the model stays text: no emphasis, no links,
# no raw HTML, no code spans. Line-start markers (#, -, >) are left alone: every piece of article
# text is put on one line after a prefix of ours, and the refusal's "- " quotes are meant as a list.
_SPECIAL = re.compile(r"([\\`*_\[\]<>])")
_HTTP = re.compile(r"^https?://[^\s<>\"']+$", re.IGNORECASE)

SOURCES = "Sources"
NEARBY = "Passages nearest the question (quoted: they do not answer it)"


def escape(text: str) -> str:
    """One line of plain text, safe inside Markdown.

    >>> escape("A *bold* [link](javascript:x) <b>")
    'A \\\\*bold\\\\* \\\\[link\\\\](javascript:x) \\\\<b\\\\>'
    """
    return _SPECIAL.sub(r"\\\1", " ".join(text.split()))


def _answer_text(answer: Answer) -> str:
    """The answer's sentences escaped, each cited source as its [n] marker (a marker is ours, not text
    to escape), the end of each line trimmed."""
    text = answer.render("[{}]".format, lambda words: _SPECIAL.sub(r"\\\1", words))
    return "\n".join(line.rstrip() for line in text.splitlines())


def _by_number(citations: Sequence[Citation]) -> dict[int, list[Citation]]:
    found: dict[int, list[Citation]] = {}
    for c in citations:
        found.setdefault(c.n, []).append(c)
    return dict(sorted(found.items()))


def source_entry(n: int, citations: Sequence[Citation], refused: bool = False) -> str:
    """One numbered source: title, publisher, date, URL (else the file), then each quoted sentence.

    >>> c = Citation(1, "004.txt", "Talks in Stockholm", "c", 0, 9, "They met in Stockholm.", 0, 22,
    ...              True, 0.9, "They met in Stockholm.", published="2021-12-02T10:00:00", source="AP")
    >>> print(source_entry(1, [c]))
    - [1] **Talks in Stockholm** · AP · 2021-12-02 · file `004.txt`
      > They met in Stockholm.
    """
    c = citations[0]
    meta = [f"[{n}] **{escape(c.title)}**"]
    meta += [escape(c.source)] if c.source else []
    meta += [escape(c.published[:10])] if c.published else []
    url = (c.url or "").strip()
    meta.append(f"<{url}>" if _HTTP.match(url) else f"file `{c.article_id.replace('`', '')}`")
    if c.also:
        meta.append("also carried by " + escape(", ".join(c.also)))
    lines = ["- " + " · ".join(meta)]
    if not refused and not any(x.supported for x in citations):
        lines.append("  *(not supported by this passage)*")
    if all(x.posthoc for x in citations):
        lines.append("  *(added by the support check: the model did not cite it)*")
    snippets = list(dict.fromkeys(x.snippet for x in citations if x.snippet.strip()))
    lines += [f"  > {escape(s)}" for s in snippets]
    return "\n".join(lines)


def to_markdown(answer: Answer, question: str = "") -> str:
    """The answer with its [n] markers, then its numbered sources; a refusal says it is one.

    >>> from qa.types import Timings
    >>> c = Citation(1, "004.txt", "Talks", "c", 0, 9, "They met in Stockholm.", 0, 22, True, 0.9, "s")
    >>> from qa.types import AnswerSentence as S
    >>> print(to_markdown(Answer((S("They met in Stockholm.", (1,)),), (c,), (), False, Timings()), "Where?"))
    ## Where?
    <BLANKLINE>
    They met in Stockholm [1].
    <BLANKLINE>
    **Sources**
    <BLANKLINE>
    - [1] **Talks** · file `004.txt`
      > They met in Stockholm.
    <BLANKLINE>
    """
    parts = [f"## {escape(question)}"] if question.strip() else []
    parts.append(_answer_text(answer))
    if not answer.grounded:
        parts.append(f"> ⚠ {escape(UNGROUNDED)}")
    by_n = _by_number(answer.citations)
    if by_n:
        parts.append(f"**{NEARBY if answer.refused else SOURCES}**")
        parts.append("\n".join(source_entry(n, cs, answer.refused) for n, cs in by_n.items()))
    return "\n\n".join(parts) + "\n"


def conversation_markdown(exchanges: Sequence[tuple[str, Answer]], title: str = "Conversation") -> str:
    """Every answered question of a conversation, in order, each with its own numbered sources."""
    body = "\n---\n\n".join(to_markdown(answer, question) for question, answer in exchanges)
    return f"# {escape(title)}\n\n{body}"
