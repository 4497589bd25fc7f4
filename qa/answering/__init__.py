"""Answering: a question (or a story's topic) over the index, and what comes back.

question -> `query` (parsed once: words, answer type, time) -> `retrieve` -> Hit -> `prompt` ->
`generate` -> `cite` (with `support` and `judge`) -> Answer, run by `engine.Engine`, which also
resolves a follow-up's pronoun (`conversation`); topic -> `timeline` -> Timeline; `export` makes
an answer's Markdown.
"""
