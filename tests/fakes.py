"""Small fakes for the two heavy parts (Embedder, Generator), for fast unit and pipeline tests."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence

import numpy as np

from qa.answering.generate import Message
from qa.config import load
from qa.models import embed_model_name


class HashEmbedder:
    """Bag of hashed word trigrams and words -> a unit vector: similar texts, similar vectors."""

    dim = 512

    def __init__(self) -> None:
        # pretends to be the default embedder, so its indexes match what the CLI and app expect
        self.name = embed_model_name(load({}))
        self.calls = 0
        self.texts = 0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        self.texts += len(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                h = int(hashlib.md5(word.encode()).hexdigest(), 16)
                out[i, h % self.dim] += 1.0
        out[:, 0] += 1e-3  # no zero vectors
        return out / np.linalg.norm(out, axis=1, keepdims=True)


class ScriptedGenerator:
    """Replies from a script (or a function of the prompt); counts a token per word."""

    def __init__(self, replies: Sequence[str] | None = None, n_ctx: int = 4096, reply_fn=None,  # type: ignore[no-untyped-def]
                 yes: float = 1.0):
        self.yes = yes  # what the judge says of every answer
        self.judged: list[Sequence[Message]] = []
        self.replies = list(replies or [])
        self.reply_fn = reply_fn
        self.n_ctx = n_ctx
        self.prompts: list[Sequence[Message]] = []

    def count(self, messages: Sequence[Message]) -> int:
        return sum(len(m["content"].split()) + 4 for m in messages) + 3

    def stream(self, messages: Sequence[Message], max_tokens: int, temperature: float) -> Iterator[str]:
        self.prompts.append(messages)
        reply = self.reply_fn(messages) if self.reply_fn else self.replies.pop(0)
        for word in reply.split(" ")[:max_tokens]:
            yield word + " "

    def yes_probability(self, messages: Sequence[Message]) -> float:
        self.judged.append(messages)
        return self.yes
